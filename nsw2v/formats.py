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
import re
import secrets
import stat
import time
import warnings
import zipfile
import zlib
from typing import IO, Callable, Iterator, NamedTuple, Optional, Sequence, Union

import numpy as np

from .corpus import is_gzip
from .errors import OutputError, ParameterError, ReadError
from .util import check_int

PathLike = Union[str, "os.PathLike[str]"]

_CHUNK = 1 << 20  # bytes read at a time from binary files
_MAX_HEADER = 256  # a "vocab_size vector_size" line is shorter
_MAX_LINE = 1 << 20  # longest word (bytes), and what a line may hold beyond its numbers
# Deflate's largest ratio (zlib's technical details: 1032:1): a gzip file holds at most this much text per byte.
_DEFLATE_RATIO = 1032


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
    (see :meth:`~nsw2v.vectors.WordVectors.load_word2vec_format`).

    Every failure to read the file is a :class:`~nsw2v.errors.ReadError` naming it
    (and the line or byte offset where known): a bad header, a header announcing more
    than the file can hold (checked against its size before anything is allocated), a
    truncated or corrupt file (gzip included), a malformed line, a value that is not
    a finite number, a repeated word.
    """
    name = os.fspath(path)
    limit = check_int("limit", limit, low=0, optional=True)
    if no_header and binary:
        raise ParameterError("no_header=True is for the text format (GloVe's), not binary=True")
    with _reading(name), _open_read(name) as (fh, room):
        header = b"" if no_header else fh.readline(_MAX_HEADER)
        n_words, size = _headerless_shape(name, limit) if no_header else _parse_header(name, header)
        n_read = n_words if limit is None else min(n_words, limit)
        # Checked against the file's size before anything is allocated: a vector takes at least this many bytes.
        per_vector, most = (4 * size + 2 if binary else 2 * size + 1), room.most - len(header)
        if n_read and per_vector > most:
            raise ReadError(f"{name} line 1: the header announces vectors of {size} numbers, each at least "
                            f"{per_vector} bytes{' of text' if room.gzipped else ''}, but the file holds "
                            f"{'at most ' if room.gzipped else ''}{max(most, 0)}")
        # Room for the vectors the file can hold (a header announcing more fails as truncated, once there).
        first = min(n_read, most // per_vector)
        rows = _Rows(n_read, size, min(first, max(1, (1 << 26) // (4 * size))) if room.gzipped else first)
        reader = _read_binary if binary else _read_text
        try:
            words, vectors = reader(fh, name, len(header), n_words, size, rows, encoding, unicode_errors)
        except ReadError as exc:
            if (file_format(name) == "binary") == binary:
                raise
            raise ReadError(f"{exc} (the file looks {'text' if binary else 'binary'}: "
                            f"try binary={not binary})") from None
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:                # loaded as gensim loads them (evaluations then report nan), but not silently
        i = int(bad[0])
        where = f"line {i + 1 + (not no_header)}" if not binary else f"vector {i + 1}"
        warnings.warn(f"{name} {where}: the vector of word {words[i]!r} holds a value that is not finite "
                      f"({int(bad.size)} such vectors in all)", stacklevel=3)
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
    name = os.fspath(path)
    with _reading(name), _open_read(name) as (fh, _):
        try:
            _, size = _parse_header("", fh.readline(_MAX_HEADER))
        except ReadError:
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


class _Room(NamedTuple):
    """What a file can hold: ``most`` bytes of text (its size, or for gzip what deflate could inflate it to)."""
    most: int
    gzipped: bool


@contextlib.contextmanager
def _open_read(name: str) -> Iterator[tuple[IO[bytes], _Room]]:
    """``(stream, room)``: `name` open for binary reading, decompressed when it starts with gzip's magic."""
    with open(name, "rb") as fh:
        gzipped = is_gzip(name, fh.read(10))
        fh.seek(0)
        size = os.fstat(fh.fileno()).st_size
        if not gzipped:
            yield fh, _Room(size, False)
            return
        with gzip.GzipFile(fileobj=fh, mode="rb") as unzipped:
            yield unzipped, _Room(_DEFLATE_RATIO * size, True)  # type: ignore[misc]


