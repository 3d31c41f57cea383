"""The word vector files: the word2vec C tool's text and binary formats, GloVe's headerless text,
gensim's ``fvocab`` counts, and atomic writes.

    >>> from nsw2v import formats
    >>> words, vectors = formats.read_vectors("vectors.bin", binary=True)        # doctest: +SKIP
    >>> formats.write_vectors("copy.txt", words, vectors)                        # doctest: +SKIP

Formats (those of the original ``word2vec`` C tool, also read and written by gensim):

* text: a header line ``"V H\\n"``, then one line per word,
  ``word v1 v2 ... vH\\n``, numbers separated by single spaces;
* binary: the same header, then per word the UTF-8 word, one space, and ``H``
  little-endian float32 values (``4*H`` bytes). The C tool writes a ``\\n``
  after each vector, gensim writes none; both are read.

Every writer goes through :func:`atomic_write`: a temporary file beside the
destination, renamed into place, so readers never see half a file.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import secrets
from typing import IO, Callable, Optional, Sequence, Union

import numpy as np

from .corpus import is_gzip

PathLike = Union[str, "os.PathLike[str]"]

_CHUNK = 1 << 20  # bytes read at a time from binary files


def write_vectors(path: PathLike, words: Sequence[str], vectors: np.ndarray, binary: bool = False,
                  write_header: bool = True) -> None:
    """Write ``words`` and their ``vectors`` in the word2vec text or binary format, atomically
    (see :meth:`~nsw2v.vectors.WordVectors.save_word2vec_format`)."""
    writer = _write_binary if binary else _write_text

    def write(fh: IO[bytes]) -> None:
        if write_header:
            fh.write(f"{len(words)} {vectors.shape[1]}\n".encode("ascii"))
        writer(fh, words, vectors)

    atomic_write(path, write, os.fspath(path).endswith(".gz"))


def read_vectors(path: PathLike, binary: bool = False, limit: Optional[int] = None, encoding: str = "utf8",
                 unicode_errors: str = "strict", no_header: bool = False) -> tuple[list[str], np.ndarray]:
    """``(words, vectors)`` of a word2vec text or binary file, or GloVe's text without a header
    (see :meth:`~nsw2v.vectors.WordVectors.load_word2vec_format`)."""
    name = os.fspath(path)
    if limit is not None and limit < 0:
        raise ValueError(f"limit={limit} must be >= 0")
    if no_header and binary:
        raise ValueError("no_header=True is for the text format (GloVe's), not binary=True")
    with _open_read(name) as fh:
        header = b"" if no_header else fh.readline()
        n_words, size = _headerless_shape(name, limit) if no_header else _parse_header(name, header)
        n_read = n_words if limit is None else min(n_words, int(limit))
        reader = _read_binary if binary else _read_text
        try:
            words, vectors = reader(
                fh, name, len(header), n_words, size, n_read, encoding, unicode_errors
            )
        except ValueError as exc:
            if (file_format(name) == "binary") == binary:
                raise
            raise ValueError(f"{exc} (the file looks {'text' if binary else 'binary'}: "
                             f"try binary={not binary})") from None
    return words, vectors


def read_counts(path: PathLike, words: list[str], encoding: str = "utf8", unicode_errors: str = "strict") -> np.ndarray:
    """The counts of ``words`` from a ``word count`` file (gensim's ``fvocab``)."""
    return _read_counts(os.fspath(path), words, encoding, unicode_errors)


def file_format(path: PathLike) -> str:
    """A vector file's layout, told from its first lines: ``"binary"`` or ``"text"`` (word2vec's, after
    a ``vocab_size vector_size`` header), or ``"headerless"`` (GloVe's text, no header).

    In the text format the line after the header is a word and ``vector_size``
    numbers; a binary record (word, space, raw float32) is not, but for a few
    bytes in billions.
    """
    with _open_read(os.fspath(path)) as fh:
        try:
            _, size = _parse_header("", fh.readline())
        except ValueError:
            return "headerless"
        fields = fh.readline(1 << 20).split()
    if not fields:                      # no vector at all: either format reads it
        return "text"
    text = len(fields) == size + 1 and all(_is_number(f.decode("latin-1")) for f in fields[1:])
    return "text" if text else "binary"


def save_counts(path: PathLike, words: Sequence[str], counts: np.ndarray) -> None:
    """Write ``word count`` lines (gensim's ``fvocab``; the C tool's ``-save-vocab`` without ``</s>``);
    gzip-compressed when the name ends in ``.gz``."""
    lines = "".join(f"{w} {c}\n" for w, c in zip(words, np.asarray(counts).tolist()))
    atomic_write(path, lambda fh: fh.write(lines.encode("utf8")), os.fspath(path).endswith(".gz"))


def _open_read(name: str) -> IO[bytes]:
    """Open `name` for binary reading, decompressing it when it starts with gzip's magic."""
    fh = open(name, "rb")
    try:
        gzipped = is_gzip(name, fh.read(10))
        fh.seek(0)
    except BaseException:
        fh.close()
        raise
    if gzipped:
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh


def _parse_header(name: str, header: bytes) -> tuple[int, int]:
    fields = header.split()
    try:
        if len(fields) != 2 or not header.endswith(b"\n"):
            raise ValueError
        n_words, size = int(fields[0]), int(fields[1])
    except ValueError:
        raise ValueError(
            f"{name} line 1: bad header {header[:80]!r}: expected 'vocab_size vector_size' "
            "(is this a word2vec format file?)"
        ) from None
    if n_words < 0 or size < 1:
        raise ValueError(
            f"{name} line 1: bad header {header[:80]!r}: vocab_size must be >= 0 and vector_size >= 1"
        )
    return n_words, size


def _add_word(name: str, where: str, word: str, key_to_index: dict[str, int], words: list[str]) -> None:
    if not word:
        raise ValueError(f"{name}: {where}: empty word")
    if word in key_to_index:
        raise ValueError(
            f"{name}: {where}: duplicate word {word!r} (first seen as vector {key_to_index[word] + 1})"
        )
    key_to_index[word] = len(words)
    words.append(word)


def _headerless_shape(name: str, limit: Optional[int]) -> tuple[int, int]:
    """``(lines, numbers per line)`` of a text file without a header, its lines counted up to one past
    ``limit`` (enough for the reader to stop there)."""
    with _open_read(name) as fh:
        first = fh.readline()
        size = len(first.split()) - 1
        if size < 1:
            raise ValueError(f"{name} line 1: expected a word and its numbers, found {first[:80]!r}")
        lines = 1
        for raw in fh:
            if limit is not None and lines > limit:
                break
            lines += bool(raw.strip())
        return lines, size


def _read_counts(name: str, words: list[str], encoding: str, unicode_errors: str) -> np.ndarray:
    """The count of each of ``words`` from a ``word count`` file."""
    counts: dict[str, int] = {}
    with _open_read(name) as fh:
        for line_no, raw in enumerate(fh, 1):
            try:
                fields = raw.decode(encoding, errors=unicode_errors).split()
            except UnicodeDecodeError as exc:
                raise ValueError(f"{name} line {line_no}: cannot decode as {encoding}: {exc}") from None
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                raise ValueError(f"{name} line {line_no}: expected 'word count', found {raw[:80]!r}")
            counts[fields[0]] = int(fields[1])
    missing = next((w for w in words if w not in counts), None)
    if missing is not None:
        raise ValueError(f"{name}: no count for the word {missing!r}")
    return np.array([counts[w] for w in words], dtype=np.int64)


def _read_text(
    fh: IO[bytes], name: str, offset: int, n_words: int, size: int, n_read: int,
    encoding: str, unicode_errors: str,
) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    seen: dict[str, int] = {}
    vectors = np.empty((n_read, size), dtype=np.float32)
    line_no = 1 if offset else 0                # the lines before the first vector: the header's
    for raw in fh:
        line_no += 1
        if len(words) == n_read:
            if n_read < n_words:
                break  # limit reached
            if raw.strip():
                raise ValueError(
                    f"{name} line {line_no}: unexpected data after the {n_words} vectors "
                    "announced in the header"
                )
            continue
        try:
            line = raw.decode(encoding, errors=unicode_errors)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{name} line {line_no}: cannot decode as {encoding}: {exc}") from None
        fields = [f for f in line.rstrip(" \t\r\n").split(" ") if f]
        if not fields:
            raise ValueError(f"{name} line {line_no}: empty line, expected a word and {size} numbers")
        if len(fields) - 1 != size:
            raise ValueError(
                f"{name} line {line_no}: expected {size} numbers, found {len(fields) - 1} "
                f"(for word {fields[0]!r})"
            )
        try:
            vectors[len(words)] = np.array(fields[1:], dtype=np.float32)
        except ValueError:
            bad = next(f for f in fields[1:] if not _is_number(f))
            raise ValueError(
                f"{name} line {line_no}: {bad!r} is not a number (in the vector of word {fields[0]!r})"
            ) from None
        _add_word(name, f"line {line_no}", fields[0], seen, words)
    if len(words) < n_read:
        raise ValueError(
            f"{name} line {line_no + 1}: truncated: the header announces {n_words} vectors, found {len(words)}"
        )
    return words, vectors


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Buffer:
    """A forward-only byte stream that knows the absolute offset of what it returns."""

    def __init__(self, fh: IO[bytes], offset: int) -> None:
        self.fh = fh
        self.buf = b""
        self.pos = 0
        self.base = offset  # absolute offset of buf[0]

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def fill(self, n: int) -> bool:
        """Make at least `n` bytes available after pos; False at end of file."""
        while len(self.buf) - self.pos < n:
            more = self.fh.read(max(_CHUNK, n))
            if not more:
                return False
            self.base += self.pos
            self.buf = self.buf[self.pos:] + more
            self.pos = 0
        return True

    def skip_newlines(self) -> bool:
        """Skip ``\\n`` bytes; False when the stream ends first."""
        while True:
            if not self.fill(1):
                return False
            if self.buf[self.pos] != 0x0A:
                return True
            self.pos += 1

    def take_until_space(self) -> Optional[bytes]:
        """Bytes up to (not including) the next space, which is consumed; None at end of file."""
        start = 0
        while True:
            i = self.buf.find(b" ", self.pos + start)
            if i >= 0:
                out = self.buf[self.pos:i]
                self.pos = i + 1
                return out
            start = len(self.buf) - self.pos
            if not self.fill(start + 1):
                return None


def _read_binary(
    fh: IO[bytes], name: str, offset: int, n_words: int, size: int, n_read: int,
    encoding: str, unicode_errors: str,
) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    seen: dict[str, int] = {}
    vectors = np.empty((n_read, size), dtype=np.float32)
    nbytes = 4 * size
    stream = _Buffer(fh, offset)
    while len(words) < n_read:
        if not stream.skip_newlines():
            raise ValueError(
                f"{name}: truncated at byte {stream.offset}: the header announces "
                f"{n_words} vectors, found {len(words)}"
            )
        at = stream.offset
        raw = stream.take_until_space()
        if raw is None:
            raise ValueError(
                f"{name}: truncated at byte {stream.base + len(stream.buf)}: expected a word and a "
                f"space at byte {at} "
                f"(vector {len(words) + 1} of {n_words})"
            )
        try:
            word = raw.decode(encoding, errors=unicode_errors)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{name}: byte {at}: cannot decode word as {encoding}: {exc}") from None
        if not stream.fill(nbytes):
            raise ValueError(
                f"{name}: truncated at byte {stream.base + len(stream.buf)}: expected {nbytes} bytes "
                f"of vector for word {word!r}, found {len(stream.buf) - stream.pos}"
            )
        vectors[len(words)] = np.frombuffer(stream.buf, dtype="<f4", count=size, offset=stream.pos)
        stream.pos += nbytes
        _add_word(name, f"byte {at}", word, seen, words)
    if n_read == n_words:
        while stream.fill(1):
            rest = stream.buf[stream.pos:]
            if rest.strip():
                at = stream.offset + (len(rest) - len(rest.lstrip()))
                raise ValueError(
                    f"{name}: unexpected data at byte {at} after the {n_words} vectors "
                    "announced in the header"
                )
            stream.pos = len(stream.buf)
    return words, vectors


def _write_text(fh: IO[bytes], words: Sequence[str], vectors: np.ndarray) -> None:
    n, size = vectors.shape
    fmt = " ".join(["%.9g"] * size)  # 9 significant digits round-trip every float32
    for start in range(0, n, 4096):
        rows = vectors[start : start + 4096].tolist()
        lines = [
            f"{word} {fmt % tuple(row)}\n" for word, row in zip(words[start : start + 4096], rows)
        ]
        fh.write("".join(lines).encode("utf8"))


def _write_binary(fh: IO[bytes], words: Sequence[str], vectors: np.ndarray) -> None:
    little = np.ascontiguousarray(vectors, dtype="<f4")
    for start in range(0, len(words), 4096):
        parts = []
        for word, row in zip(words[start : start + 4096], little[start : start + 4096]):
            parts += [word.encode("utf8"), b" ", row.tobytes(), b"\n"]  # \n as the C tool
        fh.write(b"".join(parts))


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], None], gz: bool = False) -> None:
    """Call ``write(fh)`` on a temporary file next to `path`, then move it into place."""
    target = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(target)
    while True:
        tmp = os.path.join(directory, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            # os.open with 0o666 lets the umask decide the mode, as open(path, "w") would
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:      # name the user's path, not the temporary one
            error = type(exc)(f"{os.fspath(path)}: cannot write there ({exc.strerror})")
            error.errno = exc.errno
            raise error from None
    try:
        with os.fdopen(fd, "wb") as raw:
            if gz:
                with gzip.GzipFile(filename=base[:-3], mode="wb", fileobj=raw, mtime=0) as zipped:
                    write(zipped)  # type: ignore[arg-type]
            else:
                write(raw)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
