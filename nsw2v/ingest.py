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
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Optional, Tuple, Union

import numpy as np

from . import backend
from .corpus import MAX_SENTENCE_LENGTH, is_gzip
from .errors import ReadError
from .util import positive_int
from .vocab import EncodedCorpus, Vocab, frequent, require_tokens

__all__ = ["ResidentCorpus", "Unsupported", "chunk_bounds", "count_and_encode", "count_and_encode_file", "read_bytes",
           "read_pieces"]

# ASCII characters that ``str.split()`` splits on (tab .. carriage return, the four
# information separators 0x1c..0x1f, space) and the ones that end a line for
# Python's universal newlines (``\n``, ``\r``; ``\r\n`` is two ends with an empty line between).
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20]] = True
_NEWLINE = np.zeros(256, dtype=bool)
_NEWLINE[[0x0A, 0x0D]] = True

# Device memory count_and_encode needs per byte of text, with room to spare: a piece's scan holds a few
# int64 arrays as long as the piece (positions, offsets, a residue and its running sum); every token keeps
# its hash and line (16 bytes) until the whole text is scanned, and the final sort of the hashes and the
# sentences take a few times that.
DEVICE_BYTES_PER_TEXT_BYTE = 32
#: Text a piece holds when a file is read piece by piece (count_and_encode_file): a 100 MB text in six.
PIECE_BYTES = 1 << 24

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
            raise ReadError(f"{os.fspath(path)}: corrupt gzip data ({exc})") from None
        pieces.append(piece)
        size += len(piece)
        if limit is not None and size > limit:
            break
        if not stream.eof:
            raise ReadError(f"{os.fspath(path)}: truncated gzip data (the compressed file ended before the "
                            "end-of-stream marker was reached)")
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


def count_and_encode(xp: Any, data: Union[np.ndarray, Iterable[np.ndarray]], min_count: int = 5,
                     max_sentence_length: int = MAX_SENTENCE_LENGTH, source: str = "corpus",
                     phase: Optional[Callable[[str], None]] = None) -> Tuple[Vocab, "ResidentCorpus"]:
    """The vocabulary and the encoded corpus of UTF-8 text ``data``, the corpus kept on ``xp``
    (:class:`ResidentCorpus`).

    ``data``: the text's bytes (host uint8), or an iterable of pieces of it that
    each end with a whitespace byte but the last (:func:`read_pieces`): each
    piece is scanned (tokens, hashes, lines) as it comes, and only what every
    token keeps (its hash and line, 16 bytes) stays on the device, so the text
    may be longer than what its scan needs at once, and a reader thread can
    gunzip the next piece meanwhile (:func:`count_and_encode_file`).

    Raises ``ValueError`` as :meth:`Vocab.build` does (no tokens; none left after
    ``min_count``), and :class:`Unsupported` for text the byte-level reading would
    split differently from ``str.split()``. On CuPy the memory pool's free blocks
    (the temporaries, several times the text's size) go back to the device
    before it returns, for the training that follows. ``phase(name)``, if given,
    is called as each phase ends, its temporaries still held: ``"count"`` (tokens
    found, hashed, counted and checked; the vocabulary) and ``"encode"``
    (sentences and ids); ``benchmarks/profile_train.py`` times them.
    """
    positive_int("min_count", min_count)
    try:
        return _count_and_encode(xp, [data] if isinstance(data, np.ndarray) else data, min_count,
                                 max_sentence_length, source, phase or (lambda name: None))
    finally:
        backend.free_pool(xp)


def count_and_encode_file(xp: Any, path: str, min_count: int = 5, max_sentence_length: int = MAX_SENTENCE_LENGTH,
                          source: Optional[str] = None, limit: Optional[int] = None,
                          piece_bytes: int = PIECE_BYTES) -> Tuple[Vocab, "ResidentCorpus"]:
    """:func:`count_and_encode` of a file's text, read and gunzipped piece by piece in a thread while the
    device scans the piece before. Raises :class:`Unsupported` when the text is longer than ``limit`` bytes."""
    from .training.prefetch import prefetch
    return count_and_encode(xp, prefetch(read_pieces(path, piece_bytes, limit), depth=2), min_count,
                            max_sentence_length, os.fspath(path) if source is None else source)


