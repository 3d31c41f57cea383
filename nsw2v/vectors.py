"""Trained word vectors: similarity queries, and loading and saving them (gensim's ``KeyedVectors``).

    >>> import numpy as np
    >>> from nsw2v.vectors import WordVectors
    >>> words = ["man", "woman", "king", "queen", "apple"]
    >>> vecs = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, -1]], dtype=np.float32)
    >>> wv = WordVectors(words, vecs)
    >>> wv.analogy("man", "king", "woman")[0][0]         # man : king :: woman : ?
    'queen'
    >>> round(wv.similarity("king", "queen"), 4)
    0.8165
    >>> wv.doesnt_match(["man", "woman", "king", "apple"])
    'apple'
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "vecs.bin")
    >>> wv.save_word2vec_format(path, binary=True)
    >>> WordVectors.load_word2vec_format(path, binary=True)["queen"]
    array([1., 1., 1.], dtype=float32)

The semantics of the queries follow gensim's ``KeyedVectors`` (``most_similar``,
``most_similar_cosmul``, ``similarity``, ``doesnt_match``), so code written
against gensim reads the same here. Everything in this module is host-side
NumPy; convert device arrays with ``nsw2v.backend.to_numpy`` first.

``KeyedVectors`` is the same class under gensim's name. Its own file
(:meth:`WordVectors.save`, :meth:`WordVectors.load`) is a NumPy ``.npz`` read
without pickle; the word2vec C tool's text and binary formats and GloVe's text
are read and written by :mod:`nsw2v.formats`.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from . import formats
from .errors import ParameterError, ReadError
from .formats import PathLike
from .util import check_int

__all__ = ["KeyedVectors", "WordVectors"]

logger = logging.getLogger(__name__)

Key = Union[str, int, np.integer]
Query = Union[Key, np.ndarray, Sequence[Union[Key, np.ndarray]], None]

class WordVectors:
    """A vocabulary and one float32 vector per word, with similarity queries (gensim's ``KeyedVectors``).

    Parameters
    ----------
    index_to_key : list of str
        The words, in row order (by convention most frequent first, which is what
        ``restrict_vocab`` relies on). Words must be unique.
    vectors : numpy.ndarray
        Shape ``(V, H)``; stored as a C-contiguous float32 NumPy array.
    counts : numpy.ndarray, optional
        Shape ``(V,)`` corpus counts, stored as int64; ``None`` when unknown (for
        example after loading a word2vec file, which has no counts).

    Attributes
    ----------
    index_to_key : list of str
    key_to_index : dict of str to int
    vectors : numpy.ndarray
        ``(V, H)`` float32. Assigning a new array re-validates it and drops the
        cached unit vectors; after editing it in place, call :meth:`reset_norms`.
    vector_size : int
        ``H``.
    counts : numpy.ndarray or None
        ``(V,)`` int64; also ``get_vecattr(word, "count")``.
    norms : numpy.ndarray or None
        ``(V,)`` float32 lengths of the vectors once :meth:`fill_norms` ran (gensim's attribute).

    Keys are words; as in gensim, an ``int`` in ``0..V-1`` also names the word in
    that row wherever a key is taken (``wv[0]``, ``wv.similarity(0, 1)``, ``0 in wv``).

    Raises
    ------
    ValueError
        When the shapes disagree or a word is repeated.
    """

    def __init__(
        self,
        index_to_key: Sequence[str],
        vectors: np.ndarray,
        counts: Optional[np.ndarray] = None,
    ) -> None:
        self.index_to_key: list[str] = list(index_to_key)
        self.key_to_index: dict[str, int] = {}
        for i, word in enumerate(self.index_to_key):
            if not isinstance(word, str):
                raise ValueError(f"index_to_key[{i}]={word!r} must be a str")
            if word in self.key_to_index:
                raise ValueError(
                    f"word {word!r} appears twice in index_to_key "
                    f"(at {self.key_to_index[word]} and {i})"
                )
            self.key_to_index[word] = i
        self._normed: Optional[np.ndarray] = None
        self.norms: Optional[np.ndarray] = None
        self.vectors = vectors  # validated by the setter
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (len(self.index_to_key),):
                raise ValueError(
                    f"counts has shape {counts.shape} but there are "
                    f"{len(self.index_to_key)} words: expected ({len(self.index_to_key)},)"
                )
        self.counts: Optional[np.ndarray] = counts

    # ------------------------------------------------------------------ storage

    @property
    def vectors(self) -> np.ndarray:
        """The ``(V, H)`` float32 vectors, one row per word."""
        return self._vectors

    @vectors.setter
    def vectors(self, value: np.ndarray) -> None:
        arr = np.ascontiguousarray(np.asarray(value), dtype=np.float32)
        if arr.ndim != 2:
            raise ValueError(f"vectors must be 2-D (V, H), got shape {arr.shape}")
        if arr.shape[0] != len(self.index_to_key):
            raise ValueError(
                f"vectors has {arr.shape[0]} rows but index_to_key has "
                f"{len(self.index_to_key)} words: they must match"
            )
        self._vectors = arr
        self._normed = self.norms = None

    @property
    def vector_size(self) -> int:
        """Number of dimensions ``H``."""
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, key: object) -> bool:
        return self.has_index_for(key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}<vector_size={self.vector_size}, {len(self)} keys>"   # gensim's shape

    def has_index_for(self, key: object) -> bool:
        """Whether `key` is a word here, or an int row number in ``0..V-1`` (gensim's name; also ``key in wv``)."""
        return self.get_index(key, -1) >= 0      # type: ignore[arg-type]

    def get_index(self, key: Key, default: Optional[int] = None) -> int:
        """Row of `key` in :attr:`vectors`: a word's row, or an int row number itself (as gensim).

        Parameters
        ----------
        key : str or int
            A word, or a row number in ``0..V-1`` (``bool`` is not a row number).
        default : int, optional
            Returned instead of raising when `key` names no row.

        Raises
        ------
        KeyError
            ``"word 'foo' not in vocabulary"`` for an unknown word; a message naming
            the valid range for a row number outside it (negative ones included:
            as in gensim, they do not count from the end).
        """
        if isinstance(key, str):
            index = self.key_to_index.get(key)
            if index is not None:
                return index
            message = f"word {key!r} not in vocabulary"
        elif isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            if 0 <= key < len(self.index_to_key):
                return int(key)
            message = (f"index {int(key)} is out of range: the rows are 0..{len(self) - 1}"
                       + (" (negative indices do not count from the end)" if key < 0 else ""))
        else:
            message = f"key {key!r} is a {type(key).__name__}: keys are words (str) or row numbers (int)"
        if default is not None:
            return default
        raise KeyError(message)

    def __getitem__(self, keys: Union[Key, Sequence[Key]]) -> np.ndarray:
        """``wv["cat"]`` or ``wv[0]`` is a copy of one ``(H,)`` vector; ``wv[["cat", 0]]`` (words, row
        numbers, or both) is a ``(2, H)`` array."""
        if isinstance(keys, (str, int, np.integer)):
            return self._vectors[self.get_index(keys)].copy()
        idx = np.array([self.get_index(k) for k in keys], dtype=np.int64)
        return self._vectors[idx]

    def get_vecattr(self, key: Key, attr: str) -> int:
        """gensim's per-word attribute: ``get_vecattr(word, "count")`` is the word's corpus count.

        Raises
        ------
        KeyError
            For an unknown key, for another attribute than ``"count"`` (gensim's
            ``"sample_int"`` belongs to a model here: ``model.vocab.keep_probabilities``),
            or when these vectors have no counts (read from a word2vec file without
            ``fvocab``: gensim invents descending counts there, nsw2v does not).
        """
        index = self.get_index(key)
        self._check_attr(attr)
        if self.counts is None:
            raise KeyError("these vectors have no counts (a word2vec file carries none: load it with "
                           "fvocab=..., or set them with set_vecattr(word, 'count', n))")
        return int(self.counts[index])

    def set_vecattr(self, key: Key, attr: str, value: int) -> None:
        """Set a word's ``"count"`` (gensim's name); vectors without counts get zeros for the other words."""
        index = self.get_index(key)
        self._check_attr(attr)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ParameterError(f"count={value!r} must be an integer >= 0")
        if self.counts is None:
            self.counts = np.zeros(len(self), dtype=np.int64)
        self.counts[index] = value

    @staticmethod
    def _check_attr(attr: str) -> None:
        if attr != "count":
            raise KeyError(f"attribute {attr!r}: WordVectors keeps one per-word attribute, 'count'")

    def get_normed_vectors(self) -> np.ndarray:
        """Unit-length copy of :attr:`vectors`, computed once and cached.

        Returns
        -------
        numpy.ndarray
            ``(V, H)`` float32. Rows that are all zeros stay zero (no nan).
        """
        if self._normed is None:
            self._normed = _unit_rows(self._vectors)
        return self._normed

    def reset_norms(self) -> None:
        """Forget the cached unit vectors and :attr:`norms` (call after editing :attr:`vectors` in place)."""
        self._normed = self.norms = None

    def fill_norms(self, force: bool = False) -> None:
        """Compute :attr:`norms`, the ``(V,)`` float32 vector lengths, unless already there (gensim's call).

        ``force=True`` computes them again, as after editing :attr:`vectors` in place.
        """
        if self.norms is None or force:
            self.norms = np.linalg.norm(self._vectors, axis=1).astype(np.float32)

    # ------------------------------------------------------------------ queries

    def _query_terms(
        self, positive: Query, negative: Query
    ) -> tuple[list[np.ndarray], list[np.ndarray], set[int]]:
        """Unit vectors of the positive and negative terms, and the rows of the input words."""
        normed = self.get_normed_vectors()
        pos, neg, exclude = [], [], set()
        for terms, out in ((_as_list(positive), pos), (_as_list(negative), neg)):
            for term in terms:
                if isinstance(term, (str, int, np.integer)):
                    i = self.get_index(term)
                    exclude.add(i)
                    out.append(normed[i])
                else:
                    vec = np.asarray(term, dtype=np.float32)
                    if vec.shape != (self.vector_size,):
                        raise ValueError(
                            f"query vector has shape {vec.shape}, expected ({self.vector_size},)"
                        )
                    out.append(_unit_rows(vec[None, :])[0])
        if not pos and not neg:
            raise ParameterError("cannot compute similarity with no input: give positive and/or negative")
        return pos, neg, exclude

    def _top(
        self, scores: np.ndarray, topn: Optional[int], exclude: set[int]
    ) -> Union[list[tuple[str, float]], np.ndarray]:
        """Best `topn` (word, score) pairs of `scores`, skipping the rows in `exclude`."""
        if topn is None:
            return scores
        if topn == 0:
            return []
        k = min(topn + len(exclude), scores.shape[0])
        if k == 0:
            return []
        if k < scores.shape[0]:
            best = np.argpartition(-scores, k - 1)[:k]
        else:
            best = np.arange(scores.shape[0], dtype=np.int64)
        best = best[np.argsort(-scores[best], kind="stable")]
        result = [(self.index_to_key[i], float(scores[i])) for i in best if int(i) not in exclude]
        return result[:topn]

    def most_similar(
        self,
        positive: Query = None,
        negative: Query = None,
        topn: Optional[int] = 10,
        restrict_vocab: Optional[int] = None,
    ) -> Union[list[tuple[str, float]], np.ndarray]:
        """Words closest (by cosine) to the mean of the positive minus the negative terms.

        As gensim's ``KeyedVectors.most_similar``: each term is made unit length, the
        query is the mean of the terms with weight +1 (positive) or -1 (negative),
        and the cosine of the query with every word is ranked.

        Parameters
        ----------
        positive, negative : str, numpy.ndarray, or list of them, optional
            Words or ``(H,)`` vectors. Unlike gensim, raw vectors are made unit
            length too, so a vector and its word give the same query.
        topn : int or None, optional
            Number of results. ``None`` returns the cosines of all searched words
            as a float32 array (input words not removed).
        restrict_vocab : int, optional
            Search only the first `restrict_vocab` words.

        Returns
        -------
        list of (str, float)
            Best first; the input words themselves are never returned.

        Raises
        ------
        KeyError
            When a word is not in the vocabulary.
        ValueError
            When no term is given, or a vector has the wrong size.
        """
        topn = check_int("topn", topn, low=0, optional=True)
        pos, neg, exclude = self._query_terms(positive, negative)
        query = (np.sum(pos, axis=0) if pos else 0) - (np.sum(neg, axis=0) if neg else 0)
        query = _unit_rows(np.asarray(query, dtype=np.float32)[None, :] / (len(pos) + len(neg)))[0]
        normed = self.get_normed_vectors()[: self._limit(restrict_vocab)]
        scores = normed @ query  # (N,)
        return self._top(scores, topn, exclude)

    def most_similar_cosmul(
        self,
        positive: Query = None,
        negative: Query = None,
        topn: Optional[int] = 10,
        restrict_vocab: Optional[int] = None,
    ) -> Union[list[tuple[str, float]], np.ndarray]:
        """Words ranked by Levy & Goldberg's multiplicative objective (3CosMul).

        ``score(w) = prod((1 + cos(w, p)) / 2 for p in positive)
        / (prod((1 + cos(w, n)) / 2 for n in negative) + 1e-6)``; cosines are
        shifted to ``[0, 1]`` as in gensim (footnote 7 of the paper).

        Parameters
        ----------
        positive, negative : str, numpy.ndarray, or list of them, optional
            Words or ``(H,)`` vectors (made unit length). At least one positive term.
        topn : int or None, optional
            Number of results; ``None`` returns all scores as an array.
        restrict_vocab : int, optional
            Search only the first `restrict_vocab` words.

        Returns
        -------
        list of (str, float)
            Best first, input words excluded.
        """
        topn = check_int("topn", topn, low=0, optional=True)
        pos, neg, exclude = self._query_terms(positive, negative)
        if not pos:
            raise ParameterError("cannot compute similarity with no positive input")
        normed = self.get_normed_vectors()[: self._limit(restrict_vocab)]
        shifted = lambda terms: (1.0 + normed @ np.stack(terms, axis=1)) / 2.0  # (N, T)
        scores = np.prod(shifted(pos), axis=1, dtype=np.float32)
        denom = np.prod(shifted(neg), axis=1, dtype=np.float32) if neg else np.float32(1.0)
        scores = (scores / (denom + np.float32(1e-6))).astype(np.float32)
        return self._top(scores, topn, exclude)

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """A copy of `word`'s ``(H,)`` vector, made unit length with ``norm=True`` (gensim's name)."""
        return (self.get_normed_vectors() if norm else self._vectors)[self.get_index(word)].copy()

    def similar_by_word(self, word: str, topn: Optional[int] = 10,
                        restrict_vocab: Optional[int] = None) -> Union[list[tuple[str, float]], np.ndarray]:
        """``most_similar(word, ...)``, by gensim's other name."""
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_vector(self, vector: np.ndarray, topn: Optional[int] = 10,
                          restrict_vocab: Optional[int] = None) -> Union[list[tuple[str, float]], np.ndarray]:
        """Words closest to an ``(H,)`` vector; unlike a word query, no word is left out."""
        return self.most_similar(positive=[vector], topn=topn, restrict_vocab=restrict_vocab)

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words (0.0 when either vector is zero)."""
        normed = self.get_normed_vectors()
        return float(np.dot(normed[self.get_index(w1)], normed[self.get_index(w2)]))

    def distance(self, w1: str, w2: str) -> float:
        """Cosine distance, ``1 - similarity(w1, w2)``."""
        return 1.0 - self.similarity(w1, w2)

    def closer_than(self, key1: Key, key2: Key) -> list[str]:
        """The words closer (by cosine) to `key1` than `key2` is, `key1` itself left out (gensim's name)."""
        first, second = self.get_index(key1), self.get_index(key2)
        # compared as float32 distances 1 - cos, as gensim does: two cosines below 0.5 that differ in the
        # last bit may give one distance, and then neither is closer
        distances = np.float32(1.0) - self._cosines_to(first)
        closer = np.flatnonzero(distances < distances[second])
        return [self.index_to_key[i] for i in closer.tolist() if i != first]

    def rank(self, key1: Key, key2: Key) -> int:
        """``1 +`` the number of words closer to `key1` than `key2` (:meth:`closer_than`): 1 for its
        nearest neighbour (gensim's ``rank``)."""
        return len(self.closer_than(key1, key2)) + 1

    def _cosines_to(self, index: int) -> np.ndarray:
        """``(V,)`` float32 cosines of every vector with row `index` (nan against a zero vector, as gensim's
        distances, so that a zero vector is never counted closer)."""
        self.fill_norms()
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self._vectors @ self._vectors[index]) / (self.norms * self.norms[index])

    def n_similarity(self, ws1: Sequence[str], ws2: Sequence[str]) -> float:
        """Cosine of the means of two sets of words' vectors (as gensim: the raw vectors, not unit ones).

        An unknown word raises ``KeyError`` (gensim leaves it out), an empty set ``ValueError``.
        """
        if not len(ws1) or not len(ws2):
            raise ParameterError("n_similarity needs at least one word on each side")
        means = [self[list(ws)].mean(axis=0, dtype=np.float32) for ws in (ws1, ws2)]
        unit = _unit_rows(np.stack(means))
        return float(np.dot(unit[0], unit[1]))

    def analogy(
        self,
        a: str,
        b: str,
        c: str,
        topn: int = 1,
        method: str = "3cosadd",
        restrict_vocab: Optional[int] = None,
    ) -> list[tuple[str, float]]:
        """Answer ``a : b :: c : ?``, e.g. ``analogy("man", "king", "woman")`` -> queen.

        Parameters
        ----------
        a, b, c : str
            The question words; the query is ``b - a + c``.
        topn : int, optional
            Number of candidates returned.
        method : {"3cosadd", "3cosmul"}, optional
            :meth:`most_similar` (additive) or :meth:`most_similar_cosmul`.
        restrict_vocab : int, optional
            Search only the first `restrict_vocab` words.

        Returns
        -------
        list of (str, float)
            `topn` (word, score) pairs, best first; `a`, `b`, `c` are excluded.
        """
        if method == "3cosadd":
            search = self.most_similar
        elif method == "3cosmul":
            search = self.most_similar_cosmul
        else:
            raise ParameterError(f"method={method!r} must be '3cosadd' or '3cosmul'")
        return search(positive=[b, c], negative=[a], topn=topn, restrict_vocab=restrict_vocab)

    def doesnt_match(self, words: Iterable[str]) -> str:
        """The word least similar to the mean of the others' unit vectors.

        As gensim, except that an unknown word raises ``KeyError`` instead of being
        dropped with a warning.
        """
        words = list(words)
        if not words:
            raise ParameterError("doesnt_match needs at least one word")
        idx = np.array([self.get_index(w) for w in words], dtype=np.int64)
        unit = self.get_normed_vectors()[idx]  # (n, H)
        mean = _unit_rows(unit.mean(axis=0, dtype=np.float32)[None, :])[0]
        return words[int(np.argmin(unit @ mean))]

    def _limit(self, restrict_vocab: Optional[int]) -> int:
        restrict_vocab = check_int("restrict_vocab", restrict_vocab, low=1, optional=True)
        return len(self) if restrict_vocab is None else min(restrict_vocab, len(self))

    # --------------------------------------------------------------- evaluation

    def evaluate_word_analogies(self, analogies: PathLike, **kwargs: Any) -> tuple[float, list[dict]]:
        """Shortcut for :func:`nsw2v.evaluate.evaluate_word_analogies` (gensim's method name)."""
        from nsw2v.evaluate import evaluate_word_analogies

        return evaluate_word_analogies(self, analogies, **kwargs)

    def evaluate_word_pairs(self, pairs: PathLike, **kwargs: Any) -> tuple:
        """Shortcut for :func:`nsw2v.evaluate.evaluate_word_pairs` (gensim's method name)."""
        from nsw2v.evaluate import evaluate_word_pairs

        return evaluate_word_pairs(self, pairs, **kwargs)

    # ---------------------------------------------------------------- file I/O

    def save_word2vec_format(self, path: PathLike, binary: bool = False, fvocab: Optional[PathLike] = None,
                             write_header: bool = True) -> None:
        """Write the vectors in the word2vec C tool's text or binary format.

        The file is written to a temporary file in the same directory and moved into
        place with ``os.replace``, so readers never see half a file; the temporary
        file is removed on any failure, ``KeyboardInterrupt`` included. A path ending
        in ``.gz`` is gzip-compressed.

        Parameters
        ----------
        path : str or os.PathLike
            Destination.
        binary : bool, optional
            Binary format (word, space, ``H`` little-endian float32, ``\\n``) instead
            of text (numbers printed with ``%.9g``, which round-trips float32 exactly).
        fvocab : str or os.PathLike, optional
            Also write the counts, one ``word count`` line per word (gensim's
            ``fvocab``, the C tool's ``-save-vocab`` layout without ``</s>``).
        write_header : bool, optional
            ``False`` leaves out the ``vocab_size vector_size`` line (GloVe's layout).

        Raises
        ------
        ValueError
            When a word is empty or contains whitespace (the format cannot hold it),
            or ``fvocab`` is given but the counts are unknown.
        """
        for word in self.index_to_key:
            if not word or any(ch.isspace() for ch in word):
                raise ValueError(
                    f"word {word!r} cannot be written in word2vec format: "
                    "words must be non-empty and contain no whitespace"
                )
        if fvocab is not None and self.counts is None:
            raise ValueError(f"fvocab={os.fspath(fvocab)!r}: these vectors have no counts to write")
        if binary and not write_header:
            raise ValueError("write_header=False is for the text format (GloVe's): a binary file needs its header")
        formats.write_vectors(path, self.index_to_key, self._vectors, binary, write_header)
        if fvocab is not None:
            formats.save_counts(fvocab, self.index_to_key, self.counts)

    @classmethod
    def load_word2vec_format(
        cls,
        path: PathLike,
        binary: bool = False,
        limit: Optional[int] = None,
        encoding: str = "utf8",
        unicode_errors: str = "strict",
        fvocab: Optional[PathLike] = None,
        no_header: bool = False,
    ) -> "WordVectors":
        """Read a file in the word2vec C tool's text or binary format.

        Parameters
        ----------
        path : str or os.PathLike
            The file, plain or gzip-compressed (recognised by its magic bytes).
        binary : bool, optional
            Binary format instead of text. A ``\\n`` after each vector is optional.
        limit : int, optional
            Read only the first `limit` vectors.
        encoding : str, optional
            Encoding of the words.
        unicode_errors : str, optional
            Passed to ``bytes.decode`` (``"strict"``, ``"replace"``, ``"ignore"``).
        fvocab : str or os.PathLike, optional
            A ``word count`` file (as :meth:`save_word2vec_format` writes) giving
            every loaded word's count.
        no_header : bool, optional
            A text file without the ``vocab_size vector_size`` line (GloVe's
            layout): the size is taken from the first line.

        Returns
        -------
        WordVectors
            With the counts of ``fvocab``, else ``counts=None``.

        Raises
        ------
        ValueError
            On a bad header, a truncated file, a malformed line, a value that is not a
            number, undecodable bytes or a repeated word; the message names the file
            and the line number (text) or the byte offset (binary; in the
            decompressed stream for ``.gz``).
        """
        words, vectors = formats.read_vectors(path, binary, limit, encoding, unicode_errors, no_header)
        logger.info("loaded %d vectors of size %d from %s", len(words), vectors.shape[1], os.fspath(path))
        counts = None if fvocab is None else formats.read_counts(fvocab, words, encoding, unicode_errors)
        return cls(words, vectors, counts=counts)

    def save(self, path: PathLike) -> None:
        """Write the words, vectors and counts to nsw2v's own file, a NumPy ``.npz`` (no pickle).

        The file is written atomically, under exactly the name given (``.kv`` or
        ``.npz`` alike). Members: ``format`` (``"nsw2v-vectors 1"``), ``words_utf8``
        (uint8: the words' UTF-8 bytes, joined) and ``word_offsets`` (int64, ``V + 1``:
        word ``i`` is ``words_utf8[offsets[i]:offsets[i + 1]]``), ``vectors``
        (float32 ``(V, H)``) and, when known, ``counts`` (int64 ``(V,)``). Unlike the
        word2vec formats it holds any word (spaces included) and the counts.
        """
        formats.write_native(path, self.index_to_key, self._vectors, self.counts)

    @classmethod
    def load(cls, path: PathLike, mmap: Optional[str] = None) -> "WordVectors":
        """Read a file written by :meth:`save`, checking what it holds before using it.

        Parameters
        ----------
        path : str or os.PathLike
        mmap : None
            gensim's parameter; the vectors are read into memory (``mmap="r"`` is
            refused rather than silently ignored).

        Raises
        ------
        nsw2v.errors.ReadError
            (a ``ValueError``) naming the file and what is wrong: not nsw2v's file
            (gensim's ``KeyedVectors.save`` pickles, which nsw2v does not load: the
            message says to move vectors with ``save_word2vec_format`` /
            ``load_word2vec_format``; a word2vec file or an nsw2v model gets the call
            that reads it), a member missing, of the wrong type or shape, sizes that
            disagree (checked in the members' headers, before their data is read),
            word bytes that are not UTF-8, a repeated word, a non-finite value or a
            negative count.
        """
        if mmap is not None:
            raise ParameterError(f"mmap={mmap!r}: nsw2v's vectors file is read into memory; leave mmap out")
        words, vectors, counts = formats.read_native(path)
        try:
            return cls(words, vectors, counts=counts)
        except ValueError as exc:       # a repeated word
            raise ReadError(f"{os.fspath(path)}: {exc}") from None


#: gensim's name for the same class: ``from nsw2v import KeyedVectors`` and
#: ``KeyedVectors.load_word2vec_format(...)`` work as written for gensim.
KeyedVectors = WordVectors


# ---------------------------------------------------------------------- helpers


def _unit_rows(mat: np.ndarray) -> np.ndarray:
    """Rows of `mat` scaled to unit length; zero rows stay zero."""
    mat = np.asarray(mat, dtype=np.float32)
    norms = np.linalg.norm(mat, axis=1, keepdims=True).astype(np.float32)
    return (mat / np.where(norms > 0, norms, np.float32(1.0))).astype(np.float32)


def _as_list(value: Query) -> list:
    """gensim's convention: one word or one 1-D vector stands for a list of one."""
    if value is None:
        return []
    if isinstance(value, (str, int, np.integer)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        return [value]
    return list(value)
