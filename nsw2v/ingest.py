"""Count and encode a whole corpus file with array operations, on the device when ``xp`` is CuPy.

    >>> from nsw2v.ingest import count_and_encode, read_bytes
    >>> vocab, encoded = count_and_encode(xp, read_bytes("text8.txt.gz"), min_count=5)   # doctest: +SKIP

Reading a corpus token by token in Python (``LineSentence`` + ``Vocab.build_encoded``)
costs a few seconds per 100 MB of text; on a GPU that is most of a training run.
Here the file's bytes go to ``xp`` at once and every step is a whole-array
operation: whitespace bytes mark the tokens; each token gets a 62-bit polynomial
hash (two 31-bit prime moduli); ``unique`` on the hashes gives the words, their
counts and their first occurrences; the vocabulary is kept and sorted exactly as
:meth:`~nsw2v.vocab.Vocab.build` sorts it; the ids are a gather. Each token is
then compared byte for byte with its word's first occurrence, so a hash
collision is detected, never trained on.

The result is the one ``Vocab.build_encoded(LineSentence(path))`` gives (tests
check this on NumPy): the same words, counts, sentences (lines, cut into pieces
of ``max_sentence_length`` tokens) and ids. Text that this byte-level reading
would split differently raises :class:`Unsupported`, and the caller reads the
file the usual way: whitespace outside ASCII (which ``str.split`` splits on), or
bytes that are not valid UTF-8 (which ``LineSentence`` decodes to U+FFFD).
"""
from __future__ import annotations

import gzip
import os
import zlib
from typing import Any, Callable, Optional, Tuple

import numpy as np

from . import backend
from .corpus import MAX_SENTENCE_LENGTH, is_gzip
from .util import positive_int
from .vocab import EncodedCorpus, Vocab, frequent, require_tokens

__all__ = ["ResidentCorpus", "Unsupported", "chunk_bounds", "count_and_encode", "read_bytes"]

# ASCII characters that ``str.split()`` splits on (tab .. carriage return, the four
# information separators 0x1c..0x1f, space) and the ones that end a line for
# Python's universal newlines (``\n``, ``\r``; ``\r\n`` is two ends with an empty line between).
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20]] = True
_NEWLINE = np.zeros(256, dtype=bool)
_NEWLINE[[0x0A, 0x0D]] = True

# Device memory count_and_encode needs per byte of text, with room to spare (at its peak a few int64
# arrays as long as the text are alive at once: positions, offsets, a residue and its running sum).
DEVICE_BYTES_PER_TEXT_BYTE = 64

# Two 31-bit primes and bases for the token hash: a byte times a power stays
# below 2**39, and a running sum of 100M residues below 2**58 (int64 is exact).
_MODULI = ((2_147_483_647, 1_000_003), (2_147_483_629, 916_132_831))


class Unsupported(ValueError):
    """This corpus needs the token-by-token reader (the message says why)."""


def read_bytes(path: str, limit: Optional[int] = None) -> np.ndarray:
    """The file's bytes (gunzipped when it starts with the gzip magic) as a uint8 array.

    Raises :class:`Unsupported` when the text is longer than ``limit`` bytes.
    """
    with open(path, "rb") as fh:
        gzipped = is_gzip(path, fh.read(10))
        fh.seek(0)
        data = _gunzip(path, fh.read(), limit) if gzipped else fh.read(-1 if limit is None else limit + 1)
    if limit is not None and len(data) > limit:
        raise Unsupported(f"{os.fspath(path)}: longer than {limit} bytes of text")
    return np.frombuffer(data, dtype=np.uint8)


def _gunzip(path: str, raw: bytes, limit: Optional[int]) -> bytes:
    """The text of the gzip members in ``raw``, as ``gzip.open(path).read()`` gives it (members one
    after another, zero padding between them skipped), or its first ``limit + 1`` bytes.

    One ``zlib`` call a member: 100 MB of enwiki in 0.34-0.35 s against 0.37-0.40 s
    for ``gzip.open(...).read()``, which decompresses piece by piece and joins the pieces.
    """
    pieces, size = [], 0
    while raw:
        stream = zlib.decompressobj(31)                      # wbits 31: a gzip header and trailer
        try:
            piece = stream.decompress(raw, 0 if limit is None else limit + 1 - size)
        except zlib.error as exc:
            raise gzip.BadGzipFile(f"{os.fspath(path)}: {exc}") from None
        pieces.append(piece)
        size += len(piece)
        if limit is not None and size > limit:
            break
        if not stream.eof:
            raise EOFError(f"{os.fspath(path)}: compressed file ended before the end-of-stream marker was reached")
        raw = stream.unused_data.lstrip(b"\0")
    return b"".join(pieces) if len(pieces) > 1 else (pieces[0] if pieces else b"")


