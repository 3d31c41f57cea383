"""Optimizers with the book's contract: ``update(params, grads)`` on two lists.

    >>> from nsw2v.optimizers import SGD, Adam
    >>> optimizer = Adam(lr=0.001)
    >>> optimizer.update(model.params, model.grads)      # doctest: +SKIP

A gradient is either a dense array (``MatMul``) or a :class:`~nsw2v.layers.SparseGrad`
(embedding tables): sparse gradients touch only their rows.
"""
from __future__ import annotations

from typing import Any, List

from . import backend
from .layers import SparseGrad


def coalesce(grad: SparseGrad):
    """``(unique_ids, summed_values)`` of a sparse gradient, duplicates summed."""
    xp = backend.get_array_module(grad.values)
    uniq, inverse = xp.unique(grad.ids, return_inverse=True)
    summed = xp.zeros((uniq.size,) + grad.values.shape[1:], dtype=grad.values.dtype)
    backend.scatter_add(summed, inverse.ravel(), grad.values)
    return uniq, summed


def checked(optimizer: Any, params: Any, grads: Any) -> None:
    """Refuse what would make ``update`` a silent no-op or a crash deep inside: dicts (the chapter's
    learner code handed its optimizer two empty dicts, and nothing ever learned), empty or unequal lists."""
    name = type(optimizer).__name__
    for what, value in (("params", params), ("grads", grads)):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name}.update(params, grads) takes the lists model.params and model.grads; "
                            f"{what} is a {type(value).__name__}")
    if not params:
        raise ValueError(f"{name}.update got no params: nothing would learn (pass model.params and model.grads)")
    if len(params) != len(grads):
        raise ValueError(f"{name}.update got {len(params)} params but {len(grads)} grads: one gradient per parameter")


class SGD:
    """Plain stochastic gradient descent: ``W -= lr * dW``."""

    def __init__(self, lr: float = 0.01):
        self.lr = lr

    def update(self, params: List[Any], grads: List[Any]) -> None:
        checked(self, params, grads)
        for param, grad in zip(params, grads):
            if isinstance(grad, SparseGrad):
                backend.scatter_add(param, grad.ids, grad.values * (-self.lr))
            else:
                param -= self.lr * grad


class Adam:
    """Adam (Kingma & Ba, 2015) with the book's bias correction.

    For sparse gradients this is "lazy" Adam: only the rows a step touches
    have their moments and values updated (as TensorFlow's LazyAdam and
    PyTorch's SparseAdam do); dense gradients get ordinary Adam.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m = None
        self.v = None
        self.params: List[Any] = []                 # the tables the moments belong to

    def update(self, params: List[Any], grads: List[Any]) -> None:
        checked(self, params, grads)
        if self.m is not None and (len(params) != len(self.params) or
                                   any(p is not q for p, q in zip(params, self.params))):
            raise ValueError("Adam.update got other params than before: its moments belong to them "
                             "(one Adam per model)")
        if self.m is None:
            self.params = list(params)
            self.m = [backend.get_array_module(p).zeros_like(p) for p in params]
            self.v = [backend.get_array_module(p).zeros_like(p) for p in params]
        self.iter += 1
        lr_t = self.lr * (1.0 - self.beta2 ** self.iter) ** 0.5 / (1.0 - self.beta1 ** self.iter)
        for param, grad, m, v in zip(params, grads, self.m, self.v):
            xp = backend.get_array_module(param)
            if isinstance(grad, SparseGrad):
                rows, g = coalesce(grad)
                m_rows = m[rows]
                v_rows = v[rows]
                m_rows += (1 - self.beta1) * (g - m_rows)
                v_rows += (1 - self.beta2) * (g * g - v_rows)
                m[rows] = m_rows                    # rows are unique: plain assignment is safe
                v[rows] = v_rows
                param[rows] -= lr_t * m_rows / (xp.sqrt(v_rows) + 1e-7)
            else:
                m += (1 - self.beta1) * (grad - m)
                v += (1 - self.beta2) * (grad * grad - v)
                param -= lr_t * m / (xp.sqrt(v) + 1e-7)
