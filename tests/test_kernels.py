"""The CuPy kernels of nsw2v.backend against the NumPy code they replace.

Each kernel's CUDA source is also compiled for the CPU (one loop over the
threads, which these kernels allow: no thread waits for another), so its logic
is tested on machines without a GPU; that part skips when no C++ compiler is
found. On a GPU the kernels run through CuPy and are compared the same way.
"""
import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from nsw2v import backend
from nsw2v.steps import CappedScatter, _ns_update, cbow_step, skipgram_step

CXX = shutil.which("g++") or shutil.which("c++")

_SHIM = r"""
#include <math.h>
struct Dim { long long x; };
static Dim blockIdx, threadIdx, blockDim;
#define __global__
#define __device__
"""

_LAUNCHERS = r"""
extern "C" void launch_ns(int skipgram, long long threads, const float* W_in, const float* W_out,
        const int* contexts, const unsigned char* mask, const int* centers, const int* negatives,
        long long B, long long C, long long K, long long H, float lr, int skip_hits, float* h, float* dh,
        float* d_out, float* loss) {
    blockDim.x = 1; threadIdx.x = 0;
    for (long long t = 0; t < threads; ++t) {
        blockIdx.x = t;
        if (skipgram)
            skipgram_ns(W_in, W_out, contexts, mask, centers, negatives, B, C, K, H, lr, skip_hits, h, dh, d_out, loss);
        else
            cbow_ns(W_in, W_out, contexts, mask, centers, negatives, B, C, K, H, lr, skip_hits, h, dh, d_out, loss);
    }
}
extern "C" void launch_sorted_scatter(long long threads, const long long* sorted_ids, const long long* order,
        const float* values, const double* weights, int weighted, float* table, long long n, long long dim,
        double cap) {
    blockDim.x = 1; threadIdx.x = 0;
    for (long long t = 0; t < threads; ++t) {
        blockIdx.x = t;
        sorted_scatter_float32(sorted_ids, order, values, weights, weighted, table, n, dim, cap);
    }
}
"""


@pytest.fixture(scope="module")
def cpu_kernels(tmp_path_factory):
    if CXX is None:
        pytest.skip("no C++ compiler to run the CUDA kernels' source on the CPU")
    scatter = backend._SORTED_SCATTER.replace("sorted_scatter_T", "sorted_scatter_float32") \
        .replace("const T*", "const float*").replace("T* table", "float* table").replace("T sum", "float sum") \
        .replace("(T)", "(float)")
    folder = tmp_path_factory.mktemp("kernels")
    source = folder / "kernels.cpp"
    source.write_text(_SHIM + backend._NS_KERNELS + scatter + _LAUNCHERS)
    library = folder / "kernels.so"
    subprocess.run([CXX, "-O1", "-shared", "-fPIC", str(source), "-o", str(library)], check=True)
    return ctypes.CDLL(str(library))


def ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def cbow_case(seed, B=9, C=4, K=3, V=15, H=5):
    rng = np.random.default_rng(seed)
    W_in = rng.standard_normal((V, H)).astype(np.float32)
    W_out = rng.standard_normal((V, H)).astype(np.float32)
    contexts = rng.integers(0, V, (B, C))
    mask = rng.random((B, C)) < 0.6
    mask[:, 0] = True
    centers = rng.integers(0, V, B)
    negatives = rng.integers(0, V, (B, K))
    negatives[0, 1] = centers[0]                                     # a hit, skipped with skip_hits
    return W_in, W_out, contexts, mask, centers, negatives


def numpy_scores(model, W_in, W_out, contexts, mask, centers, negatives, lr, skip_hits):
    """(dh, d_out, loss per center) by the array code of steps._ns_update, on NumPy."""
    weight = mask.astype(np.float32)
    if model == "cbow":
        inputs = (weight[:, None, :] @ W_in[contexts] / weight.sum(axis=1)[:, None, None], None)
    else:
        inputs = (W_in[contexts], weight[:, :, None])
    seen = []

    def record(table, ids, values, n_inputs=None):
        seen.append(values.copy())
    dh, _ = _ns_update(W_out.copy(), *inputs[:1], centers, negatives, inputs[1], lr, skip_hits, record)
    loss = [float(_ns_update(W_out.copy(), inputs[0][b:b + 1], centers[b:b + 1], negatives[b:b + 1],
                             None if inputs[1] is None else inputs[1][b:b + 1], lr, skip_hits, record)[1])
            for b in range(len(centers))]
    return (dh[:, 0] if model == "cbow" else dh), seen[0], np.array(loss)