def _powers(base: int, modulus: int, n: int) -> np.ndarray:
    """``base ** i % modulus`` for ``i < n`` (int64), by doubling: a few array operations for any ``n``."""
    powers = np.ones(max(n, 1), dtype=np.int64)
    step, known = base % modulus, 1                           # powers[:known] are filled; step = base ** known
    while known < n:
        take = min(known, n - known)
        powers[known:known + take] = powers[:take] * step % modulus
        known += take
        step = step * step % modulus
    return powers


def _non_ascii_space(xp: Any, b: Any) -> bool:
    """Whether the UTF-8 bytes hold a character other than ASCII that ``str.split()`` splits on.

    Those are U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
    U+205F and U+3000 (``tests/test_ingest.py`` checks the list against Python).
    """
    if b.size < 2 or not bool((b >= 0x80).any()):
        return False
    b0, b1 = b[:-1], b[1:]
    if bool(((b0 == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0))).any()):
        return True
    if b.size < 3:
        return False
    b0, b1, b2 = b[:-2], b[1:-1], b[2:]
    found = ((b0 == 0xE1) & (b1 == 0x9A) & (b2 == 0x80)) \
        | ((b0 == 0xE2) & (b1 == 0x80) & (((b2 >= 0x80) & (b2 <= 0x8A)) | (b2 == 0xA8) | (b2 == 0xA9) | (b2 == 0xAF))) \
        | ((b0 == 0xE2) & (b1 == 0x81) & (b2 == 0x9F)) \
        | ((b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80))
    return bool(found.any())


def count_and_encode(xp: Any, data: np.ndarray, min_count: int = 5,
                     max_sentence_length: int = MAX_SENTENCE_LENGTH, source: str = "corpus",
                     phase: Optional[Callable[[str], None]] = None) -> Tuple[Vocab, "ResidentCorpus"]:
    """The vocabulary and the encoded corpus of UTF-8 text ``data`` (host uint8 bytes), the corpus kept on
    ``xp`` (:class:`ResidentCorpus`).

    Raises ``ValueError`` as :meth:`Vocab.build` does (no tokens; none left after
    ``min_count``), and :class:`Unsupported` for text the byte-level reading would
    split differently from ``str.split()``. On CuPy the memory pool's free blocks
    (the temporaries, several times the text's size) go back to the device
    before it returns, for the training that follows. ``phase(name)``, if given,
    is called as each phase ends, its temporaries still held: ``"count"`` (tokens
    found, hashed, counted and checked; the vocabulary) and ``"encode"``
    (sentences and ids); ``benchmarks/profile_train.py`` times them.
    """
    try:
        return _count_and_encode(xp, data, min_count, max_sentence_length, source, phase or (lambda name: None))
    finally:
        backend.free_pool(xp)


