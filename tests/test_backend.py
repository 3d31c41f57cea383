import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nsw2v import backend


def test_gpu_flag_parsing(monkeypatch):
    for value, expected in [("1", True), ("true", True), ("YES", True), ("", False), ("0", False)]:
        monkeypatch.setenv("GPU", value)
        assert backend.gpu_requested() is expected
    monkeypatch.delenv("GPU")
    assert backend.gpu_requested() is False
    assert backend.get_default_xp() is np
    monkeypatch.setenv("GPU", "maybe")
    with pytest.raises(backend.BackendUnavailableError, match="GPU='maybe'"):
        backend.gpu_requested()


def test_explicit_choice_overrides_environment(monkeypatch):
    monkeypatch.setenv("GPU", "1")
    assert backend.resolve_xp("numpy") is np
    assert backend.resolve_xp(np) is np
    with pytest.raises(ValueError, match="xp='torch'"):
        backend.resolve_xp("torch")


def test_scatter_add_sums_duplicates(xp):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 7, size=200)
    ids[:20] = 3                                   # many duplicates on purpose
    values = rng.standard_normal((200, 4)).astype(np.float32)
    expected = np.zeros((9, 4), np.float32)
    np.add.at(expected, ids, values)
    table = xp.zeros((9, 4), dtype=xp.float32)
    backend.scatter_add(table, xp.asarray(ids), xp.asarray(values))
    np.testing.assert_allclose(backend.to_numpy(table), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cap", [None, 3])
def test_scatter_add_matches_float64_sums_and_repeats_exactly(xp, dtype, cap):
    """Against a float64 reference; bit for bit the same twice (CuPy: sorted segment sums)."""
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 50, size=3000)
    ids[:500] = 7
    values = rng.standard_normal((3000, 3))
    weights = rng.integers(0, 3, size=3000)
    start = rng.standard_normal((60, 3))
    hits = np.bincount(ids, weights, minlength=60)[ids]
    scale = np.ones(3000) if cap is None else np.minimum(1.0, cap / np.maximum(hits, 1))
    expected = start.copy()
    np.add.at(expected, ids, values * scale[:, None])
    runs = []
    for _ in range(2):
        table = xp.asarray(start.astype(dtype))
        backend.scatter_add(table, xp.asarray(ids), xp.asarray(values.astype(dtype)), cap=cap,
                            weights=None if cap is None else xp.asarray(weights))
        runs.append(backend.to_numpy(table))
    np.testing.assert_allclose(runs[0], expected, rtol=1e-5, atol=1e-4 if dtype == "float32" else 1e-10)
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [3, 4])
def test_numpy_scatter_add_gives_the_bits_of_add_at(dtype, dim):
    """Even rows go through a complex view (two floats an entry); odd rows do not. Both must add
    in np.add.at's order, so the sums are equal bit for bit, not just close."""
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 40, size=2000)
    ids[:300] = 5
    values = rng.standard_normal((2000, dim)).astype(dtype)[:, ::-1]   # not contiguous on purpose
    start = rng.standard_normal((40, dim)).astype(dtype)
    expected = start.copy()
    np.add.at(expected, ids, values)
    table = start.copy()
    backend.scatter_add(table, ids, values)
    np.testing.assert_array_equal(table, expected)
    assert not np.array_equal(table, start)


def test_segment_scatter_add_matches_add_at_and_repeats_exactly(xp):
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 50, size=3000)
    ids[:500] = 7
    values = rng.standard_normal((3000, 3)).astype(np.float32)
    expected = np.zeros((60, 3), np.float64)
    np.add.at(expected, ids, values.astype(np.float64))
    runs = []
    for _ in range(2):
        table = xp.zeros((60, 3), dtype=xp.float32)
        backend.segment_scatter_add(xp, table, xp.asarray(ids), xp.asarray(values))
        runs.append(backend.to_numpy(table))
    np.testing.assert_allclose(runs[0], expected, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(runs[0], runs[1])          # bit for bit: the order of sums is fixed


@pytest.mark.parametrize("value, on", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_fast_gpu_switch(monkeypatch, value, on):
    monkeypatch.setenv("NSW2V_FAST_GPU", value)
    assert backend.fast_gpu() is on


def test_seeded_rng_repeats(xp):
    a = backend.make_rng(xp, 5).random(10)
    b = backend.make_rng(xp, 5).random(10)
    c = backend.make_rng(xp, 6).random(10)
    np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))
    assert not np.array_equal(backend.to_numpy(a), backend.to_numpy(c))


