"""The ``Word2Vec`` facade: gensim's parameter names, the C tool's training rules.

    >>> from nsw2v import Word2Vec
    >>> model = Word2Vec(corpus_file="text8.txt", vector_size=100, window=5, epochs=1)   # doctest: +SKIP
    >>> model.wv.most_similar("king", topn=3)                                          # doctest: +SKIP
    >>> model.wv.save_word2vec_format("vectors.bin", binary=True)                      # doctest: +SKIP

How a corpus becomes training steps
-----------------------------------
The corpus is read in chunks of about ``chunk_words`` in-vocabulary tokens
(whole sentences). Each chunk is subsampled (the C tool's formula), and its
positions are split into ``batch_size`` contiguous streams; step ``j`` takes
position ``j`` of every stream. A step therefore holds ``batch_size`` centers
spread across the chunk, as the C tool's threads each read their own part of
the file. With consecutive positions instead, bursts of a repeated word put
dozens of stale updates on one row in one step and training diverges on real
Wikipedia text (see the README). Windows are shrunk at random per center
(``b`` uniform in ``[0, window)``, as in the C tool) and never cross a sentence.
The learning rate falls linearly from ``alpha`` to ``min_alpha`` over all
in-vocabulary words of all epochs.
"""
from __future__ import annotations

import json
import math
import os
import queue
import sys
import threading
import time
import warnings
import zipfile
from typing import Any, Callable, Iterable, List, Optional, Sequence

import numpy as np

from . import backend, ingest
from .corpus import LineSentence
from .negative_sampling import UnigramSampler
from .parallel_read import count_and_encode_file
from .steps import CappedScatter, cbow_step, skipgram_step, sort_rows
from .util import positive_int
from .vectors import WordVectors, atomic_write
from .vocab import Vocab

