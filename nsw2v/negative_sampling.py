"""Negative sampling: the unigram sampler (two paths) and the loss layer.

    >>> import numpy as np
    >>> from nsw2v.negative_sampling import UnigramSampler
    >>> corpus = np.array([0, 1, 2, 3, 4, 1, 2, 3])
    >>> sampler = UnigramSampler(corpus, power=0.75, sample_size=2, seed=0)
    >>> sampler.get_negative_sample(np.array([1, 3, 0])).shape
    (3, 2)

Both paths draw from one alias table of ``count ** power`` (Walker's method: a
draw is one random column, one random number and two gathers, with no search),
so they are the same code on NumPy and CuPy:

``"exclusion"``
    Per row, the target never appears and the ``sample_size`` negatives are
    distinct. Column by column, entries that hit the target or an earlier pick
    of their row are redrawn until none does: exactly the distribution of the
    book's per-row ``np.random.choice(V, sample_size, replace=False,
    p=p_without_target)``, which picks distinct words one after another, each in
    proportion to ``p`` among those not yet taken. The default on NumPy.
``"batched"``
    One with-replacement draw of the whole ``(batch, sample_size)`` block from
    ``p ∝ count ** power``; a negative may equal the target or repeat. The
    default on CuPy, as in the book's GPU branch.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import backend
from .layers import EmbeddingDot, SigmoidWithLoss

METHODS = ("exclusion", "batched")

# After this many redraw rounds per column, the few rows still colliding are
# drawn exactly from their renormalised distribution instead (a target holding
# most of the probability mass would otherwise make the rejection loop long).
_MAX_REDRAW_ROUNDS = 32


class UnigramSampler:
    """Draws negatives from the unigram distribution raised to ``power``.

    Parameters
    ----------
    corpus : array of int
        Word ids (the book's argument); counts are taken with ``bincount``.
        Pass ``corpus=None`` and ``counts=`` when the counts are known.
    power : float
        Exponent applied to the counts (word2vec: 0.75). Must be >= 0.
    sample_size : int
        Negatives per row.
    method : {"exclusion", "batched", None}
        The sampling path; ``None`` picks the backend's default
        (exclusion on NumPy, batched on CuPy).
    seed : int, optional
        Seed of the sampler's own random generator.
    xp : module or str, optional
        Array module; ``None`` means the default (``GPU=1`` chooses CuPy).
    counts : array of int, optional
        Word counts indexed by id, instead of ``corpus``.
    vocab_size : int, optional
        Number of ids; defaults to ``len(counts)`` or ``corpus.max() + 1``.
    """

    def __init__(self, corpus: Any, power: float, sample_size: int, method: Optional[str] = None,
                 seed: Optional[int] = None, xp: Any = None, counts: Any = None,
                 vocab_size: Optional[int] = None):
        self.xp = xp = backend.resolve_xp(xp)
        if method is None:
            method = "batched" if backend.is_cupy(xp) else "exclusion"
        if method not in METHODS:
            raise ValueError(f"method={method!r} must be one of {METHODS}")
        if not power >= 0:
            raise ValueError(f"power={power} must be >= 0")
        if int(sample_size) != sample_size or sample_size < 1:
            raise ValueError(f"sample_size={sample_size} must be an integer >= 1")
        counts = _counts(corpus, counts, vocab_size)
        p = counts.astype(np.float64) ** power
        p[counts == 0] = 0.0                        # 0 ** 0 is 1: unseen ids stay undrawable
        drawable = int(np.count_nonzero(p))
        if method == "exclusion" and sample_size > drawable - 1:
            raise ValueError(
                f"sample_size={sample_size} is larger than the {drawable - 1} other words that can be "
                f"drawn on the exclusion path (vocabulary of {drawable} words with non-zero count); "
                "lower sample_size or use method='batched'"
            )
        p /= p.sum()
        self.method = method
        self.power = power
        self.sample_size = int(sample_size)
        self.vocab_size = len(counts)
        self.word_p = xp.asarray(p)                 # (V,) float64, the book's name
        accept, alias = alias_table(p)
        self.accept, self.alias = xp.asarray(accept), xp.asarray(alias)
        self.rng = backend.make_rng(xp, seed)

    def draw(self, shape: tuple) -> Any:
        """Ids drawn with replacement from ``word_p``, in the given shape.

        A column ``c`` uniform over the vocabulary keeps its own id with
        probability ``accept[c]`` and otherwise gives ``alias[c]``.
        """
        xp = self.xp
        column = self.rng.integers(0, self.vocab_size, size=shape, dtype=xp.int32)
        keep = self.rng.random(shape, dtype=xp.float64) < self.accept[column]
        return xp.where(keep, column, self.alias[column])

    def get_negative_sample(self, target: Any) -> Any:
        """A ``(batch, sample_size)`` int32 array of negatives for ``target`` ``(batch,)``."""
        xp = self.xp
        target = xp.asarray(target)
        if target.ndim != 1:
            raise ValueError(f"target must be 1-D (batch,), got shape {target.shape}")
        check_ids(target, self.vocab_size, "target")
        return self.sample(target)

    def sample(self, target: Any) -> Any:
        """:meth:`get_negative_sample` without the id check, for trusted ids on ``xp``."""
        neg = self.draw((target.shape[0], self.sample_size))
        if self.method == "exclusion":
            self._exclude(neg, target.astype(self.xp.int32))
        return neg

    def _exclude(self, neg: Any, target: Any) -> None:
        """Redraw entries equal to the target or an earlier pick of their row.

        Each round finds, per row, the first column that clashes with the target
        or a column before it, and redraws that entry alone; rows without a clash
        are done and leave the rounds. The columns before the first clash never
        change again, so every column ends as the first of its draws that misses
        the target and the columns before it: rejection sampling, which is
        exactly sampling without replacement. Rows still clashing when the rounds
        run out are finished column by column from the renormalised distribution.
        """
        xp = self.xp
        k = self.sample_size
        rows = xp.arange(neg.shape[0])
        for _ in range(_MAX_REDRAW_ROUNDS * k):
            clash = _clashes(xp, target[rows], neg[rows])                                # (K, R)
            bad = xp.flatnonzero(clash.any(axis=0))
            if bad.size == 0:
                return
            rows = rows[bad]
            neg[rows, clash[:, bad].argmax(axis=0)] = self.draw((int(bad.size),))
        for row in backend.to_numpy(rows).tolist():
            for j in range(k):
                taken = xp.concatenate([target[row:row + 1], neg[row, :j]])
                if bool((taken == neg[row, j]).any()):
                    neg[row, j] = self._draw_excluding(taken)

    def _draw_excluding(self, taken: Any) -> int:
        """One id from ``word_p`` renormalised without ``taken`` (the rare slow case)."""
        p = backend.to_numpy(self.word_p).copy()
        p[backend.to_numpy(taken)] = 0.0
        cdf = np.cumsum(p)
        u = backend.to_float(self.rng.random((1,), dtype=self.xp.float64)[0]) * cdf[-1]
        return int(min(np.searchsorted(cdf, u, side="right"), self.vocab_size - 1))


def _clashes(xp: Any, target: Any, picks: Any) -> Any:
    """``(K, R)`` bool: where pick ``j`` of a row equals the row's target or one of its picks before ``j``.

    Column against column, ``K (K + 1) / 2`` comparisons of ``R`` ids each: for a
    chunk's 700k rows about 15x faster than one ``(R, K, 1 + K)`` broadcast
    compare reduced over its short last axis.
    """
    columns = xp.concatenate([target[None, :], picks.T])                       # (1+K, R), each row contiguous
    clash = xp.empty(picks.shape[::-1], dtype=bool)
    for j in range(1, columns.shape[0]):
        hit = columns[j] == columns[0]
        for t in range(1, j):
            hit |= columns[j] == columns[t]
        clash[j - 1] = hit
    return clash


def alias_table(p: np.ndarray) -> tuple:
    """Walker's alias table of a distribution ``p`` (non-negative, summing to 1), built with array operations.

    Returns ``(accept, alias)``: float64 and int32 arrays of ``len(p)``. Drawing
    a column ``c`` uniformly and keeping ``c`` with probability ``accept[c]``,
    else taking ``alias[c]``, gives id ``i`` with probability
    ``(accept[i] + sum(1 - accept[c] for c with alias[c] == i)) / len(p)``,
    which equals ``p[i]`` up to float64 rounding (``tests/test_sampler.py``
    checks it). Ids with ``p == 0`` are never drawn.

    The table is the one of the sweep (Hübschle-Schneider and Sanders, "Parallel
    weighted random sampling", 2019): with ``w = p * len(p)``, the light ids
    (``w < 1``) in order are each topped up from the current heavy id (``w >= 1``,
    in order); a heavy id that has given so much that at most one unit is left
    keeps the rest in its own column, which the next heavy id tops up. Where
    each step falls follows from two running sums, so the sweep is two
    ``searchsorted`` calls instead of a Python loop.
    """
    p = np.asarray(p, dtype=np.float64)
    n = len(p)
    w = p * n
    accept = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int32)
    light, heavy = np.flatnonzero(w < 1.0), np.flatnonzero(w >= 1.0)
    if light.size and heavy.size:
        # The running sums in fixed point (units of 2**-bits, int64, exact): float64 sums of a million terms
        # would be off by about 1e-8 of a unit. Before light i the sweep has handed out starts[i] to the
        # lights before it; heavy j has turned light (at most one unit left) once that reaches excess[j],
        # the excess over one unit of heavies 0..j.
        bits = min(52, 62 - int(n).bit_length())
        unit = 2.0 ** bits
        starts = np.concatenate([[0], np.cumsum(np.rint((1.0 - w[light]) * unit).astype(np.int64))])
        excess = np.cumsum(np.rint((w[heavy[:-1]] - 1.0) * unit).astype(np.int64))
        turned = np.searchsorted(excess, starts[:-1], side="right")        # heavies turned before light i
        accept[light], alias[light] = w[light], heavy[turned]
        # heavy j turns at the first light whose start reaches excess[j]: it keeps 1 - (start - excess[j])
        at = starts[np.minimum(np.searchsorted(starts, excess, side="left"), light.size)]
        accept[heavy[:-1]] = np.clip(1.0 - (at - excess) / unit, 0.0, 1.0)
        alias[heavy[:-1]] = heavy[1:]
    else:                   # every column holds one unit up to rounding: each keeps its own id
        accept[:] = 1.0
    zero = p == 0           # never drawn: no unit of their own, a column topped up entirely by a drawable id
    if zero.any() and not heavy.size:
        accept[zero], alias[zero] = 0.0, int(np.argmax(p))
    return accept, alias


def reference_negative_sample(word_p: np.ndarray, target: np.ndarray, sample_size: int,
                              random_state: np.random.RandomState) -> np.ndarray:
    """The book's per-row loop, kept literally as the reference for tests and benchmarks.

    For each row: zero the target's probability, renormalise, and draw
    ``sample_size`` distinct ids with ``choice(replace=False, p=...)``. Slow
    (one ``choice`` call per row): use ``UnigramSampler`` to train.
    """
    batch_size = target.shape[0]
    vocab_size = len(word_p)
    negative_sample = np.zeros((batch_size, sample_size), dtype=np.int32)
    for i in range(batch_size):
        p = word_p.copy()
        p[target[i]] = 0
        p /= p.sum()
        negative_sample[i, :] = random_state.choice(vocab_size, size=sample_size, replace=False, p=p)
    return negative_sample


def _counts(corpus: Any, counts: Any, vocab_size: Optional[int]) -> np.ndarray:
    if counts is not None:
        counts = backend.to_numpy(counts).astype(np.int64).ravel()
    else:
        if corpus is None:
            raise ValueError("give corpus (word ids) or counts")
        corpus = backend.to_numpy(corpus).ravel()
        if corpus.size == 0:
            raise ValueError("corpus is empty: no word ids to count")
        if not np.issubdtype(corpus.dtype, np.integer):
            raise ValueError(f"corpus must hold integer word ids, got dtype {corpus.dtype}")
        if corpus.min() < 0:
            raise ValueError(f"corpus holds a negative word id ({int(corpus.min())})")
        counts = np.bincount(corpus, minlength=vocab_size or 0).astype(np.int64)
    if vocab_size is not None:
        if len(counts) > vocab_size:
            raise ValueError(f"word id {len(counts) - 1} is out of range for vocab_size={vocab_size}")
        counts = np.pad(counts, (0, vocab_size - len(counts)))
    if counts.size == 0 or counts.sum() == 0:
        raise ValueError("corpus is empty: every count is zero")
    if counts.min() < 0:
        raise ValueError("counts must be >= 0")
    return counts


def check_ids(ids: Any, vocab_size: int, name: str = "ids") -> None:
    """Raise ValueError for ids outside ``[0, vocab_size)``.

    CuPy wraps out-of-range indices silently, so ids are checked at the
    boundary of every public entry point that takes them.
    """
    if ids.size == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= vocab_size:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name} holds word id {bad}, out of range for a vocabulary of {vocab_size}")


class NegativeSamplingLoss:
    """The book's loss: ``-log σ(h·w_t) - Σ_k log σ(-h·w_neg_k)``, averaged over the batch.

    One :class:`EmbeddingDot` scores the ``(B, 1+K)`` matrix whose column 0 is
    the target and columns 1..K the negatives, all against the one output table
    ``W`` (the learner's version gave each column its own table).
    """

    def __init__(self, W: Any, corpus: Any, power: float = 0.75, sample_size: int = 5,
                 method: Optional[str] = None, seed: Optional[int] = None, counts: Any = None):
        xp = backend.get_array_module(W)
        self.sample_size = sample_size
        self.sampler = UnigramSampler(corpus, power, sample_size, method=method, seed=seed, xp=xp,
                                      counts=counts, vocab_size=W.shape[0])
        self.embed_dot = EmbeddingDot(W)
        self.loss_layer = SigmoidWithLoss()
        self.params, self.grads = self.embed_dot.params, self.embed_dot.grads

    def forward(self, h: Any, target: Any) -> Any:
        xp = self.sampler.xp
        negative_sample = self.sampler.get_negative_sample(target)        # (B, K)
        idx = xp.concatenate([target.astype(xp.int32)[:, None], negative_sample], axis=1)  # (B, 1+K)
        score = self.embed_dot.forward(h, idx)                            # (B, 1+K)
        label = xp.zeros(idx.shape, dtype=xp.int32)
        label[:, 0] = 1
        return self.loss_layer.forward(score, label)

    def backward(self, dout: Any = 1) -> Any:
        dscore = self.loss_layer.backward(dout)
        return self.embed_dot.backward(dscore)
