"""The walk-in-order rules (nsw2v.training.walk): its draws against exact laws, and the sequential
reference against float64 gradients. The compiled engines are tested against this reference."""
import math

import numpy as np
import pytest

from nsw2v.training import walk
from nsw2v.vocab import Vocab
from conftest import chi2_critical, chi2_statistic, numerical_gradient


def test_mix_is_splitmix64():
    # splitmix64 from state 0 (Steele, Lea and Flood, 2014): its first three outputs
    assert [walk.mix(n * walk.GAMMA & walk.MASK) for n in range(3)] == \
        [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_array_draws_are_the_scalar_draws():
    key = walk.chunk_key(7, 2, 3, rank=1)
    q = np.arange(0, 5000, 37, dtype=np.uint64)
    got = walk.draws(np, key, q, 5)
    assert got.dtype == np.uint64
    assert [int(x) for x in got] == [walk.draw(key, int(i), 5) for i in q]
    assert len({walk.chunk_key(1, e, c, r) for e in range(3) for c in range(3) for r in range(3)}) == 27


def small_vocab(counts=(50, 20, 12, 9, 5, 3, 1)):
    return Vocab([f"w{i}" for i in range(len(counts))], np.array(counts))


def test_batched_negatives_follow_counts_to_the_power():
    vocab = small_vocab()
    tables = walk.Tables.of(vocab, 0.75, 0.0)
    key = walk.chunk_key(1, 0, 0)
    n = 4000
    drawn = np.array([walk.negatives(walk.center_key(key, q), 0, 5, False, tables) for q in range(n)]).ravel()
    expected = tables.p * drawn.size
    observed = np.bincount(drawn, minlength=len(vocab))
    assert chi2_statistic(observed, expected) < chi2_critical(len(vocab) - 1)
    assert (drawn == 0).any()                      # the batched path may draw the center (skipped when training)


def test_exclusion_negatives_have_the_law_of_choice_without_replacement():
    vocab = small_vocab((30, 20, 10, 6, 4))
    tables = walk.Tables.of(vocab, 0.75, 0.0)
    p, center = tables.p, 0
    key = walk.chunk_key(3, 1, 4)
    pairs = np.zeros((5, 5))
    n = 20000
    for q in range(n):
        a, b = walk.negatives(walk.center_key(key, q), center, 2, True, tables)
        assert center not in (a, b) and a != b
        pairs[a, b] += 1
    exact = np.zeros((5, 5))                       # choice(5, 2, replace=False, p=p without the center)
    for a in range(5):
        for b in range(5):
            if center not in (a, b) and a != b:
                exact[a, b] = p[a] / (1 - p[center]) * p[b] / (1 - p[center] - p[a])
    assert exact.sum() == pytest.approx(1.0)
    assert chi2_statistic(pairs.ravel(), exact.ravel() * n) < chi2_critical(11)


def test_exclusion_falls_back_to_the_exact_law_when_the_center_holds_the_mass(monkeypatch):
    vocab = small_vocab((10_000_000, 1, 1))
    tables = walk.Tables.of(vocab, 1.0, 0.0)
    monkeypatch.setattr(walk, "MAX_DRAWS", 4)      # reached at once: nearly every draw is the center
    key = walk.chunk_key(1, 0, 0)
    got = [tuple(walk.negatives(walk.center_key(key, q), 0, 2, True, tables)) for q in range(400)]
    assert set(got) == {(1, 2), (2, 1)}
    assert 120 < sum(g == (1, 2) for g in got) < 280  # equal words: each order half the time


def test_subsampling_keeps_each_word_with_the_c_tools_probability():
    counts = np.array([40_000, 3_000, 500, 10])
    vocab = Vocab(["a", "b", "c", "d"], counts)
    tables = walk.Tables.of(vocab, 0.75, 1e-3)
    ids = np.repeat(np.arange(4, dtype=np.int32), counts)
    kept, kept_sid = walk.subsample(np, ids, np.zeros_like(ids), tables.keep, walk.chunk_key(5, 0, 0))
    p_keep = vocab.keep_probabilities(1e-3).astype(np.float64)
    for word in range(4):
        n, k = counts[word], int((kept == word).sum())
        assert abs(k - n * p_keep[word]) <= 4 * math.sqrt(n * p_keep[word] * (1 - p_keep[word])) + 1e-9, word
    assert p_keep[3] == 1 and (kept == 3).sum() == 10
    assert len(kept_sid) == len(kept)


def test_window_reach_is_uniform_and_contexts_stay_in_their_sentence():
    key = walk.chunk_key(2, 0, 0)
    window, n = 5, 10000
    reach = [window - (((walk.mix(walk.center_key(key, q) ^ walk.WINDOW) >> 32) * window) >> 32) for q in range(n)]
    observed = np.bincount(reach, minlength=window + 1)[1:]
    assert chi2_statistic(observed, np.full(window, n / window)) < chi2_critical(window - 1)
    sid = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    assert walk.window_contexts(1, 5, sid) == [0, 2]
    assert walk.window_contexts(3, 5, sid) == [4]
    assert walk.window_contexts(7, 1, sid) == [6, 8]
    assert walk.window_contexts(5, 2, sid) == [6, 7]


def center_loss(W_in, W_out, contexts, outputs, sg):
    """The loss of one center from float64 tables: -log sigma(s_0) - sum log sigma(-s_k)."""
    x = W_in[contexts]
    x = x if sg else x.mean(axis=0, keepdims=True)
    s = x @ W_out[outputs].T
    sign = np.array([1.0] + [-1.0] * (len(outputs) - 1))
    return float(np.logaddexp(0, -(s * sign)).sum())


@pytest.mark.parametrize("sg", [0, 1])
def test_each_center_is_one_step_down_its_float64_gradient(sg):
    """Reads before writes, centers in order: each center's update is -lr times the float64 gradient of its
    loss at the tables the centers before it left (CBOW: each context row gets the error of h whole, the C
    tool's rule, i.e. C times its share of the gradient)."""
    rng = np.random.default_rng(sg)
    V, H, K, lr = 9, 6, 3, 0.1
    W_in = (rng.standard_normal((V, H)) * 0.5).astype(np.float32)
    W_out = (rng.standard_normal((V, H)) * 0.5).astype(np.float32)
    tables = walk.Tables.of(small_vocab(tuple(range(100, 100 - 7 * V, -7))), 0.75, 0.0)
    ids = np.array([3, 4, 1, 7], dtype=np.int32)
    sid = np.array([0, 0, 0, 1])            # window 1 (reach always 1): contexts [4], [3, 1], [4]; 7 alone
    key = walk.chunk_key(11, 0, 0)
    got_in, got_out = W_in.copy(), W_out.copy()
    loss, examples = walk.reference(got_in, got_out, ids, sid, key, tables, 1, 1, K, sg, True, lr, lr)
    assert examples == (4 if sg else 3)
    want_in, want_out = W_in.astype(np.float64), W_out.astype(np.float64)
    want_loss = 0.0
    for q, contexts in ((0, [4]), (1, [3, 1]), (2, [4])):
        outputs = [int(ids[q])] + walk.negatives(walk.center_key(key, q), int(ids[q]), K, True, tables)
        want_loss += center_loss(want_in, want_out, contexts, outputs, sg)
        g_in = numerical_gradient(lambda: center_loss(want_in, want_out, contexts, outputs, sg), want_in)
        g_out = numerical_gradient(lambda: center_loss(want_in, want_out, contexts, outputs, sg), want_out)
        want_in -= lr * g_in * (1 if sg else len(contexts))
        want_out -= lr * g_out
    assert loss == pytest.approx(want_loss, rel=1e-5)
    np.testing.assert_allclose(got_in, want_in, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sg", [0, 1])
def test_an_untrained_model_reports_one_plus_k_ln2_per_example(sg):
    """Output rows start at zero: every score is 0 and every term costs ln 2, for the first center trained."""
    vocab = small_vocab()
    tables = walk.Tables.of(vocab, 0.75, 0.0)
    ids = np.array([0, 1, 2], dtype=np.int32)
    W_in = np.ones((len(vocab), 4), dtype=np.float32)
    W_out = np.zeros((len(vocab), 4), dtype=np.float32)
    key = walk.chunk_key(1, 0, 0)
    reach = 3 - (((walk.mix(walk.center_key(key, 0) ^ walk.WINDOW) >> 32) * 3) >> 32)
    loss, examples = walk.reference(W_in, W_out, ids[:1 + reach][:2], np.zeros(2), key, tables, 1, 3, 5, sg,
                                    True, 0.0, 0.0)   # lr 0: nothing moves, every center sees zero rows
    assert examples == 2
    assert loss == pytest.approx(examples * 6 * math.log(2))


def test_streams_change_only_the_learning_rate_of_each_position():
    """The draws depend on the position, not on the stream: with one rate for the chunk, any cut into
    streams trains exactly the same tables in the reference (which walks the streams one after another)."""
    rng = np.random.default_rng(4)
    vocab = small_vocab((60, 40, 30, 20, 15, 10, 8, 5, 3, 2))
    tables = walk.Tables.of(vocab, 0.75, 0.0)
    ids = rng.integers(0, len(vocab), 300).astype(np.int32)
    sid = np.repeat(np.arange(30), 10)
    W_in = (rng.random((len(vocab), 8), dtype=np.float32) - 0.5) / 8
    W_out = np.zeros_like(W_in)
    key = walk.chunk_key(1, 0, 0)
    runs = []
    for streams in (1, 7):
        a, b = W_in.copy(), W_out.copy()
        runs.append((walk.reference(a, b, ids, sid, key, tables, streams, 3, 4, 0, True, 0.05, 0.05), a, b))
    (first, a1, b1), (second, a7, b7) = runs
    assert first == second
    np.testing.assert_array_equal(a1, a7)
    np.testing.assert_array_equal(b1, b7)
    a, b = W_in.copy(), W_out.copy()
    walk.reference(a, b, ids, sid, key, tables, 7, 3, 4, 0, True, 0.05, 0.0)   # rates differ by stream now
    assert not np.array_equal(a, a1)


@pytest.mark.parametrize("sg", [0, 1])
def test_the_reference_learns(sg):
    """Two words that always share contexts end nearer each other than words that never do; the loss falls."""
    rng = np.random.default_rng(sg)
    sentences = []
    for _ in range(400):
        left = rng.choice(["cat", "dog"])
        right = rng.choice(["car", "bus"])
        sentences.append(["the", str(left), "eats", "the", "food", "and", "the", str(right), "drives", "fast"])
    vocab = Vocab.build(sentences, min_count=1)
    ids = np.array([vocab.key_to_index[w] for s in sentences for w in s], dtype=np.int32)
    sid = np.repeat(np.arange(len(sentences)), 10)
    tables = walk.Tables.of(vocab, 0.75, 0.0)
    H = 16
    W_in = ((rng.random((len(vocab), H)) - 0.5) / H).astype(np.float32)
    W_out = np.zeros_like(W_in)
    losses = []
    for epoch in range(4):
        loss, examples = walk.reference(W_in, W_out, ids, sid, walk.chunk_key(1, epoch, 0), tables, 1, 2, 3, sg,
                                        True, 0.05, 0.05)
        losses.append(loss / examples)
    assert losses[-1] < losses[0] - 0.15
    unit = W_in / np.linalg.norm(W_in, axis=1, keepdims=True)
    sim = lambda a, b: float(unit[vocab.key_to_index[a]] @ unit[vocab.key_to_index[b]])   # noqa: E731
    assert sim("cat", "dog") > sim("cat", "car") + 0.2
    assert sim("car", "bus") > sim("bus", "dog") + 0.2
