"""Streaming corpus readers: one sentence (a list of tokens) per line of a text file.

    >>> from importlib import resources
    >>> from nsw2v.corpus import LineSentence
    >>> path = resources.files("nsw2v") / "data" / "gutenberg_small.txt.gz"     # ships with nsw2v
    >>> sentences = LineSentence(path, max_sentence_length=100)
    >>> sum(len(s) for s in sentences)               # one streaming pass
    407679
    >>> max(len(s) for s in sentences)               # iterating again re-reads the file; long lines in pieces
    100

Files may be plain or gzip-compressed; the format is told by the file's first two
bytes, not by its name. A file is read in fixed-size blocks of text, so a file
that is a single line of 100 million characters (the text8 layout) never sits in
memory whole: tokens are cut into sentences of at most ``max_sentence_length``
tokens as the blocks arrive.
"""
from __future__ import annotations

import gzip
import io
import os
import zlib
from typing import Callable, Iterator, List, Optional, Union

from .errors import ReadError

__all__ = ["BLOCK_CHARS", "MAX_SENTENCE_LENGTH", "LineSentence", "open_text", "text_blocks"]

PathLike = Union[str, "os.PathLike[str]"]

#: Characters of text read per block by :class:`LineSentence` (64 Ki). Small blocks keep the
#: freshly split tokens in cache for the encoder: on the 100 MB text8-style file a pass of
#: `Vocab.iter_chunks` took 2.4 s with 64 Ki blocks and 4.2 s with 1 Mi blocks.
BLOCK_CHARS = 1 << 16

#: Longest sentence :class:`LineSentence` yields, in tokens. gensim's value; the
#: word2vec C tool's ``MAX_SENTENCE_LENGTH`` is 1000.
MAX_SENTENCE_LENGTH = 10000

_GZIP_MAGIC = b"\x1f\x8b"
# Other compressed formats, told by their first bytes: refused rather than trained on as text.
_OTHER_MAGIC = ((b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"PK\x03\x04", "zip"),
                (b"\x28\xb5\x2f\xfd", "zstd"), (b"7z\xbc\xaf\x27\x1c", "7z"))


