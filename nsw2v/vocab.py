"""The vocabulary: word counts, ``min_count``, subsampling and encoding to ids.

    >>> from importlib import resources
    >>> from nsw2v.corpus import LineSentence
    >>> from nsw2v.vocab import Vocab
    >>> sentences = LineSentence(resources.files("nsw2v") / "data" / "gutenberg_small.txt.gz")  # ships with nsw2v
    >>> vocab = Vocab.build(sentences, min_count=5)       # one counting pass
    >>> vocab.index_to_key[:4]
    ['the', 'and', 'to', 'of']
    >>> p_keep = vocab.keep_probabilities(sample=1e-3)    # float32 (V,)
    >>> for ids, sentence_ids in vocab.iter_chunks(sentences):   # one epoch
    ...     pass                                          # int32 (N,), int32 (N,)
    >>> arrays = vocab.to_arrays()                        # np.savez("vocab.npz", **arrays) keeps them
    >>> Vocab.from_arrays(arrays).index_to_key == vocab.index_to_key
    True

Word ids run from 0 (the most frequent word) to ``len(vocab) - 1``. Everything
here runs on the host with NumPy; the training loop moves the id arrays to the
device itself.
"""
from __future__ import annotations

import itertools
import os
from collections import Counter
from typing import Any, Callable, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

from .corpus import MAX_SENTENCE_LENGTH, LineSentence
from .errors import ReadError
from .util import positive_int

__all__ = ["RULE_DEFAULT", "RULE_DISCARD", "RULE_KEEP", "EncodedCorpus", "Vocab", "keep_word"]

#: What a ``trim_rule(word, count, min_count)`` returns (gensim's values, so gensim's constants work too):
#: apply ``min_count`` to the word, drop it, or keep it whatever its count.
RULE_DEFAULT, RULE_DISCARD, RULE_KEEP = 0, 1, 2

# Raw tokens encoded per NumPy call in `iter_chunks`. Only speed depends on it.
_ENCODE_BATCH = 1 << 13
# Raw tokens per group in `Vocab.build_encoded` (larger groups: fewer unseen-word checks).
_BUILD_BATCH = 1 << 16

_ARRAY_KEYS = (
    "vocab_words_utf8",
    "vocab_word_offsets",
    "vocab_counts",
    "vocab_raw_words",
    "vocab_sentences_seen",
)


def keep_word(word: str, count: int, min_count: int, trim_rule: Optional[Callable] = None) -> bool:
    """Whether a word counted ``count`` times stays: ``count >= min_count``, unless ``trim_rule(word, count,
    min_count)`` returns :data:`RULE_KEEP` or :data:`RULE_DISCARD` (anything else, ``None`` included, is
    :data:`RULE_DEFAULT`), as gensim's ``trim_rule``."""
    if trim_rule is not None:
        rule = trim_rule(word, count, min_count)
        if rule == RULE_KEEP:
            return True
        if rule == RULE_DISCARD:
            return False
    return count >= min_count


def _check_sentence(sentence: object) -> None:
    if isinstance(sentence, (str, bytes)):
        raise TypeError(
            "sentences must yield lists of tokens, got a string "
            f"({sentence[:40]!r}); split each line into tokens first (LineSentence does)"
        )