@contextlib.contextmanager
def _reading(name: str) -> Iterator[None]:
    """Corrupt or truncated compression as a :class:`~nsw2v.errors.ReadError` naming the file."""
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ReadError(f"{name}: corrupt or truncated gzip data ({exc})") from None


def _parse_header(name: str, header: bytes) -> tuple[int, int]:
    fields = header.split()
    try:
        if len(fields) != 2 or not header.endswith(b"\n"):
            raise ValueError
        n_words, size = int(fields[0]), int(fields[1])
    except ValueError:
        raise ReadError(
            f"{name} line 1: bad header {header[:80]!r}: expected 'vocab_size vector_size' "
            "(is this a word2vec format file?)"
        ) from None
    if n_words < 0 or size < 1:
        raise ReadError(
            f"{name} line 1: bad header {header[:80]!r}: vocab_size must be >= 0 and vector_size >= 1"
        )
    return n_words, size


class _Rows:
    """The vectors read so far. Room is made as rows arrive (doubling), so that what a header announces
    costs memory only once the data is there."""

    def __init__(self, n: int, size: int, first: int):
        self.n, self.size, self.first = n, size, first
        self.array = np.empty((0, size), dtype=np.float32)

    def __len__(self) -> int:
        return self.n

    def room(self, i: int) -> np.ndarray:
        """The array, with a row ``i``."""
        if i >= self.array.shape[0]:
            more = np.empty((min(self.n, max(i + 1, self.first, 2 * self.array.shape[0])), self.size),
                            dtype=np.float32)
            more[:self.array.shape[0]] = self.array
            self.array = more
        return self.array

    def result(self, count: int) -> np.ndarray:
        return self.array if self.array.shape[0] == count else self.array[:count].copy()


def _add_word(name: str, where: str, word: str, key_to_index: dict[str, int], words: list[str]) -> None:
    if not word:
        raise ReadError(f"{name}: {where}: empty word")
    if word in key_to_index:
        raise ReadError(
            f"{name}: {where}: duplicate word {word!r} (first seen as vector {key_to_index[word] + 1})"
        )
    key_to_index[word] = len(words)
    words.append(word)


def _headerless_shape(name: str, limit: Optional[int]) -> tuple[int, int]:
    """``(lines, numbers per line)`` of a text file without a header, its lines counted up to one past
    ``limit`` (enough for the reader to stop there)."""
    with _open_read(name) as (fh, _):
        first = _line(fh, name, 1, _MAX_LINE)
        size = len(first.split()) - 1
        if size < 1:
            raise ReadError(f"{name} line 1: expected a word and its numbers, found {first[:80]!r}")
        lines, line_no = 1, 1
        while limit is None or lines <= limit:
            line_no += 1
            raw = _line(fh, name, line_no, _MAX_LINE + 64 * size)
            if not raw:
                break
            lines += bool(raw.strip())
        return lines, size


def _line(fh: IO[bytes], name: str, line_no: int, most: int) -> bytes:
    """The next line of `fh` (``b""`` at the end), or a ReadError when it runs past `most` bytes."""
    raw = fh.readline(most)
    if len(raw) == most and not raw.endswith(b"\n") and fh.read(1):
        raise ReadError(f"{name} line {line_no}: longer than {most} bytes: not a line of a vector file")
    return raw


def _read_counts(name: str, words: list[str], encoding: str, unicode_errors: str) -> np.ndarray:
    """The count of each of ``words`` from a ``word count`` file."""
    counts: dict[str, int] = {}
    with _reading(name), _open_read(name) as (fh, _):
        line_no = 0
        while True:
            line_no += 1
            raw = _line(fh, name, line_no, _MAX_LINE)
            if not raw:
                break
            try:
                fields = raw.decode(encoding, errors=unicode_errors).split()
            except UnicodeDecodeError as exc:
                raise ReadError(f"{name} line {line_no}: cannot decode as {encoding}: {exc}") from None
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                raise ReadError(f"{name} line {line_no}: expected 'word count', found {raw[:80]!r}")
            counts[fields[0]] = int(fields[1])
    missing = next((w for w in words if w not in counts), None)
    if missing is not None:
        raise ReadError(f"{name}: no count for the word {missing!r}")
    return np.array([counts[w] for w in words], dtype=np.int64)


