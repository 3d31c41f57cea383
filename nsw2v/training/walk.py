"""Walking the corpus in order: the rules of the compiled engines, and the sequential reference.

    >>> from nsw2v.training import walk
    >>> key = walk.chunk_key(seed=1, epoch=0, chunk=0)
    >>> tables = walk.Tables.of(vocab, ns_exponent=0.75, sample=1e-3)                    # doctest: +SKIP
    >>> ids_k, sid_k = walk.subsample(np, ids, sid, tables.keep, key)                     # doctest: +SKIP
    >>> loss, examples = walk.reference(W_in, W_out, ids_k, sid_k, key, tables, streams=1, window=5,
    ...                                 negative=5, sg=0, exclusion=True, lr0=0.05, lr1=0.049)   # doctest: +SKIP

The array engine trains a batch of centers from one snapshot of the tables.
The compiled engines (the Numba loop on the CPU, the CUDA kernel on the GPU)
instead walk the chunk **in order** as the word2vec C tool's threads do: each
worker (a CPU thread, a GPU warp) takes one stream of consecutive positions and
trains center after center, updating the tables in place, without locks. This
module fixes what they compute, so that they can be tested against one
sequential reference (:func:`reference`) and against each other.

Draws
-----
Every random choice is a function of the chunk's key and a counter, never of a
generator's state: :func:`draw` ``(key, q, j)`` is 64 random bits for position
``q`` of the chunk and purpose ``j``. How a chunk is cut into streams, and which
worker takes which, therefore changes the order of the updates but not one draw;
and the Numba loop, the CUDA kernel and this reference draw the same numbers.
``mix`` is splitmix64's output function (Steele, Lea and Flood, "Fast splittable
pseudorandom number generators", 2014): ``mix(0)`` is splitmix64's first output
from state 0, ``0xE220A8397B1DCDAF``.

* Subsampling (purpose 0, ``q`` = the position among the chunk's in-vocabulary
  words): the word is kept when the draw's high 32 bits are below
  ``keep[id] = floor(p_keep * 2**32)`` (``p_keep`` the C tool's formula,
  :meth:`nsw2v.vocab.Vocab.keep_probabilities`; ``2**32`` when 1). The kept
  words are numbered again, ``q = 0 .. m-1``, for everything below.
* Window (purpose 1): ``b = (hi32 * window) >> 32``, uniform in ``[0, window)``
  as the C tool's ``b``; the reach is ``window - b``.
* Negatives (purposes 2, 3, ...): each draw picks a column ``c = (hi32 * V) >> 32``
  of the alias table and keeps it when the low 32 bits are below
  ``accept[c] = floor(accept_probability * 2**32)``, else takes ``alias[c]``
  (Walker's method; :func:`nsw2v.negative_sampling.alias_table`).
  The batched path takes the first ``K`` draws, and a negative equal to its
  center is skipped (no update, no loss), as the C tool does. The exclusion
  path discards a draw equal to the center or to an earlier negative of the
  same center and takes the next purpose: rejection, which gives exactly the law
  of the chapter's ``choice(V, K, replace=False, p=p_without_center)``. After
  ``MAX_DRAWS`` draws for one center the slots left are drawn exactly from the
  renormalised law by one uniform each (``(bits >> 11) * 2**-53`` against the
  cumulative probabilities; a corner case: a center holding nearly all the mass).

Streams and the learning rate
-----------------------------
The ``m`` kept positions are cut into ``streams`` streams of ``L = ceil(m /
streams)`` consecutive positions (the last ones may be shorter or empty).
Position ``q`` of stream ``s = q // L`` trains with the rate ``lr0 + (lr1 -
lr0) * (q - s * L) / L``: every stream goes from the chunk's first rate to its
last, as all of them advance together.

A center
--------
For position ``q`` with reach ``r``: its contexts are the kept positions
``q - r .. q + r`` other than ``q`` that lie in ``q``'s sentence, in order. A
center without contexts trains nothing. Its outputs are ``o_0`` = the center's id
(label 1) and its ``K`` negatives (label 0). All rows are read before any is
written (one center sees every update of the centers before it in its stream):

* CBOW: ``h`` = the mean of the context rows of ``W_in``; per output ``k``,
  ``s_k = h . W_out[o_k]``, ``g_k = lr (label_k - sigmoid(s_k))``; ``W_out[o_k] +=
  g_k h``, and every context row gets ``sum_k g_k W_out[o_k]`` whole (the C
  tool's ``neu1e``, not divided by the number of contexts).
* Skip-gram (the context word is the input, the center the output, as in the
  C tool; the ``K`` negatives are shared by the center's contexts, as in Ji et
  al., 2016): per context ``c`` and output ``k``, ``s_ck = W_in[c] . W_out[o_k]``,
  ``g_ck = lr (label_k - sigmoid(s_ck))``; ``W_out[o_k] += sum_c g_ck W_in[c]``
  and ``W_in[c] += sum_k g_ck W_out[o_k]``.

The loss is ``sum softplus(-z)`` over the terms trained (``z = s`` for the
center, ``-s`` for a negative); examples are centers with a context (CBOW) or
(context, center) pairs (skip-gram). These are the array engine's update and
loss (``nsw2v.steps``), one center at a time.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Tuple

import numpy as np

__all__ = ["GAMMA", "MAX_DRAWS", "Tables", "chunk_key", "draw", "draws", "mix", "reference", "subsample"]

MASK = (1 << 64) - 1
#: splitmix64's increment (the golden ratio in 64 bits) and its output function's two multipliers
GAMMA = 0x9E3779B97F4A7C15
M1, M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
#: Purposes of :func:`draw`: subsampling, window shrink, then the negatives from ``NEGATIVES`` on.
SUBSAMPLE, WINDOW, NEGATIVES = 0, 1, 2
#: Draws for one center's negatives on the exclusion path before the slots left are drawn exactly.
MAX_DRAWS = 1024


def mix(z: int) -> int:
    """splitmix64's output for state ``z``: ``z + GAMMA`` put through its finaliser (Python ints, mod 2**64)."""
    z = (z + GAMMA) & MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def chunk_key(seed: int, epoch: int, chunk: int, rank: int = 0) -> int:
    """The key of chunk ``chunk`` of ``epoch`` (counted over the model's life), for MPI rank ``rank``."""
    return mix(mix(mix(mix(int(seed) & MASK) ^ int(epoch)) ^ int(chunk)) ^ int(rank))


