"""The unigram sampler's two paths, against exact probabilities and the book's loop.

Distribution tests are chi-square tests at a significance of 0.001 with fixed seeds
(so a correct sampler fails one of them about once in a thousand seeds).
"""
import itertools

import numpy as np
import pytest

from nsw2v import backend
from nsw2v.negative_sampling import UnigramSampler, reference_negative_sample
from conftest import chi2_critical, chi2_statistic

COUNTS = np.array([50, 20, 10, 8, 5, 3, 2, 1, 1])
POWER = 0.75


def word_p(counts=COUNTS, power=POWER):
    p = counts.astype(np.float64) ** power
    return p / p.sum()


def exact_ordered_probabilities(p, target, k):
    """P(negatives == tuple) for successive draws without replacement, target excluded."""
    probs = {}
    others = [i for i in range(len(p)) if i != target]
    for combo in itertools.permutations(others, k):
        prob, left = 1.0, 1.0 - p[target]
        for i in combo:
            prob *= p[i] / left
            left -= p[i]
        probs[combo] = prob
    return probs


def tuple_chi2(samples: np.ndarray, probs: dict) -> tuple:
    keys = list(probs)
    index = {key: i for i, key in enumerate(keys)}
    observed = np.zeros(len(keys))
    for row in map(tuple, samples.tolist()):
        assert row in index, f"impossible sample {row}"
        observed[index[row]] += 1
    expected = np.array([probs[k] for k in keys]) * len(samples)
    return chi2_statistic(observed, expected), len(keys) - 1


def test_batched_path_frequencies_follow_count_power(xp):
    sampler = UnigramSampler(None, POWER, 5, method="batched", seed=1, xp=xp, counts=COUNTS)
    target = xp.zeros(40000, dtype=xp.int32)
    neg = backend.to_numpy(sampler.get_negative_sample(target))
    assert neg.shape == (40000, 5) and neg.dtype == np.int32
    observed = np.bincount(neg.ravel(), minlength=len(COUNTS))
    stat = chi2_statistic(observed, word_p() * neg.size)
    assert stat < chi2_critical(len(COUNTS) - 1)
    assert (neg == 0).any()                     # the batched path may draw the target


def test_exclusion_path_excludes_target_and_repeats(xp):
    corpus = xp.asarray(np.repeat(np.arange(len(COUNTS)), COUNTS))
    sampler = UnigramSampler(corpus, POWER, 4, method="exclusion", seed=2, xp=xp)
    target = xp.asarray(np.tile(np.arange(len(COUNTS)), 2000))
    neg = backend.to_numpy(sampler.get_negative_sample(target))
    t = backend.to_numpy(target)
    assert not (neg == t[:, None]).any()
    s = np.sort(neg, axis=1)
    assert not (s[:, 1:] == s[:, :-1]).any()


@pytest.mark.parametrize("target", [0, 4])
def test_exclusion_path_has_the_exact_without_replacement_distribution(xp, target):
    k = 3
    probs = exact_ordered_probabilities(word_p(), target, k)
    sampler = UnigramSampler(None, POWER, k, method="exclusion", seed=3, xp=xp, counts=COUNTS)
    neg = backend.to_numpy(sampler.get_negative_sample(xp.full(60000, target, dtype=xp.int32)))
    stat, df = tuple_chi2(neg, probs)
    assert stat < chi2_critical(df)


def test_books_per_row_loop_has_the_same_distribution():
    target, k = 0, 3
    probs = exact_ordered_probabilities(word_p(), target, k)
    neg = reference_negative_sample(word_p(), np.full(20000, target), k, np.random.RandomState(4))
    stat, df = tuple_chi2(neg, probs)
    assert stat < chi2_critical(df)


def test_exclusion_path_when_the_target_holds_almost_all_the_mass():
    # Rejection alone would need hundreds of rounds here; the exact fallback takes over.
    counts = np.array([100000, 3, 2, 1, 1])
    p = word_p(counts, 1.0)
    sampler = UnigramSampler(None, 1.0, 2, method="exclusion", seed=5, xp="numpy", counts=counts)
    neg = sampler.get_negative_sample(np.zeros(4000, dtype=np.int32))
    stat, df = tuple_chi2(neg, exact_ordered_probabilities(p, 0, 2))
    assert stat < chi2_critical(df)


def test_default_path_depends_on_backend(xp):
    sampler = UnigramSampler(np.arange(10), POWER, 2, xp=xp)
    assert sampler.method == ("batched" if backend.is_cupy(xp) else "exclusion")
    assert UnigramSampler(np.arange(10), POWER, 2, xp=xp, method="exclusion").method == "exclusion"


def test_same_seed_same_samples(xp):
    a = UnigramSampler(None, POWER, 3, seed=9, xp=xp, counts=COUNTS).get_negative_sample(xp.arange(9))
    b = UnigramSampler(None, POWER, 3, seed=9, xp=xp, counts=COUNTS).get_negative_sample(xp.arange(9))
    np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="sample_size=9 is larger than the 8 other words"):
        UnigramSampler(None, POWER, 9, method="exclusion", xp="numpy", counts=COUNTS)
    UnigramSampler(None, POWER, 9, method="batched", xp="numpy", counts=COUNTS)   # allowed with replacement
    with pytest.raises(ValueError, match="power=-0.5 must be >= 0"):
        UnigramSampler(np.arange(5), -0.5, 2, xp="numpy")
    with pytest.raises(ValueError, match="corpus is empty"):
        UnigramSampler(np.array([], dtype=np.int32), POWER, 2, xp="numpy")
    with pytest.raises(ValueError, match="negative word id"):
        UnigramSampler(np.array([0, -1, 2]), POWER, 1, xp="numpy")
    with pytest.raises(ValueError, match="method='uniform'"):
        UnigramSampler(np.arange(5), POWER, 2, method="uniform", xp="numpy")
    sampler = UnigramSampler(np.arange(5), POWER, 2, xp="numpy")
    with pytest.raises(ValueError, match="target holds word id 5, out of range for a vocabulary of 5"):
        sampler.get_negative_sample(np.array([0, 5]))


@pytest.mark.parametrize("counts", [COUNTS, np.array([7]), np.array([0, 5, 0, 5]), np.array([10 ** 9, 1, 1, 3]),
                                    np.random.default_rng(3).integers(0, 1000, 5000),
                                    np.random.default_rng(4).zipf(1.3, 300_000)])   # running sums of 300k terms
def test_alias_table_gives_exactly_the_distribution(counts):
    """Each id's probability implied by (accept, alias) is p to float64 rounding; p = 0 is never drawn."""
    from nsw2v.negative_sampling import alias_table
    p = word_p(counts)
    accept, alias = alias_table(p)
    n = len(p)
    assert ((accept >= 0) & (accept <= 1)).all() and ((alias >= 0) & (alias < n)).all()
    implied = accept.copy()
    np.add.at(implied, alias, 1.0 - accept)
    np.testing.assert_allclose(implied / n, p, rtol=1e-9, atol=1e-15)
    zero = p == 0
    assert not (accept[zero] > 0).any() and not (zero[alias] & (accept < 1)).any()