def _count_and_encode(xp: Any, data: np.ndarray, min_count: int, max_sentence_length: int, source: str,
                      phase: Callable[[str], None]) -> Tuple[Vocab, "ResidentCorpus"]:
    positive_int("min_count", min_count)
    if bool((data >= 0x80).any()):
        try:
            data.tobytes().decode("utf-8")
        except UnicodeDecodeError as exc:                      # LineSentence would decode it with U+FFFD
            raise Unsupported(f"{source}: not valid UTF-8 at byte {exc.start}") from None
    b = xp.asarray(data)
    n = int(b.shape[0])
    if _non_ascii_space(xp, b):
        raise Unsupported(f"{source}: whitespace outside ASCII")
    space = xp.asarray(_SPACE)[b]
    word = ~space
    begins = word.copy()
    begins[1:] &= space[:-1]
    finishes = word.copy()
    finishes[:-1] &= space[1:]
    starts = xp.flatnonzero(begins)                            # (T,) first byte of each token
    ends = xp.flatnonzero(finishes) + 1                        # (T,) one past its last byte
    n_tokens = int(starts.shape[0])
    require_tokens(n_tokens, source)
    lengths = ends - starts
    token_of_byte = xp.maximum(xp.cumsum(begins, dtype=xp.int64) - 1, 0)   # meaningful inside tokens only
    offset = xp.arange(n, dtype=xp.int64) - starts[token_of_byte]
    offset = xp.clip(offset, 0, int(lengths.max()) - 1)
    del begins, finishes

    key = xp.zeros(n_tokens, dtype=xp.int64)
    for modulus, base in _MODULI:
        powers = _powers(base, modulus, int(lengths.max()))
        residue = xp.where(word, b.astype(xp.int64) * xp.asarray(powers)[offset] % modulus, 0)
        running = xp.cumsum(residue)
        before = xp.where(starts > 0, running[xp.maximum(starts - 1, 0)], 0)
        key = key * modulus + (running[ends - 1] - before) % modulus
        del residue, running, before

    _, first, inverse, counts = xp.unique(key, return_index=True, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    # Every token must equal its word's first occurrence, byte for byte (else two words share a hash).
    rep = first[inverse]                                       # (T,) token index of the word's first occurrence
    same = bool((lengths == lengths[rep]).all())
    if same:
        rep_start = starts[rep][token_of_byte]
        same = bool(((b == b[xp.minimum(rep_start + offset, n - 1)]) | space).all())
    if not same:
        raise Unsupported(f"{source}: two words share a hash")
    del rep, offset, token_of_byte

    # The vocabulary, by Vocab.build's rule: by count, ties by first occurrence.
    counts_h = backend.to_numpy(counts).astype(np.int64)
    first_h = backend.to_numpy(first).astype(np.int64)
    kept = frequent(counts_h, first_h, min_count, n_tokens, source)
    firsts = xp.asarray(first_h[kept])                         # token index of each word's first occurrence
    word_starts, word_ends = backend.to_numpy(starts[firsts]), backend.to_numpy(ends[firsts])
    words = [data[s:e].tobytes().decode("utf-8") for s, e in zip(word_starts.tolist(), word_ends.tolist())]
    phase("count")

    # Sentences: lines, cut into pieces of max_sentence_length tokens.
    line = xp.cumsum(xp.asarray(_NEWLINE)[b], dtype=xp.int64)[starts]   # (T,) line of each token
    token = xp.arange(n_tokens, dtype=xp.int64)
    piece = (token - xp.searchsorted(line, line, side="left")) // max_sentence_length
    new_sentence = xp.ones(n_tokens, dtype=bool)
    new_sentence[1:] = (line[1:] != line[:-1]) | (piece[1:] != piece[:-1])
    sentence = xp.cumsum(new_sentence, dtype=xp.int64) - 1
    n_sentences = int(sentence[-1]) + 1

    remap = xp.full(int(counts.shape[0]), -1, dtype=xp.int32)
    remap[xp.asarray(kept)] = xp.arange(kept.size, dtype=xp.int32)
    ids = remap[inverse]
    known = ids >= 0
    per_sentence = xp.bincount(sentence[known], minlength=n_sentences)
    vocab = Vocab(words, counts_h[kept], raw_words=n_tokens, sentences_seen=n_sentences)
    lengths = backend.to_numpy(per_sentence[per_sentence > 0]).astype(np.int64)
    corpus = ResidentCorpus(ids[known], sentence[known].astype(xp.int32), lengths)
    phase("encode")
    return vocab, corpus


class ResidentCorpus(EncodedCorpus):
    """An encoded corpus kept where :func:`count_and_encode` made it (on the GPU with CuPy): its chunks are
    slices of one array, so training reads it from the device every epoch without copying it again.

    ``ids`` (int32) are the in-vocabulary ids on ``xp``, ``sid`` (int32, on ``xp``) the sentence number
    of each (never decreasing; sentences left empty are skipped), ``lengths`` (host int64) the sentences'
    in-vocabulary tokens. :meth:`iter_chunks` cuts the chunks :class:`~nsw2v.vocab.EncodedCorpus` cuts
    from the same sentences; :attr:`batches` is the host copy for code that wants one.
    """

    def __init__(self, ids: Any, sid: Any, lengths: np.ndarray):
        self.ids, self.sid, self.lengths = ids, sid, np.asarray(lengths, dtype=np.int64)
        self._batches: Optional[list] = None

    @property
    def batches(self) -> list:
        if self._batches is None:
            self._batches = [(backend.to_numpy(self.ids).astype(np.int32, copy=False), self.lengths)]
        return self._batches

    def iter_chunks(self, chunk_words: int = 1_000_000):
        """``(ids, sid)`` slices, chunk by chunk (views on ``xp``)."""
        for start, stop in chunk_bounds(self.lengths, chunk_words):
            yield self.ids[start:stop], self.sid[start:stop]


def chunk_bounds(lengths: np.ndarray, chunk_words: int) -> list:
    """``[(start, stop), ...]`` token offsets of the chunks of whole sentences that
    :meth:`~nsw2v.vocab.EncodedCorpus.iter_chunks` cuts one batch of sentences of ``lengths`` tokens into:
    each ends with the first sentence that brings it to ``chunk_words`` tokens, the last holds the rest."""
    if int(chunk_words) != chunk_words or chunk_words < 1:
        raise ValueError(f"chunk_words={chunk_words!r} must be >= 1")
    ends = np.cumsum(lengths)
    bounds, start = [], 0
    while start < (int(ends[-1]) if ends.size else 0):
        k = min(int(np.searchsorted(ends, start + chunk_words, side="left")), ends.size - 1)
        bounds.append((start, int(ends[k])))
        start = int(ends[k])
    return bounds