def _read_text(
    fh: IO[bytes], name: str, offset: int, n_words: int, size: int, rows: _Rows,
    encoding: str, unicode_errors: str,
) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    seen: dict[str, int] = {}
    n_read = len(rows)
    most = _MAX_LINE + 64 * size                # a word and `size` numbers of any float32 in any spelling
    line_no = 1 if offset else 0                # the lines before the first vector: the header's
    while True:
        line_no += 1
        raw = _line(fh, name, line_no, most)
        if not raw:
            break
        if len(words) == n_read:
            if n_read < n_words:
                break  # limit reached
            if raw.strip():
                raise ReadError(
                    f"{name} line {line_no}: unexpected data after the {n_words} vectors "
                    "announced in the header"
                )
            continue
        try:
            line = raw.decode(encoding, errors=unicode_errors)
        except UnicodeDecodeError as exc:
            raise ReadError(f"{name} line {line_no}: cannot decode as {encoding}: {exc}") from None
        fields = [f for f in line.rstrip(" \t\r\n").split(" ") if f]
        if not fields:
            raise ReadError(f"{name} line {line_no}: empty line, expected a word and {size} numbers")
        if len(fields) - 1 != size:
            raise ReadError(
                f"{name} line {line_no}: expected {size} numbers, found {len(fields) - 1} "
                f"(for word {fields[0]!r})"
            )
        try:
            rows.room(len(words))[len(words)] = np.array(fields[1:], dtype=np.float32)
        except ValueError:
            bad = next((f for f in fields[1:] if not _is_number(f)), fields[1])
            raise ReadError(
                f"{name} line {line_no}: {bad!r} is not a number (in the vector of word {fields[0]!r})"
            ) from None
        _add_word(name, f"line {line_no}", fields[0], seen, words)
    if len(words) < n_read:
        raise ReadError(
            f"{name} line {line_no}: truncated: the header announces {n_words} vectors, found {len(words)}"
        )
    return words, rows.result(len(words))


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
        if len(self.buf) - self.pos >= n:
            return True
        pieces, have = [self.buf[self.pos:]], len(self.buf) - self.pos
        while have < n:
            # reads of at most _CHUNK: a buffered read of n bytes would allocate n before reading
            more = self.fh.read(_CHUNK)
            if not more:
                break
            pieces.append(more)
            have += len(more)
        self.base += self.pos
        self.buf = b"".join(pieces)
        self.pos = 0
        return have >= n

    def skip_newlines(self) -> bool:
        """Skip ``\\n`` bytes; False when the stream ends first."""
        while True:
            if not self.fill(1):
                return False
            if self.buf[self.pos] != 0x0A:
                return True
            self.pos += 1

    def take_until_space(self, most: int) -> Optional[bytes]:
        """Bytes up to (not including) the next space, which is consumed; None when the stream ends or
        `most` bytes hold no space."""
        start = 0
        while True:
            i = self.buf.find(b" ", self.pos + start, self.pos + most + 1)
            if i >= 0:
                out = self.buf[self.pos:i]
                self.pos = i + 1
                return out
            start = len(self.buf) - self.pos
            if start > most or not self.fill(start + 1):
                return None


