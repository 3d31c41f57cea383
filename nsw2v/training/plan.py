"""The array engine's planner: a chunk of the corpus cut into streams, subsampled, with its windows.

A chunk (whole sentences, about ``chunk_words`` in-vocabulary tokens) is
subsampled (the C tool's formula) and its positions are split into
``batch_size`` contiguous streams; step ``j`` takes position ``j`` of every
stream. A step therefore holds ``batch_size`` centers spread across the chunk,
as the C tool's threads each read their own part of the file. With consecutive
positions instead, bursts of a repeated word put dozens of stale updates on one
row in one step and training diverges on real Wikipedia text (see the README).
Windows are shrunk at random per center (``b`` uniform in ``[0, window)``, as
in the C tool) and never cross a sentence.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend


class LearningRate:
    """The learning rate falls linearly from ``alpha`` to ``min_alpha`` over ``total`` words (the C tool's rule,
    over all in-vocabulary words of all epochs of one ``train()``)."""

    def __init__(self, alpha: float, min_alpha: float, total: float):
        self.alpha, self.min_alpha, self.total = float(alpha), float(min_alpha), max(float(total), 1.0)

    def at(self, words: float) -> float:
        """The rate after ``words`` words of this training."""
        return max(self.min_alpha, self.alpha - (self.alpha - self.min_alpha) * words / self.total)


def mix(*numbers: int) -> int:
    """One non-negative int seed from several (CuPy's generators take a plain int)."""
    seed = 0
    for n in numbers:
        seed = (seed * 1000003 + int(n)) % (1 << 63)
    return seed


class Plan:
    """One chunk's training positions in stream-interleaved order (on ``xp``)."""

    __slots__ = ("centers", "ctx", "valid", "bounds", "negatives")


def plan_chunk(xp: Any, rng: Any, ids: Any, sid: Any, keep_p: Any, window: int, batch_size: int) -> Plan:
    """Subsample a chunk with ``keep_p`` (or not, when ``None``), cut it into ``batch_size`` streams and find
    each center's window (at most ``window`` words each side) inside its sentence.

    The window is clipped to the chunk's longest sentence: offsets that would reach past it can hold no
    context, so a window wider than every sentence costs nothing more than one as wide as the longest
    (``window=100000`` on short lines used 12.7 GB before). The draws do not depend on the clipping.
    """
    if keep_p is not None:
        keep = rng.random(ids.shape[0], dtype=xp.float32) < keep_p[ids]
        ids, sid = ids[keep], sid[keep]
    n = int(ids.shape[0])
    plan = Plan()
    streams = max(1, min(batch_size, n))
    length = -(-n // streams) if n else 0                   # positions per stream (the last may be short)
    # order[j * streams + s] = s * length + j: step j takes position j of every stream
    order = (xp.arange(streams, dtype=xp.int32)[None, :] * length
             + xp.arange(length, dtype=xp.int32)[:, None]).ravel()
    order = order[order < n]
    per_step = np.minimum(streams, -(-(n - np.arange(length)) // max(length, 1)))   # positions in step j
    shrink = rng.integers(0, window, size=order.shape[0], dtype=xp.int32)   # the C tool's b
    # Offsets allowed around each center: within the shrunk window and inside its sentence.
    new = xp.ones(n, dtype=bool)
    new[1:] = sid[1:] != sid[:-1]
    starts = xp.flatnonzero(new).astype(xp.int32)                               # first position of each sentence
    ends = xp.concatenate([starts[1:], xp.full(1, n, dtype=xp.int32)])
    reach_max = min(window, int((ends - starts).max()) - 1) if n else 0        # the clipped window
    offsets = xp.asarray([o for o in range(-reach_max, reach_max + 1) if o != 0], dtype=xp.int32)
    sentence = (xp.cumsum(new, dtype=xp.int32) - 1)[order]
    reach = window - shrink
    lo = xp.maximum(starts[sentence] - order, -reach)                           # (m,) most negative offset
    hi = xp.minimum(ends[sentence] - 1 - order, reach)                          # (m,) largest offset
    valid = (offsets[None, :] >= lo[:, None]) & (offsets[None, :] <= hi[:, None])
    has_context = (lo < 0) | (hi > 0)
    if not bool(has_context.all()):             # one-word sentences: no example; drop them here, once a chunk
        step_of = np.repeat(np.arange(per_step.size), per_step)
        per_step = np.bincount(step_of[backend.to_numpy(has_context)], minlength=per_step.size)
        order, valid = order[has_context], valid[has_context]
    plan.bounds = np.concatenate([[0], np.cumsum(per_step)]).astype(np.int64)
    pad = xp.zeros(reach_max, dtype=ids.dtype)                                  # slots outside the chunk: masked
    plan.valid = valid
    plan.ctx = xp.concatenate([pad, ids, pad])[order[:, None] + (offsets + reach_max)[None, :]]
    plan.centers = ids[order]
    return plan
