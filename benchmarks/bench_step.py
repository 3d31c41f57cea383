"""One fused training step (forward, backward, SGD update) of CBOW and skip-gram.

    pytest benchmarks/bench_step.py --benchmark-only
    GPU=1 pytest benchmarks/bench_step.py --benchmark-only

A step takes ``batch`` centers with H=100, V of PTB or enwiki, and window 5
shrunk at random per center as in the C tool (``2 * (5 - b)`` context words,
``b`` uniform in 0..4: 6 on average). CBOW averages each center's context; skip-gram
trains one (context, center) pair per context word, so about ``6 * batch`` pairs.
The negatives are drawn inside the timed call by the named sampler path, and the
updates applied with ``Word2Vec``'s default cap on a row's summed update
(``max_row_updates``), as the training loop does: the same batch trained a thousand
times without it diverges, and the figures would time arithmetic on inf and NaN.
``extra_info["words_per_s"]`` is centers per second.
"""
import inspect

import numpy as np
import pytest

from nsw2v import Word2Vec
from nsw2v.negative_sampling import UnigramSampler
from nsw2v.steps import CappedScatter, cbow_step, skipgram_step

from conftest import BATCH_SIZES, SAMPLE_SIZE, record_rate, timed, unigram_ids

H = 100
WINDOW = 5
LR = 0.025
CAP = inspect.signature(Word2Vec).parameters["max_row_updates"].default


def step_inputs(counts: np.ndarray, batch_size: int, seed: int = 0):
    """Host arrays: centers (B,), contexts (B, 2W) and the mask of a randomly shrunk window (mean 6 real)."""
    rng = np.random.default_rng(seed)
    centers = unigram_ids(counts, batch_size, seed)
    w_eff = WINDOW - rng.integers(0, WINDOW, batch_size)                  # 1..WINDOW
    offsets = np.array([o for o in range(-WINDOW, WINDOW + 1) if o])
    mask = np.abs(offsets)[None, :] <= w_eff[:, None]                      # (B, 2W)
    contexts = unigram_ids(counts, batch_size * 2 * WINDOW, seed + 1).reshape(batch_size, 2 * WINDOW)
    return centers, contexts, mask


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("vocab", ["ptb", "enwiki"])
@pytest.mark.parametrize("path", ["exclusion", "batched"])
@pytest.mark.parametrize("model", ["cbow", "skipgram"])
def bench_step(benchmark, xp, vocab_counts, model, path, vocab, batch_size):
    counts = vocab_counts(vocab)
    V = len(counts)
    rng = np.random.default_rng(1)
    W_in = xp.asarray(((rng.random((V, H)) - 0.5) / H).astype(np.float32))
    W_out = xp.asarray(((rng.random((V, H)) - 0.5) / H).astype(np.float32))
    centers_h, contexts_h, mask_h = step_inputs(counts, batch_size)
    rows_h = np.nonzero(mask_h)[0]
    centers, contexts, mask = xp.asarray(centers_h), xp.asarray(contexts_h), xp.asarray(mask_h)
    sampler = UnigramSampler(None, 0.75, SAMPLE_SIZE, method=path, seed=0, xp=xp, counts=counts)
    skip_hits = path == "batched"                    # as Word2Vec trains with each path
    scatter = CappedScatter(CAP)
    if model == "cbow":
        def fn():
            negatives = sampler.sample(centers)                                     # (B, K)
            return cbow_step(W_in, W_out, centers, contexts, mask, negatives, LR, skip_hits, scatter)
    else:
        def fn():
            negatives = sampler.sample(centers)                                     # (B, K), shared by a window
            return skipgram_step(W_in, W_out, centers, contexts, mask, negatives, LR, skip_hits, scatter)
    stats = timed(benchmark, xp, fn, group=f"step {model} {vocab} (V={V})",
                  model=model, path=path, vocab=vocab, vocab_size=V, batch_size=batch_size,
                  vector_size=H, examples=int(rows_h.size if model == "skipgram" else batch_size),
                  context_words=int(rows_h.size))
    record_rate(benchmark, stats, "words_per_s", batch_size)
    benchmark.extra_info["max_row_updates"] = CAP
    assert bool(xp.isfinite(W_in).all() & xp.isfinite(W_out).all()), "the timed steps diverged"