DEFAULT_BATCH = {"numpy": 256, "cupy": 16384}
# The default batch is also at most a 256th of the corpus (and at least 256): an epoch of the shipped corpus
# (390k words) in 24 steps of 16,384 gave crowded vectors (neighbours at cosine 0.97-0.99), in 256 steps of
# 1,522 as good ones as at 256 (README, "Quality against batch size").
_MIN_STEPS = 256
# Longest text (bytes) tokenised that way at once; longer files are read token by token.
_DEVICE_TEXT_LIMIT = 1 << 30


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
        Centers per step. Default: 256 on NumPy; on CuPy 16384, or a 256th of
        the corpus's words if that is less (but at least 256), so that a small
        corpus still gets enough steps (see the README's quality-by-batch-size table).
    max_row_updates : int or None
        Within one step, a row updated more than this many times gets its
        summed update scaled down to this many updates' worth (``None``: exact
        sums). Large batches diverge without it; see ``steps.CappedScatter``.
    workers : int
        Processes (default 1). With more, ``corpus_file`` is read by all of
        them (``nsw2v.parallel_read``, the same result as one), and on NumPy
        they also train, updating shared tables without locks as the C tool's
        threads do: the same seed then no longer gives exactly the same
        vectors. On CuPy the device trains alone.
    sampler : {"exclusion", "batched", None}
        The negative sampler's path; ``None`` is the backend's default.
    seed : int
        The same seed on the same backend gives the same vectors.
    xp : module or str, optional
        ``"numpy"`` or ``"cupy"``; ``None`` follows ``GPU=...``.
    verbose : bool
        Progress line on stderr while training.
    callbacks : sequence
        gensim's callbacks: objects with any of ``on_train_begin``,
        ``on_epoch_begin``, ``on_epoch_end``, ``on_train_end`` (each called with
        the model), or plain callables ``f(model)``, called at each epoch's end.
        As in gensim they run in the training this constructor starts; a later
        :meth:`train` runs those given to it.
    """

    def __init__(self, sentences: Optional[Iterable[List[str]]] = None, corpus_file: Optional[str] = None,
                 vector_size: int = 100, window: int = 5, min_count: int = 5,
                 max_vocab_size: Optional[int] = None, max_final_vocab: Optional[int] = None,
                 sg: int = 0, hs: int = 0, negative: int = 5,
                 ns_exponent: float = 0.75, cbow_mean: int = 1, sample: float = 1e-3, alpha: Optional[float] = None,
                 min_alpha: float = 0.0001, epochs: int = 5, batch_size: Optional[int] = None,
                 sampler: Optional[str] = None, seed: int = 1, xp: Any = None,
                 max_sentence_length: int = 10000, chunk_words: int = 1_000_000,
                 max_row_updates: Optional[int] = 64, workers: int = 1, verbose: bool = True,
                 callbacks: Sequence[Any] = ()):
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
        self.seed = seed
        self.max_sentence_length = max_sentence_length
        self.chunk_words = chunk_words
        self.max_row_updates = max_row_updates
        self.workers = workers
        self.verbose = verbose
        self.callbacks = _checked_callbacks(callbacks)
        self._running: list = []                # the callbacks of the training under way
        self._validate()
        self.vocab: Optional[Vocab] = None
        self.W_in = self.W_out = None
        self.epochs_trained = 0
        self.words_trained = 0              # in-vocabulary words read, over all training
        self.epoch_losses: List[float] = []  # mean loss per training example, one per epoch
        self.loss_history: List[dict] = []  # one entry per reporting interval
        self._wv: Optional[WordVectors] = None
        self._epoch_start = 0
        self._encoded = None                # (file key, EncodedCorpus) of the corpus_file the vocabulary came from
        if sentences is not None and corpus_file is not None:
            raise ValueError("give sentences or corpus_file, not both")
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences, corpus_file=corpus_file)
            self.train(sentences, corpus_file=corpus_file, callbacks=self.callbacks)

    def _validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)
        for name in ("alpha", "min_alpha", "sample", "ns_exponent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"{name}={value!r} must be a number")
        need(isinstance(self.seed, (int, np.integer)) and not isinstance(self.seed, bool) and self.seed >= 0,
             f"seed={self.seed!r} must be an integer >= 0")
        for name in ("vector_size", "window", "min_count", "negative", "epochs", "batch_size", "workers",
                     "max_sentence_length", "chunk_words"):
            positive_int(name, getattr(self, name))
        for name in ("max_row_updates", "max_vocab_size", "max_final_vocab"):
            positive_int(name, getattr(self, name), optional=True)
        need(self.sg in (0, 1), f"sg={self.sg!r} must be 0 (CBOW) or 1 (skip-gram)")
        need(self.hs == 0, f"hs={self.hs!r}: hierarchical softmax is not implemented; nsw2v trains with negative "
                           "sampling only (hs=0, negative >= 1)")
        need(self.cbow_mean == 1, f"cbow_mean={self.cbow_mean!r}: only the mean of the context vectors "
                                  "(cbow_mean=1, the C tool's and gensim's default) is implemented")
        need(self.ns_exponent >= 0, f"ns_exponent={self.ns_exponent} must be >= 0")
        need(self.sample >= 0, f"sample={self.sample} must be >= 0")
        need(self.alpha > 0, f"alpha={self.alpha} must be > 0")
        need(0 <= self.min_alpha <= self.alpha, f"min_alpha={self.min_alpha} must be in [0, alpha={self.alpha}]")
        need(self.sampler in (None, "exclusion", "batched"),
             f"sampler={self.sampler!r} must be 'exclusion', 'batched' or None")
        if self.workers > 1:
            import multiprocessing
            need("fork" in multiprocessing.get_all_start_methods(),
                 f"workers={self.workers}: several processes are started by fork, which this platform lacks; "
                 "use workers=1")

    # ------------------------------------------------------------------ vocabulary
    def _corpus(self, sentences: Optional[Iterable[List[str]]], corpus_file: Optional[str]):
        if (sentences is None) == (corpus_file is None):
            raise ValueError("give exactly one of corpus_iterable (sentences) or corpus_file")
        if corpus_file is not None:
            if os.path.isdir(corpus_file):
                raise IsADirectoryError(f"{corpus_file}: is a directory; give one text file")
            if not os.path.isfile(corpus_file):
                raise FileNotFoundError(f"{corpus_file}: no such file")
            return LineSentence(corpus_file, self.max_sentence_length), str(corpus_file)
        if iter(sentences) is sentences:
            raise TypeError("the corpus (sentences, corpus_iterable) must be re-iterable (a list or a class with "
                            "__iter__), not a one-shot generator: it is read once per epoch")
        return _Pieces(sentences, self.max_sentence_length), "sentences"

    def build_vocab(self, corpus_iterable: Optional[Iterable[List[str]]] = None,
                    corpus_file: Optional[str] = None) -> None:
        """Count words, apply ``min_count``/``max_vocab_size``/``max_final_vocab``, and initialise the tables."""
        corpus, source = self._corpus(corpus_iterable, corpus_file)
        encoded = None
        if corpus_file is not None and self.max_vocab_size is None:
            # one pass counts and keeps the corpus encoded; training then skips re-reading the file
            self.vocab, encoded = self._count_and_encode(corpus, corpus_file, source)
        else:
            self.vocab = Vocab.build(corpus, min_count=self.min_count, max_vocab_size=self.max_vocab_size,
                                     source=source)
        if self.max_final_vocab is not None:
            self.vocab, encoded = self.vocab.trimmed(self.max_final_vocab, encoded)
        self._encoded = None if encoded is None else (_file_key(corpus_file), encoded)
        if corpus_file is not None:     # LineSentence reads bytes that are not UTF-8 as U+FFFD
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
            raise ValueError(f"negative={self.negative} must be less than the vocabulary size ({V} words) "
                             "on the exclusion path; lower negative or use sampler='batched'")
        rng = backend.make_rng(xp, self.seed)
        # The C tool's initialisation: input vectors uniform in [-0.5/H, 0.5/H), output vectors zero.
        self.W_in = ((rng.random((V, H), dtype=xp.float32) - 0.5) / H).astype(xp.float32)
        self.W_out = xp.zeros((V, H), dtype=xp.float32)
        self.epochs_trained = self.words_trained = 0
        self._wv = None

    def _count_and_encode(self, corpus: LineSentence, corpus_file: str, source: str):
        """With ``NSW2V_FAST_GPU=1`` on CuPy the whole file is tokenised, counted and encoded on the
        device (``nsw2v.ingest``); otherwise, and for text it cannot read exactly as ``LineSentence``
        does, ``Vocab.build_encoded`` reads it token by token, in ``workers`` processes when there
        are several (``nsw2v.parallel_read``)."""
        if _array_reader(self.xp):
            limit = _DEVICE_TEXT_LIMIT
            free = backend.device_free_bytes(self.xp)
            if free is not None:                    # a text too long for the device's memory is read token by token
                limit = min(limit, free // ingest.DEVICE_BYTES_PER_TEXT_BYTE)
            try:
                return ingest.count_and_encode(self.xp, ingest.read_bytes(corpus_file, limit),
                                               self.min_count, self.max_sentence_length, source)
            except ingest.Unsupported as why:
                if self.verbose:
                    sys.stderr.write(f"reading {source} token by token: {why}\n")
        if self.workers > 1:                        # several processes: all of them read
            return count_and_encode_file(corpus_file, self.min_count, self.max_sentence_length,
                                         workers=self.workers, source=source)
        return Vocab.build_encoded(corpus, min_count=self.min_count, source=source)

    # ------------------------------------------------------------------ training
    def train(self, corpus_iterable: Optional[Iterable[List[str]]] = None, corpus_file: Optional[str] = None,
              total_examples: Optional[int] = None, total_words: Optional[int] = None,
              epochs: Optional[int] = None, start_alpha: Optional[float] = None,
              end_alpha: Optional[float] = None, callbacks: Optional[Sequence[Any]] = None) -> "Word2Vec":
        """Train (or continue training) on a corpus with the built vocabulary.

        The learning rate falls linearly from ``start_alpha`` to ``end_alpha``
        over this call's ``epochs`` passes (defaults: the model's ``alpha``,
        ``min_alpha`` and ``epochs``). As in gensim, ``total_examples``
        (sentences) or ``total_words`` (tokens, in vocabulary or not) give the
        size of one pass when it is not the corpus the vocabulary was built on
        (``model.corpus_count``, ``model.corpus_total_words``); without them, one
        pass is taken to hold the vocabulary's words. ``callbacks`` run in this
        call only (as in gensim). Returns the model.
        """
        if self.vocab is None:
            raise RuntimeError("call build_vocab() before train(), or pass the corpus to Word2Vec(...)")
        corpus, source = self._corpus(corpus_iterable, corpus_file)
        self._running = _checked_callbacks(callbacks or ())
        encoded = None
        if corpus_file is not None and self._encoded is not None and self._encoded[0] == _file_key(corpus_file):
            encoded = self._encoded[1]
        epochs = self.epochs if epochs is None else positive_int("epochs", epochs)
        alpha = self.alpha if start_alpha is None else start_alpha
        min_alpha = self.min_alpha if end_alpha is None else end_alpha
        total = epochs * self._pass_words(total_examples, total_words)
        progress = _Progress(total) if self.verbose else None
        job = _Job(self, total, alpha, min_alpha)
        pool = _Pool(job, job.trainers) if job.trainers > 1 else None
        done, lr = 0, alpha
        start = time.time()
        acc = _Accumulator()

        def report(words: float, lr: float) -> None:
            if progress is not None and progress.due():
                progress.show(words, lr, self._flush(acc, words, lr))

        # with several processes, smaller chunks shorten the end of an epoch, when one works alone
        chunk_words = self.chunk_words // job.trainers or 1
        self._hook("on_train_begin")
        try:
            for _ in range(epochs):
                self._hook("on_epoch_begin")
                if encoded is not None:
                    chunks = encoded.iter_chunks(chunk_words)
                else:
                    chunks = self.vocab.iter_chunks(corpus, chunk_words)
                if pool is None:
                    epoch = self.epochs_trained
                    plans = ((len(ids), job.plan(epoch, number, ids, sid))
                             for number, (ids, sid) in enumerate(chunks))
                    for raw_n, plan in _prefetch(plans, depth=1):   # the next chunk is planned as this one trains
                        lr = job.train_plan(plan, raw_n, done, acc, report)
                        done += raw_n
                        self._flush(acc, done, lr)
                else:
                    for loss, examples, words, lr in pool.epoch(chunks, done):
                        acc.add(loss, examples)
                        self._flush(acc, words, lr)
                        if progress is not None:
                            progress.show(words, lr, self.loss_history[-1]["loss"] if examples else float("nan"))
                    done += pool.words
                self._end_epoch()
        finally:
            if pool is not None:
                pool.close()
        self.words_trained += done
        self.train_seconds = time.time() - start
        if progress is not None:
            progress.finish(done, self.train_seconds)
        if done == 0:
            raise ValueError(f"{source}: no in-vocabulary words to train on")
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
            if given < 1:
                raise ValueError(f"{name}={given} must be >= 1")
            if counted:                     # the same share of in-vocabulary words as the counted corpus
                return given * vocab.total_words / counted
        return vocab.total_words

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
        self._wv = None
        self._hook("on_epoch_end")

    def _flush(self, acc: "_Accumulator", words: float, lr: float) -> float:
        """Move the accumulated loss into ``loss_history``; return its mean per example."""
        examples = int(backend.to_float(acc.examples))
        if examples == 0:
            return float("nan")
        mean = backend.to_float(acc.loss) / examples
        self.loss_history.append({"epoch": self.epochs_trained, "words": int(self.words_trained + words),
                                  "alpha": float(lr), "loss": mean, "examples": examples})
        acc.loss, acc.examples = 0.0, 0
        return mean

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

    _SETTINGS = ("vector_size", "window", "min_count", "max_vocab_size", "max_final_vocab", "sg", "negative",
                 "ns_exponent", "sample", "alpha", "min_alpha", "epochs", "batch_size", "sampler", "seed",
                 "max_sentence_length", "chunk_words", "max_row_updates", "workers", "epochs_trained",
                 "words_trained")

    def save(self, path: str) -> None:
        """Save everything needed to continue training (a NumPy ``.npz`` file, written atomically)."""
        if self.vocab is None:
            raise RuntimeError("nothing to save: the model has no vocabulary yet")
        state = {name: getattr(self, name) for name in self._SETTINGS}
        state["epoch_losses"] = self.epoch_losses
        state["loss_history"] = self.loss_history
        arrays = dict(self.vocab.to_arrays(), W_in=backend.to_numpy(self.W_in),
                      W_out=backend.to_numpy(self.W_out), state=np.array(json.dumps(state)))
        atomic_write(path, lambda fh: np.savez(fh, **arrays))

    @classmethod
    def load(cls, path: str, xp: Any = None) -> "Word2Vec":
        """Load a model saved by :meth:`save`, onto ``xp`` (default: ``GPU=...``)."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file")
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile):    # a pickle (gensim's), a cut file, not NumPy's
            data = None
        if not (isinstance(data, np.lib.npyio.NpzFile) and "state" in data.files):
            if isinstance(data, np.lib.npyio.NpzFile):
                data.close()
            raise ValueError(f"{path}: not an nsw2v model (the .npz that Word2Vec.save writes); vectors from "
                             "gensim or the C tool load with WordVectors.load_word2vec_format")
        with data:
            state = json.loads(str(data["state"]))
            vocab = Vocab.from_arrays({k: data[k] for k in data.files if k not in ("W_in", "W_out", "state")})
            W_in, W_out = data["W_in"], data["W_out"]
        # a setting added later (max_final_vocab) is absent from older files: its default then
        settings = {k: state[k] for k in cls._SETTINGS
                    if k in state and k not in ("epochs_trained", "words_trained")}
        model = cls(xp=xp, **settings)
        model.vocab = vocab
        model.W_in, model.W_out = model.xp.asarray(W_in), model.xp.asarray(W_out)
        model.epochs_trained, model.words_trained = state["epochs_trained"], state["words_trained"]
        model.epoch_losses, model.loss_history = state["epoch_losses"], state["loss_history"]
        model._epoch_start = len(model.loss_history)
        return model


_HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end")


def _has_hook(callback: Any) -> bool:
    return any(hasattr(callback, name) for name in _HOOKS)


def _checked_callbacks(callbacks: Sequence[Any]) -> list:
    """The callbacks as a list, each one checked to be callable or to have a gensim hook."""
    callbacks = list(callbacks)
    for i, callback in enumerate(callbacks):
        if not (_has_hook(callback) or callable(callback)):
            raise TypeError(f"callbacks[{i}]={callback!r} is neither callable nor has any of the methods "
                            + ", ".join(_HOOKS))
    return callbacks


def _prefetch(chunks: Iterable, depth: int = 2):
    """Yield from ``chunks`` while a background thread reads, encodes and plans the next ones.

    Reading and encoding the corpus is host-side Python, planning a chunk mostly
    NumPy kernels; in their own thread they overlap the training steps (NumPy
    releases the GIL inside its kernels, and CuPy runs them on the device). The
    order of chunks is unchanged, so results stay deterministic.
    """
    items: "queue.Queue" = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def produce():
        try:
            for item in chunks:
                if not put(item):
                    return                    # the consumer stopped early
            put(done)
        except BaseException as exc:          # handed to the consumer, raised there
            put(exc)

    threading.Thread(target=produce, name="nsw2v-reader", daemon=True).start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class _Job:
    """What one training call needs to turn chunks into steps, in this process or a worker.

    Chunk ``number`` of an epoch is planned with its own seeded generator, so a
    chunk's subsampling and windows do not depend on which process trains it.
    """

    def __init__(self, model: Word2Vec, total: int, alpha: float, min_alpha: float):
        xp = model.xp
        self.model, self.total, self.alpha, self.min_alpha = model, total, alpha, min_alpha
        self.seed = model.seed + 1000003 * (model.epochs_trained + 1)
        self.epoch0 = model.epochs_trained
        self.sampler = UnigramSampler(None, model.ns_exponent, model.negative, method=model.sampler, xp=xp,
                                      counts=model.vocab.counts, seed=model.seed + 7 + model.epochs_trained)
        self.skip_hits = self.sampler.method == "batched"
        self.trainers = 1 if backend.is_cupy(xp) else model.workers     # training processes: the device trains alone
        cap = model.max_row_updates
        if cap is not None and self.trainers > 1:
            # processes update the same rows at the same time: share the cap between them
            cap = max(1, cap // self.trainers)
        self.scatter = CappedScatter(cap)
        self.keep_p = xp.asarray(model.vocab.keep_probabilities(model.sample)) if model.sample > 0 else None
        self.offsets = xp.asarray([o for o in range(-model.window, model.window + 1) if o != 0], dtype=xp.int32)

    def reseed(self, worker: int) -> None:
        """Give a worker process its own sampler stream."""
        self.sampler.rng = backend.make_rng(self.model.xp, _mix(self.model.seed + 7, self.epoch0, worker))

    def train_chunk(self, epoch: int, number: int, ids_host: np.ndarray, sid_host: np.ndarray, done: int,
                    acc: "_Accumulator", report: Optional[Callable] = None) -> float:
        """Train on one chunk whose first word is word ``done`` of this call; return the last lr."""
        return self.train_plan(self.plan(epoch, number, ids_host, sid_host), len(ids_host), done, acc, report)

    def train_plan(self, plan: "_Plan", raw_n: int, done: int, acc: "_Accumulator",
                   report: Optional[Callable] = None) -> float:
        """Train on a planned chunk of ``raw_n`` words whose first is word ``done`` of this call; return the last lr."""
        n_steps = len(plan.bounds) - 1
        lr = self.alpha
        for j in range(n_steps):
            words = done + raw_n * j / n_steps
            lr = max(self.min_alpha, self.alpha - (self.alpha - self.min_alpha) * words / self.total)
            acc.add(*self.step(plan, int(plan.bounds[j]), int(plan.bounds[j + 1]), lr))
            if report is not None:
                report(words, lr)
        return lr

    def plan(self, epoch: int, number: int, ids_host: np.ndarray, sid_host: np.ndarray) -> "_Plan":
        """Chunk ``number`` of ``epoch``: its subsampling and windows (seeded by both), and the negatives
        of all its centers in one call of the sampler (rows are drawn independently of each other, so
        one call for the chunk draws what a call per step would, with one call's overhead)."""
        xp = self.model.xp
        rng = backend.make_rng(xp, _mix(self.seed, epoch, number))
        plan = _plan_chunk(xp, rng, xp.asarray(ids_host), xp.asarray(sid_host), self.keep_p, self.offsets,
                           self.model.batch_size)
        plan.negatives = self.sampler.sample(plan.centers)
        plan.sorted = None
        W_in, W_out = self.model.W_in, self.model.W_out
        if backend.kernel_steps(W_in, W_out, plan.ctx.shape[1], plan.negatives.shape[1]):
            # the scatter kernels' sorts, once a chunk instead of twice a step
            plan.sorted = sort_rows(xp, plan.centers, plan.ctx, plan.valid, plan.negatives, plan.bounds,
                                    W_out.shape[0])
        return plan

    def step(self, plan: "_Plan", lo: int, hi: int, lr: float):
        """One step over plan positions ``lo:hi``; returns ``(loss sum, examples)``, both maybe on the device."""
        model = self.model
        if hi <= lo:
            return 0.0, 0
        centers, valid, ctx = plan.centers[lo:hi], plan.valid[lo:hi], plan.ctx[lo:hi]
        negatives = plan.negatives[lo:hi]
        rows = plan.rows(lo, hi)
        if model.sg:
            loss = skipgram_step(model.W_in, model.W_out, centers, ctx, valid, negatives, lr, self.skip_hits,
                                 self.scatter, rows)
            return loss, valid.sum()                    # one example per (context, center) pair
        loss = cbow_step(model.W_in, model.W_out, centers, ctx, valid, negatives, lr, self.skip_hits, self.scatter,
                         rows)
        return loss, hi - lo


def _array_reader(xp: Any) -> bool:
    """Whether corpus_file is tokenised with array operations (``nsw2v.ingest``): on CuPy with
    ``NSW2V_FAST_GPU=1``; on NumPy the Python reader is faster."""
    return backend.is_cupy(xp) and backend.fast_gpu()


def _file_key(path: str) -> tuple:
    """What identifies a file's contents for the encoded-corpus cache: its path, size and modification time."""
    stat = os.stat(path)
    return os.path.abspath(path), stat.st_size, stat.st_mtime_ns


def _mix(*numbers: int) -> int:
    """One non-negative int seed from several (CuPy's generators take a plain int)."""
    seed = 0
    for n in numbers:
        seed = (seed * 1000003 + int(n)) % (1 << 63)
    return seed


class _Pool:
    """``workers`` processes training on the same two tables in shared memory (NumPy only).

    As the C tool's threads do, the processes update the tables without locks
    (Hogwild): results no longer repeat exactly for a seed. The main process
    reads and encodes the corpus and hands out whole chunks; the learning rate
    of a chunk follows from its position in the corpus, as with one process.
    """

    def __init__(self, job: _Job, workers: int):
        import mmap
        import multiprocessing as mp
        model = job.model
        self.job, self.model, self.words = job, model, 0
        tables = []
        for table in (model.W_in, model.W_out):
            # An anonymous shared mapping, inherited by the forked workers: nothing in /dev/shm (whose size
            # containers often limit) to leak if a process is killed, and no resource-tracker process.
            shared = np.ndarray(table.shape, dtype=table.dtype, buffer=mmap.mmap(-1, max(table.nbytes, 1)))
            shared[...] = table
            tables.append(shared)
        model.W_in, model.W_out = tables
        ctx = mp.get_context("fork")            # the workers inherit the model, vocabulary and tables
        self.tasks = ctx.Queue(maxsize=2 * workers)
        self.results = ctx.Queue()
        self.procs = [ctx.Process(target=_work, args=(job, i, self.tasks, self.results), daemon=True)
                      for i in range(workers)]
        for proc in self.procs:
            proc.start()

    def epoch(self, chunks: Iterable, done: int):
        """Hand out one epoch's chunks; yield ``(loss, examples, words, lr)`` per chunk as they finish."""
        sent, self.received, self.words = 0, 0, 0
        for number, (ids_host, sid_host) in enumerate(chunks):
            while True:
                try:
                    self.tasks.put((self.model.epochs_trained, number, ids_host, sid_host, done + self.words),
                                   timeout=0.2)
                    break
                except queue.Full:
                    yield from self._drain(block=False)
            sent += 1
            self.words += len(ids_host)
            yield from self._drain(block=False)
        while self.received < sent:
            yield from self._drain(block=True)

    def _drain(self, block: bool):
        while True:
            try:
                item = self.results.get(timeout=1.0) if block else self.results.get_nowait()
            except queue.Empty:
                if block and not all(p.is_alive() for p in self.procs):
                    raise RuntimeError("a training process died") from None
                if block:
                    continue
                return
            if isinstance(item, str):
                raise RuntimeError(f"a training process failed:\n{item}")
            self.received += 1
            yield item
            if block:
                return

    def close(self) -> None:
        for _ in self.procs:
            try:
                self.tasks.put_nowait(None)
            except queue.Full:
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        model = self.model
        model.W_in, model.W_out = model.W_in.copy(), model.W_out.copy()   # off the mapping, unmapped once unused


def _work(job: _Job, worker: int, tasks: Any, results: Any) -> None:
    """A worker process: train every chunk it is handed until it gets ``None``."""
    import traceback
    job.reseed(worker)
    try:
        while True:
            task = tasks.get()
            if task is None:
                return
            epoch, number, ids_host, sid_host, done = task
            acc = _Accumulator()
            lr = job.train_chunk(epoch, number, ids_host, sid_host, done, acc)
            results.put((backend.to_float(acc.loss), int(backend.to_float(acc.examples)), done + len(ids_host), lr))
    except KeyboardInterrupt:
        return
    except BaseException:
        results.put(traceback.format_exc())


class _Accumulator:
    """Loss and example counts summed on the device between reports (one host sync per report, not per step)."""

    def __init__(self):
        self.loss, self.examples = 0.0, 0

    def add(self, loss: Any, examples: int) -> None:
        self.loss = self.loss + loss
        self.examples += examples


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


class _Plan:
    """One chunk's training positions in stream-interleaved order (on ``xp``)."""

    __slots__ = ("centers", "ctx", "valid", "bounds", "negatives", "sorted")

    def rows(self, lo: int, hi: int) -> Optional[tuple]:
        """The scatter kernels' sorted rows of positions ``lo:hi`` (a step), or ``None`` without kernels."""
        return None if self.sorted is None else tuple(sort.step(lo, hi) for sort in self.sorted)


def _plan_chunk(xp: Any, rng: Any, ids: Any, sid: Any, keep_p: Any, offsets: Any, batch_size: int) -> _Plan:
    if keep_p is not None:
        keep = rng.random(ids.shape[0], dtype=xp.float32) < keep_p[ids]
        ids, sid = ids[keep], sid[keep]
    n = int(ids.shape[0])
    plan = _Plan()
    streams = max(1, min(batch_size, n))
    length = -(-n // streams) if n else 0                   # positions per stream (the last may be short)
    # order[j * streams + s] = s * length + j: step j takes position j of every stream
    order = (xp.arange(streams, dtype=xp.int32)[None, :] * length
             + xp.arange(length, dtype=xp.int32)[:, None]).ravel()
    order = order[order < n]
    per_step = np.minimum(streams, -(-(n - np.arange(length)) // max(length, 1)))   # positions in step j
    window = int(offsets.shape[0]) // 2
    shrink = rng.integers(0, window, size=order.shape[0], dtype=xp.int32)   # the C tool's b
    # Offsets allowed around each center: within the shrunk window and inside its sentence.
    new = xp.ones(n, dtype=bool)
    new[1:] = sid[1:] != sid[:-1]
    starts = xp.flatnonzero(new).astype(xp.int32)                               # first position of each sentence
    ends = xp.concatenate([starts[1:], xp.full(1, n, dtype=xp.int32)])
    sentence = (xp.cumsum(new, dtype=xp.int32) - 1)[order]
    reach = window - shrink
    lo = xp.maximum(starts[sentence] - order, -reach)                           # (m,) most negative offset
    hi = xp.minimum(ends[sentence] - 1 - order, reach)                          # (m,) largest offset
    valid = (offsets[None, :] >= lo[:, None]) & (offsets[None, :] <= hi[:, None])
    has_context = (lo < 0) | (hi > 0)
    if not bool(has_context.all()):             # one-word sentences: no example; drop them here, once a chunk
        step_of = np.repeat(np.arange(per_step.size), per_step)
        per_step = np.bincount(step_of[backend.to_numpy(has_context)], minlength=per_step.size)
        order, valid = order[has_context], valid[has_context]
    plan.bounds = np.concatenate([[0], np.cumsum(per_step)]).astype(np.int64)
    pad = xp.zeros(window, dtype=ids.dtype)                                     # slots outside the chunk: masked
    plan.valid = valid
    plan.ctx = xp.concatenate([pad, ids, pad])[order[:, None] + (offsets + window)[None, :]]
    plan.centers = ids[order]
    return plan


class _Progress:
    """The C tool's progress line on stderr, about once a second."""

    def __init__(self, total: int):
        self.total = max(total, 1)
        self.start = self.last = time.time()

    def due(self) -> bool:
        now = time.time()
        if now - self.last >= 1.0:
            self.last = now
            return True
        return False

    def show(self, words: float, lr: float, loss: float) -> None:
        elapsed = max(time.time() - self.start, 1e-9)
        rate = words / elapsed
        left = (self.total - words) / rate if rate > 0 else float("inf")
        sys.stderr.write(f"\rAlpha: {lr:.6f}  Progress: {100 * words / self.total:5.1f}%  "
                         f"Words/sec: {rate / 1000:.1f}k  Loss: {loss:.4f}  "
                         f"Time left: {_fmt(left)}   ")
        sys.stderr.flush()

    def finish(self, words: int, seconds: float) -> None:
        sys.stderr.write(f"\rTrained on {words} words in {seconds:.1f} s "
                         f"({words / max(seconds, 1e-9) / 1000:.1f}k words/s)" + " " * 30 + "\n")


def _fmt(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"
