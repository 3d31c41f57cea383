"""Shared fixtures: the ``xp`` fixture runs a test on NumPy, and on CuPy where a GPU is usable."""
import os
from pathlib import Path

import numpy as np
import pytest

from nsw2v import backend

# ../shared/data beside the checkout, or NSW2V_DATA (e.g. on a machine where it lies elsewhere)
DATA = Path(os.environ.get("NSW2V_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def _cupy_param():
    if backend.gpu_available():
        return pytest.param("cupy", marks=pytest.mark.gpu)
    return pytest.param("cupy", marks=[pytest.mark.gpu,
                                       pytest.mark.skip(reason="CuPy or a usable CUDA device is absent")])


@pytest.fixture(params=["numpy", _cupy_param()])
def xp(request):
    return backend.resolve_xp(request.param)


def data_file(relative: str) -> Path:
    """A file under ../shared/data, or skip the test saying it is absent."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (real data lives in ../shared/data beside the checkout)")
    return path


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function of a float64 host array."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * eps)
    return grad


def chi2_critical(df: int, z: float = 3.0902) -> float:
    """Upper critical value of chi-square with ``df`` degrees of freedom (Wilson-Hilferty).

    ``z = 3.0902`` is the standard normal's 0.999 quantile: a significance of 0.001.
    """
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + z * a ** 0.5) ** 3


def chi2_statistic(observed: np.ndarray, expected: np.ndarray) -> float:
    keep = expected > 0
    assert observed[~keep].sum() == 0, "observed an outcome of probability zero"
    return float((((observed - expected) ** 2)[keep] / expected[keep]).sum())
