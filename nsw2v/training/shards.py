"""A rank's share of a corpus file and what it adds to the vocabulary (no MPI here: :mod:`.distributed` talks).

    >>> share = Share("corpus.txt", rank=1, ranks=4)              # doctest: +SKIP
    >>> counted = count_share(share)                              # its words, counts, first positions, lines
    >>> sentences = ShareSentences(share)                         # LineSentence over the share: training

Cutting a file
--------------
A plain file of ``S`` bytes is cut into ``ranks`` contiguous shares: rank ``r`` reads the bytes from
``cut(r * S // ranks)`` to ``cut((r + 1) * S // ranks)``, where ``cut(x)`` is ``x`` when ``x`` is 0 or the byte
before it is whitespace, else the first whitespace byte after ``x`` (or the end of the file). Only ASCII whitespace
bytes count: ``str.split`` splits on them, and they never occur inside a UTF-8 sequence. So every token lies in
exactly one share, whole, and a share decodes as its part of the whole file does. Shares are cut at whitespace
rather than at line ends because a corpus in text8's layout is one line: cut at line ends, one rank would get it
all. A line cut in two is trained as two sentences (one extra sentence end per rank, windows cannot span it); the
vocabulary is exact all the same, ``sentences_seen`` included (:func:`sentence_count`).

A gzip file cannot be seeked: its text is cut by the same rule into pieces of :data:`GZIP_PIECE` bytes, piece
``i`` going to rank ``i % ranks``, and every rank decompresses the whole file, keeping its own pieces. That is
once per training when the share is kept encoded (up to ``max_tokens`` tokens a rank), else once per epoch:
decompress a large corpus before training it on many ranks.

The vocabulary
--------------
Each rank numbers its words as it first sees them and keeps, per word, its count and the key
``piece << 40 | number`` of its first occurrence: keys order words by first occurrence in the whole file.
The counts of a word are summed over the ranks and its key is the smallest; :func:`vocabulary` then applies
the vocabulary's rule (:func:`nsw2v.vocab.frequent`) and gets exactly the words, counts and order of one process.
"""
from __future__ import annotations

import gzip
import io
import itertools
import os
import re
import zlib
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..corpus import MAX_SENTENCE_LENGTH, LineSentence, PathLike, is_gzip, text_blocks
from ..parallel_read import _add_counts, _batches, _pieces
from ..vocab import EncodedCorpus, Vocab, _FirstSeen, frequent

__all__ = ["GZIP_PIECE", "Share", "ShareCount", "ShareSentences", "combine", "count_share", "partition",
           "sentence_count", "vocabulary"]

#: Bytes of decompressed text per piece of a gzip file (pieces go to the ranks in turn).
GZIP_PIECE = 1 << 24
#: The bytes that may end a share: the ASCII whitespace of ``str.split``.
WHITESPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_SPACE = re.compile(b"[" + re.escape(WHITESPACE) + b"]")
_KEY_SHIFT = 40                     # a rank numbers fewer than 2**40 distinct words
_PEEK = 1 << 16


