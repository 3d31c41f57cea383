"""Fused SGD steps of CBOW and skip-gram with negative sampling, as ``Word2Vec`` trains them.

Each step gathers the rows it needs, scores them, forms the gradient and
scatter-adds it back in one pass, without building layer objects. The math is
that of the chapter-4 layers (``EmbeddingDot`` + ``SigmoidWithLoss``) with the
word2vec C tool's conventions: plain SGD with step ``lr`` per training example
(no division by the batch size), and in CBOW the hidden-layer error applied
whole to every context word. ``tests/test_steps.py`` checks both against the
layers' gradients.

    >>> loss_sum = cbow_step(W_in, W_out, centers, contexts, mask, negatives, lr)   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from . import backend


class CappedScatter:
    """``table[ids] += values`` where a row hit ``n > cap`` times in one step gets ``cap / n`` of its sum.

    Summing ``n`` updates that were all computed from the same stale row is a
    step ``n`` times too long in one direction; sequential SGD (the C tool)
    would have let each update see the previous ones. With a few hundred
    hits on the output row of a frequent word per step (batches of 4096
    centers and more) the summed step overshoots and training diverges. Rows
    hit at most ``cap`` times (all rare words) keep their exact sum.

    Hits are counted per step (``backend.row_hits``); ``weights`` says how
    many updates an entry stands for (in skip-gram, an output row's entry sums
    the updates of all the center's context words). With ``cap=None`` this is a
    plain :func:`~nsw2v.backend.scatter_add`. ``values`` is not modified.
    """

    def __init__(self, cap: Optional[int]):
        if cap is not None and cap < 1:
            raise ValueError(f"cap={cap} must be >= 1")
        self.cap = cap

    def __call__(self, table: Any, ids: Any, values: Any, weights: Any = None) -> None:
        backend.scatter_add(table, ids, values, cap=self.cap, weights=weights)


_EXACT = CappedScatter(None)


def _output_ids(xp: Any, centers: Any, negatives: Any) -> Any:
    """The output rows a center is scored against: ``[center | negatives]``, ``(B, 1+K)``."""
    return xp.concatenate([centers[:, None], negatives], axis=1)


def _ns_update(W_out: Any, h: Any, centers: Any, negatives: Any, weight: Any, lr: float, skip_hits: bool,
               scatter: Callable, n_inputs: Any = None) -> tuple:
    """Score inputs ``h`` ``(B, C, H)`` against ``[center | negatives]`` ``(B, 1+K)``; update ``W_out``.

    Returns ``(dh, loss_sum)``: ``dh`` ``(B, C, H)`` is the step (already times
    ``lr``) for the inputs. ``weight`` ``(B, C, 1)`` (or ``None``) zeroes padding
    inputs. With ``skip_hits``, a negative equal to its center is ignored, as
    the C tool does (only the batched sampler can draw one). ``n_inputs`` says
    how many updates each output entry sums, for the cap.
    """
    xp = backend.get_array_module(h)
    idx = _output_ids(xp, centers, negatives)                           # (B, 1+K)
    W_t = W_out.take(idx, axis=0)                                       # (B, 1+K, H); take: 1.7x fancy indexing
    score = (W_t @ h.transpose(0, 2, 1)).transpose(0, 2, 1)             # (B, C, 1+K); this order of the
    # product is 1.4x faster than h @ W_t.T for skip-gram (C = 10) and the same for CBOW (C = 1)
    sign = xp.ones(idx.shape[1], dtype=score.dtype)
    sign[1:] = -1
    z = score * sign                                                    # label 1 -> s, label 0 -> -s
    if skip_hits:
        keep = xp.ones(idx.shape, dtype=score.dtype)
        keep[:, 1:] = negatives != centers[:, None]
        weight = keep[:, None, :] if weight is None else weight * keep[:, None, :]   # (B, C, 1+K)
    loss_terms = backend.softplus(-z)                                   # -log σ(z)
    # d(loss)/d(score) = -(label - σ(score)) = -sign * σ(-z); the step is -lr times that, and
    # σ(-z) = exp(-softplus(z)) with softplus(z) = softplus(-z) + z.
    g = (lr * sign) * xp.exp(-(loss_terms + z))                         # lr * (label - σ(s))
    if weight is not None:
        loss_terms = loss_terms * weight
        g = g * weight
    g = g.astype(h.dtype, copy=False)
    if h.shape[1] == 1:                                                 # CBOW: an outer product per center
        d_out = g[:, 0, :, None] * h                                    # (4x faster than the batched matmul)
    else:
        d_out = g.transpose(0, 2, 1) @ h
    scatter(W_out, idx, d_out, n_inputs)                                # (B, 1+K, H)
    return g @ W_t, loss_terms.sum()                                    # (B, C, H)


def cbow_step(W_in: Any, W_out: Any, centers: Any, contexts: Any, mask: Any, negatives: Any,
              lr: float, skip_hits: bool = False, scatter: Optional[Callable] = None) -> Any:
    """One CBOW step over ``B`` centers; returns the summed loss (a 0-d array).

    ``contexts`` ``(B, C)`` holds the context ids of each center and ``mask``
    ``(B, C)`` which of them are real (window shrink, sentence ends); every row
    needs at least one. ``h`` is the mean of a row's real context vectors
    (word2vec's ``cbow_mean=1``), taken as one batched product with the mask.
    ``scatter`` applies the updates (default: exact sums, ``backend.scatter_add``;
    ``Word2Vec`` passes a :class:`CappedScatter`).
    """
    scatter = scatter or _EXACT
    xp = backend.get_array_module(W_in)
    weight = mask.astype(W_in.dtype)[:, None, :]                        # (B, 1, C)
    h = weight @ W_in.take(contexts, axis=0) / weight.sum(axis=2, keepdims=True)   # (B, 1, H): one input per center
    dh, loss = _ns_update(W_out, h, centers, negatives, None, lr, skip_hits, scatter)
    real = xp.flatnonzero(mask)                                         # the real context slots, flat
    scatter(W_in, contexts.reshape(-1).take(real),                      # each context word gets the whole error
            dh.reshape(dh.shape[0], -1).take(real // mask.shape[1], axis=0))
    return loss


def skipgram_step(W_in: Any, W_out: Any, centers: Any, contexts: Any, mask: Any, negatives: Any, lr: float,
                  skip_hits: bool = False, scatter: Optional[Callable] = None) -> Any:
    """One skip-gram step over ``B`` centers and their context words; returns the summed loss.

    As in the C tool, each real context word (``mask``) is an input whose row of
    ``W_in`` predicts the center word. The ``K`` negatives of a center are
    shared by all its context words (as in Ji et al., 2016, "Parallelizing
    Word2Vec in Shared and Distributed Memory"): the center's ``1+K`` output
    rows are gathered once and scored against its ``C`` inputs in one batched
    product, instead of ``C`` separate gathers and draws. Each (input, center)
    pair still gets the loss and gradient of the chapter-4 layers. ``scatter`` as
    in :func:`cbow_step`.
    """
    xp = backend.get_array_module(W_in)
    scatter = scatter or _EXACT
    n_inputs = xp.broadcast_to(mask.sum(axis=1)[:, None], (mask.shape[0], negatives.shape[1] + 1))
    weight = mask.astype(W_in.dtype)[:, :, None]                        # (B, C, 1): padding slots count 0
    dh, loss = _ns_update(W_out, W_in.take(contexts, axis=0), centers, negatives, weight, lr, skip_hits, scatter,
                          n_inputs)
    real = xp.flatnonzero(mask)                                         # the real context slots, flat
    scatter(W_in, contexts.reshape(-1).take(real), dh.reshape(-1, dh.shape[2]).take(real, axis=0))
    return loss