def _backend_error(setup: str, gpu: str) -> subprocess.CompletedProcess:
    """Run ``setup``, then ask for the default backend with GPU=``gpu``; print ERR and the message."""
    code = textwrap.dedent(setup) + textwrap.dedent("""
        import nsw2v
        from nsw2v.backend import get_default_xp, BackendUnavailableError
        try:
            get_default_xp()
        except BackendUnavailableError as e:
            print("ERR", e)
    """)
    return subprocess.run([sys.executable, "-c", code], env=dict(os.environ, GPU=gpu),
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(backend.gpu_available(), reason="a GPU is usable here: the missing-GPU error cannot occur")
def test_gpu_without_cupy_or_device_is_a_clear_error():
    # import nsw2v always works; the error comes when an array module is first needed.
    out = _backend_error("", "1")
    assert out.returncode == 0, out.stderr
    assert "ERR GPU=1" in out.stdout
    assert ("not installed" in out.stdout) or ("no usable CUDA device" in out.stdout)


def test_cupy_installed_without_device_says_so():
    # A stand-in cupy whose device query fails, as on a machine with CuPy but no driver.
    out = _backend_error("""
        import sys, types
        fake = types.ModuleType("cupy")
        class _Runtime:
            @staticmethod
            def getDeviceCount():
                raise RuntimeError("cudaErrorNoDevice")
        fake.cuda = types.SimpleNamespace(runtime=_Runtime())
        sys.modules["cupy"] = fake
    """, "1")
    assert "CuPy is installed but no usable CUDA device" in out.stdout, out.stdout + out.stderr
    assert "cudaErrorNoDevice" in out.stdout


def test_cupy_missing_says_so():
    out = _backend_error("""
        import sys
        sys.modules["cupy"] = None          # makes `import cupy` raise ImportError
    """, "yes")
    assert "CuPy is not installed" in out.stdout, out.stdout + out.stderr
    assert "pip install 'nsw2v[gpu]'" in out.stdout


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softplus_is_log1p_exp_without_overflow(xp, dtype):
    x = np.concatenate([np.linspace(-30, 30, 601), [-1e4, -100.0, 0.0, 100.0, 1e4]]).astype(dtype)
    got = backend.to_numpy(backend.softplus(xp.asarray(x)))
    x = x.astype(np.float64)
    expected = np.where(x > 30, x, np.log1p(np.exp(np.minimum(x, 30))))     # float64, exact enough
    assert got.dtype == np.dtype(dtype) and np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == "float32" else 1e-14, atol=1e-30)


def test_an_explicit_xp_is_named_in_the_error_not_gpu():
    code = textwrap.dedent("""
        import sys
        sys.modules["cupy"] = None
        from nsw2v.backend import resolve_xp, BackendUnavailableError
        try:
            resolve_xp("cupy")
        except BackendUnavailableError as e:
            print("ERR", e)
    """)
    env = {k: v for k, v in os.environ.items() if k != "GPU"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "ERR xp='cupy' asks for CuPy, but CuPy is not installed" in out.stdout, out.stdout + out.stderr
    assert "use xp='numpy'" in out.stdout and "GPU" not in out.stdout.replace("nsw2v[gpu]", "")


def test_cupy_arrays_made_before_nsw2v_imported_cupy_are_recognised():
    """A learner's own `cupy.asarray(corpus)` reaches nsw2v before anything in nsw2v imported CuPy."""
    code = textwrap.dedent("""
        import sys, types
        import numpy as np
        fake = types.ModuleType("cupy")
        class ndarray:
            def __init__(self, data):
                self.data = np.asarray(data)
            def __array__(self, *args, **kwargs):
                raise TypeError("Implicit conversion to a NumPy array is not allowed")
        ndarray.__module__ = "cupy"
        fake.ndarray = ndarray
        fake.asnumpy = lambda a: a.data.copy()
        fake.get_array_module = lambda *arrays: fake
        sys.modules["cupy"] = fake
        on_device = fake.ndarray([3, 1, 2])              # made before nsw2v touches CuPy
        from nsw2v import backend
        from nsw2v.util import to_cpu
        print("module", backend.get_array_module(on_device).__name__)
        print("host", to_cpu(on_device).tolist(), type(backend.to_numpy(on_device)).__name__)
    """)
    env = {k: v for k, v in os.environ.items() if k != "GPU"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=str(Path(__file__).resolve().parents[1]))
    assert "module cupy" in out.stdout and "host [3, 1, 2] ndarray" in out.stdout, out.stdout + out.stderr
