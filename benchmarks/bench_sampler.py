"""Negative sampling: the book's per-row loop against the exclusion and batched paths.

    pytest benchmarks/bench_sampler.py --benchmark-only
    GPU=1 pytest benchmarks/bench_sampler.py --benchmark-only

Each call draws ``(batch, 5)`` negatives for ``batch`` targets taken in proportion
to the corpus counts, with ``counts ** 0.75`` of the PTB (~10k words) or enwiki
(~79k words) vocabulary. The reference loop (one ``choice(replace=False)`` per
row) runs on NumPy at batch sizes 100 and 1024 only: it is the slow baseline.
``extra_info["negatives_per_s"]`` is ``batch * 5`` over the median call.
"""
import numpy as np
import pytest

from nsw2v import backend
from nsw2v.negative_sampling import UnigramSampler, reference_negative_sample

from conftest import BATCH_SIZES, SAMPLE_SIZE, record_rate, timed, unigram_ids

PATHS = ("reference", "exclusion", "batched")
REFERENCE_BATCHES = (100, 1024)


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("vocab", ["ptb", "enwiki"])
@pytest.mark.parametrize("path", PATHS)
def bench_negative_sampling(benchmark, xp, vocab_counts, path, vocab, batch_size):
    if path == "reference" and backend.is_cupy(xp):
        pytest.skip("the reference loop is NumPy only")
    if path == "reference" and batch_size not in REFERENCE_BATCHES:
        pytest.skip(f"the reference loop is timed at batch sizes {REFERENCE_BATCHES} only")
    counts = vocab_counts(vocab)
    target_host = unigram_ids(counts, batch_size, seed=0)
    if path == "reference":
        word_p = UnigramSampler(None, 0.75, SAMPLE_SIZE, xp="numpy", counts=counts).word_p
        random_state = np.random.RandomState(0)
        fn = lambda: reference_negative_sample(word_p, target_host, SAMPLE_SIZE, random_state)  # noqa: E731
    else:
        sampler = UnigramSampler(None, 0.75, SAMPLE_SIZE, method=path, seed=0, xp=xp, counts=counts)
        target = xp.asarray(target_host)
        fn = lambda: sampler.sample(target)  # noqa: E731  (the training loop's call: ids already checked)
    stats = timed(benchmark, xp, fn, group=f"sampler {vocab} (V={len(counts)})",
                  path=path, vocab=vocab, vocab_size=int(len(counts)), batch_size=batch_size,
                  sample_size=SAMPLE_SIZE)
    record_rate(benchmark, stats, "negatives_per_s", batch_size * SAMPLE_SIZE)
