"""The ``Word2Vec`` facade: gensim's parameter names, the C tool's training rules.

    >>> from nsw2v import Word2Vec
    >>> model = Word2Vec(corpus_file="text8.txt", vector_size=100, window=5, epochs=1)   # doctest: +SKIP
    >>> model.wv.most_similar("king", topn=3)                                          # doctest: +SKIP
    >>> model.wv.save_word2vec_format("vectors.bin", binary=True)                      # doctest: +SKIP

The facade only: gensim's names, the checks of the settings, the vocabulary,
``train()`` handing the corpus to :mod:`nsw2v.training` (the engines, the epoch
loop and its planner), and the model file. How training walks the corpus is
said in :mod:`nsw2v.training.plan` (the array engine) and the README.
"""
from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Callable, Iterable, List, Optional, Sequence

import numpy as np

from . import backend, ingest, modelfile
from .corpus import LineSentence
from .errors import ParameterError, ReadError
from .parallel_read import count_and_encode_file
from .training import distributed as _distributed, driver, engines
from .training.array_engine import shared_cap
from .training.plan import LearningRate, mix
from .training.progress import Counting
from .util import check_int, check_number, positive_int, release_freed_memory
from .vectors import WordVectors
from .vocab import Vocab

DEFAULT_BATCH = {"numpy": 256, "cupy": 16384}
# The default batch is also at most a 256th of the corpus (and at least 256): an epoch of the shipped corpus
# (390k words) in 24 steps of 16,384 gave crowded vectors (neighbours at cosine 0.97-0.99), in 256 steps of
# 1,522 as good ones as at 256 (README, "Quality against batch size").
_MIN_STEPS = 256