class _Scan(NamedTuple):
    """What stays of one piece: each token's hash and line (on ``xp``), and the piece's distinct words."""

    key: Any                # (T,) int64
    line: Any               # (T,) int64, counted from the text's first line
    first: Any              # (W,) the token index of each distinct hash's first occurrence in the piece
    starts: Any             # (T,) each token's first byte in the piece, ends: one past its last
    ends: Any
    lines: int              # line ends in the piece


def _count_and_encode(xp: Any, pieces: Iterable[np.ndarray], min_count: int, max_sentence_length: int, source: str,
                      phase: Callable[[str], None]) -> Tuple[Vocab, "ResidentCorpus"]:
    scans, spelled, seen, lines, text = [], {}, 0, 0, None
    for data in pieces:
        scan = _scan(xp, data, source, seen, lines)
        seen, lines = seen + data.size, lines + scan.lines
        if scan.key.shape[0] == 0:
            continue
        if not scans:
            text = data                 # one piece: the vocabulary's words are spelled from it
        else:                           # several: each piece's distinct words spelled, checked across pieces
            if len(scans) == 1:
                _spell(scans[0], text, spelled, source)
                scans[0], text = _hashes(scans[0]), None
            _spell(scan, data, spelled, source)
            scan = _hashes(scan)
        scans.append(scan)
    n_tokens = sum(int(scan.key.shape[0]) for scan in scans)
    require_tokens(n_tokens, source)
    key = xp.concatenate([scan.key for scan in scans]) if len(scans) > 1 else scans[0].key
    line = xp.concatenate([scan.line for scan in scans]) if len(scans) > 1 else scans[0].line
    _, first, inverse, counts = xp.unique(key, return_index=True, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()

    # The vocabulary, by Vocab.build's rule: by count, ties by first occurrence.
    counts_h = backend.to_numpy(counts).astype(np.int64)
    first_h = backend.to_numpy(first).astype(np.int64)
    kept = frequent(counts_h, first_h, min_count, n_tokens, source)
    if len(scans) == 1:
        firsts = xp.asarray(first_h[kept])                    # token index of each word's first occurrence
        bounds = zip(backend.to_numpy(scans[0].starts[firsts]).tolist(), backend.to_numpy(scans[0].ends[firsts]).tolist())
        words = [text[s:e].tobytes().decode("utf-8") for s, e in bounds]
    else:
        words = [spelled[k].decode("utf-8") for k in backend.to_numpy(key[first[xp.asarray(kept)]]).tolist()]
    del scans
    phase("count")

    # Sentences: lines, cut into pieces of max_sentence_length tokens.
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


def _scan(xp: Any, data: np.ndarray, source: str, offset: int, lines_before: int) -> _Scan:
    """A piece of text (host bytes, ``offset`` bytes into the text, ``lines_before`` line ends before it): its
    tokens, their hashes and lines; every token checked against its hash's first occurrence in the piece."""
    if bool((data >= 0x80).any()):
        try:
            data.tobytes().decode("utf-8")
        except UnicodeDecodeError as exc:                      # LineSentence would decode it with U+FFFD
            raise Unsupported(f"{source}: not valid UTF-8 at byte {offset + exc.start}") from None
    b = xp.asarray(data)
    n = int(b.shape[0])
    if _non_ascii_space(xp, b):
        raise Unsupported(f"{source}: whitespace outside ASCII")
    newline = xp.cumsum(xp.asarray(_NEWLINE)[b], dtype=xp.int64)
    lines = int(newline[-1]) if n else 0
    space = xp.asarray(_SPACE)[b]
    word = ~space
    begins = word.copy()
    begins[1:] &= space[:-1]
    finishes = word.copy()
    finishes[:-1] &= space[1:]
    starts = xp.flatnonzero(begins)                            # (T,) first byte of each token
    ends = xp.flatnonzero(finishes) + 1                        # (T,) one past its last byte
    n_tokens = int(starts.shape[0])
    if n_tokens == 0:
        empty = xp.zeros(0, dtype=xp.int64)
        return _Scan(empty, empty, empty, empty, empty, lines)
    lengths = ends - starts
    token_of_byte = xp.maximum(xp.cumsum(begins, dtype=xp.int64) - 1, 0)   # meaningful inside tokens only
    within = xp.arange(n, dtype=xp.int64) - starts[token_of_byte]
    within = xp.clip(within, 0, int(lengths.max()) - 1)
    del begins, finishes

    key = xp.zeros(n_tokens, dtype=xp.int64)
    for modulus, base in _MODULI:
        powers = _powers(base, modulus, int(lengths.max()))
        residue = xp.where(word, b.astype(xp.int64) * xp.asarray(powers)[within] % modulus, 0)
        running = xp.cumsum(residue)
        before = xp.where(starts > 0, running[xp.maximum(starts - 1, 0)], 0)
        key = key * modulus + (running[ends - 1] - before) % modulus
        del residue, running, before

    _, first, inverse = xp.unique(key, return_index=True, return_inverse=True)
    # Every token must equal its hash's first occurrence, byte for byte (else two words share a hash).
    rep = first[inverse.ravel()]                               # (T,) token index of the first occurrence
    same = bool((lengths == lengths[rep]).all())
    if same:
        rep_start = starts[rep][token_of_byte]
        same = bool(((b == b[xp.minimum(rep_start + within, n - 1)]) | space).all())
    if not same:
        raise Unsupported(f"{source}: two words share a hash")
    return _Scan(key, lines_before + newline[starts], first, starts, ends, lines)


def _hashes(scan: _Scan) -> _Scan:
    """The scan without what only its piece's spellings needed."""
    return scan._replace(first=None, starts=None, ends=None)


def _spell(scan: _Scan, data: np.ndarray, spelled: dict, source: str) -> None:
    """Add the spelling of each of the piece's distinct hashes to ``spelled``; a hash spelled otherwise in an
    earlier piece is a collision."""
    keys = backend.to_numpy(scan.key[scan.first]).tolist()
    bounds = zip(backend.to_numpy(scan.starts[scan.first]).tolist(), backend.to_numpy(scan.ends[scan.first]).tolist())
    for k, (s, e) in zip(keys, bounds):
        spelling = data[s:e].tobytes()
        if spelled.setdefault(k, spelling) != spelling:
            raise Unsupported(f"{source}: two words share a hash")


def read_pieces(path: str, piece_bytes: int = PIECE_BYTES, limit: Optional[int] = None) -> Iterator[np.ndarray]:
    """The file's text (gunzipped when it starts with the gzip magic) in pieces of about ``piece_bytes``,
    each cut after its last whitespace byte, so that no token spans two pieces (a piece holding none grows
    until one comes), as uint8 arrays. Raises :class:`Unsupported` past ``limit`` bytes of text."""
    with open(path, "rb") as fh:
        gzipped = is_gzip(path, fh.read(10))
    rest, total = b"", 0
    with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
        while True:
            try:
                block = fh.read(piece_bytes - len(rest) if len(rest) < piece_bytes else piece_bytes)
            except (gzip.BadGzipFile, zlib.error) as exc:
                raise gzip.BadGzipFile(f"{os.fspath(path)}: {exc}") from None
            except EOFError:
                raise EOFError(f"{os.fspath(path)}: compressed file ended before the end-of-stream marker "
                               "was reached") from None
            total += len(block)
            if limit is not None and total > limit:
                raise Unsupported(f"{os.fspath(path)}: longer than {limit} bytes of text")
            data = np.frombuffer(rest + block, dtype=np.uint8)
            if not block:
                if data.size:
                    yield data
                return
            cut = _last_space(data)
            if cut < 0:
                rest = data.tobytes()
                continue
            yield data[:cut + 1]
            rest = data[cut + 1:].tobytes()


def _last_space(data: np.ndarray) -> int:
    """The index of the last whitespace byte of ``data``, or -1: looked for from the end, in growing windows."""
    end, window = data.size, 1 << 12
    while end > 0:
        start = max(0, end - window)
        found = np.flatnonzero(_SPACE[data[start:end]])
        if found.size:
            return start + int(found[-1])
        end, window = start, window * 4
    return -1


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

    def iter_batches(self):
        return iter(self.batches)

    def longest_sentence(self) -> int:
        return int(self.lengths.max(initial=0))

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