def center_key(key: int, q: int) -> int:
    """What every draw of position ``q`` starts from (a kernel computes it once a center)."""
    return mix(key ^ q)


def draw(key: int, q: int, j: int) -> int:
    """64 random bits for position ``q`` and purpose ``j`` of the chunk with ``key``."""
    return mix(center_key(key, q) ^ j)


def _mix_xp(xp: Any, z: Any) -> Any:
    """:func:`mix` over a uint64 array (wrapping arithmetic)."""
    u64 = xp.uint64
    z = z + u64(GAMMA)
    z = (z ^ (z >> u64(30))) * u64(M1)
    z = (z ^ (z >> u64(27))) * u64(M2)
    return z ^ (z >> u64(31))


def draws(xp: Any, key: int, q: Any, j: int) -> Any:
    """:func:`draw` for an array of positions ``q`` (uint64 results, on ``xp``)."""
    u64 = xp.uint64
    centers = _mix_xp(xp, q.astype(u64) ^ u64(key))
    return _mix_xp(xp, centers ^ u64(j))


class Tables(NamedTuple):
    """The integer tables the draws read: ``keep`` (V,) uint64 subsampling thresholds, ``accept`` (V,) uint64
    and ``alias`` (V,) int32 (the alias table), and ``p`` (V,) float64, the negatives' law (for the rare
    exact fallback of the exclusion path)."""

    keep: np.ndarray
    accept: np.ndarray
    alias: np.ndarray
    p: np.ndarray

    @classmethod
    def of(cls, vocab: Any, ns_exponent: float, sample: float) -> "Tables":
        """The tables of a :class:`~nsw2v.vocab.Vocab` (host NumPy arrays; move them to the device as needed):
        the law and alias table of the unigram sampler, the keep probabilities of the vocabulary."""
        from ..negative_sampling import UnigramSampler
        sampler = UnigramSampler(None, ns_exponent, 1, method="batched", xp=np, counts=vocab.counts)
        keep = vocab.keep_probabilities(sample) if sample > 0 else np.ones(len(vocab), dtype=np.float32)
        return cls(keep=_thresholds(keep), accept=_thresholds(sampler.accept), alias=sampler.alias.astype(np.int32),
                   p=np.asarray(sampler.word_p, dtype=np.float64))


def _thresholds(probabilities: np.ndarray) -> np.ndarray:
    """``floor(p * 2**32)`` as uint64 (``2**32`` for ``p >= 1``): a draw's 32 bits below it happen with ``p``."""
    scaled = np.floor(np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0) * 2.0 ** 32)
    return scaled.astype(np.uint64)


def subsample(xp: Any, ids: Any, sid: Any, keep: Any, key: int) -> Tuple[Any, Any]:
    """The kept positions of a chunk: ``(ids[kept], sid[kept])`` (``keep``: :attr:`Tables.keep` on ``xp``)."""
    hi = draws(xp, key, xp.arange(ids.shape[0], dtype=xp.uint64), SUBSAMPLE) >> xp.uint64(32)
    kept = hi < keep[ids]
    return ids[kept], sid[kept]


# ---------------------------------------------------------------------------------------------- the reference