def _read_binary(
    fh: IO[bytes], name: str, offset: int, n_words: int, size: int, rows: _Rows,
    encoding: str, unicode_errors: str,
) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    seen: dict[str, int] = {}
    n_read = len(rows)
    nbytes = 4 * size
    stream = _Buffer(fh, offset)
    while len(words) < n_read:
        if not stream.skip_newlines():
            raise ReadError(
                f"{name}: truncated at byte {stream.offset}: the header announces "
                f"{n_words} vectors, found {len(words)}"
            )
        at = stream.offset
        raw = stream.take_until_space(_MAX_LINE)
        if raw is None:
            raise ReadError(
                f"{name}: truncated at byte {stream.base + len(stream.buf)}: expected a word and a "
                f"space at byte {at} "
                f"(vector {len(words) + 1} of {n_words})"
            )
        try:
            word = raw.decode(encoding, errors=unicode_errors)
        except UnicodeDecodeError as exc:
            raise ReadError(f"{name}: byte {at}: cannot decode word as {encoding}: {exc}") from None
        if not stream.fill(nbytes):
            raise ReadError(
                f"{name}: truncated at byte {stream.base + len(stream.buf)}: expected {nbytes} bytes "
                f"of vector for word {word!r}, found {len(stream.buf) - stream.pos}"
            )
        rows.room(len(words))[len(words)] = np.frombuffer(stream.buf, dtype="<f4", count=size, offset=stream.pos)
        stream.pos += nbytes
        _add_word(name, f"byte {at}", word, seen, words)
    if n_read == n_words:
        while stream.fill(1):
            rest = stream.buf[stream.pos:]
            if rest.strip():
                at = stream.offset + (len(rest) - len(rest.lstrip()))
                raise ReadError(
                    f"{name}: unexpected data at byte {at} after the {n_words} vectors "
                    "announced in the header"
                )
            stream.pos = len(stream.buf)
    return words, rows.result(len(words))


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
    """Call ``write(fh)`` on a temporary file next to `path`, then move it into place.

    Readers see the old file or the whole new one, never a part. What else holds:

    * a symbolic link is written through: its target gets the new content, the link stays (as editors do);
    * a path that exists and is not a regular file (a directory, a device, a fifo, a socket) is refused
      with :class:`~nsw2v.errors.OutputError`, before anything is written;
    * an existing file keeps its permission bits (a new one gets the umask's);
    * the temporary file (``.NAME.PID.RANDOM.tmp``) is removed on any failure, ``KeyboardInterrupt``
      included; those that a killed process left (its pid no longer running, untouched for a minute)
      are removed by the next write of the same file.
    """
    target = os.path.realpath(os.fspath(path))          # through symbolic links, to the file they name
    existing = _existing(path, target)
    directory, base = os.path.split(target)
    _remove_stale_temporaries(directory, base)
    while True:
        tmp = os.path.join(directory, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            # os.open with 0o666 lets the umask decide the mode of a new file, as open(path, "w") would;
            # over an existing file, 0o600 until its own bits are copied
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666 if existing is None else 0o600)
            break
        except FileExistsError:
            continue
        except OSError as exc:      # name the user's path, not the temporary one
            error = type(exc)(f"{os.fspath(path)}: cannot write there ({exc.strerror})")
            error.errno = exc.errno
            raise error from None
    try:
        with os.fdopen(fd, "wb") as raw:
            if existing is not None:
                os.chmod(tmp, stat.S_IMODE(existing.st_mode))
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


def check_output(path: PathLike, option: Optional[str] = None) -> None:
    """Raise :class:`~nsw2v.errors.OutputError` when `path` exists (through links) and is not a regular file;
    ``option`` (``"-o"``) opens the message."""
    target = os.path.realpath(os.fspath(path))
    try:
        _existing(path, target)
    except OutputError as exc:
        raise OutputError(f"{option} {exc}" if option else str(exc)) from None


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a fifo"), (stat.S_ISSOCK, "a socket"))


def _existing(path: PathLike, target: str) -> Optional[os.stat_result]:
    """The status of the file `path` names (through links), ``None`` when there is none; an
    :class:`~nsw2v.errors.OutputError` when it is not a regular file."""
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return None
    except OSError:                                     # unreadable: the write will say why
        return None
    if not stat.S_ISREG(status.st_mode):
        kind = next((what for test, what in _KINDS if test(status.st_mode)), "not a regular file")
        raise OutputError(f"{os.fspath(path)}: is {kind}; give a file name (nsw2v writes regular files only)")
    return status


#: Seconds a temporary file of a process that no longer runs is left alone (it may be another machine's
#: or another container's process, whose pid means nothing here, still writing).
STALE_SECONDS = 60


