"""End-to-end ``Word2Vec`` training: CBOW, 1 epoch, default settings, on 1M enwiki tokens.

    pytest benchmarks/bench_train.py --benchmark-only
    GPU=1 pytest benchmarks/bench_train.py --benchmark-only
    NSW2V_TRAIN_ROUNDS=1 pytest benchmarks/bench_train.py --benchmark-only -k batched
    NSW2V_TRAIN_TOKENS=50000 NSW2V_TRAIN_ROUNDS=1 pytest benchmarks/bench_train.py --benchmark-only  # smoke test

The first 1,000,000 tokens of the enwiki corpus are written once to
``benchmarks/.cache/enwiki-1000k.txt`` (lines of 10000 tokens). Each round builds
the vocabulary and trains (``Word2Vec(corpus_file=...)``), so the round time
includes counting; ``extra_info["words_per_s"]`` is in-vocabulary words over
``model.train_seconds`` (training alone, as the C tool reports it) and
``words_per_s_wall`` the same words over the whole round.

Memory: ``peak_rss_mb`` is the process's high-water mark of resident memory
(``getrusage(RUSAGE_SELF).ru_maxrss``) after the benchmark and ``rss_growth_mb``
how much this benchmark raised it; run one benchmark alone (``-k``) for a clean
figure, since an earlier one in the same process may already have set a higher
mark. On CuPy, ``cupy_used_mb``/``cupy_pool_mb`` are the default memory pool's
``used_bytes()``/``total_bytes()`` after the last round, its model still alive.
"""
import os
import resource
import sys

import numpy as np
import pytest

from nsw2v import Word2Vec, backend
from nsw2v.corpus import LineSentence

from conftest import CACHE, CORPORA, data_path, record_rate, timed

SLICE_TOKENS = int(os.environ.get("NSW2V_TRAIN_TOKENS", "1000000"))     # smaller only for smoke tests
LINE_TOKENS = 10_000
ROUNDS = int(os.environ.get("NSW2V_TRAIN_ROUNDS", "3"))


def corpus_slice(tokens: int = SLICE_TOKENS) -> str:
    """The first ``tokens`` tokens of enwiki as a plain file of 10000-token lines (written once)."""
    path = CACHE / f"enwiki-{tokens // 1000}k.txt"
    if not path.exists():
        source = data_path(CORPORA["enwiki"])
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        left = tokens
        with open(tmp, "w", encoding="utf-8") as out:
            for sentence in LineSentence(source, LINE_TOKENS):
                piece = sentence[:left]
                out.write(" ".join(piece) + "\n")
                left -= len(piece)
                if left == 0:
                    break
        os.replace(tmp, path)
    return str(path)


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10     # bytes on macOS, KiB on Linux


@pytest.mark.parametrize("sampler", ["exclusion", "batched"])
def bench_train_cbow(benchmark, xp, sampler):
    path = corpus_slice()
    warm = corpus_slice(20_000)
    # Warm-up on a small slice: CuPy compiles its kernels, NumPy pages in its code.
    Word2Vec(corpus_file=warm, epochs=1, sampler=sampler, xp=xp, verbose=False)
    backend.synchronize(xp)
    rss_before = _maxrss_mb()
    models = []
    last = []

    def train():
        last.clear()                 # let the previous round's model go before this one is built
        model = Word2Vec(corpus_file=path, epochs=1, sg=0, sampler=sampler, xp=xp, verbose=False)
        models.append((model.vocab.total_words, model.train_seconds, len(model.vocab), model.batch_size))
        last.append(model)

    stats = timed(benchmark, xp, train, warmup=0, rounds=ROUNDS,
                  group=f"train cbow 1 epoch, enwiki {SLICE_TOKENS:,} tokens",
                  path=sampler, vocab=f"enwiki-{SLICE_TOKENS // 1000}k", corpus_tokens=SLICE_TOKENS)
    words, _, vocab_size, batch_size = models[-1]
    train_seconds = float(np.median([m[1] for m in models]))
    benchmark.extra_info.update(batch_size=batch_size, vocab_size=vocab_size, words=words,
                                train_seconds=train_seconds, words_per_s=words / train_seconds,
                                peak_rss_mb=_maxrss_mb(), rss_growth_mb=_maxrss_mb() - rss_before,
                                memory_measure="ru_maxrss (process high-water mark)")
    record_rate(benchmark, stats, "words_per_s_wall", words)
    if backend.is_cupy(xp):
        pool = xp.get_default_memory_pool()
        benchmark.extra_info.update(cupy_used_mb=pool.used_bytes() / 2**20, cupy_pool_mb=pool.total_bytes() / 2**20)
