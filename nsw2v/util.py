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

import numbers
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import backend


def positive_int(name: str, value: Any, optional: bool = False) -> Optional[int]:
    """``value`` as an int (``None`` stays ``None`` when ``optional``), or an error naming ``name``: the
    sizes and counts of the book's classes, ``Word2Vec`` and ``Vocab``."""
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} must be {'None or ' if optional else ''}an integer >= 1")
    return int(value)


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