def _remove_stale_temporaries(directory: str, base: str) -> None:
    """Remove ``.BASE.PID.RANDOM.tmp`` files (atomic_write's own naming) of processes that no longer run."""
    pattern = re.compile(rf"\.{re.escape(base)}\.(\d+)\.[0-9a-f]{{8}}\.tmp")
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _running(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            status = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(status.st_mode) and now - status.st_mtime > STALE_SECONDS:
                os.unlink(entry.path)


def _running(pid: int) -> bool:
    """Whether a process with this id runs here (one of another user counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    return True


# ------------------------------------------------------------------- nsw2v's own .npz files

#: Most a member of an ``.npz`` file may inflate (its size over its compressed size) past 1 MiB. nsw2v stores
#: members uncompressed (ratio 1); a float table compressed by ``numpy.savez_compressed`` stays near 1 too. A
#: ratio this high is a member built to allocate far more memory than the file's size (a 2 MB file asking for 2 GB).
MAX_RATIO = 64
_RATIO_FREE = 1 << 20
_READ = 1 << 24                     # bytes read at a time into an array


class NpzArchive:
    """An ``.npz`` file (the model file, the native vectors file) opened to read members that are checked
    before anything is allocated: each member's size in the zip directory against the file's size and
    :data:`MAX_RATIO`, its ``.npy`` header against that size, no Python objects; every failure one
    :class:`~nsw2v.errors.ReadError` naming the file and the member.

        >>> with NpzArchive("model.npz", not_ours="model.npz: not a model") as archive:   # doctest: +SKIP
        ...     W_in = archive.read("W_in") if "W_in" in archive.names else None
    """

    def __init__(self, path: PathLike, not_ours: str):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"{self.path}: no such file")
        try:
            self.archive = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:   # a pickle, a cut file
            if isinstance(exc, (PermissionError, IsADirectoryError)):
                raise
            raise ReadError(not_ours) from None
        self.members = {info.filename[:-4]: info for info in self.archive.infolist()
                        if info.filename.endswith(".npy")}
        self.names = set(self.members)
        self.file_size = os.path.getsize(self.path)

    def read(self, name: str) -> np.ndarray:
        """Member ``name`` (``ReadError`` when it is missing or does not check)."""
        if name not in self.members:
            raise ReadError(f"{self.path}: the member {name!r} is missing")
        return _member(self.path, self.archive, self.members[name], self.file_size)

    def __enter__(self) -> "NpzArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.archive.close()


def _member(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, file_size: int) -> np.ndarray:
    """One ``.npy`` member, read only once its sizes agree: the zip directory's, the file's, its header's."""
    name = info.filename[:-4]
    where = f"{path}: member {name}"
    if info.compress_size > file_size or (info.file_size > _RATIO_FREE
                                          and info.file_size > MAX_RATIO * max(info.compress_size, 1)):
        raise ReadError(f"{where} would inflate to {info.file_size} bytes from {info.compress_size} in a file of "
                        f"{file_size}: refused (nsw2v stores members uncompressed; see nsw2v.formats.MAX_RATIO)")
    try:
        with archive.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            header = fh.tell()
            if dtype.hasobject:
                raise ReadError(f"{where} holds Python objects (a pickle): refused")
            count = int(np.prod(shape, dtype=object))
            if header + count * dtype.itemsize != info.file_size:
                raise ReadError(f"{where}: its header announces {dtype} of shape {shape} ({count * dtype.itemsize} "
                                f"bytes), the zip directory {info.file_size - header}: the file is damaged")
            array = np.empty(count, dtype=dtype)
            view, done = memoryview(array).cast("B"), 0
            while done < view.nbytes:
                piece = fh.read(min(_READ, view.nbytes - done))
                if not piece:
                    raise EOFError("the member ends early")
                view[done:done + len(piece)] = piece
                done += len(piece)
            fh.read(1)                  # to the end: zipfile checks the CRC there
    except ReadError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError, SyntaxError,
            TypeError, OverflowError, NotImplementedError, RuntimeError) as exc:   # RuntimeError: "encrypted"
        raise ReadError(f"{where}: cannot be read ({type(exc).__name__}: {exc})") from None
    if fortran:
        return array.reshape(shape[::-1]).T
    return array.reshape(shape)


