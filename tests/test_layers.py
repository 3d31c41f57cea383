"""Every layer: forward against a naive loop, backward against float64 central differences."""
import warnings

import numpy as np
import pytest

from nsw2v import backend
from nsw2v.layers import Embedding, EmbeddingDot, MatMul, SigmoidWithLoss, sigmoid
from nsw2v.negative_sampling import NegativeSamplingLoss
from conftest import numerical_gradient

RNG = np.random.default_rng(42)
IDS = np.array([1, 3, 3, 0, 3, 5])                # duplicates on purpose


def test_matmul_forward_and_backward():
    W = RNG.standard_normal((4, 3))
    x = RNG.standard_normal((5, 4))
    dout = RNG.standard_normal((5, 3))
    layer = MatMul(W)
    out = layer.forward(x)
    naive = np.array([[sum(x[i, k] * W[k, j] for k in range(4)) for j in range(3)] for i in range(5)])
    np.testing.assert_allclose(out, naive)
    dx = layer.backward(dout)
    f = lambda: float((layer.forward(x) * dout).sum())
    np.testing.assert_allclose(dx, numerical_gradient(f, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.grads[0], numerical_gradient(f, W), rtol=1e-6, atol=1e-8)


def test_embedding_sparse_gradient_matches_numerical():
    W = RNG.standard_normal((7, 3))
    dout = RNG.standard_normal((len(IDS), 3))
    layer = Embedding(W)
    out = layer.forward(IDS)
    np.testing.assert_array_equal(out, np.stack([W[i] for i in IDS]))
    layer.backward(dout)
    grad = layer.grads[0]
    assert grad.ids.shape == (len(IDS),)             # sparse: only the rows touched
    f = lambda: float((layer.forward(IDS) * dout).sum())
    np.testing.assert_allclose(grad.to_dense(), numerical_gradient(f, W), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("two_d", [False, True])
def test_embedding_dot_forward_and_backward(two_d):
    W = RNG.standard_normal((7, 4))
    idx = IDS.reshape(3, 2) if two_d else IDS
    h = RNG.standard_normal((idx.shape[0], 4))
    layer = EmbeddingDot(W)
    out = layer.forward(h, idx)
    if two_d:
        naive = np.array([[sum(h[b, j] * W[idx[b, k], j] for j in range(4)) for k in range(2)] for b in range(3)])
    else:
        naive = np.array([sum(h[b, j] * W[idx[b], j] for j in range(4)) for b in range(len(idx))])
    np.testing.assert_allclose(out, naive)
    dout = RNG.standard_normal(out.shape)
    dh = layer.backward(dout)
    f = lambda: float((layer.forward(h, idx) * dout).sum())
    np.testing.assert_allclose(dh, numerical_gradient(f, h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.grads[0].to_dense(), numerical_gradient(f, W), rtol=1e-6, atol=1e-8)


def test_sigmoid_with_loss_forward_and_backward():
    x = RNG.standard_normal((4, 3)) * 3
    t = (RNG.random((4, 3)) < 0.5).astype(np.int32)
    layer = SigmoidWithLoss()
    loss = float(layer.forward(x, t))
    naive = -sum(np.log(1 / (1 + np.exp(-x[i, j]))) if t[i, j] else np.log(1 - 1 / (1 + np.exp(-x[i, j])))
                 for i in range(4) for j in range(3)) / 4
    assert loss == pytest.approx(naive, rel=1e-10)
    dx = layer.backward(1.0)
    f = lambda: float(layer.forward(x, t))
    np.testing.assert_allclose(dx, numerical_gradient(f, x), rtol=1e-6, atol=1e-8)


def test_sigmoid_with_loss_is_stable_for_huge_scores(xp):
    x = xp.asarray([1000.0, -1000.0, 1000.0, -1000.0], dtype=xp.float32)
    t = xp.asarray([1, 0, 0, 1], dtype=xp.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # any overflow warning fails the test
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            layer = SigmoidWithLoss()
            loss = backend.to_float(layer.forward(x, t))
            dx = backend.to_numpy(layer.backward())
    # Two confident right answers cost 0, two confident wrong ones 1000 each: (0+0+1000+1000)/4.
    assert loss == pytest.approx(500.0)
    np.testing.assert_allclose(dx, [0.0, 0.0, 0.25, -0.25])
    np.testing.assert_allclose(backend.to_numpy(sigmoid(xp.asarray([-1000.0, 0.0, 1000.0]))), [0, 0.5, 1])


class FixedSampler:
    """A deterministic stand-in for the sampler, so repeated forwards see the same negatives."""

    def __init__(self, sampler, negatives):
        self.xp = sampler.xp
        self.negatives = negatives

    def get_negative_sample(self, target):
        return self.negatives


def test_negative_sampling_loss_is_the_books_formula_and_its_gradient():
    V, H, B, K = 9, 4, 5, 3
    W = RNG.standard_normal((V, H))
    h = RNG.standard_normal((B, H))
    target = np.array([0, 2, 2, 7, 8])
    negatives = np.array([[1, 1, 3], [4, 2, 0], [2, 5, 6], [0, 0, 0], [8, 1, 2]])   # repeats and hits
    layer = NegativeSamplingLoss(W, corpus=np.arange(V), sample_size=K, method="batched", seed=0)
    layer.sampler = FixedSampler(layer.sampler, negatives)
    loss = float(layer.forward(h, target))
    log_sig = lambda z: -np.log1p(np.exp(-z))
    naive = -sum(log_sig(h[b] @ W[target[b]]) + sum(log_sig(-(h[b] @ W[n])) for n in negatives[b])
                 for b in range(B)) / B
    assert loss == pytest.approx(naive, rel=1e-10)
    dh = layer.backward()
    f = lambda: float(layer.forward(h, target))
    np.testing.assert_allclose(dh, numerical_gradient(f, h), rtol=1e-6, atol=1e-8)
    layer.forward(h, target)
    layer.backward()
    np.testing.assert_allclose(layer.grads[0].to_dense(), numerical_gradient(f, W), rtol=1e-6, atol=1e-8)


def test_layers_agree_across_backends(xp):
    W = RNG.standard_normal((7, 3)).astype(np.float32)
    h = RNG.standard_normal((3, 3)).astype(np.float32)
    idx = IDS.reshape(3, 2)
    layer = EmbeddingDot(xp.asarray(W))
    out = layer.forward(xp.asarray(h), xp.asarray(idx))
    layer.backward(xp.ones_like(out))
    ref = EmbeddingDot(W)
    ref_out = ref.forward(h, idx)
    ref.backward(np.ones_like(ref_out))
    np.testing.assert_allclose(backend.to_numpy(out), ref_out, rtol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(layer.grads[0].to_dense()), ref.grads[0].to_dense(), rtol=1e-5)
