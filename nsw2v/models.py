"""CBOW and skip-gram with negative sampling: the book's models, written once over ``xp``.

    >>> import numpy as np
    >>> from nsw2v.util import preprocess, create_contexts_target
    >>> from nsw2v.models import CBOW
    >>> corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
    >>> contexts, target = create_contexts_target(corpus, window_size=1)
    >>> model = CBOW(len(word_to_id), hidden_size=5, window_size=1, corpus=corpus, seed=0)
    >>> loss = model.forward(contexts, target)
    >>> model.backward()

``params`` and ``grads`` are the lists an optimizer updates: ``[W_in, W_out]``
and their sparse gradients. ``word_vecs`` is ``W_in``.
"""
from __future__ import annotations

from typing import Any, Optional

from . import backend
from .layers import Embedding
from .negative_sampling import NegativeSamplingLoss, check_ids
from .util import positive_int


class _Word2VecModel:
    def __init__(self, vocab_size: int, hidden_size: int, window_size: int, corpus: Any,
                 sample_size: int = 5, power: float = 0.75, method: Optional[str] = None,
                 seed: Optional[int] = None, xp: Any = None):
        vocab_size, hidden_size, window_size = (positive_int(name, value) for name, value in (
            ("vocab_size", vocab_size), ("hidden_size", hidden_size), ("window_size", window_size)))
        self.xp = xp = backend.resolve_xp(xp)
        self.vocab_size = vocab_size
        self.window_size = window_size
        rng = backend.make_rng(xp, seed)
        # The book's initialisation: both tables 0.01 * N(0, 1).
        W_in = 0.01 * rng.standard_normal((vocab_size, hidden_size), dtype=xp.float32)
        W_out = 0.01 * rng.standard_normal((vocab_size, hidden_size), dtype=xp.float32)
        self.in_layer = Embedding(W_in)
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power=power, sample_size=sample_size,
                                            method=method, seed=None if seed is None else seed + 1)
        self.params = self.in_layer.params + self.ns_loss.params
        self.grads = self.in_layer.grads + self.ns_loss.grads
        self.word_vecs = W_in

    def _check(self, contexts: Any, target: Any):
        xp = self.xp
        contexts, target = xp.asarray(contexts), xp.asarray(target)
        if contexts.ndim != 2 or target.ndim != 1 or contexts.shape[0] != target.shape[0]:
            raise ValueError(f"contexts must be (B, C) and target (B,), got {contexts.shape} and {target.shape}")
        check_ids(contexts, self.vocab_size, "contexts")
        check_ids(target, self.vocab_size, "target")
        return contexts, target


class CBOW(_Word2VecModel):
    """Continuous bag of words: the mean of the context vectors predicts the target."""

    def forward(self, contexts: Any, target: Any) -> Any:
        contexts, target = self._check(contexts, target)
        self.n_context = contexts.shape[1]
        h = self.in_layer.forward(contexts).mean(axis=1)                 # (B, H)
        return self.ns_loss.forward(h, target)

    def backward(self, dout: Any = 1) -> None:
        dh = self.ns_loss.backward(dout) * (1.0 / self.n_context)       # (B, H)
        B, H = dh.shape
        self.in_layer.backward(self.xp.broadcast_to(dh[:, None, :], (B, self.n_context, H)))


class SkipGram(_Word2VecModel):
    """Skip-gram: the target's vector predicts each context word.

    The book sums one loss layer per context position; here the ``(B, C)``
    context pairs go through one loss layer as ``B*C`` rows, and the loss is
    scaled by ``C`` so it equals the book's sum of ``C`` batch-averaged losses.
    """

    def forward(self, contexts: Any, target: Any) -> Any:
        contexts, target = self._check(contexts, target)
        B, C = contexts.shape
        self.shape = (B, C)
        h = self.in_layer.forward(target)                                # (B, H)
        h_rep = self.xp.repeat(h, C, axis=0)                            # (B*C, H)
        return self.ns_loss.forward(h_rep, contexts.reshape(-1)) * C

    def backward(self, dout: Any = 1) -> None:
        B, C = self.shape
        dh = self.ns_loss.backward(dout * C)                            # (B*C, H)
        self.in_layer.backward(dh.reshape(B, C, -1).sum(axis=1))