#: nsw2v's own vectors file (``WordVectors.save``): its format tag and the arrays it holds, with their dtypes.
NATIVE_FORMAT = "nsw2v-vectors 1"
_NATIVE_ARRAYS = {"words_utf8": (np.uint8, 1), "word_offsets": (np.int64, 1), "vectors": (np.float32, 2),
                  "counts": (np.int64, 1)}


def write_native(path: PathLike, words: Sequence[str], vectors: np.ndarray, counts: Optional[np.ndarray]) -> None:
    """Write nsw2v's own vectors file atomically (see :meth:`~nsw2v.vectors.WordVectors.save`)."""
    from .vocab import encode_words
    utf8, offsets = encode_words(words)
    arrays = {"format": np.array(NATIVE_FORMAT), "words_utf8": utf8, "word_offsets": offsets, "vectors": vectors}
    if counts is not None:
        arrays["counts"] = counts
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def read_native(path: PathLike) -> tuple:
    """``(words, vectors, counts or None)`` of nsw2v's own vectors file, every member checked
    (see :meth:`~nsw2v.vectors.WordVectors.load`)."""
    from .vocab import decode_words
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise FileNotFoundError(f"{name}: no such file")
    with open(name, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        raise ReadError(_not_native(name, magic))
    with NpzArchive(name, _not_native(name, magic)) as archive:
        if {"state", "W_in"} <= archive.names:
            raise ReadError(f"{name}: an nsw2v model file, not vectors: Word2Vec.load(path).wv gives its vectors")
        if "format" not in archive.names:
            raise ReadError(f"{name}: not nsw2v's vectors file (no 'format' member); vectors from gensim or the C "
                            "tool load with KeyedVectors.load_word2vec_format")
        fmt = archive.read("format")
        if fmt.shape != () or fmt.dtype.kind != "U" or str(fmt) != NATIVE_FORMAT:
            raise ReadError(f"{name}: format {fmt!r} is not {NATIVE_FORMAT!r}")
        arrays = {key: archive.read(key) for key in _NATIVE_ARRAYS if key != "counts" or key in archive.names}
    for key, array in arrays.items():
        dtype, ndim = _NATIVE_ARRAYS[key]
        if array.dtype != np.dtype(dtype) or array.ndim != ndim:
            raise ReadError(f"{name}: member {key!r} is {array.dtype} of shape {array.shape}, expected "
                            f"{np.dtype(dtype)} in {ndim} dimension(s)")
    vectors, counts = arrays["vectors"], arrays.get("counts")
    rows = vectors.shape[0]
    if arrays["word_offsets"].shape != (rows + 1,) or (counts is not None and counts.shape != (rows,)):
        raise ReadError(f"{name}: sizes disagree: {rows} vectors, {arrays['word_offsets'].shape[0]} word offsets "
                        f"(expected {rows + 1})" + ("" if counts is None else f", {counts.shape[0]} counts"))
    words = decode_words(arrays["words_utf8"], arrays["word_offsets"], name)
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        raise ReadError(f"{name}: the vector of {words[bad[0]]!r} (row {bad[0]}) holds a value that is not "
                        f"finite ({bad.size} such rows)")
    if counts is not None and counts.size and counts.min() < 0:
        raise ReadError(f"{name}: a count is negative ({int(counts.min())})")
    return words, vectors, counts


def _not_native(name: str, magic: bytes) -> str:
    """Why a file is not nsw2v's vectors file, and what reads it."""
    if magic[:1] == b"\x80":        # a pickle (protocol 2 or later): gensim's KeyedVectors.save/Word2Vec.save
        return (f"{name}: a Python pickle (gensim's KeyedVectors.save or Word2Vec.save writes these); nsw2v "
                "does not unpickle files (loading a pickle runs code from it). In gensim, write the vectors with "
                "model.wv.save_word2vec_format(path, binary=True); read them here with "
                "KeyedVectors.load_word2vec_format(path, binary=True)")
    return (f"{name}: not nsw2v's vectors file (the .npz that WordVectors.save writes); files in the word2vec "
            "text or binary format load with KeyedVectors.load_word2vec_format(path, binary=...)")