def is_gzip(path: PathLike, head: bytes) -> bool:
    """Whether the file whose first (ten) bytes are ``head`` is gzip; :class:`~nsw2v.errors.ReadError` for another
    compression."""
    for magic, kind in _OTHER_MAGIC:
        # bzip2: "BZh1" to "BZh9", then a block's or the end's magic (text starting "BZh1" is text)
        if head.startswith(magic) and (kind != "bzip2" or (head[3:4].isdigit()
                                                           and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"))):
            raise ReadError(f"{os.fspath(path)}: a {kind}-compressed file; nsw2v reads plain or gzip text "
                             "(decompress it, or recompress it with gzip)")
    return head.startswith(_GZIP_MAGIC)


def open_text(path: PathLike) -> io.TextIOBase:
    """Open a plain or gzip-compressed file for reading UTF-8 text.

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is gzip-compressed if its first two bytes are the gzip magic
        number ``1f 8b``, whatever its name.

    Returns
    -------
    io.TextIOBase
        A text stream. Bytes that are not valid UTF-8 are decoded as U+FFFD
        (``errors="replace"``) rather than raising, so one bad byte in a large
        corpus costs one token, not the whole run. Line endings ``\\n``, ``\\r\\n``
        and ``\\r`` all read as ``\\n`` (universal newlines).

    Raises
    ------
    OSError
        The file is missing or unreadable (``FileNotFoundError``,
        ``PermissionError``, ...); the message names the path.
    ValueError
        The file is compressed another way (bzip2, xz, zip, zstd, 7z).
    """
    with open(path, "rb") as raw:
        head = raw.read(10)
    if is_gzip(path, head):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, "rt", encoding="utf-8", errors="replace")


class LineSentence:
    """Sentences of a text file: one per line, tokens split on whitespace.

    Each line gives the tokens of ``line.split()``. A line of more than
    ``max_sentence_length`` tokens is cut into consecutive pieces of that many
    tokens (the last piece may be shorter), as gensim and the word2vec C tool do.
    Lines with no tokens give nothing. The iterable can be iterated many times;
    each iteration re-reads the file, so it suits one pass per training epoch.

    Parameters
    ----------
    path : str or os.PathLike
        A plain or gzip-compressed UTF-8 text file (see :func:`open_text`).
    max_sentence_length : int, default 10000
        Longest sentence yielded, in tokens; must be >= 1.
    block_chars : int, default BLOCK_CHARS
        Characters read per block; only memory use and speed depend on it, never
        the sentences yielded. Must be >= 1.
    progress : callable, optional
        Called with the share of the file read (0 to 1) after each block; see
        :func:`text_blocks`.

    Raises
    ------
    ValueError
        ``max_sentence_length`` or ``block_chars`` is below 1.

    Notes
    -----
    A file need not end with a newline: with or without one, the sentences are
    the same. Memory use is bounded by the block size and one sentence, except
    for a single token longer than a block, which is held whole.
    """

    def __init__(
        self,
        path: PathLike,
        max_sentence_length: int = MAX_SENTENCE_LENGTH,
        *,
        block_chars: int = BLOCK_CHARS,
        progress: Optional[Callable[[float], None]] = None,
    ) -> None:
        if int(max_sentence_length) != max_sentence_length or max_sentence_length < 1:
            raise ValueError(f"max_sentence_length={max_sentence_length!r} must be an integer >= 1")
        if int(block_chars) != block_chars or block_chars < 1:
            raise ValueError(f"block_chars={block_chars!r} must be an integer >= 1")
        self.path = path
        self.max_sentence_length = int(max_sentence_length)
        self.block_chars = int(block_chars)
        self.progress = progress

    def __repr__(self) -> str:
        return f"LineSentence({os.fspath(self.path)!r}, max_sentence_length={self.max_sentence_length})"

    def _stream(self) -> io.TextIOBase:
        """The text read: the whole file (``nsw2v.training.shards`` reads a rank's share of it)."""
        return open_text(self.path)

    def __iter__(self) -> Iterator[List[str]]:
        limit = self.max_sentence_length
        pending: List[str] = []          # tokens of the current line not yet yielded (fewer than `limit`)
        for text in text_blocks(self.path, self.block_chars, self.progress, stream=self._stream()):
            lines = text.split("\n")
            # Every element but the last ends at a newline: a complete line.
            for line in lines[:-1]:
                tokens = line.split()
                if pending:
                    pending.extend(tokens)
                    tokens, pending = pending, []
                for start in range(0, len(tokens), limit):
                    yield tokens[start:start + limit]
            tokens = lines[-1].split()
            if pending:
                pending.extend(tokens)
                tokens = pending
            # Yield the full pieces now; the remainder waits for the line's end.
            n_full = len(tokens) - len(tokens) % limit
            for start in range(0, n_full, limit):
                yield tokens[start:start + limit]
            pending = tokens[n_full:] if n_full else tokens
        # End of file without a final newline: the last line is complete.
        for start in range(0, len(pending), limit):
            yield pending[start:start + limit]


def text_blocks(path: PathLike, block_chars: int = BLOCK_CHARS,
                progress: Optional[Callable[[float], None]] = None,
                stream: Optional[io.TextIOBase] = None) -> Iterator[str]:
    """The file's text (see :func:`open_text`), or that of ``stream`` (read from where it stands, closed at the
    end), in blocks of about ``block_chars`` characters that end after whitespace, so that no token is cut; the
    last block ends at the end.

    A token that a block's edge cuts waits for the next block; a token longer than a block is held
    whole, its pieces joined once it ends (linear in its length: a file that is one 100 MB token
    is read in about the time of any other 100 MB). The cut is found with ``rsplit``, in C, over
    the block's last token only. ``progress``, if given, is called after each read with the share
    of the file's bytes read so far (of a gzip file, its compressed bytes).

    Raises :class:`~nsw2v.errors.ReadError` naming the file when its gzip data are corrupt or cut short.
    """
    name = os.fspath(path)
    carry: List[str] = []                   # the pieces of a token that block edges cut, in order
    read = 0                                # characters read, for the error message
    size = max(os.path.getsize(path), 1) if progress is not None else 1
    with open_text(path) if stream is None else stream as f:
        raw = getattr(f.buffer, "fileobj", f.buffer)    # gzip: the compressed file under the decompressor
        while True:
            try:
                block = f.read(block_chars)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise ReadError(f"{name}: corrupt or truncated gzip data after {read} characters of text "
                                f"({exc})") from None
            if progress is not None:
                progress(raw.tell() / size)
            if not block:
                break
            read += len(block)
            cut = len(block) if block[-1].isspace() else len(block) - len(block.rsplit(None, 1)[-1])
            if not cut:                     # no whitespace in the block: the token goes on
                carry.append(block)
                continue
            if carry:
                carry.append(block[:cut])
                yield "".join(carry)
            else:
                yield block[:cut]
            carry = [block[cut:]] if cut < len(block) else []
    if carry:
        yield "".join(carry)