def _alias_draw(bits: int, tables: Tables) -> int:
    V = len(tables.alias)
    column = ((bits >> 32) * V) >> 32
    return column if (bits & 0xFFFFFFFF) < int(tables.accept[column]) else int(tables.alias[column])


def negatives(key_q: int, center: int, negative: int, exclusion: bool, tables: Tables) -> list:
    """The ``negative`` ids drawn for a center (``key_q``: :func:`center_key`); on the batched path they
    may repeat or equal the center (the caller skips those)."""
    picks: list = []
    j = NEGATIVES
    while len(picks) < negative:
        if exclusion and j - NEGATIVES >= MAX_DRAWS:
            picks.append(_exact_excluding(mix(key_q ^ j), [center] + picks, tables.p))
            j += 1
            continue
        word = _alias_draw(mix(key_q ^ j), tables)
        j += 1
        if exclusion and (word == center or word in picks):
            continue
        picks.append(word)
    return picks


def _exact_excluding(bits: int, taken: list, p: np.ndarray) -> int:
    """One id from ``p`` without ``taken``, renormalised, by inverse transform of the uniform in ``bits``."""
    rest = np.array(p, dtype=np.float64)
    rest[taken] = 0.0
    cdf = np.cumsum(rest)
    u = (bits >> 11) * 2.0 ** -53 * cdf[-1]
    return int(min(np.searchsorted(cdf, u, side="right"), len(p) - 1))


def window_contexts(q: int, reach: int, sid: np.ndarray) -> list:
    """The positions within ``reach`` of ``q`` in its sentence, ``q`` left out, in order."""
    lo, hi = q, q
    while lo > 0 and q - lo < reach and sid[lo - 1] == sid[q]:
        lo -= 1
    while hi < len(sid) - 1 and hi - q < reach and sid[hi + 1] == sid[q]:
        hi += 1
    return [c for c in range(lo, hi + 1) if c != q]


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def reference(W_in: np.ndarray, W_out: np.ndarray, ids: np.ndarray, sid: np.ndarray, key: int, tables: Tables,
              streams: int, window: int, negative: int, sg: int, exclusion: bool, lr0: float,
              lr1: float, interleave: bool = False) -> Tuple[float, int]:
    """Train on a chunk's kept positions by the rules above, one stream after another, in Python.

    ``W_in`` and ``W_out`` (float32 NumPy) are updated in place; returns
    ``(loss sum, examples)``. Slow (a few microseconds of NumPy per row
    touched): for tests on small corpora. With ``streams`` streams over rows
    that no two streams share, any interleaving of the streams gives these tables.
    With ``interleave`` the streams are walked together, position ``t`` of
    every stream before position ``t + 1`` (each update still made at once): the
    order of one worker walking several streams, as the numba engine's threads do.
    """
    ids = np.asarray(ids)
    sid = np.asarray(sid)
    m = len(ids)
    length = -(-m // max(streams, 1)) if m else 0
    loss, examples = 0.0, 0
    order = range(m)
    if interleave:
        order = [s * length + t for t in range(length) for s in range(streams) if s * length + t < m]
    for q in order:
        s = q // length
        lr = lr0 + (lr1 - lr0) * (q - s * length) / length
        key_q = center_key(key, q)
        reach = window - (((mix(key_q ^ WINDOW) >> 32) * window) >> 32)
        contexts = [int(ids[c]) for c in window_contexts(q, reach, sid)]
        if not contexts:
            continue
        center = int(ids[q])
        outputs = [center] + negatives(key_q, center, negative, exclusion, tables)
        trained = [k for k, o in enumerate(outputs) if k == 0 or o != center]   # the batched path's hits skipped
        rows = W_out[[outputs[k] for k in trained]]                              # (T, H), read before any write
        labels = np.array([1.0 if k == 0 else 0.0 for k in trained], dtype=np.float32)
        sign = 2.0 * labels - 1.0
        inputs = W_in[contexts]                                                  # (C, H)
        if sg:
            scores = inputs @ rows.T                                             # (C, T)
            examples += len(contexts)
        else:
            inputs = inputs.mean(axis=0, keepdims=True, dtype=np.float32)       # (1, H): h
            scores = inputs @ rows.T                                             # (1, T)
            examples += 1
        loss += sum(_softplus(-float(z)) for z in (scores * sign).ravel())
        g = (np.float32(lr) * (labels - 1.0 / (1.0 + np.exp(-scores.astype(np.float64))))).astype(np.float32)
        d_rows = g.T @ inputs                                                    # (T, H)
        d_inputs = g @ rows                                                      # (C or 1, H)
        np.add.at(W_out, [outputs[k] for k in trained], d_rows)
        if sg:
            np.add.at(W_in, contexts, d_inputs)
        else:
            np.add.at(W_in, contexts, np.repeat(d_inputs, len(contexts), axis=0))
    return loss, examples