class Share:
    """Rank ``rank``'s part of the file ``path`` among ``ranks`` (see the module's docstring).

    Parameters
    ----------
    path : str or os.PathLike
        A plain or gzip text file, the same on every rank.
    rank, ranks : int
        This rank and the number of ranks, ``0 <= rank < ranks``.
    piece_bytes : int
        Bytes of decompressed text per piece of a gzip file.
    """

    def __init__(self, path: PathLike, rank: int, ranks: int, piece_bytes: int = GZIP_PIECE):
        if not 0 <= rank < ranks:
            raise ValueError(f"rank={rank} must be in [0, ranks={ranks})")
        self.path, self.rank, self.ranks, self.piece_bytes = path, int(rank), int(ranks), int(piece_bytes)
        with open(path, "rb") as f:
            head = f.read(10)
            self.size = os.fstat(f.fileno()).st_size       # of the file as stored (compressed for gzip)
        self.gzip = is_gzip(path, head)

    def __repr__(self) -> str:
        return f"Share({os.fspath(self.path)!r}, rank={self.rank}, ranks={self.ranks})"

    def pieces(self) -> Iterator[Tuple[int, "_Piece"]]:
        """``(piece number, raw byte stream of the piece)`` in file order, each to be read before the next."""
        if not self.gzip:
            with open(self.path, "rb") as f:
                lo, hi = (self.size * r // self.ranks for r in (self.rank, self.rank + 1))
                _cut(f, lo)
                yield self.rank, _Piece(f, hi)
            return
        with gzip.open(self.path, "rb") as f:
            number = self.rank
            while True:
                _cut(f, number * self.piece_bytes)      # a forward seek: decompressed and dropped
                if not f.peek(1):
                    return
                yield number, _Piece(f, (number + 1) * self.piece_bytes)
                number += self.ranks

    def text(self) -> io.TextIOBase:
        """The share's text: its pieces, each as read by :func:`nsw2v.corpus.open_text`, joined by newlines."""
        return _text(_Joined(self.pieces()))


def _text(raw: io.RawIOBase) -> io.TextIOBase:
    """UTF-8 text of a raw byte stream as :func:`nsw2v.corpus.open_text` reads a file (U+FFFD, universal newlines)."""
    return io.TextIOWrapper(io.BufferedReader(raw, 1 << 16), encoding="utf-8", errors="replace", newline=None)


def _cut(f, x: int) -> int:
    """Move ``f`` (with ``peek``) to ``cut(x)`` (see the module's docstring) and return that offset."""
    if x <= 0:
        f.seek(0)
        return 0
    f.seek(x - 1)
    before = f.read(1)
    if before and before not in WHITESPACE:
        while True:                                 # to the first whitespace byte (or the end)
            data = f.peek(_PEEK)
            if not data:
                break
            found = _SPACE.search(data)
            f.read(found.start() if found else len(data))
            if found:
                break
    return f.tell()


class _Piece(io.RawIOBase):
    """The bytes of ``f`` from where it stands (a cut) to ``cut(end)``; leaves ``f`` open."""

    def __init__(self, f, end: int):
        super().__init__()
        self.f, self.end = f, end
        self.last = b" "                            # the last byte given (a cut follows whitespace or starts)
        # a piece starting at or after its nominal end is empty (its start is also its end's cut)
        self.done = f.tell() >= end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.done:
            return 0
        room = len(buffer)
        position = self.f.tell()
        if position < self.end:
            data = self.f.read(min(room, self.end - position))
        elif self.last in WHITESPACE:               # the nominal end falls after whitespace: cut there
            data = b""
        else:                                       # finish the token that straddles the nominal end
            peeked = self.f.peek(_PEEK)[:room]
            found = _SPACE.search(peeked)
            data = self.f.read(found.start() if found else len(peeked))
            self.done = found is not None
        if not data:
            self.done = True
            return 0
        buffer[:len(data)] = data
        self.last = data[-1:]
        return len(data)


class _Joined(io.RawIOBase):
    """The pieces of ``pieces`` one after the other, a newline between two (a piece starts a line)."""

    def __init__(self, pieces: Iterator[Tuple[int, _Piece]]):
        super().__init__()
        self.pieces, self.piece, self.started = pieces, None, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while True:
            if self.piece is not None:
                n = self.piece.readinto(buffer)
                if n:
                    return n
                self.piece = None
            following = next(self.pieces, None)
            if following is None:
                return 0
            self.piece = following[1]
            if self.started:
                buffer[:1] = b"\n"
                return 1
            self.started = True

    def close(self) -> None:
        if not self.closed:
            self.pieces.close()                     # closes the file
        super().close()


class ShareSentences(LineSentence):
    """:class:`~nsw2v.corpus.LineSentence` over a :class:`Share`: its pieces read as lines of the file,
    each piece starting a line. Re-iterable (each iteration reads the share again)."""

    def __init__(self, share: Share, max_sentence_length: int = MAX_SENTENCE_LENGTH):
        super().__init__(share.path, max_sentence_length)
        self.share = share

    def __repr__(self) -> str:
        return f"ShareSentences({self.share!r}, max_sentence_length={self.max_sentence_length})"

    @property
    def progress(self) -> None:
        """No counting progress: a share is counted by :func:`count_share`, not by iterating it."""
        return None

    @progress.setter
    def progress(self, meter) -> None:
        pass

    def _stream(self) -> io.TextIOBase:
        return self.share.text()


class ShareCount:
    """What :func:`count_share` found in one share.

    Attributes
    ----------
    words : list of str
        The distinct words of the share, as first seen.
    counts : numpy.ndarray of int64
        Occurrences of each word in the share.
    first : numpy.ndarray of int64
        The key of each word's first occurrence in the share: ``piece << 40 | number`` (smaller: earlier in the file).
    raw_words : int
        Tokens in the share.
    lines : list of tuple
        ``(piece, closed, head, middle, tail)`` per piece (see :func:`sentence_count`).
    """

    def __init__(self, words: List[str], counts: np.ndarray, first: np.ndarray, raw_words: int, lines: list,
                 numbering: Optional[dict], ids: Optional[List[np.ndarray]], lengths: Optional[List[np.ndarray]],
                 max_sentence_length: int):
        self.words, self.counts, self.first, self.raw_words, self.lines = words, counts, first, raw_words, lines
        self._numbering, self._ids, self._lengths = numbering, ids, lengths
        self._limit = max_sentence_length

    def encoded(self, vocab: Vocab) -> Optional[EncodedCorpus]:
        """The share encoded with ``vocab``'s ids (what :class:`ShareSentences` gives, read again), or ``None``
        when the share had more than ``max_tokens`` tokens. Frees the provisional ids."""
        if self._ids is None:
            return None
        remap = np.full(len(self._numbering), -1, dtype=np.int32)
        number = self._numbering.get
        found = np.fromiter((number(w, -1) for w in vocab.index_to_key), dtype=np.int64, count=len(vocab))
        remap[found[found >= 0]] = np.flatnonzero(found >= 0).astype(np.int32)
        blocks, self._ids = self._ids, None
        for block in blocks:                        # in place: never two copies of the whole share
            np.take(remap, block, out=block)
        lengths = _pieces(np.concatenate(self._lengths or [np.zeros(0, dtype=np.int64)]), self._limit)
        self._lengths = self._numbering = None
        return EncodedCorpus(_batches(blocks, lengths))


def count_share(share: Share, max_sentence_length: int = MAX_SENTENCE_LENGTH, max_tokens: int = 50_000_000,
                block_chars: int = 1 << 16) -> ShareCount:
    """Count the words of ``share`` in one pass, keeping it encoded (provisional numbers) up to ``max_tokens``
    tokens (:meth:`ShareCount.encoded`), as :meth:`nsw2v.vocab.Vocab.build_encoded` does for a whole file."""
    numbering = _FirstSeen()                        # word -> number, as first seen in this share
    starts: List[Tuple[int, int]] = []              # (piece, the first number given in it)
    ids: Optional[List[np.ndarray]] = []
    lengths: Optional[List[np.ndarray]] = []        # the lines of the pieces (each piece starts a line)
    counts = np.zeros(0, dtype=np.int64)            # of the blocks no longer kept
    raw_words = 0
    lines = []
    for piece, raw in share.pieces():
        starts.append((piece, len(numbering)))
        complete: List[np.ndarray] = []             # complete lines of this piece, while kept
        first_line = -1                             # tokens of the piece's first complete line
        middle = 0                                  # sentences of its other complete lines
        open_line = 0
        for text in text_blocks(share.path, block_chars, stream=_text(raw)):
            tokens = [line.split() for line in text.split("\n")]
            segments = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
            block = np.fromiter(map(numbering.__getitem__, itertools.chain.from_iterable(tokens)), dtype=np.int32,
                                count=int(segments.sum()))
            raw_words += block.size
            open_line += int(segments[0])           # segments[0] continues the open line; later ones start lines
            if segments.size > 1:
                ended = np.concatenate([[open_line], segments[1:-1]])
                if first_line < 0:
                    first_line, ended = int(ended[0]), ended[1:]
                middle += int(_pieces(ended, max_sentence_length).size)
                if ids is not None:
                    complete.append(ended)
                open_line = int(segments[-1])
            if ids is not None:
                ids.append(block)
                if raw_words > max_tokens:          # too large to keep: count as it comes, keep nothing
                    counts = _add_counts(counts, ids, numbering)
                    ids = lengths = None
            else:
                counts = _add_counts(counts, [block], numbering)
        if lengths is not None:
            head = [] if first_line < 0 else [[first_line]]
            lengths.append(np.concatenate(head + complete + [[open_line]]).astype(np.int64))
        closed = first_line >= 0
        lines.append((piece, closed, first_line if closed else open_line, middle, open_line if closed else 0))
    if ids is not None:
        counts = _add_counts(counts, ids, numbering)
    numbers = np.arange(len(numbering), dtype=np.int64)
    if starts:
        pieces, firsts = (np.array(column, dtype=np.int64) for column in zip(*starts))
        first = (pieces[np.searchsorted(firsts, numbers, side="right") - 1] << _KEY_SHIFT) | numbers
    else:
        first = numbers
    return ShareCount(list(numbering), counts, first, raw_words, lines, numbering if ids is not None else None,
                      ids, lengths, max_sentence_length)


def partition(words: Sequence[str], counts: np.ndarray, first: np.ndarray, parts: int) -> list:
    """Split ``(words, counts, first)`` into ``parts`` parts by a hash of each word that every process computes
    alike (crc32 of its UTF-8 bytes): part ``p`` goes to rank ``p``, which then holds every rank's count of it."""
    owner = np.fromiter((zlib.crc32(w.encode("utf-8", "surrogatepass")) for w in words), dtype=np.int64,
                        count=len(words)) % parts
    result = []
    for p in range(parts):
        take = np.flatnonzero(owner == p)
        result.append(([words[i] for i in take.tolist()], counts[take], first[take]))
    return result


def combine(parts: Sequence[tuple]) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """One ``(words, counts, first)`` from several: counts summed per word, the smallest first-occurrence key."""
    slot: dict = {}
    words = [w for part in parts for w in part[0]]
    index = np.fromiter((slot.setdefault(w, len(slot)) for w in words), dtype=np.int64, count=len(words))
    counts = np.zeros(len(slot), dtype=np.int64)
    first = np.full(len(slot), np.iinfo(np.int64).max, dtype=np.int64)
    if words:
        np.add.at(counts, index, np.concatenate([part[1] for part in parts]))
        np.minimum.at(first, index, np.concatenate([part[2] for part in parts]))
    return list(slot), counts, first


def sentence_count(lines: Sequence[tuple], limit: int = MAX_SENTENCE_LENGTH) -> int:
    """Sentences of the whole file from its pieces' line summaries ``(piece, closed, head, middle, tail)``:
    ``closed`` whether the piece holds a line end; ``head`` the tokens before its first line end (all of them
    when none), ``middle`` the sentences of its complete lines after that, ``tail`` the tokens after its last
    line end. Pieces are joined in file order, a line crossing pieces counted whole (cut every ``limit`` tokens)."""
    def pieces(tokens: int) -> int:
        return -(-tokens // limit)

    closed, head, middle, tail = False, 0, 0, 0
    for _, c, h, m, t in sorted(lines):
        if not closed:
            head += h
            if c:
                closed, middle, tail = True, m, t
        elif c:
            middle += pieces(tail + h) + m
            tail = t
        else:
            tail += h
    return pieces(head) + middle + pieces(tail) if closed else pieces(head)


def vocabulary(kept: Sequence[tuple], min_count: int, raw_words: int, sentences: int, source: str,
               largest: int) -> Vocab:
    """The vocabulary from the words of every part counted at least ``min_count`` times (``kept``: ``(words,
    counts, first)`` per part, each word in one part): :func:`nsw2v.vocab.frequent`'s order and errors
    (``largest``: the largest count of any word, for the error when none is kept)."""
    words = [w for part in kept for w in part[0]]
    if not words:                                   # frequent() raises the one-process error
        frequent(np.array([largest], dtype=np.int64), np.zeros(1, dtype=np.int64), min_count, raw_words, source)
    counts = np.concatenate([part[1] for part in kept]).astype(np.int64)
    first = np.concatenate([part[2] for part in kept]).astype(np.int64)
    order = frequent(counts, first, min_count, raw_words, source)
    return Vocab([words[i] for i in order.tolist()], counts[order], raw_words=raw_words, sentences_seen=sentences)
