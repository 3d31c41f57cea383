"""The book's helpers: ``preprocess``, ``create_contexts_target``, ``cos_similarity``,
``most_similar``, ``analogy``, ``to_cpu``, ``to_gpu``.

    >>> from nsw2v.util import preprocess, create_contexts_target
    >>> corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
    >>> corpus.tolist()
    [0, 1, 2, 3, 4, 1, 5, 6]
    >>> contexts, target = create_contexts_target(corpus, window_size=1)
    >>> contexts[0].tolist(), int(target[0])
    ([0, 2], 1)
"""
from __future__ import annotations

import math
import numbers
import os
import signal
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from . import backend
from .errors import ParameterError


def check_int(name: str, value: Any, low: Optional[int] = None, high: Optional[int] = None,
              optional: bool = False) -> Optional[int]:
    """``value`` as an int in ``[low, high]`` (``None`` stays ``None`` when ``optional``), or a
    :class:`~nsw2v.errors.ParameterError` naming ``name``.

    The one check of an integer setting: the constructor, ``train``, ``build_vocab``,
    the ``WordVectors`` queries and the command line all call it, so that one value is
    accepted or refused, with the same words, wherever it is given. ``bool`` and
    floats (``1.0``) are refused; NumPy integers are accepted.
    """
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or (low is not None and value < low) or (high is not None and value > high):
        raise ParameterError(f"{name}={value!r} must be {'None or ' if optional else ''}an integer"
                             f"{_range_words(low, high)}")
    return int(value)


def positive_int(name: str, value: Any, optional: bool = False) -> Optional[int]:
    """:func:`check_int` with ``low=1``: the sizes and counts of the book's classes, ``Word2Vec`` and ``Vocab``."""
    return check_int(name, value, low=1, optional=optional)