def run_ns_kernel(lib, model, W_in, W_out, centers, contexts, mask, negatives, lr, skip_hits):
    """backend.fused_scores's outputs, computed by the kernels' source compiled for the CPU."""
    B, C = contexts.shape
    K, H = negatives.shape[1], W_in.shape[1]
    h = np.empty((B, H), np.float32)
    dh = np.empty((B, H) if model == "cbow" else (B, C, H), np.float32)
    d_out, loss = np.empty((B, K + 1, H), np.float32), np.empty(B, np.float32)
    i32 = lambda a: np.ascontiguousarray(a, dtype=np.int32)           # noqa: E731
    args = [i32(contexts), np.ascontiguousarray(mask, dtype=np.bool_), i32(centers), i32(negatives)]
    lib.launch_ns(ctypes.c_int(model == "skipgram"), ctypes.c_longlong(B), ptr(W_in), ptr(W_out), *map(ptr, args),
                  *map(ctypes.c_longlong, (B, C, K, H)), ctypes.c_float(lr), ctypes.c_int(skip_hits),
                  ptr(h), ptr(dh), ptr(d_out), ptr(loss))
    return dh, d_out, loss


@pytest.mark.parametrize("model", ["cbow", "skipgram"])
@pytest.mark.parametrize("skip_hits", [False, True])
def test_kernel_source_on_the_cpu(cpu_kernels, model, skip_hits):
    W_in, W_out, contexts, mask, centers, negatives = cbow_case(1)
    args = (W_in, W_out, centers, contexts, mask, negatives, 0.05, skip_hits)
    dh, d_out, loss = run_ns_kernel(cpu_kernels, model, *args)
    want_dh, want_out, want_loss = numpy_scores(model, W_in, W_out, contexts, mask, centers, negatives, 0.05,
                                                skip_hits)
    np.testing.assert_allclose(dh, want_dh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_out, want_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-6)
    if skip_hits:
        assert not d_out[0, 2].any()                                  # the skipped hit moves nothing
    if model == "skipgram":
        assert not dh[~mask].any()                                    # padding slots get no update


@pytest.mark.parametrize("model", ["cbow", "skipgram"])
@pytest.mark.parametrize("skip_hits, cap", [(False, None), (True, 2)])
def test_fused_branch_of_the_steps_on_the_cpu(cpu_kernels, monkeypatch, model, skip_hits, cap):
    """The steps' kernel branch (padding slots scattered with zero updates and zero hits) equals their array code."""
    step = cbow_step if model == "cbow" else skipgram_step
    W_in, W_out, contexts, mask, centers, negatives = cbow_case(6, B=40, V=12)
    results = []
    for fused in (False, True):
        if fused:
            monkeypatch.setattr(backend, "fused_scores", lambda name, *a: run_ns_kernel(cpu_kernels, name, *a))
        Wi, Wo = W_in.copy(), W_out.copy()
        loss = step(Wi, Wo, centers, contexts, mask, negatives, 0.05, skip_hits, CappedScatter(cap))
        results.append((Wi, Wo, float(loss)))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-5, atol=1e-5)
    assert results[1][2] == pytest.approx(results[0][2], rel=1e-5)
    assert not np.array_equal(results[0][0], W_in)                      # the step moved the tables


@pytest.mark.parametrize("cap", [None, 2.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_scatter_kernel_source_on_the_cpu(cpu_kernels, cap, weighted):
    rng = np.random.default_rng(2)
    n, dim, rows = 300, 4, 20
    ids = rng.integers(0, rows, n)
    ids[:80] = 3
    values = rng.standard_normal((n, dim)).astype(np.float32)
    weights = rng.integers(0, 3, n).astype(np.float64) if weighted else np.ones(1)
    table = rng.standard_normal((rows, dim)).astype(np.float32)
    want = table.copy()
    CappedScatter(cap)(want, ids, values, weights if weighted else None)
    order = np.argsort(ids, kind="stable").astype(np.int64)
    sorted_ids = np.ascontiguousarray(ids[order], dtype=np.int64)
    cpu_kernels.launch_sorted_scatter(ctypes.c_longlong(n * dim), ptr(sorted_ids), ptr(order), ptr(values),
                                      ptr(weights), ctypes.c_int(weighted), ptr(table), ctypes.c_longlong(n),
                                      ctypes.c_longlong(dim), ctypes.c_double(cap or 0.0))
    np.testing.assert_allclose(table, want, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("model", ["cbow", "skipgram"])
def test_fused_steps_on_the_gpu_equal_numpy(xp, monkeypatch, model):
    monkeypatch.setenv("NSW2V_FAST_GPU", "1")
    step = cbow_step if model == "cbow" else skipgram_step
    if not backend.is_cupy(xp):
        assert backend.fused_scores(model, *[np.zeros((2, 2), np.float32)] * 2, None, None, None, None, 0.1,
                                    False) is None
        return
    for skip_hits, cap in ((False, None), (True, 2)):
        W_in, W_out, contexts, mask, centers, negatives = cbow_case(3, B=40, V=12)
        results = []
        for module in (np, xp):
            Wi, Wo = module.asarray(W_in.copy()), module.asarray(W_out.copy())
            loss = step(Wi, Wo, *(module.asarray(a) for a in (centers, contexts, mask, negatives)), 0.05,
                        skip_hits, CappedScatter(cap))
            results.append((backend.to_numpy(Wi), backend.to_numpy(Wo), backend.to_float(loss)))
        np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-5, atol=1e-5)
        assert results[1][2] == pytest.approx(results[0][2], rel=1e-5)
