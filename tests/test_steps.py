"""The fused training steps equal SGD on the chapter-4 layers' gradients (C-tool scaling)."""
import numpy as np
import pytest

from nsw2v import backend
from nsw2v.layers import Embedding
from nsw2v.models import CBOW
from nsw2v.negative_sampling import NegativeSamplingLoss
from nsw2v.steps import cbow_step, skipgram_step
from test_layers import FixedSampler

V, H, K = 12, 6, 3


def tables(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((V, H)).astype(np.float64) * 0.5, rng.standard_normal((V, H)).astype(np.float64) * 0.5


def test_cbow_step_is_sgd_on_the_layers_gradient(xp):
    rng = np.random.default_rng(1)
    B, C = 7, 4
    contexts = rng.integers(0, V, (B, C))
    contexts[0, :2] = 5                                 # duplicate ids on purpose
    target = rng.integers(0, V, B)
    negatives = rng.integers(0, V, (B, K)).astype(np.int32)
    negatives[negatives == target[:, None]] = (target[:, None].repeat(K, 1)[negatives == target[:, None]] + 1) % V
    W_in, W_out = tables()
    lr = 0.1
    # the layers (float64, on NumPy)
    model = CBOW(V, H, C // 2, np.arange(V), sample_size=K, xp="numpy")
    model.in_layer.params[0] = W_in.copy()
    model.ns_loss.embed_dot.embed.params[0] = W_out.copy()
    model.ns_loss.sampler = FixedSampler(model.ns_loss.sampler, negatives)
    loss = float(model.forward(contexts, target))
    model.backward()
    g_in, g_out = model.in_layer.grads[0].to_dense(), model.ns_loss.grads[0].to_dense()
    # the fused step
    Wi, Wo = xp.asarray(W_in.copy()), xp.asarray(W_out.copy())
    mask = xp.ones((B, C), dtype=bool)
    loss_sum = cbow_step(Wi, Wo, xp.asarray(target), xp.asarray(contexts), mask, xp.asarray(negatives), lr)
    assert backend.to_float(loss_sum) == pytest.approx(loss * B, rel=1e-9)
    # C tool scaling: no 1/B, and each context word receives the whole hidden error (no 1/C)
    np.testing.assert_allclose(backend.to_numpy(Wo) - W_out, -lr * B * g_out, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(Wi) - W_in, -lr * B * C * g_in, rtol=1e-7, atol=1e-12)


def test_skipgram_step_is_sgd_on_the_layers_gradient(xp):
    """Each (context input, center output) pair is one NegativeSamplingLoss row with its center's negatives."""
    rng = np.random.default_rng(2)
    B, C = 4, 4
    contexts = rng.integers(0, V, (B, C))
    contexts[0, :2] = 4                                 # duplicates
    mask = np.array([[1, 1, 1, 1], [0, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 1]], dtype=bool)
    centers = rng.integers(0, V, B)
    negatives = ((centers[:, None] + rng.integers(1, V, (B, K))) % V).astype(np.int32)   # never the center
    W_in, W_out = tables(3)
    rows, cols = np.nonzero(mask)
    embed = Embedding(W_in.copy())
    ns = NegativeSamplingLoss(W_out.copy(), np.arange(V), sample_size=K, method="batched")
    ns.sampler = FixedSampler(ns.sampler, negatives[rows])
    N = len(rows)
    loss = float(ns.forward(embed.forward(contexts[rows, cols]), centers[rows]))
    embed.backward(ns.backward())
    lr = 0.05
    Wi, Wo = xp.asarray(W_in.copy()), xp.asarray(W_out.copy())
    loss_sum = skipgram_step(Wi, Wo, xp.asarray(centers), xp.asarray(contexts), xp.asarray(mask),
                             xp.asarray(negatives), lr)
    assert backend.to_float(loss_sum) == pytest.approx(loss * N, rel=1e-9)
    np.testing.assert_allclose(backend.to_numpy(Wo) - W_out, -lr * N * ns.grads[0].to_dense(), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(Wi) - W_in, -lr * N * embed.grads[0].to_dense(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("model", ["cbow", "skipgram"])
def test_negatives_equal_to_the_output_are_skipped(xp, model):
    step = cbow_step if model == "cbow" else skipgram_step
    W_in, W_out = tables(4)
    centers = xp.asarray([3, 4])
    contexts = xp.asarray([[1, 2], [5, 6]])
    mask = xp.ones((2, 2), dtype=bool)
    hits = xp.asarray([[3, 3], [4, 4]], dtype=xp.int32)
    a_in, a_out = xp.asarray(W_in.copy()), xp.asarray(W_out.copy())
    b_in, b_out = xp.asarray(W_in.copy()), xp.asarray(W_out.copy())
    loss_a = step(a_in, a_out, centers, contexts, mask, hits, 0.1, skip_hits=True)
    loss_b = step(b_in, b_out, centers, contexts, mask, xp.zeros((2, 0), dtype=xp.int32), 0.1)
    np.testing.assert_allclose(backend.to_numpy(a_out), backend.to_numpy(b_out))
    np.testing.assert_allclose(backend.to_numpy(a_in), backend.to_numpy(b_in))
    assert backend.to_float(loss_a) == pytest.approx(backend.to_float(loss_b))


def test_cbow_step_ignores_masked_context_slots(xp):
    """A row with masked slots equals the same row given only its real context words."""
    W_in, W_out = tables(5)
    centers = xp.asarray([2, 7])
    negatives = xp.asarray([[1, 3], [4, 5]], dtype=xp.int32)
    contexts = xp.asarray([[8, 9, 10, 11], [0, 6, 6, 3]])
    mask = xp.asarray([[True, False, True, False], [True, True, True, True]])
    a_in, a_out = xp.asarray(W_in.copy()), xp.asarray(W_out.copy())
    loss_a = cbow_step(a_in, a_out, centers, contexts, mask, negatives, 0.1)
    b_in, b_out = xp.asarray(W_in.copy()), xp.asarray(W_out.copy())
    loss_b = cbow_step(b_in, b_out, centers[:1], xp.asarray([[8, 10]]), xp.ones((1, 2), dtype=bool),
                       negatives[:1], 0.1)
    loss_b = loss_b + cbow_step(b_in, b_out, centers[1:], contexts[1:], mask[1:], negatives[1:], 0.1)
    # rows 0 and 1 share no output rows, so two separate steps equal one joint step
    np.testing.assert_allclose(backend.to_numpy(a_in), backend.to_numpy(b_in), rtol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(a_out), backend.to_numpy(b_out), rtol=1e-12)
    assert backend.to_float(loss_a) == pytest.approx(backend.to_float(loss_b), rel=1e-12)


# A vocabulary of 6 rows counts hits with bincount; one of 5000 rows (> 256 x the 7 entries)
# takes the sort-based count. Both must give the same result.
@pytest.mark.parametrize("vocab_size", [6, 5000])
def test_capped_scatter_scales_only_rows_hit_more_than_cap(xp, vocab_size):
    from nsw2v.steps import CappedScatter
    table = xp.zeros((vocab_size, 2), dtype=xp.float32)
    scatter = CappedScatter(cap=2)
    ids = xp.asarray([1, 3, 3, 5, 5, 5, 5])
    values = xp.asarray([[1, 1], [1, 2], [3, 4], [1, 0], [1, 0], [1, 0], [1, 0]], dtype=xp.float32)
    before = backend.to_numpy(values).copy()
    scatter(table, ids, values)
    # row 1: 1 hit, row 3: 2 hits (exact sums); row 5: 4 hits > cap 2, so half its sum
    np.testing.assert_allclose(backend.to_numpy(table)[:6],
                               [[0, 0], [1, 1], [0, 0], [4, 6], [0, 0], [2, 0]])
    assert not backend.to_numpy(table)[6:].any()
    np.testing.assert_array_equal(backend.to_numpy(values), before)      # the caller's values are untouched
    scatter(table, ids, values)                                          # no state carried between steps
    np.testing.assert_allclose(backend.to_numpy(table)[5], [4, 0])


@pytest.mark.parametrize("vocab_size", [4, 5000])
def test_capped_scatter_counts_weighted_entries(xp, vocab_size):
    """In skip-gram one output entry sums the updates of all its center's context words."""
    from nsw2v.steps import CappedScatter
    table = xp.zeros((vocab_size, 1), dtype=xp.float32)
    scatter = CappedScatter(cap=4)
    scatter(table, xp.asarray([2, 2, 0]), xp.asarray([[1.0], [1.0], [1.0]], dtype=xp.float32),
            xp.asarray([3, 5, 4]))
    # 8 updates' worth on row 2 > cap 4: half of the summed 2.0; row 0 at the cap keeps its sum
    np.testing.assert_allclose(backend.to_numpy(table)[:4, 0], [1, 0, 1, 0])