class Word2Vec:
    """word2vec with negative sampling, CBOW (``sg=0``) or skip-gram (``sg=1``).

    Parameters follow gensim's ``Word2Vec`` where they share a name.

    Parameters
    ----------
    sentences : iterable of list of str, optional
        A re-iterable corpus of token lists. With ``corpus_file`` instead, the
        file is streamed (plain or gzip; one sentence per line, long lines cut
        into pieces of ``max_sentence_length`` tokens). Given either, the model
        builds its vocabulary and trains at once.
    vector_size, window, min_count, max_vocab_size, max_final_vocab, sg, negative, ns_exponent, sample, epochs
        As in gensim and the C tool.
    hs, cbow_mean
        Accepted as gensim's ``hs=0`` and ``cbow_mean=1`` only: negative sampling
        without hierarchical softmax, CBOW on the mean of the context vectors.
    alpha : float, optional
        Initial learning rate; defaults to 0.05 for CBOW and 0.025 for skip-gram
        (the C tool's defaults).
    min_alpha : float
        Final learning rate.
    batch_size : int, optional
        Centers per step of the array engine (the compiled engines walk the
        corpus center after center). Default: 256 on NumPy; on CuPy 16384, or
        a 256th of the corpus's words if that is less (but at least 256), so
        that a small corpus still gets enough steps (see the README's
        quality-by-batch-size table).
    max_row_updates : int or None
        The array engine's cap: within one step, a row updated more than this
        many times gets its summed update scaled down to this many updates'
        worth (``None``: exact sums). Large batches diverge without it; see
        ``steps.CappedScatter``.
    workers : int, optional
        Training threads of the compiled engine (``engine="numba"``), or
        processes of the array engine on NumPy; more than one update shared
        tables without locks as the C tool's threads do, so the same seed then
        no longer gives exactly the same vectors: ``workers=1`` does. With
        more, ``corpus_file`` is also read by that many processes
        (``nsw2v.parallel_read``, the same result as one). On CuPy the device
        trains alone. Default (``None``): the usable cores with the compiled
        engine (shared among the MPI ranks on one machine), else 1.
    sampler : {"exclusion", "batched", None}
        The negative sampler's path; ``None`` is the backend's default.
    engine : {"array", "numba", "cuda", None}
        What trains: ``"array"``, the array code over ``xp`` (NumPy or CuPy; the
        reference); ``"numba"``, the compiled CPU loop on ``workers`` threads
        (needs numba; :mod:`nsw2v.training.numba_engine`); ``"cuda"``, the CUDA
        kernels walking the corpus on CuPy (:mod:`nsw2v.training.cuda_engine`);
        ``None`` is the backend's default (:mod:`nsw2v.training.engines`:
        ``"numba"`` on NumPy when numba is installed; ``"cuda"`` on CuPy with
        ``NSW2V_FAST_GPU=1``).
    streams : int, optional
        ``engine="cuda"``: the streams (warps) walking a chunk at once, the
        quality knob of in-place training on a GPU; ``None``: 1,024, or a 256th
        of the corpus's words if that is less.
    seed : int
        The same seed on the same backend gives the same vectors, with one
        training thread or process (``workers=1``).
    xp : module or str, optional
        ``"numpy"`` or ``"cupy"``; ``None`` follows ``GPU=...``.
    verbose : bool
        Progress line on stderr while training.
    distributed : bool, mpi4py communicator or None
        Train as one of several processes started by ``mpiexec``/``srun``
        (:mod:`nsw2v.training.distributed`): each reads its share of
        ``corpus_file``, the vocabulary is counted by all, and the ranks
        average their tables as they train. ``None`` (default): when a
        launcher started more than one process; ``True``: always (needs
        mpi4py); ``False``: never; a communicator: over its processes.
        ``model.rank`` is this process's rank (0 alone); rank 0 writes.
    sync_period : int, float or None
        With ``distributed``: the ranks average the tables' most frequent rows
        every ``sync_period`` in-vocabulary words of a rank (an int), or
        seconds (a float); ``None``: at each epoch's end only.
    chunk_words : int or None
        In-vocabulary words the engine is handed at a time (whole sentences),
        shared out among the array engine's processes; ``None`` (default): the
        engine's own (``chunk_words`` of its class: 500,000 for the compiled
        CPU loop, 1,000,000 for the array code and the CUDA kernels).
    callbacks : sequence
        gensim's callbacks: objects with any of ``on_train_begin``,
        ``on_epoch_begin``, ``on_epoch_end``, ``on_train_end`` (each called with
        the model), or plain callables ``f(model)``, called at each epoch's end.
        As in gensim they run in the training this constructor starts; a later
        :meth:`train` runs those given to it.
    compute_loss : bool
        gensim's switch, kept as ``model.compute_loss``. It changes nothing: nsw2v
        always computes the loss (the driver stops a diverging run on it), so
        :meth:`get_latest_training_loss`, ``epoch_losses`` and ``loss_history``
        are there either way, and ``False`` saves no time.
    trim_rule : callable, optional
        gensim's ``trim_rule(word, count, min_count)`` for this constructor's
        :meth:`build_vocab` (not stored: it is code, and the model file holds none).
    """

    def __init__(self, sentences: Optional[Iterable[List[str]]] = None, corpus_file: Optional[str] = None,
                 vector_size: int = 100, window: int = 5, min_count: int = 5,
                 max_vocab_size: Optional[int] = None, max_final_vocab: Optional[int] = None,
                 sg: int = 0, hs: int = 0, negative: int = 5,
                 ns_exponent: float = 0.75, cbow_mean: int = 1, sample: float = 1e-3, alpha: Optional[float] = None,
                 min_alpha: float = 0.0001, epochs: int = 5, batch_size: Optional[int] = None,
                 sampler: Optional[str] = None, seed: int = 1, xp: Any = None,
                 max_sentence_length: int = 10000, chunk_words: Optional[int] = None,
                 max_row_updates: Optional[int] = 64, workers: Optional[int] = None, verbose: bool = True,
                 callbacks: Sequence[Any] = (), engine: Optional[str] = None, compute_loss: bool = False,
                 trim_rule: Optional[Callable] = None, streams: Optional[int] = None,
                 distributed: Any = None, sync_period: Optional[float] = 100_000):
        self.xp = backend.resolve_xp(xp)
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.max_vocab_size = max_vocab_size
        self.max_final_vocab = max_final_vocab
        self.sg = sg
        self.hs = hs
        self.negative = negative
        self.cbow_mean = cbow_mean
        self.ns_exponent = ns_exponent
        self.sample = sample
        self.alpha = (0.025 if sg else 0.05) if alpha is None else alpha
        self.min_alpha = min_alpha
        self.epochs = epochs
        self._auto_batch = batch_size is None           # fitted to the corpus by build_vocab
        self.batch_size = DEFAULT_BATCH[self.xp.__name__] if batch_size is None else batch_size
        self.sampler = sampler
        self.engine = engine
        self.streams = streams
        self.seed = seed
        self.max_sentence_length = max_sentence_length
        self.chunk_words = chunk_words
        self.max_row_updates = max_row_updates
        self.workers = _default_workers(self) if workers is None else workers
        self.verbose = verbose
        self.compute_loss = bool(compute_loss)
        self.callbacks = _checked_callbacks(callbacks)
        self._running: list = []                # the callbacks of the training under way
        self.sync_period = sync_period
        self._validate()
        self._group = None                      # this process trains alone, unless it joins the ranks:
        self._join(distributed, share_cores=workers is None)
        self.vocab: Optional[Vocab] = None
        self.W_in = self.W_out = None
        self.epochs_trained = 0
        self.words_trained = 0              # in-vocabulary words read, over all training
        self.epoch_losses: List[float] = []  # mean loss per training example, one per epoch
        self.loss_history: List[dict] = []  # one entry per reporting interval
        self._loss_start = 0                # loss_history's first entry of the latest train() call
        self._wv: Optional[WordVectors] = None
        self._syn1neg: Optional[np.ndarray] = None
        self._epoch_start = 0
        self._encoded = None                # (file key, EncodedCorpus) of the corpus_file the vocabulary came from
        if sentences is not None and corpus_file is not None:
            raise ParameterError("give sentences or corpus_file, not both")
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences, corpus_file=corpus_file, trim_rule=trim_rule)
            self.train(sentences, corpus_file=corpus_file, callbacks=self.callbacks)

    def _join(self, distributed: Any, share_cores: bool) -> None:
        """Join the ranks of a training on several processes (see ``distributed``), if any; ``share_cores``:
        divide ``workers`` among the ranks that run on this rank's cores."""
        self._group = _distributed.join(distributed, self.xp, self.verbose)
        if share_cores and self._group is not None:
            self.workers = max(1, self.workers // self._group.core_sharers)

    def _validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ParameterError(message)
        check_int("seed", self.seed, low=0)
        for name in ("vector_size", "window", "min_count", "negative", "epochs", "batch_size", "workers",
                     "max_sentence_length"):
            positive_int(name, getattr(self, name))
        for name in ("max_row_updates", "max_vocab_size", "max_final_vocab", "streams", "chunk_words"):
            positive_int(name, getattr(self, name), optional=True)
        check_number("ns_exponent", self.ns_exponent, low=0)
        check_number("sample", self.sample, low=0)
        _check_rates(self.alpha, self.min_alpha)
        need(self.sg in (0, 1), f"sg={self.sg!r} must be 0 (CBOW) or 1 (skip-gram)")
        need(self.hs == 0, f"hs={self.hs!r}: hierarchical softmax is not implemented; nsw2v trains with negative "
                           "sampling only (hs=0, negative >= 1)")
        need(self.cbow_mean == 1, f"cbow_mean={self.cbow_mean!r}: only the mean of the context vectors "
                                  "(cbow_mean=1, the C tool's and gensim's default) is implemented")
        need(self.sampler in (None, "exclusion", "batched"),
             f"sampler={self.sampler!r} must be 'exclusion', 'batched' or None")
        if engines.choose(self) == "array" and not backend.is_cupy(self.xp):
            shared_cap(self.max_row_updates, self.workers)
            if self.workers > 1:                        # threads (the compiled engine) need no fork
                need(_can_fork(), f"workers={self.workers}: several processes are started by fork, which this "
                                  "platform lacks; use workers=1")
        period = self.sync_period
        need(period is None or (isinstance(period, (int, np.integer)) and not isinstance(period, bool) and period >= 1)
             or (isinstance(period, (float, np.floating)) and period > 0),
             f"sync_period={period!r} must be an int >= 1 (words of a rank), a float > 0 (seconds) or None")

    # ------------------------------------------------------------------ vocabulary
    def _corpus(self, sentences: Optional[Iterable[List[str]]], corpus_file: Optional[str]):
        if (sentences is None) == (corpus_file is None):
            raise ParameterError("give exactly one of corpus_iterable (sentences) or corpus_file")
        if self._group is not None:
            if corpus_file is None or self.max_vocab_size is not None:
                raise ParameterError("training on several processes (MPI) reads corpus_file, each rank its share, "
                                     "and counts it exactly (max_vocab_size prunes in file order: use "
                                     "max_final_vocab); pass corpus_file without max_vocab_size, or "
                                     "distributed=False")
            return self._group.sentences(str(corpus_file), self.max_sentence_length, _check_file), str(corpus_file)
        if corpus_file is not None:
            _check_file(corpus_file)
            return LineSentence(corpus_file, self.max_sentence_length), str(corpus_file)
        if iter(sentences) is sentences:
            raise ParameterError("the corpus (sentences, corpus_iterable) must be re-iterable (a list or a class with "
                            "__iter__), not a one-shot generator: it is read once per epoch")
        return _Pieces(sentences, self.max_sentence_length), "sentences"

    def build_vocab(self, corpus_iterable: Optional[Iterable[List[str]]] = None,
                    corpus_file: Optional[str] = None, update: bool = False,
                    trim_rule: Optional[Callable] = None) -> None:
        """Count words, apply ``min_count``/``trim_rule``/``max_vocab_size``/``max_final_vocab``, and initialise
        the tables.

        Parameters
        ----------
        corpus_iterable, corpus_file
            The corpus, as for the constructor.
        update : bool
            gensim's online training: add this corpus's words to the vocabulary
            instead of starting again. Words already there keep their vectors and
            their counts grow by this corpus's; a new word joins when its count in
            this corpus passes ``min_count`` (and ``trim_rule``), with its rows
            initialised as the first ones were (input uniform in ``±0.5/H``, output
            zero). The vocabulary stays sorted by count, so rows move (gensim
            appends new words at the end); subsampling and the negatives follow the
            summed counts. ``corpus_count`` and ``corpus_total_words`` become this
            corpus's, so ``train(corpus, total_examples=model.corpus_count,
            epochs=model.epochs)`` continues as in gensim. ``max_final_vocab``
            bounds the first vocabulary only.
        trim_rule : callable, optional
            gensim's ``trim_rule(word, count, min_count)``, returning
            :data:`~nsw2v.vocab.RULE_DISCARD`, :data:`~nsw2v.vocab.RULE_KEEP` or
            :data:`~nsw2v.vocab.RULE_DEFAULT` (``min_count`` decides; also any other
            value, ``None`` included), called once per distinct word.
        """
        self._validate()                    # settings may have been assigned since the constructor checked them
        corpus, source = self._corpus(corpus_iterable, corpus_file)
        if trim_rule is not None and not callable(trim_rule):
            raise ParameterError(f"trim_rule={trim_rule!r} must be a callable trim_rule(word, count, min_count)")
        if update:
            if self._group is not None:
                raise ParameterError("build_vocab(update=True) is not implemented on several processes (MPI): "
                                     "build the vocabulary of the whole corpus, or distributed=False")
            self._update_vocab(corpus, source, trim_rule)
            return
        # "counting words: 40%, 7.0M words" once a second (on rank 0 of several processes)
        meter = Counting(source, echo=self.verbose and self.rank == 0)
        meter = meter if meter.active else None
        if meter is not None and isinstance(corpus, LineSentence):
            corpus.progress = meter
        counting = self.min_count if trim_rule is None else 1      # the rule sees every word
        encoded = None
        if corpus_file is not None and self.max_vocab_size is None:
            # one pass counts and keeps the corpus encoded; training then skips re-reading the file
            self.vocab, encoded = self._count_and_encode(corpus, corpus_file, source, counting, meter)
        else:
            self.vocab = Vocab.build(corpus, min_count=counting, max_vocab_size=self.max_vocab_size,
                                     source=source, trim_rule=trim_rule, progress=meter)
        if trim_rule is not None:
            self.vocab, encoded = self.vocab.filtered(self.min_count, trim_rule, encoded, source)
        if self.max_final_vocab is not None:
            self.vocab, encoded = self.vocab.trimmed(self.max_final_vocab, encoded)
        self._encoded = None if encoded is None else (_file_key(corpus_file), encoded)
        release_freed_memory()
        if corpus_file is not None and self.rank == 0:     # LineSentence reads bytes not UTF-8 as U+FFFD
            broken = [word for word in self.vocab.index_to_key if "\ufffd" in word]
            if broken:
                warnings.warn(f"{source}: {len(broken)} of the vocabulary's words hold U+FFFD, the mark of bytes "
                              f"that are not UTF-8 (the first: {broken[0]!r}); the file is read as UTF-8",
                              stacklevel=2)
        xp, V, H = self.xp, len(self.vocab), self.vector_size
        if self._auto_batch:
            self.batch_size = min(DEFAULT_BATCH[xp.__name__], max(_MIN_STEPS, self.vocab.total_words // _MIN_STEPS))
        if self.sampler != "batched" and not (self.sampler is None and backend.is_cupy(xp)) \
                and self.negative > V - 1:
            raise ParameterError(f"negative={self.negative} must be less than the vocabulary size ({V} words) "
                             "on the exclusion path; lower negative or use sampler='batched'")
        engines.load(self)       # the compiled loop: loaded before the tables, on a small process (its docstring)

        def tables():
            rng = backend.make_rng(xp, self.seed)
            # The C tool's initialisation: input vectors uniform in [-0.5/H, 0.5/H), output vectors zero.
            W_in = ((rng.random((V, H), dtype=xp.float32) - 0.5) / H).astype(xp.float32)
            return W_in, xp.zeros((V, H), dtype=xp.float32)

        # on several ranks an allocation failing on one (out of memory) is raised on all
        self.W_in, self.W_out = tables() if self._group is None else self._group.together(tables)
        self.epochs_trained = self.words_trained = 0
        self._wv = self._syn1neg = None
        if meter is not None:
            meter.done(self.vocab, self.min_count)

    def _update_vocab(self, corpus: Iterable[List[str]], source: str, trim_rule: Optional[Callable]) -> None:
        """``build_vocab(update=True)``: the vocabulary grown by a corpus, the tables' rows moved with it."""
        if self.vocab is None:
            raise RuntimeError("build_vocab(update=True) adds to a vocabulary: build one first "
                               "(build_vocab(corpus)), or Word2Vec.load a trained model")
        counted = Vocab.build(corpus, min_count=1, max_vocab_size=self.max_vocab_size, source=source,
                              trim_rule=trim_rule)
        vocab, rows = self.vocab.updated(counted, self.min_count, trim_rule)
        xp, H = self.xp, self.vector_size
        moved = rows >= 0
        fresh = int(np.count_nonzero(~moved))
        at, came_from = xp.asarray(np.flatnonzero(moved)), xp.asarray(rows[moved])
        rng = backend.make_rng(xp, mix(self.seed, len(self.vocab), len(vocab)))
        W_in = xp.empty((len(vocab), H), dtype=xp.float32)
        W_in[at] = self.W_in[came_from]
        # the new words' rows start as the first rows did (build_vocab): input uniform in [-0.5/H, 0.5/H)
        W_in[xp.asarray(np.flatnonzero(~moved))] = (rng.random((fresh, H), dtype=xp.float32) - 0.5) / H
        W_out = xp.zeros((len(vocab), H), dtype=xp.float32)
        W_out[at] = self.W_out[came_from]
        self.vocab, self.W_in, self.W_out = vocab, W_in, W_out
        self._encoded = None                # ids renumbered; the new corpus is read again each epoch
        self._wv = self._syn1neg = None

    def _count_and_encode(self, corpus: LineSentence, corpus_file: str, source: str, min_count: int,
                          meter: Any = None):
        """With ``NSW2V_FAST_GPU=1`` on CuPy the whole file is tokenised, counted and encoded on the
        device (``nsw2v.ingest``, in pieces gunzipped by a thread while the device scans the one before,
        the corpus kept there); otherwise, and for text it cannot read exactly as ``LineSentence``
        does, ``Vocab.build_encoded`` reads it token by token, in ``workers`` processes when there
        are several (``nsw2v.parallel_read``); on several ranks, each counts its share and they merge."""
        if self._group is not None:
            return self._group.count_and_encode(corpus, min_count, source)
        if _array_reader(self.xp):
            free = backend.device_free_bytes(self.xp)
            # read in pieces; a text too long for the device's memory is read token by token
            limit = None if free is None else free // ingest.DEVICE_BYTES_PER_TEXT_BYTE
            try:
                return ingest.count_and_encode_file(self.xp, corpus_file, min_count, self.max_sentence_length,
                                                    source, limit)
            except ingest.Unsupported as why:
                if self.verbose:
                    sys.stderr.write(f"reading {source} token by token: {why}\n")
        if self.workers > 1 and _can_fork():        # several processes: all of them read
            return count_and_encode_file(corpus_file, min_count, self.max_sentence_length,
                                         workers=self.workers, source=source, progress=meter)
        return Vocab.build_encoded(corpus, min_count=min_count, source=source, progress=meter)

    # ------------------------------------------------------------------ training
    def train(self, corpus_iterable: Optional[Iterable[List[str]]] = None, corpus_file: Optional[str] = None,
              total_examples: Optional[int] = None, total_words: Optional[int] = None,
              epochs: Optional[int] = None, start_alpha: Optional[float] = None,
              end_alpha: Optional[float] = None, callbacks: Optional[Sequence[Any]] = None,
              compute_loss: Optional[bool] = None) -> "Word2Vec":
        """Train (or continue training) on a corpus with the built vocabulary.

        The learning rate falls linearly from ``start_alpha`` to ``end_alpha``
        over this call's ``epochs`` passes (defaults: the model's ``alpha``,
        ``min_alpha`` and ``epochs``). As in gensim, ``total_examples``
        (sentences) or ``total_words`` (tokens, in vocabulary or not) give the
        size of one pass when it is not the corpus the vocabulary was built on
        (``model.corpus_count``, ``model.corpus_total_words``); without them, one
        pass is taken to hold the vocabulary's words. ``callbacks`` run in this
        call only (as in gensim). ``compute_loss``, when given, sets
        ``model.compute_loss`` (which changes nothing: the loss is always kept).
        Returns the model.
        """
        if self.vocab is None:
            raise RuntimeError("call build_vocab() before train(), or pass the corpus to Word2Vec(...)")
        self._validate()                    # as in build_vocab
        corpus, source = self._corpus(corpus_iterable, corpus_file)
        self._running = _checked_callbacks(callbacks or ())
        encoded = None
        if corpus_file is not None and self._encoded is not None and self._encoded[0] == _file_key(corpus_file):
            encoded = self._encoded[1]
        epochs = self.epochs if epochs is None else positive_int("epochs", epochs)
        if compute_loss is not None:
            self.compute_loss = bool(compute_loss)
        alpha, min_alpha = _check_rates(self.alpha if start_alpha is None else start_alpha,
                                        self.min_alpha if end_alpha is None else end_alpha,
                                        names=("start_alpha", "end_alpha"))
        schedule = LearningRate(alpha, min_alpha, epochs * self._pass_words(total_examples, total_words))

        def epoch_chunks(chunk_words: int):
            if encoded is not None:
                return encoded.iter_chunks(chunk_words)
            return self.vocab.iter_chunks(corpus, chunk_words)

        pairs = encoded is None or encoded.longest_sentence() > 1
        if not pairs and self._group is None:   # known before training: refused before it (ranks: after)
            raise _nothing_to_train(source, self.min_count, None)
        self._loss_start = len(self.loss_history)
        done = driver.train(self, epoch_chunks, epochs, schedule, self._group)
        if done == 0:
            raise ReadError(f"{source}: no in-vocabulary words to train on")
        if not sum(h["examples"] for h in self.loss_history[self._loss_start:]):
            raise _nothing_to_train(source, self.min_count, self.sample)
        self._hook("on_train_end")
        return self

    def _hook(self, name: str) -> None:
        """Call each of this training's callbacks' ``name`` method; plain callables run at epochs' ends."""
        for callback in self._running:
            method = getattr(callback, name, None)
            if method is None and name == "on_epoch_end" and not _has_hook(callback):
                method = callback
            if method is not None:
                method(self)

    def _pass_words(self, total_examples: Optional[int], total_words: Optional[int]) -> float:
        """In-vocabulary words in one pass of the corpus being trained on: the learning rate's scale."""
        vocab = self.vocab
        for name, given, counted in (("total_examples", total_examples, vocab.sentences_seen),   # gensim's order
                                     ("total_words", total_words, vocab.raw_words)):
            if given is None:
                continue
            given = positive_int(name, given)
            if counted:                     # the same share of in-vocabulary words as the counted corpus
                return given * vocab.corpus_words / counted
        return vocab.corpus_words

    @property
    def rank(self) -> int:
        """This process's rank in a training on several processes (``distributed``); 0 when alone."""
        return 0 if self._group is None else self._group.rank

    @property
    def corpus_count(self) -> Optional[int]:
        """Sentences in the corpus the vocabulary was built on (gensim's name; long lines count per piece)."""
        return None if self.vocab is None else self.vocab.sentences_seen

    @property
    def corpus_total_words(self) -> Optional[int]:
        """Tokens in the corpus the vocabulary was built on, in vocabulary or not (gensim's name)."""
        return None if self.vocab is None else self.vocab.raw_words

    def _end_epoch(self) -> None:
        history = self.loss_history[self._epoch_start:]
        examples = sum(h["examples"] for h in history)
        self.epoch_losses.append(sum(h["loss"] * h["examples"] for h in history) / max(examples, 1))
        self._epoch_start = len(self.loss_history)
        self.epochs_trained += 1
        self._wv = self._syn1neg = None
        self._hook("on_epoch_end")

    # ------------------------------------------------------------------ results
    @property
    def wv(self) -> WordVectors:
        """The trained input vectors as :class:`~nsw2v.vectors.WordVectors` (on the host)."""
        if self.vocab is None:
            raise RuntimeError("the model has no vocabulary yet: build_vocab() or train first")
        if self._wv is None:
            self._wv = WordVectors(list(self.vocab.index_to_key), backend.to_numpy(self.W_in).copy(),
                                   counts=self.vocab.counts.copy())
        return self._wv

    @property
    def syn1neg(self) -> np.ndarray:
        """The output table ``W_out`` under gensim's name: a read-only NumPy copy on the host, taken when
        asked for after training, as :attr:`wv` is (on both backends, so a script reads it the same way;
        assign ``model.W_out`` to change the model's)."""
        if self.W_out is None:
            raise RuntimeError("the model has no tables yet: build_vocab() or train first")
        if self._syn1neg is None:
            self._syn1neg = backend.to_numpy(self.W_out).copy()
            self._syn1neg.flags.writeable = False
        return self._syn1neg

    def get_latest_training_loss(self) -> float:
        """The loss summed over every example of the latest :meth:`train` call so far (gensim's call).

        An example is a center word in CBOW and a (context, center) pair in
        skip-gram; its loss is ``-log sigmoid(positive score) - sum(log sigmoid(-negative
        score))``, so an untrained model adds ``(1 + negative) ln 2`` per example.
        As gensim's, the value is a sum (it grows with the corpus) that starts
        from 0 at each :meth:`train` call (the constructor's training is one), so
        the loss of an epoch is the difference between two epochs' ends, read in
        an ``on_epoch_end`` callback. Unlike gensim's (issues #2617, #2735, #2743)
        it is added up in float64 across chunks and processes (gensim's float32
        tally stops growing at 2**27), and it counts the examples whose scores lie
        beyond the C tool's ``±6`` table (gensim leaves them out).
        The mean per example is ``model.epoch_losses`` (per epoch) and
        ``model.loss_history`` (per report). 0.0 before any training.
        """
        return float(sum(h["loss"] * h["examples"] for h in self.loss_history[self._loss_start:]))

    @property
    def running_training_loss(self) -> float:
        """gensim's attribute: :meth:`get_latest_training_loss`."""
        return self.get_latest_training_loss()

    def __repr__(self) -> str:
        vocab = 0 if self.vocab is None else len(self.vocab)
        return f"{type(self).__name__}<vocab={vocab}, vector_size={self.vector_size}, alpha={self.alpha}>"

    _SETTINGS = ("vector_size", "window", "min_count", "max_vocab_size", "max_final_vocab", "sg", "negative",
                 "ns_exponent", "sample", "alpha", "min_alpha", "epochs", "batch_size", "sampler", "seed",
                 "max_sentence_length", "chunk_words", "max_row_updates", "workers", "streams", "compute_loss",
                 "epochs_trained", "words_trained")

    def save(self, path: str) -> None:
        """Save everything needed to continue training (a NumPy ``.npz`` file, written atomically)."""
        if self.vocab is None:
            raise RuntimeError("nothing to save: the model has no vocabulary yet")
        state = {name: getattr(self, name) for name in self._SETTINGS}
        state["epoch_losses"] = self.epoch_losses
        state["loss_history"] = self.loss_history
        state["loss_start"] = self._loss_start
        modelfile.write(path, state, self.vocab.to_arrays(), backend.to_numpy(self.W_in), backend.to_numpy(self.W_out))

    @classmethod
    def load(cls, path: str, xp: Any = None, distributed: Any = False) -> "Word2Vec":
        """Load a model saved by :meth:`save`, onto ``xp`` (default: ``GPU=...``).

        ``distributed`` as the constructor's, but ``False`` by default: a loaded model trains alone, so that
        loading on one rank of an MPI launch (``if model.rank == 0: Word2Vec.load(...)``) does not wait for
        the others; ``distributed=None`` (or ``True``) on every rank continues training on all of them."""
        state, vocab, W_in, W_out = modelfile.read(path)
        # a setting added later (max_final_vocab) is absent from older files: its default then
        settings = {k: state[k] for k in cls._SETTINGS
                    if k in state and k not in ("epochs_trained", "words_trained")}
        try:
            model = cls(xp=xp, distributed=False, **settings)
        except ParameterError as exc:
            raise ReadError(f"{path}: member state: {exc}") from None
        model._join(distributed, share_cores=False)
        model.vocab = vocab
        model.W_in, model.W_out = model.xp.asarray(W_in), model.xp.asarray(W_out)
        model.epochs_trained, model.words_trained = state["epochs_trained"], state["words_trained"]
        model.epoch_losses, model.loss_history = state["epoch_losses"], state["loss_history"]
        model._epoch_start = len(model.loss_history)
        model._loss_start = state.get("loss_start", model._epoch_start)   # absent from older files
        return model


_HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end")


class CallbackAny2Vec:
    """gensim's base class for callbacks: its four hooks do nothing until a subclass overrides them.

    gensim calls all four on every callback, so gensim scripts subclass it; here
    a callback needs only the hooks it uses, and this class lets those scripts
    run with their import changed.
    """

    def on_train_begin(self, model: "Word2Vec") -> None:
        """Before the first epoch of a training."""

    def on_epoch_begin(self, model: "Word2Vec") -> None:
        """Before each epoch."""

    def on_epoch_end(self, model: "Word2Vec") -> None:
        """After each epoch (the loss of the epoch is in ``model.epoch_losses[-1]``)."""

    def on_train_end(self, model: "Word2Vec") -> None:
        """After the last epoch."""


def _nothing_to_train(source: str, min_count: int, sample: Optional[float]) -> ReadError:
    """The error of a training that had, or would have had, no example: no word with another in its window."""
    why = ("no sentence holds two in-vocabulary words (one word per line?); word2vec learns from words that share "
           f"a line: join the lines, or lower min_count (now {min_count})")
    if sample:
        why += f"; or subsampling dropped them all: lower sample (now {sample}; 0 turns it off)"
    return ReadError(f"{source}: no training example: {why}")


def _check_rates(alpha: Any, min_alpha: Any, names: tuple = ("alpha", "min_alpha")) -> tuple:
    """``(alpha, min_alpha)`` checked as the constructor and ``train`` both check them: finite, ``alpha > 0``,
    ``0 <= min_alpha <= alpha``."""
    alpha = check_number(names[0], alpha, low=0, low_open=True)
    min_alpha = check_number(names[1], min_alpha, low=0, high=alpha)
    return alpha, min_alpha


def _has_hook(callback: Any) -> bool:
    return any(hasattr(callback, name) for name in _HOOKS)


def _checked_callbacks(callbacks: Sequence[Any]) -> list:
    """The callbacks as a list, each one checked to be callable or to have a gensim hook."""
    callbacks = list(callbacks)
    for i, callback in enumerate(callbacks):
        if not (_has_hook(callback) or callable(callback)):
            raise ParameterError(f"callbacks[{i}]={callback!r} is neither callable nor has any of the methods "
                            + ", ".join(_HOOKS))
    return callbacks


def _default_workers(model: "Word2Vec") -> int:
    """``workers=None``: the cores this process may use for the compiled engine (its threads share the tables),
    1 for the array engine (one process, reproducible)."""
    if engines.choose(model) != "numba":
        return 1
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _can_fork() -> bool:
    """Whether worker processes can be started by fork (not on Windows)."""
    import multiprocessing
    return "fork" in multiprocessing.get_all_start_methods()


def _check_file(corpus_file: str) -> None:
    """Refuse a corpus_file that is a directory or missing, naming it."""
    if os.path.isdir(corpus_file):
        raise IsADirectoryError(f"{corpus_file}: is a directory; give one text file")
    if not os.path.isfile(corpus_file):
        raise FileNotFoundError(f"{corpus_file}: no such file")


def _array_reader(xp: Any) -> bool:
    """Whether corpus_file is tokenised with array operations (``nsw2v.ingest``): on CuPy with
    ``NSW2V_FAST_GPU=1``; on NumPy the Python reader is faster."""
    return backend.is_cupy(xp) and backend.fast_gpu()


def _file_key(path: str) -> tuple:
    """What identifies a file's contents for the encoded-corpus cache: its path, size and modification time."""
    stat = os.stat(path)
    return os.path.abspath(path), stat.st_size, stat.st_mtime_ns


class _Pieces:
    """A re-iterable of token lists with long sentences cut into pieces."""

    def __init__(self, sentences: Iterable[List[str]], max_len: int):
        self.sentences, self.max_len = sentences, max_len

    def __iter__(self):
        for sentence in self.sentences:
            if isinstance(sentence, str):
                raise TypeError("each sentence must be a list of tokens, not a str (split it first)")
            for i in range(0, len(sentence), self.max_len):
                yield list(sentence[i:i + self.max_len])