def check_number(name: str, value: Any, low: Optional[float] = None, high: Optional[float] = None,
                 low_open: bool = False, optional: bool = False) -> Optional[float]:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` with ``low_open``), or a
    :class:`~nsw2v.errors.ParameterError` naming ``name``.

    The one check of a real-valued setting (learning rates, ``sample``,
    ``ns_exponent``): ``nan`` and the infinities are refused everywhere, as are
    strings and ``bool``.
    """
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name}={value!r} must be {'None or ' if optional else ''}a number, "
                             f"not a {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ParameterError(f"{name}={value!r} must be a finite number{_range_words(low, high, low_open)}")
    if (low is not None and (number <= low if low_open else number < low)) or (high is not None and number > high):
        raise ParameterError(f"{name}={value!r} must be{_range_words(low, high, low_open)}")
    return number


def _range_words(low: Any, high: Any, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}]"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def _glibc(call: Callable[[Any], Any]) -> Any:
    """``call(libc)`` on Linux, where the C library is glibc's or one like it, and what it returns; ``None``
    elsewhere or on failure (a C library without the function, no ``/proc``): what it tunes is memory, never
    results."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            return call(ctypes.CDLL(None))
        except (OSError, AttributeError, ValueError):
            pass
    return None


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing): counting a
    corpus frees what it held on the way (provisional ids, the words' table, text blocks), about 70 MB for
    100 MB of text, which glibc would otherwise keep under the training's own peak."""
    _glibc(lambda libc: libc.malloc_trim(0))


#: ``madvise``'s ``MADV_PAGEOUT`` (Linux 5.4 and later): reclaim the range's pages now.
_MADV_PAGEOUT = 21


def release_library_pages(fragment: str) -> int:
    """Hand back the resident pages of the shared libraries whose path holds ``fragment`` (Linux's
    ``madvise(MADV_PAGEOUT)`` on their mappings, from ``/proc/self/maps``; elsewhere nothing): for a library
    read in once and not run again, such as LLVM's after Numba has loaded a cached loop. The kernel keeps what
    it cannot reclaim (pages written, pages another process maps) and reads back any page used again: contents
    never change. Returns the bytes of the mappings advised (0 where nothing was)."""
    def advise(libc: Any) -> int:
        import ctypes
        with open("/proc/self/maps") as maps:
            fields = [line.split(maxsplit=5) for line in maps]
        advised = 0
        for span in (f[0] for f in fields if len(f) == 6 and fragment in f[5]):
            low, high = (int(bound, 16) for bound in span.split("-"))
            if libc.madvise(ctypes.c_void_p(low), ctypes.c_size_t(high - low), _MADV_PAGEOUT) == 0:
                advised += high - low
        return advised

    return _glibc(advise) or 0


def one_heap() -> None:
    """Have every thread of this process allocate from one heap (glibc's ``mallopt(M_ARENA_MAX, 1)``; elsewhere
    nothing), as ``MALLOC_ARENA_MAX=1`` would. For the command line, which owns its process: the thread that
    prepares the next chunk otherwise allocates from heaps of its own, which the main thread frees into and
    which kept growing by some 35 MiB an epoch (peak 395 MiB against 348 MiB over 3 epochs of enwiki, no slower)."""
    _glibc(lambda libc: libc.mallopt(-8, 1))            # -8: M_ARENA_MAX


def quiet_worker(parent: int) -> None:
    """Set up a forked worker process (the training pool's, the parallel reader's) for signals: Ctrl-C is
    ignored there (the parent gets it too, and ends its workers: no traceback from each of them), SIGTERM
    ends it at once (the parent's own handler, inherited by fork, would raise in the worker), and on Linux
    it dies with its parent (process id ``parent``), so that a parent killed outright leaves no worker
    waiting on a queue."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)      # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:          # the parent died before prctl took effect
            os._exit(1)


def to_cpu(x: Any) -> np.ndarray:
    """The book's ``to_cpu``: ``x`` as a NumPy array (a NumPy array is returned as is)."""
    return backend.to_numpy(x)


def to_gpu(x: Any) -> Any:
    """The book's ``to_gpu``: ``x`` as a CuPy array, or an error saying why CuPy cannot run."""
    return backend.cupy_or_raise("to_gpu()", "keep NumPy arrays").asarray(x)


def preprocess(text: str) -> Tuple[np.ndarray, Dict[str, int], Dict[int, str]]:
    """Lower-case, split off the full stop, and number words by first appearance."""
    words = text.lower().replace(".", " .").split()
    word_to_id: Dict[str, int] = {}
    for word in words:
        word_to_id.setdefault(word, len(word_to_id))
    id_to_word = {i: w for w, i in word_to_id.items()}
    corpus = np.array([word_to_id[w] for w in words], dtype=np.int32)
    return corpus, word_to_id, id_to_word


def create_contexts_target(corpus: Any, window_size: int = 1) -> Tuple[Any, Any]:
    """``(contexts (N, 2*window_size), target (N,))`` for every position with a full window."""
    window_size = positive_int("window_size", window_size)
    xp = backend.get_array_module(corpus)
    corpus = xp.asarray(corpus)                                         # a list of ids, as the book allows
    if corpus.ndim != 1:
        raise ValueError(f"corpus must be a 1-D sequence of word ids, got shape {corpus.shape}")
    n = len(corpus) - 2 * window_size
    if n < 1:
        raise ValueError(f"corpus of {len(corpus)} words is too short for window_size={window_size}")
    target = corpus[window_size:-window_size]
    offsets = [t for t in range(-window_size, window_size + 1) if t != 0]
    contexts = xp.stack([corpus[window_size + t:window_size + t + n] for t in offsets], axis=1)
    return contexts.astype(xp.int32), target.astype(xp.int32)


def cos_similarity(x: Any, y: Any, eps: float = 1e-8) -> float:
    """Cosine of the angle between two vectors."""
    xp = backend.get_array_module(x)
    nx = x / (xp.sqrt(xp.sum(x ** 2)) + eps)
    ny = y / (xp.sqrt(xp.sum(y ** 2)) + eps)
    return backend.to_float(xp.dot(nx, ny))


def _normalized(word_matrix: Any) -> np.ndarray:
    m = backend.to_numpy(word_matrix).astype(np.float64)
    return m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-8)


def most_similar(query: str, word_to_id: Dict[str, int], id_to_word: Dict[int, str], word_matrix: Any,
                 top: int = 5, verbose: bool = True) -> List[Tuple[str, float]]:
    """The ``top`` words nearest ``query`` by cosine; printed as in the book and returned."""
    if query not in word_to_id:
        raise KeyError(f"word {query!r} not in vocabulary")
    m = _normalized(word_matrix)
    sims = m @ m[word_to_id[query]]
    sims[word_to_id[query]] = -np.inf
    best = np.argsort(-sims)[:top]
    result = [(id_to_word[int(i)], float(sims[i])) for i in best]
    if verbose:
        print(f"\n[query] {query}")
        for word, sim in result:
            print(f" {word}: {sim:.4f}")
    return result


def analogy(a: str, b: str, c: str, word_to_id: Dict[str, int], id_to_word: Dict[int, str],
            word_matrix: Any, top: int = 5, answer: Optional[str] = None,
            verbose: bool = True) -> List[Tuple[str, float]]:
    """``a : b = c : ?`` by 3CosAdd over unit vectors; the three inputs are excluded."""
    for word in (a, b, c):
        if word not in word_to_id:
            raise KeyError(f"word {word!r} not in vocabulary")
    m = _normalized(word_matrix)
    query = m[word_to_id[b]] - m[word_to_id[a]] + m[word_to_id[c]]
    query /= np.linalg.norm(query) + 1e-8
    sims = m @ query
    for word in (a, b, c):
        sims[word_to_id[word]] = -np.inf
    best = np.argsort(-sims)[:top]
    result = [(id_to_word[int(i)], float(sims[i])) for i in best]
    if verbose:
        print(f"\n[analogy] {a}:{b} = {c}:?")
        if answer is not None:
            print(f"==> {answer}: {float(m[word_to_id[answer]] @ query):.4f}")
        for word, sim in result:
            print(f" {word}: {sim:.4f}")
    return result
