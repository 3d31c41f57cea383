"""Shared fixtures of the benchmarks: the backend, real vocabulary counts, and a timing helper.

    pytest benchmarks/ --benchmark-only                    # NumPy
    GPU=1 pytest benchmarks/ --benchmark-only              # CuPy
    pytest benchmarks/ --benchmark-only --benchmark-min-rounds=1 -k "ptb and 100"   # a quick look

The ``xp`` fixture is the default backend (``GPU=1`` chooses CuPy), so one run
times one backend; compare backends only across runs taken on the same machine.
Data is found in ``../shared/data`` beside the checkout, or under ``$NSW2V_DATA``.
"""
from __future__ import annotations

import os
import shlex
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pytest

from nsw2v import backend
from nsw2v.corpus import LineSentence
from nsw2v.vocab import Vocab

from _shared import CACHE, CORPORA, DATA

MIN_COUNT = 5
BATCH_SIZES = (100, 1024, 4096, 16384)
SAMPLE_SIZE = 5


def data_path(relative: str) -> Path:
    """A file under the data folder, or skip saying where it was looked for."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (set NSW2V_DATA to the folder holding corpora/ and eval/)")
    return path


@lru_cache(maxsize=None)
def _vocab_counts(name: str) -> np.ndarray:
    """int64 (V,) counts of a corpus at min_count=5, cached as .npy (rebuilt when the corpus is newer)."""
    cached = CACHE / f"{name}-min{MIN_COUNT}-counts.npy"
    source = DATA / CORPORA[name]
    if cached.exists() and (not source.exists() or cached.stat().st_mtime >= source.stat().st_mtime):
        return np.load(cached)                 # the cache alone will do where the corpus is absent
    source = data_path(CORPORA[name])
    counts = Vocab.build(LineSentence(source), min_count=MIN_COUNT).counts
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp.npy")
    np.save(tmp, counts)
    os.replace(tmp, cached)
    return counts


@pytest.fixture(scope="session")
def xp():
    """The default array module: CuPy under ``GPU=1``, else NumPy."""
    return backend.get_default_xp()


@pytest.fixture(scope="session")
def ptb_counts() -> np.ndarray:
    return _vocab_counts("ptb")


@pytest.fixture(scope="session")
def enwiki_counts() -> np.ndarray:
    return _vocab_counts("enwiki")


@pytest.fixture(scope="session")
def vocab_counts() -> Callable[[str], np.ndarray]:
    """``vocab_counts("ptb" | "enwiki")``: the counts, loaded once per session."""
    return _vocab_counts


@lru_cache(maxsize=None)
def device_info(xp_name: str) -> dict:
    """What to record about the backend: its name, and the GPU's name on CuPy."""
    info = {"backend": xp_name}
    if xp_name == "cupy":
        cupy = backend.resolve_xp("cupy")
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        info["cupy"] = cupy.__version__
    return info


def command_line() -> str:
    """How this run was started, for the report (``GPU=1 pytest benchmarks/ ...``)."""
    prog = Path(sys.argv[0]).name
    prog = "python -m pytest" if prog == "__main__.py" else prog
    gpu = os.environ.get("GPU", "")
    return " ".join(([f"GPU={gpu}"] if gpu else []) + [prog] + [shlex.quote(a) for a in sys.argv[1:]])


def timed(benchmark: Any, xp: Any, fn: Callable[[], Any], *, warmup: int = 1,
          rounds: Optional[int] = None, group: Optional[str] = None, **extra: Any) -> Any:
    """Time ``fn()`` with the device synchronised inside the timed call; return the benchmark stats.

    ``warmup`` untimed calls come first (CuPy compiles its kernels on first use).
    With ``rounds=None`` pytest-benchmark calibrates the number of rounds itself
    (``--benchmark-min-rounds``, ``--benchmark-max-time`` apply); otherwise exactly
    ``rounds`` rounds of one call run under ``benchmark.pedantic``. ``extra`` goes
    into ``extra_info`` with the backend, the GPU's name and the command line.
    """
    def call():
        out = fn()
        backend.synchronize(xp)
        return out

    if group is not None:
        benchmark.group = group
    benchmark.extra_info.update(device_info(xp.__name__))
    benchmark.extra_info["command"] = command_line()
    benchmark.extra_info.update(extra)
    if rounds is None:
        for _ in range(warmup):
            call()
        benchmark(call)
    else:
        benchmark.pedantic(call, rounds=rounds, iterations=1, warmup_rounds=warmup)
    meta = getattr(benchmark, "stats", None)          # None under --benchmark-disable
    return None if meta is None else meta.stats


def record_rate(benchmark: Any, stats: Any, key: str, items: float) -> None:
    """``extra_info[key]`` = items per second of the median round (when timings were taken)."""
    if stats is not None and stats.median > 0:
        benchmark.extra_info[key] = items / stats.median


def unigram_ids(counts: np.ndarray, size: Any, seed: int) -> np.ndarray:
    """int32 ids drawn in proportion to ``counts`` (what a subsampled corpus would feed), on the host."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(counts, dtype=np.float64)
    return np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right").astype(np.int32)