class Vocab:
    """Words kept for training, their counts and their ids.

    Parameters
    ----------
    index_to_key : list of str
        The words, id ``i`` at position ``i``, sorted by count, descending. No
        word may appear twice.
    counts : array_like of int, shape (V,)
        How many times each word occurs in the corpus; non-increasing.
    raw_words : int, optional
        Tokens in the corpus before ``min_count`` (set by :meth:`build`).
    sentences_seen : int, optional
        Sentences in the corpus (set by :meth:`build`).
    corpus_words : int, optional
        In-vocabulary tokens of the corpus counted last; ``None``: ``sum(counts)``.
        They differ after :meth:`updated`, whose counts add up two corpora.

    Attributes
    ----------
    index_to_key : list of str
        Word of each id.
    key_to_index : dict of str to int
        Id of each word.
    counts : numpy.ndarray of int64, shape (V,)
        Count of each word.
    total_words : int
        Sum of ``counts``: the in-vocabulary tokens of one pass over the corpus.
    raw_words : int or None
        All tokens seen when counting, kept or not.
    sentences_seen : int or None
        Sentences seen when counting.
    corpus_words : int
        In-vocabulary tokens of the corpus counted last (the learning rate's
        scale for a pass over it).

    Raises
    ------
    ValueError
        The words repeat, the counts are not one per word, negative, or not
        sorted in descending order.
    """

    def __init__(
        self,
        index_to_key: Sequence[str],
        counts: npt.ArrayLike,
        *,
        raw_words: Optional[int] = None,
        sentences_seen: Optional[int] = None,
        corpus_words: Optional[int] = None,
    ) -> None:
        words = list(index_to_key)
        counts_arr = np.asarray(counts)
        if counts_arr.ndim != 1 or counts_arr.shape[0] != len(words):
            raise ValueError(
                f"counts has shape {counts_arr.shape}, expected ({len(words)},): one count per word"
            )
        if counts_arr.size and not np.issubdtype(counts_arr.dtype, np.integer):
            raise ValueError(f"counts must be integers, got dtype {counts_arr.dtype}")
        counts_arr = counts_arr.astype(np.int64, copy=True)
        if counts_arr.size and counts_arr.min() < 0:
            raise ValueError(f"counts must be >= 0, got {counts_arr.min()}")
        if np.any(counts_arr[1:] > counts_arr[:-1]):
            i = int(np.flatnonzero(counts_arr[1:] > counts_arr[:-1])[0])
            raise ValueError(
                f"counts must be sorted in descending order: {words[i]!r} has {counts_arr[i]} "
                f"but the next word {words[i + 1]!r} has {counts_arr[i + 1]}"
            )
        key_to_index = {w: i for i, w in enumerate(words)}
        if len(key_to_index) != len(words):
            seen = set()
            dup = next(w for w in words if w in seen or seen.add(w))
            raise ValueError(f"index_to_key lists {dup!r} more than once")
        self.index_to_key: List[str] = words
        self.key_to_index: dict = key_to_index
        self.counts: np.ndarray = counts_arr  # int64 (V,)
        self.total_words: int = int(counts_arr.sum())
        self.raw_words: Optional[int] = None if raw_words is None else int(raw_words)
        self.sentences_seen: Optional[int] = None if sentences_seen is None else int(sentences_seen)
        self.corpus_words: int = self.total_words if corpus_words is None else int(corpus_words)

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def __repr__(self) -> str:
        return f"Vocab({len(self)} words, total_words={self.total_words})"

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        sentences: Iterable[List[str]],
        min_count: int = 5,
        max_vocab_size: Optional[int] = None,
        source: Optional[str] = None,
        trim_rule: Optional[Callable] = None,
        progress: Optional[Callable[..., None]] = None,
    ) -> "Vocab":
        """Count the tokens of a corpus in one pass and keep the frequent words.

        Parameters
        ----------
        sentences : iterable of list of str
            The corpus, one list of tokens per sentence (e.g. a
            :class:`~nsw2v.corpus.LineSentence`). Iterated once.
        min_count : int, default 5
            Keep words that occur at least this many times; must be >= 1.
        max_vocab_size : int, optional
            Bound on the distinct words held while counting, as in gensim and the
            word2vec C tool: whenever more than ``max_vocab_size`` distinct words
            are held, words with count <= ``min_reduce`` are dropped and
            ``min_reduce`` (starting at 1) goes up by one. Dropped words lose
            their counts so far. The bound is checked after each sentence (as
            gensim does), so it may be passed by up to one sentence's worth of new
            words. ``None`` means no bound; otherwise must be >= 1.
        source : str, optional
            Name of the corpus in error messages; defaults to the path of a
            ``LineSentence``, else ``"corpus"``.
        trim_rule : callable, optional
            gensim's ``trim_rule`` (see :func:`keep_word`), consulted here only
            by the ``max_vocab_size`` pruning (with ``min_reduce + 1`` as its
            ``min_count``), as gensim consults it there; :meth:`filtered` applies
            it to the final vocabulary.
        progress : callable, optional
            Called now and then as ``progress(words=n)`` with the tokens counted
            so far (``nsw2v.training.progress.Counting``).

        Returns
        -------
        Vocab
            Words with count >= ``min_count``, by descending count; words with
            equal counts keep the order in which they were first seen (after a
            ``max_vocab_size`` pruning, a dropped word that comes back counts as
            first seen there). ``raw_words`` and ``sentences_seen`` are set.

        Raises
        ------
        ValueError
            ``min_count`` or ``max_vocab_size`` below 1, a corpus with no tokens,
            or no word left after ``min_count``.
        TypeError
            ``sentences`` yields strings instead of lists of tokens.
        """
        positive_int("min_count", min_count)
        positive_int("max_vocab_size", max_vocab_size, optional=True)
        source = _source_name(sentences, source)

        counter: Counter = Counter()
        update = counter.update
        raw_words = 0
        sentences_seen = 0
        min_reduce = 1
        next_report = _BUILD_BATCH
        for sentence in sentences:
            _check_sentence(sentence)
            update(sentence)  # C loop over the list
            raw_words += len(sentence)
            sentences_seen += 1
            if progress is not None and raw_words >= next_report:
                progress(words=raw_words)
                next_report = raw_words + _BUILD_BATCH
            if max_vocab_size is not None and len(counter) > max_vocab_size:
                # Rebuilding keeps insertion order, hence the first-seen tie order.
                counter = Counter({w: c for w, c in counter.items() if keep_word(w, c, min_reduce + 1, trim_rule)})
                update = counter.update
                min_reduce += 1

        return cls._from_counts(counter.items(), min_count, raw_words, sentences_seen, source)

    @classmethod
    def build_encoded(
        cls,
        sentences: Iterable[List[str]],
        min_count: int = 5,
        source: Optional[str] = None,
        max_tokens: int = 50_000_000,
        progress: Optional[Callable[..., None]] = None,
    ) -> Tuple["Vocab", Optional["EncodedCorpus"]]:
        """:meth:`build` that also keeps the corpus encoded, so training need not read it again.

        One pass: each token gets a provisional id (words numbered as first
        seen) and the ids are kept; the counts are then a ``bincount`` and the
        kept ids are mapped to the final ones (out-of-vocabulary tokens and
        sentences left empty dropped, as :meth:`iter_chunks` does). The
        vocabulary is exactly the one :meth:`build` gives (no ``max_vocab_size``
        here). Past ``max_tokens`` tokens (int32 ids: 4 bytes each) nothing more
        is kept, counting goes on as in :meth:`build`, and the second value is
        ``None``. ``progress`` as in :meth:`build`.
        """
        positive_int("min_count", min_count)
        if not 0 <= max_tokens < 2 ** 31 - _BUILD_BATCH - MAX_SENTENCE_LENGTH:
            raise ValueError(f"max_tokens={max_tokens!r} must be >= 0 and fit int32 positions")
        source = _source_name(sentences, source)
        index = _FirstSeen()                         # word -> provisional id
        blocks: List[np.ndarray] = []
        block_lengths: List[np.ndarray] = []
        counter: Optional[Counter] = None            # once over max_tokens
        raw_words = sentences_seen = 0
        tokens: List[str] = []
        lengths: List[int] = []

        def flush() -> None:
            nonlocal counter, blocks, block_lengths
            if progress is not None:
                progress(words=raw_words)
            if counter is not None:
                counter.update(tokens)
                return
            blocks.append(np.fromiter(map(index.__getitem__, tokens), dtype=np.int32, count=len(tokens)))
            block_lengths.append(np.asarray(lengths, dtype=np.int64))
            if raw_words > max_tokens:               # too large to keep: count the rest only
                counter = Counter(dict(zip(index, _provisional_counts(index, blocks).tolist())))
                blocks, block_lengths = [], []

        for sentence in sentences:
            _check_sentence(sentence)
            tokens.extend(sentence)
            lengths.append(len(sentence))
            raw_words += len(sentence)
            sentences_seen += 1
            if len(tokens) >= _BUILD_BATCH:
                flush()
                tokens, lengths = [], []
        if tokens or lengths:
            flush()
        if counter is not None:
            return cls._from_counts(counter.items(), min_count, raw_words, sentences_seen, source), None
        counts = _provisional_counts(index, blocks)
        vocab = cls._from_counts(zip(index, counts.tolist()), min_count, raw_words, sentences_seen, source)
        remap = _final_ids(index, vocab)
        encoded = []
        blocks.reverse()                             # popped in order: each block freed once it is encoded
        for lens in block_lengths:
            ids = blocks.pop()
            np.take(remap, ids, out=ids)             # provisional ids to final ones, in place
            encoded.append(_keep_known(ids, lens))
        return vocab, EncodedCorpus(encoded)

    @classmethod
    def _from_counts(cls, items: Iterable[Tuple[str, int]], min_count: int, raw_words: int,
                     sentences_seen: int, source: str) -> "Vocab":
        """The vocabulary of ``(word, count)`` pairs given in first-seen order."""
        items = list(items)
        counts = np.fromiter((c for _, c in items), dtype=np.int64, count=len(items))
        kept = frequent(counts, np.arange(len(items)), min_count, raw_words, source)
        # New copies of the kept words: else each would pin the memory of the freed words stored beside it
        # (the strings of every word counted, most of them rare): 7 MiB less at the peak of training on enwiki.
        words = [_fresh(items[i][0]) for i in kept.tolist()]
        for word in words:
            if not isinstance(word, str):
                raise TypeError(f"{source}: the token {word!r} is a {type(word).__name__}, not a str: sentences "
                                "must be lists of str tokens")
        return cls(words, counts[kept], raw_words=raw_words, sentences_seen=sentences_seen)

    # --------------------------------------------------------------- subsampling
    def keep_probabilities(self, sample: float) -> np.ndarray:
        """Probability of keeping each occurrence of each word when subsampling.

        The word2vec C tool's formula (``word2vec.c``, ``TrainModelThread``),
        also used by gensim (``Word2Vec.prepare_vocab``): with ``f`` the word's
        count and ``t = sample * total_words``,

            p_keep = (sqrt(f / t) + 1) * t / f,  clipped to at most 1.

        Parameters
        ----------
        sample : float
            Threshold as a fraction of the corpus (word2vec's ``-sample``, e.g.
            ``1e-3``); ``0`` disables subsampling. Must be >= 0.

        Returns
        -------
        numpy.ndarray of float32, shape (V,)
            Keep probability of each word id, in (0, 1].

        Raises
        ------
        ValueError
            ``sample`` is negative or not a number.
        """
        sample = float(sample)
        if not sample >= 0.0:  # also catches NaN
            raise ValueError(f"sample={sample!r} must be >= 0 (0 disables subsampling)")
        if sample == 0.0:
            return np.ones(len(self), dtype=np.float32)
        f = self.counts.astype(np.float64)
        t = sample * self.total_words
        with np.errstate(divide="ignore", invalid="ignore"):
            p = (np.sqrt(f / t) + 1.0) * t / f
        # A word with count 0 never occurs; keeping it is harmless and avoids NaN.
        p = np.where(f > 0, np.minimum(p, 1.0), 1.0)
        return p.astype(np.float32)

    # ------------------------------------------------------------------ encoding
    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of the in-vocabulary tokens, in order; other tokens are dropped.

        Parameters
        ----------
        tokens : list of str

        Returns
        -------
        numpy.ndarray of int32, shape (N,)
        """
        ids = np.fromiter(
            map(self.key_to_index.get, tokens, itertools.repeat(-1)),
            dtype=np.int32,
            count=len(tokens),
        )
        return ids[ids >= 0]

    def _encoded_batches(self, sentences: Iterable[List[str]]) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """Encode many sentences per NumPy call.

        Yields ``(ids, lengths)``: the in-vocabulary ids of consecutive sentences,
        concatenated, and the number of ids of each sentence, sentences that
        encode to nothing left out (so every length is >= 1).
        """
        get = self.key_to_index.get
        tokens: List[str] = []
        lengths: List[int] = []
        for sentence in sentences:
            _check_sentence(sentence)
            tokens.extend(sentence)
            lengths.append(len(sentence))
            if len(tokens) >= _ENCODE_BATCH:
                yield self._encode_batch(get, tokens, lengths)
                tokens, lengths = [], []
        if tokens:
            yield self._encode_batch(get, tokens, lengths)

    @staticmethod
    def _encode_batch(get, tokens: List[str], lengths: List[int]) -> Tuple[np.ndarray, np.ndarray]:
        ids = np.fromiter(map(get, tokens, itertools.repeat(-1)), dtype=np.int32, count=len(tokens))
        return _keep_known(ids, np.asarray(lengths, dtype=np.int64))

    def iter_chunks(
        self,
        sentences: Iterable[List[str]],
        chunk_words: int = 1_000_000,
    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """Encode a corpus into chunks of whole sentences.

        Parameters
        ----------
        sentences : iterable of list of str
            The corpus; iterated once per call.
        chunk_words : int, default 1_000_000
            A chunk closes at the end of the first sentence that brings it to at
            least this many in-vocabulary tokens; must be >= 1. Sentences are
            never split across chunks, so a chunk may hold more.

        Yields
        ------
        ids : numpy.ndarray of int32, shape (N,)
            The in-vocabulary token ids of consecutive sentences, concatenated;
            out-of-vocabulary tokens are dropped, and sentences left with no
            tokens are skipped.
        sentence_ids : numpy.ndarray of int32, shape (N,)
            For each token, the index within the chunk (0, 1, 2, ...) of its
            sentence: non-decreasing, and equal for two tokens iff they come from
            the same sentence.

        Raises
        ------
        ValueError
            ``chunk_words`` below 1.
        TypeError
            ``sentences`` yields strings instead of lists of tokens.
        """
        return _chunks(self._encoded_batches(sentences), chunk_words)

    def trimmed(self, max_final_vocab: int, encoded: Optional["EncodedCorpus"] = None
                ) -> Tuple["Vocab", Optional["EncodedCorpus"]]:
        """gensim's ``max_final_vocab``: the words counted more often than the word at position
        ``max_final_vocab`` (so at most that many; a tie at the bound is left out whole), and ``encoded``
        with the others' ids dropped."""
        if len(self) <= max_final_vocab:
            return self, encoded
        keep = self.counts > self.counts[max_final_vocab]
        if not keep.any():
            raise ValueError(f"max_final_vocab={max_final_vocab}: no word is counted more often than the word at "
                             f"position {max_final_vocab + 1} ({self.counts[max_final_vocab]} times): "
                             "none would be left")
        return self._subset(keep, encoded)

    def filtered(self, min_count: int, trim_rule: Optional[Callable], encoded: Optional["EncodedCorpus"] = None,
                 source: str = "corpus") -> Tuple["Vocab", Optional["EncodedCorpus"]]:
        """The words that :func:`keep_word` keeps (``min_count`` and gensim's ``trim_rule``), and ``encoded``
        with the others' ids dropped. Build with ``min_count=1`` first so that the rule sees every word."""
        keep = np.fromiter((keep_word(w, c, min_count, trim_rule) for w, c in zip(self.index_to_key,
                                                                                  self.counts.tolist())),
                           dtype=bool, count=len(self))
        if not keep.any():
            raise ValueError(f"{source}: no word left after min_count={min_count} and trim_rule (largest count "
                             f"is {int(self.counts[0])})")
        return self._subset(keep, encoded)

    def _subset(self, keep: np.ndarray, encoded: Optional["EncodedCorpus"]
                ) -> Tuple["Vocab", Optional["EncodedCorpus"]]:
        """The words where the bool mask ``keep`` holds, in order, and ``encoded`` renumbered to them."""
        kept = np.flatnonzero(keep)
        vocab = Vocab([self.index_to_key[i] for i in kept.tolist()], self.counts[kept], raw_words=self.raw_words,
                      sentences_seen=self.sentences_seen)
        if encoded is not None:
            remap = np.full(len(self), -1, dtype=np.int32)
            remap[kept] = np.arange(kept.size, dtype=np.int32)
            encoded = EncodedCorpus(_keep_known(remap[ids], lengths) for ids, lengths in encoded.iter_batches())
        return vocab, encoded

    def updated(self, counted: "Vocab", min_count: int, trim_rule: Optional[Callable] = None
                ) -> Tuple["Vocab", np.ndarray]:
        """gensim's ``build_vocab(update=True)``: this vocabulary with the counts of another corpus added.

        Parameters
        ----------
        counted : Vocab
            The new corpus's words and counts, all of them (built with ``min_count=1``).
        min_count, trim_rule
            A word new to this vocabulary joins when :func:`keep_word` keeps it on
            its count in the new corpus (gensim's rule); every word already here stays.

        Returns
        -------
        vocab : Vocab
            Counts are the sums over both corpora, sorted descending as always
            (gensim appends new words at the end instead; keeping the order keeps
            ``restrict_vocab`` and ``max_final_vocab`` meaning "the most frequent");
            ties keep this vocabulary's order, then the new words' first-seen order.
            ``raw_words``, ``sentences_seen`` and ``corpus_words`` are the new corpus's.
        rows : numpy.ndarray of int64, shape (len(vocab),)
            For each new id, the word's id in this vocabulary, or -1 for a new word.
        """
        added = np.zeros(len(self), dtype=np.int64)
        fresh: List[str] = []
        fresh_counts: List[int] = []
        for word, count in zip(counted.index_to_key, counted.counts.tolist()):
            i = self.key_to_index.get(word)
            if i is not None:
                added[i] = count
            elif keep_word(word, count, min_count, trim_rule):
                fresh.append(word)
                fresh_counts.append(count)
        words = self.index_to_key + fresh
        counts = np.concatenate([self.counts + added, np.asarray(fresh_counts, dtype=np.int64)])
        order = np.lexsort((np.arange(len(words)), -counts))             # by count, ties in the order above
        rows = np.where(order < len(self), order, -1)
        corpus_words = int(added.sum()) + sum(fresh_counts)
        vocab = Vocab([words[i] for i in order.tolist()], counts[order], raw_words=counted.raw_words,
                      sentences_seen=counted.sentences_seen, corpus_words=corpus_words)
        return vocab, rows

    # ------------------------------------------------------------ saving/loading
    def to_arrays(self) -> dict:
        """The vocabulary as NumPy arrays, for ``numpy.savez``.

        Words are stored as their UTF-8 bytes joined in one ``uint8`` array plus
        ``int64`` offsets, which is exact for any string and compact for long
        words (a fixed-width unicode array would pad every word to the longest).
        Keys start with ``vocab_`` so they can share a file with other arrays.

        Returns
        -------
        dict of str to numpy.ndarray
            ``vocab_words_utf8`` uint8 (B,), ``vocab_word_offsets`` int64 (V+1,),
            ``vocab_counts`` int64 (V,), ``vocab_raw_words`` and
            ``vocab_sentences_seen`` int64 scalars (-1 when unknown),
            ``vocab_corpus_words`` int64 scalar.
        """
        utf8, offsets = encode_words(self.index_to_key)
        return {
            "vocab_words_utf8": utf8,
            "vocab_word_offsets": offsets,
            "vocab_counts": self.counts.copy(),
            "vocab_raw_words": np.array(-1 if self.raw_words is None else self.raw_words, dtype=np.int64),
            "vocab_sentences_seen": np.array(
                -1 if self.sentences_seen is None else self.sentences_seen, dtype=np.int64
            ),
            "vocab_corpus_words": np.array(self.corpus_words, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "Vocab":
        """Rebuild a vocabulary from :meth:`to_arrays` output.

        Parameters
        ----------
        arrays : mapping of str to numpy.ndarray
            E.g. the result of ``numpy.load("file.npz")``; keys other than the
            ``vocab_*`` ones are ignored.

        Returns
        -------
        Vocab

        Raises
        ------
        KeyError
            A ``vocab_*`` array is missing.
        """
        missing = [k for k in _ARRAY_KEYS if k not in arrays]
        if missing:
            raise KeyError(f"not a saved vocabulary: missing arrays {missing}")
        data = np.asarray(arrays["vocab_words_utf8"], dtype=np.uint8).tobytes()
        offsets = np.asarray(arrays["vocab_word_offsets"], dtype=np.int64).tolist()
        words = [
            data[a:b].decode("utf-8", "surrogatepass") for a, b in zip(offsets[:-1], offsets[1:])
        ]
        raw_words = int(arrays["vocab_raw_words"])
        sentences_seen = int(arrays["vocab_sentences_seen"])
        return cls(
            words,
            np.asarray(arrays["vocab_counts"], dtype=np.int64),
            raw_words=None if raw_words < 0 else raw_words,
            sentences_seen=None if sentences_seen < 0 else sentences_seen,
            # absent from files written before build_vocab(update=True) existed: then sum(counts)
            corpus_words=int(arrays["vocab_corpus_words"]) if "vocab_corpus_words" in arrays else None,
        )


def encode_words(words: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Words as their UTF-8 bytes joined in one uint8 array, and int64 offsets (``V + 1``): word ``i`` is
    ``utf8[offsets[i]:offsets[i + 1]]`` (exact for any str, compact for long words)."""
    encoded = [w.encode("utf-8", "surrogatepass") for w in words]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def decode_words(utf8: np.ndarray, offsets: np.ndarray, source: str) -> List[str]:
    """The words of :func:`encode_words`'s arrays, read from ``source`` (named in errors): offsets from 0 to
    the last byte, never decreasing, and each word valid UTF-8, or :class:`~nsw2v.errors.ReadError`."""
    offsets = np.asarray(offsets, dtype=np.int64)
    data = np.asarray(utf8, dtype=np.uint8).tobytes()
    if offsets.ndim != 1 or offsets.size == 0 or offsets[0] != 0 or offsets[-1] != len(data):
        raise ReadError(f"{source}: the word offsets must run from 0 to the {len(data)} bytes of words")
    if np.any(offsets[1:] < offsets[:-1]):
        raise ReadError(f"{source}: the word offsets decrease at word {int(np.argmax(offsets[1:] < offsets[:-1]))}")
    words = []
    for i, (a, b) in enumerate(zip(offsets[:-1].tolist(), offsets[1:].tolist())):
        try:
            words.append(data[a:b].decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError:
            raise ReadError(f"{source}: word {i} (bytes {a}..{b}) is not UTF-8") from None
    return words


class EncodedCorpus:
    """A corpus kept encoded by :meth:`Vocab.build_encoded`: ``(ids, lengths)`` batches of whole sentences
    on the host, packed as they come.

    An id is kept in two bytes, its low 16 bits; the few ids of 2**16 or more (the rarest words of a large
    vocabulary) also keep their position in the batch and their high bits. That is half the memory of int32
    ids, nearly to the byte: enwiki's 16.7M in-vocabulary tokens take 32.2 MiB instead of 63.7, of which the
    72,255 tokens of its 13,548 words past 2**16 take 0.4. Batches are unpacked one at a time, as chunks are cut.
    """

    def __init__(self, batches: Iterable[Tuple[np.ndarray, np.ndarray]]):
        self._packed = [(_pack(ids), np.asarray(lengths, dtype=np.int64)) for ids, lengths in batches]

    @property
    def batches(self) -> List[Tuple[np.ndarray, np.ndarray]]:
        """Every batch as ``(int32 ids, sentence lengths)``: a copy of the whole corpus (for tests and tools)."""
        return list(self.iter_batches())

    def iter_batches(self) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """The batches as ``(int32 ids, sentence lengths)``, unpacked one at a time."""
        for packed, lengths in self._packed:
            yield _unpack(packed), lengths

    def longest_sentence(self) -> int:
        """The tokens of the longest sentence (0 for no sentence)."""
        return max((int(lengths.max(initial=0)) for _, lengths in self._packed), default=0)

    def iter_chunks(self, chunk_words: int = 1_000_000) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """The chunks :meth:`Vocab.iter_chunks` gives on the same corpus, without reading it."""
        return _chunks(self.iter_batches(), chunk_words)


def _pack(ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-negative int ids as ``(low 16 bits, positions of the ids >= 2**16, their high bits)`` (see
    :class:`EncodedCorpus`)."""
    ids = np.asarray(ids)
    far = np.flatnonzero(ids >> 16).astype(np.int32)
    return ids.astype(np.uint16), far, (ids[far] >> 16).astype(np.uint16)


def _unpack(packed: Tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """The int32 ids that :func:`_pack` packed."""
    low, far, high = packed
    ids = low.astype(np.int32)
    ids[far] |= high.astype(np.int32) << 16
    return ids


def _fresh(word: Any) -> Any:
    """A new ``str`` equal to ``word``, allocated now (anything but a ``str`` as it is)."""
    return word.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass") if isinstance(word, str) else word


class _FirstSeen(dict):
    """word -> provisional id, words numbered as first seen: ``ids[word]`` numbers a new word.

    Looking a word up is dict's own ``__getitem__`` (no Python call); only a
    new word calls :meth:`__missing__`. Dense ids keep the counts' ``bincount``
    as small as the vocabulary.
    """

    def __missing__(self, word: str) -> int:
        number = self[word] = len(self)
        return number


def _provisional_counts(index: dict, blocks: List[np.ndarray]) -> np.ndarray:
    """Counts of the words of ``index`` (in its order) from blocks of their provisional ids (block by block: no
    copy of them all)."""
    total = np.zeros(len(index), dtype=np.int64)
    for block in blocks:
        total += np.bincount(block, minlength=len(index))
    return total


def _final_ids(index: dict, vocab: "Vocab") -> np.ndarray:
    """Provisional id (``index``'s numbering of every word seen) -> the word's id in ``vocab``, or -1."""
    remap = np.full(len(index), -1, dtype=np.int32)
    remap[np.fromiter(map(index.__getitem__, vocab.index_to_key), dtype=np.int64, count=len(vocab))] = \
        np.arange(len(vocab), dtype=np.int32)
    return remap



def require_tokens(raw_words: int, source: str) -> None:
    if raw_words == 0:
        raise ReadError(f"{source}: the corpus has no tokens")


def frequent(counts: np.ndarray, first: np.ndarray, min_count: int, raw_words: int, source: str) -> np.ndarray:
    """The vocabulary's rule, for every reader: indices of the words counted at least ``min_count``
    times, by count (descending), ties by first occurrence (``first``); the errors of :meth:`Vocab.build`."""
    require_tokens(raw_words, source)
    kept = np.flatnonzero(counts >= min_count)
    if kept.size == 0:
        largest = int(counts.max()) if counts.size else 0
        raise ReadError(f"{source}: no tokens left after min_count={min_count} (largest count is {largest})")
    return kept[np.lexsort((first[kept], -counts[kept]))]


def _source_name(sentences: object, source: Optional[str]) -> str:
    if source is not None:
        return source
    return os.fspath(sentences.path) if isinstance(sentences, LineSentence) else "corpus"


def _keep_known(ids: np.ndarray, lengths: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Drop ids ``< 0`` (out of vocabulary) and the sentences they leave empty: ``(ids, lengths)``."""
    known = ids >= 0
    owner = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)         # (N_raw,)
    kept_lengths = np.bincount(owner[known], minlength=lengths.size)           # in-vocabulary tokens per sentence
    return ids[known], kept_lengths[kept_lengths > 0]


def _chunks(batches: Iterable[Tuple[np.ndarray, np.ndarray]], chunk_words: int
            ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Group ``(ids, lengths)`` batches into chunks of whole sentences (see :meth:`Vocab.iter_chunks`)."""
    if int(chunk_words) != chunk_words or chunk_words < 1:
        raise ValueError(f"chunk_words={chunk_words!r} must be >= 1")
    held_ids: List[np.ndarray] = []
    held_lengths: List[np.ndarray] = []
    held = 0
    for ids, lengths in batches:
        while lengths.size:
            cum = np.cumsum(lengths)
            # First sentence of this batch at which the chunk reaches chunk_words.
            k = int(np.searchsorted(cum, chunk_words - held, side="left"))
            if k == lengths.size:
                held_ids.append(ids)
                held_lengths.append(lengths)
                held += int(cum[-1])
                break
            n_ids = int(cum[k])
            held_ids.append(ids[:n_ids])
            held_lengths.append(lengths[: k + 1])
            yield _make_chunk(held_ids, held_lengths)
            held_ids, held_lengths, held = [], [], 0
            ids, lengths = ids[n_ids:], lengths[k + 1:]
    if held:
        yield _make_chunk(held_ids, held_lengths)


def _make_chunk(ids: List[np.ndarray], lengths: List[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    all_lengths = np.concatenate(lengths)
    chunk_ids = np.concatenate(ids).astype(np.int32, copy=False)
    sentence_ids = np.repeat(np.arange(all_lengths.size, dtype=np.int32), all_lengths)
    return chunk_ids, sentence_ids
