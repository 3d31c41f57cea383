"""The layers of *Deep Learning from Scratch 2*, chapter 4, written once over ``xp``.

Each layer keeps the book's contract: ``params`` and ``grads`` lists, ``forward``
and ``backward``. The array module is taken from the data, so the same layer
runs on NumPy or CuPy.

    >>> import numpy as np
    >>> from nsw2v.layers import Embedding, EmbeddingDot, SigmoidWithLoss
    >>> W = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    >>> h = Embedding(W).forward(np.array([1, 2, 2]))            # (3, 4)
    >>> score = EmbeddingDot(W).forward(h, np.array([[3, 4], [5, 6], [7, 8]]))   # (3, 2)
    >>> loss = SigmoidWithLoss().forward(score, np.array([[1, 0]] * 3))

Unlike the book, embedding tables get **sparse** gradients: a
:class:`SparseGrad` holding the rows touched and their values (duplicates are
summed when applied). No step allocates or zeroes a vocabulary-sized buffer.
"""
from __future__ import annotations

from typing import Any

from .backend import get_array_module, scatter_add


class SparseGrad:
    """Gradient of an embedding table: row ``ids[i]`` receives ``values[i]``.

    Repeated ids mean their values add up. ``shape`` is the table's shape.
    """

    __slots__ = ("ids", "values", "shape")

    def __init__(self, shape: tuple):
        self.shape = tuple(shape)
        self.ids = None
        self.values = None

    def set(self, ids: Any, values: Any) -> None:
        ids = ids.ravel()
        self.ids = ids
        self.values = values.reshape((ids.size,) + self.shape[1:])

    def to_dense(self):
        """A dense copy (for tests and small models only)."""
        xp = get_array_module(self.values)
        out = xp.zeros(self.shape, dtype=self.values.dtype)
        scatter_add(out, self.ids, self.values)
        return out


class MatMul:
    """``out = x @ W``."""

    def __init__(self, W: Any):
        xp = get_array_module(W)
        self.params = [W]
        self.grads = [xp.zeros_like(W)]
        self.x = None

    def forward(self, x: Any) -> Any:
        W, = self.params
        self.x = x
        return x @ W

    def backward(self, dout: Any) -> Any:
        W, = self.params
        self.grads[0][...] = self.x.T @ dout
        return dout @ W.T


class Embedding:
    """``out = W[idx]`` for an id array of any shape; sparse gradient."""

    def __init__(self, W: Any):
        self.params = [W]
        self.grads = [SparseGrad(W.shape)]
        self.idx = None

    def forward(self, idx: Any) -> Any:
        W, = self.params
        self.idx = idx
        return W[idx]                                   # idx.shape + (H,)

    def backward(self, dout: Any) -> None:
        self.grads[0].set(self.idx, dout)
        return None


class EmbeddingDot:
    """Scores ``h · W[idx]``: ``idx`` is ``(B,)`` (the book's case) or ``(B, K)``.

    The book scores the positive and each negative with its own layer; one
    layer over a ``(B, 1+K)`` id matrix computes the same scores against one
    shared output table in a single gather.
    """

    def __init__(self, W: Any):
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache = None

    def forward(self, h: Any, idx: Any) -> Any:
        target_W = self.embed.forward(idx)              # (B, H) or (B, K, H)
        if idx.ndim == 1:
            out = (target_W * h).sum(axis=1)            # (B,)
        else:
            out = (target_W * h[:, None, :]).sum(axis=2)   # (B, K)
        self.cache = (h, target_W)
        return out

    def backward(self, dout: Any) -> Any:
        h, target_W = self.cache
        if dout.ndim == 1:
            self.embed.backward(dout[:, None] * h)      # (B, H)
            return dout[:, None] * target_W
        self.embed.backward(dout[:, :, None] * h[:, None, :])   # (B, K, H)
        return (dout[:, :, None] * target_W).sum(axis=1)        # (B, H)


class SigmoidWithLoss:
    """Sigmoid and binary cross-entropy, summed over columns, averaged over rows.

    For a ``(B,)`` score this is the book's layer; for ``(B, 1+K)`` it equals the
    book's sum of 1+K such layers. Computed as ``log(1 + exp(-z))`` with
    ``z = x`` for label 1 and ``-x`` for label 0 through ``logaddexp``, so no
    score overflows (the book's ``1 / (1 + exp(-x))`` does for large ``-x``).
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.y = None
        self.t = None

    def forward(self, x: Any, t: Any) -> Any:
        xp = get_array_module(x)
        self.t = t
        sign = 1 - 2 * t.astype(x.dtype)                # +1 for label 0, -1 for label 1
        z = sign * x
        self.y = sigmoid(x)
        return xp.logaddexp(0, z).sum() / x.shape[0]

    def backward(self, dout: Any = 1) -> Any:
        batch_size = self.t.shape[0]
        return (self.y - self.t.astype(self.y.dtype)) * (dout / batch_size)


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))`` without overflow for any ``x``."""
    xp = get_array_module(x)
    return xp.exp(-xp.logaddexp(0, -x))
