"""The CuPy kernels of nsw2v.backend against the NumPy code they replace.

Each kernel's CUDA source is also compiled for the CPU (one loop over the
threads, which these kernels allow: no thread waits for another) and launched
by backend's own launch code through :class:`CpuRawKernel`, a stand-in for
``cupy.RawKernel`` that checks every argument against the kernel's parameters;
so the kernels' logic and the way they are called are tested on machines
without a GPU (skipped when no C++ compiler is found). On a GPU the kernels
run through CuPy and are compared the same way.
"""
import ctypes
import os
import re
import shutil
import subprocess
import types

import numpy as np
import pytest

import nsw2v.training.array_engine as w2v
from nsw2v import Word2Vec, backend
from nsw2v.steps import CappedScatter, _ns_update, cbow_step, skipgram_step, sort_rows

CXX = shutil.which("g++") or shutil.which("c++")
NVCC = shutil.which("nvcc")

_SHIM = r"""
#include <math.h>
struct Dim { long long x; };
struct float4 { float x, y, z, w; };
static Dim blockIdx, threadIdx, blockDim;
#define __global__
#define __device__
"""
# CUDA parameter types -> the NumPy dtype a pointer's array must have, or the NumPy scalar type and
# ctypes type a value is passed as (CuPy passes a NumPy scalar by value at its own size).
_POINTEES = {"float": (np.float32,), "double": (np.float64,), "int": (np.int32,), "long long": (np.int64,),
             "unsigned char": (np.bool_, np.uint8)}
_VALUES = {"float": (np.float32, ctypes.c_float), "double": (np.float64, ctypes.c_double),
           "int": (np.int32, ctypes.c_int), "long long": (np.int64, ctypes.c_longlong)}


class CpuRawKernel:
    """``cupy.RawKernel(source, name)`` for the CPU: the CUDA source compiled by g++ with a loop over the
    threads of the launch (the kernels allow it: no thread waits for another). A call checks every argument
    against the kernel's parameter list, as the GPU would need them: arrays C-contiguous of the pointee's
    dtype, values NumPy scalars of the parameter's type (a Python int would go to the GPU as 64 bits)."""

    _built: dict = {}
    folder = None                               # set by the cpu_cupy fixture: pytest's temporary folder

    def __init__(self, source, name):
        params = re.search(r'extern "C" __global__ void ' + name + r"\(([^)]*)\)", source).group(1)
        self.params = [re.match(r"(.*?)\s*(\w+)$", p.strip()).groups() for p in params.split(",")]
        key = (source, name)
        if key not in self._built:
            decl = ", ".join(f"{kind} {arg}" for kind, arg in self.params)
            call = ", ".join(arg for _, arg in self.params)
            launcher = (f'extern "C" void run_{name}(long long threads, long long block, {decl}) {{\n'
                        f"    blockDim.x = block;\n"
                        f"    for (long long t = 0; t < threads; ++t) {{\n"
                        f"        blockIdx.x = t / block; threadIdx.x = t % block; {name}({call});\n    }}\n}}\n")
            cpp, library = (os.path.join(self.folder, f"{name}-{len(self._built)}.{ext}") for ext in ("cpp", "so"))
            with open(cpp, "w") as fh:
                fh.write(_SHIM + source + launcher)
            subprocess.run([CXX, "-O1", "-shared", "-fPIC", cpp, "-o", library], check=True)
            self._built[key] = getattr(ctypes.CDLL(library), f"run_{name}")
        self.run = self._built[key]
        self.name = name

    def __call__(self, grid, block, args):
        assert len(args) == len(self.params), f"{self.name}: {len(args)} arguments for {len(self.params)}"
        converted = []
        for (kind, arg), value in zip(self.params, args):
            base = kind.replace("const", "").replace("*", "").strip()
            if kind.endswith("*"):
                assert isinstance(value, np.ndarray) and value.dtype.type in _POINTEES[base] \
                    and value.flags.c_contiguous, f"{self.name}: {arg} must be a C-contiguous {base} array"
                converted.append(ctypes.c_void_p(value.ctypes.data))
            else:
                scalar, ctype = _VALUES[base]
                assert type(value) is scalar, f"{self.name}: {arg} must be {scalar.__name__}, got {type(value)}"
                converted.append(ctype(value))
        (blocks,), (threads,) = grid, block
        self.run(ctypes.c_longlong(blocks * threads), ctypes.c_longlong(threads), *converted)


def launch_on_the_cpu(monkeypatch, folder):
    """backend's kernel launches (``_ns_kernel_scores``, ``_sorted_scatter``) run on NumPy arrays on the CPU,
    the kernels built in ``folder`` (``monkeypatch``: anything with ``setattr(obj, name, value)``)."""
    if CpuRawKernel.folder is None:
        CpuRawKernel.folder = str(folder)
    monkeypatch.setattr(backend, "_import_cupy", lambda: types.SimpleNamespace(RawKernel=CpuRawKernel))
    monkeypatch.setattr(backend, "_kernels", {})


@pytest.fixture
def cpu_cupy(monkeypatch, tmp_path_factory):
    """:func:`launch_on_the_cpu` for a test."""
    if CXX is None:
        pytest.skip("no C++ compiler to run the CUDA kernels' source on the CPU")
    launch_on_the_cpu(monkeypatch, tmp_path_factory.mktemp("kernels") if CpuRawKernel.folder is None else None)


def cbow_case(seed, B=9, C=4, K=3, V=15, H=8):
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


def run_ns_kernel(model, W_in, W_out, centers, contexts, mask, negatives, lr, skip_hits):
    """backend.fused_scores's outputs, by its own launch code and the kernels' source compiled for the CPU."""
    return backend._ns_kernel_scores(np, model, W_in, W_out, centers, contexts, mask, negatives, lr, skip_hits)


@pytest.mark.parametrize("model", ["cbow", "skipgram"])
@pytest.mark.parametrize("skip_hits", [False, True])
def test_kernel_source_on_the_cpu(cpu_cupy, model, skip_hits):
    W_in, W_out, contexts, mask, centers, negatives = cbow_case(1)
    args = (W_in, W_out, centers, contexts, mask, negatives, 0.05, skip_hits)
    dh, d_out, loss = run_ns_kernel(model, *args)
    want_dh, want_out, want_loss = numpy_scores(model, W_in, W_out, contexts, mask, centers, negatives, 0.05,
                                                skip_hits)
    np.testing.assert_allclose(dh, want_dh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_out, want_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-6)
    if skip_hits:
        assert not d_out[0, 2].any()                                  # the skipped hit moves nothing
    if model == "skipgram":
        assert not dh[~mask].any()                                    # padding slots get no update


def use_the_kernels(monkeypatch):
    """The steps' kernel branch, the plans' sorts and the sorted-run scatter, as on CuPy with NSW2V_FAST_GPU=1,
    on NumPy arrays."""
    monkeypatch.setattr(backend, "kernel_steps", lambda W_in, W_out, width, negative: True)
    monkeypatch.setattr(backend, "fused_scores", run_ns_kernel)
    monkeypatch.setattr(backend, "scatter_add", lambda table, ids, values, cap=None, weights=None:
                        backend._sorted_scatter(np, table, ids, values, cap, weights))


@pytest.mark.parametrize("model", ["cbow", "skipgram"])
@pytest.mark.parametrize("skip_hits, cap", [(False, None), (True, 2)])
def test_fused_branch_of_the_steps_on_the_cpu(cpu_cupy, monkeypatch, model, skip_hits, cap):
    """The steps' kernel branch (padding slots scattered with zero updates and zero hits), with the sorted-run
    scatter kernel, equals their array code."""
    step = cbow_step if model == "cbow" else skipgram_step
    W_in, W_out, contexts, mask, centers, negatives = cbow_case(6, B=40, V=12)
    results = []
    numpy_scatter = backend.scatter_add
    for fused in (False, True):
        if fused:
            use_the_kernels(monkeypatch)
        Wi, Wo = W_in.copy(), W_out.copy()
        loss = step(Wi, Wo, centers, contexts, mask, negatives, 0.05, skip_hits, CappedScatter(cap))
        results.append((Wi, Wo, float(loss)))
    assert backend.scatter_add is not numpy_scatter
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-5, atol=1e-5)
    assert results[1][2] == pytest.approx(results[0][2], rel=1e-5)
    assert not np.array_equal(results[0][0], W_in)                      # the step moved the tables


@pytest.mark.parametrize("model", ["cbow", "skipgram"])
def test_fused_steps_with_a_chunks_sorted_rows_on_the_cpu(cpu_cupy, monkeypatch, model):
    """Three steps of one chunk, their entries sorted once for the chunk (StepSort, as a plan on CuPy does),
    through the kernels: the tables the array code gives step by step."""
    step = cbow_step if model == "cbow" else skipgram_step
    W_in, W_out, contexts, mask, centers, negatives = cbow_case(7, B=60, V=12)
    bounds = np.array([0, 25, 41, 60])
    sorts = sort_rows(np, centers, contexts, mask, negatives, bounds, 12)
    results = []
    for fused in (False, True):
        if fused:
            use_the_kernels(monkeypatch)
        Wi, Wo = W_in.copy(), W_out.copy()
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            rows = tuple(sort.step(lo, hi) for sort in sorts) if fused else None
            step(Wi, Wo, centers[lo:hi], contexts[lo:hi], mask[lo:hi], negatives[lo:hi], 0.05, True,
                 CappedScatter(2), rows)
        results.append((Wi, Wo))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-5, atol=1e-5)
    assert not np.array_equal(results[0][1], W_out)


@pytest.mark.parametrize("sg", [0, 1])
def test_word2vec_through_the_kernels_on_the_cpu(cpu_cupy, monkeypatch, tmp_path, sg):
    """A whole training run as CuPy with NSW2V_FAST_GPU=1 makes it (plans sorted once a chunk, steps and
    scatters by the kernels), on the CPU: the vectors of the array code."""
    rng = np.random.default_rng(8)
    words = [f"w{i}" for i in range(40)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words, size=rng.integers(3, 30), p=np.arange(40, 0, -1) / 820))
                                for _ in range(300)) + "\n")
    settings = dict(corpus_file=str(corpus), vector_size=8, window=3, min_count=1, sg=sg, epochs=2, batch_size=32,
                    sampler="batched", seed=3, xp="numpy", verbose=False, engine="array")
    want = Word2Vec(**settings)
    use_the_kernels(monkeypatch)
    made, sort_chunk = [], w2v.sort_rows
    monkeypatch.setattr(w2v, "sort_rows", lambda *args: made.append(1) or sort_chunk(*args))
    got = Word2Vec(**settings)
    assert made                                                      # the plans were sorted ahead
    np.testing.assert_allclose(got.wv.vectors, want.wv.vectors, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.W_out, want.W_out, rtol=1e-4, atol=1e-5)
    assert got.epoch_losses == pytest.approx(want.epoch_losses, rel=1e-5)


def test_a_chunk_with_nothing_to_train_through_the_kernels(cpu_cupy, monkeypatch, tmp_path):
    """A last chunk of one one-word sentence plans no center: its sorts are empty, training goes on."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(f"w{i % 7}" for i in range(40)) + "\nw3\n")
    use_the_kernels(monkeypatch)
    model = Word2Vec(corpus_file=str(corpus), vector_size=4, window=2, min_count=1, sample=0, chunk_words=40,
                     epochs=2, xp="numpy", verbose=False, engine="array")
    assert model.words_trained == 2 * 41
    assert sum(h["examples"] for h in model.loss_history) == 2 * 40  # the lone word is no example


@pytest.mark.parametrize("cap", [None, 2.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tile", [None, 1, 3])
def test_scatter_kernel_source_on_the_cpu(cpu_cupy, monkeypatch, cap, weighted, dtype, tile):
    """Runs longer than a tile (80 entries of row 3), runs ending on a tile's last entry, rows hit once."""
    if tile is not None:
        monkeypatch.setattr(backend, "SCATTER_TILE", tile)
    rng = np.random.default_rng(2)
    n, dim, rows = 300, 4, 20
    ids = rng.integers(0, rows, n)
    ids[:80] = 3
    values = rng.standard_normal((n, dim)).astype(dtype)
    weights = rng.integers(0, 3, n) if weighted else None
    start = rng.standard_normal((rows, dim)).astype(dtype)
    want, table = start.copy(), start.copy()
    CappedScatter(cap)(want, ids, values, weights)
    backend._sorted_scatter(np, table, ids, values, cap, weights)
    np.testing.assert_allclose(table, want, rtol=1e-5, atol=1e-5)
    assert not np.array_equal(table, start)


@pytest.mark.parametrize("masked", [False, True])
def test_scatter_kernels_take_a_steps_sorted_entries(cpu_cupy, masked):
    """StepSort's slices through the scatter kernels: a row of values per entry or per id row (shared by
    the row's entries), masked entries left out, a step with no rows."""
    rng = np.random.default_rng(4)
    ids = rng.integers(0, 9, size=(50, 4)).astype(np.int32)
    ids[:30, 0] = 5                                              # a run across steps
    mask = rng.random((50, 4)) < 0.6 if masked else np.ones((50, 4), bool)
    bounds = np.array([0, 17, 17, 33, 50])
    sort = backend.StepSort(np, ids, bounds, 9, mask if masked else None)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        kept = np.flatnonzero(mask[lo:hi])
        for rows in ((hi - lo) * 4, hi - lo):
            values = rng.standard_normal((rows, 3)).astype(np.float32)
            want, table = np.zeros((9, 3), np.float32), np.zeros((9, 3), np.float32)
            np.add.at(want, ids[lo:hi].ravel()[kept], values[kept // (4 if rows == hi - lo else 1)])
            backend._sorted_scatter(np, table, sort.step(lo, hi), values, None, None)
            np.testing.assert_allclose(table, want, rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="SortedIds are for the scatter kernels"):
        backend.scatter_add(np.zeros((9, 3), np.float32), sort.step(0, 17), np.zeros((68, 3), np.float32))


@pytest.mark.parametrize("n", [1, 31, 32, 33, 64, 65, 2000])
def test_scatter_kernel_at_tile_bounds(cpu_cupy, n):
    """One long run (as the most frequent words make), and as many entries as a tile, or one more or less."""
    rng = np.random.default_rng(n)
    rows, dim = 7, 3
    ids = np.where(rng.random(n) < 0.7, 0, rng.integers(0, rows, n))
    values = rng.standard_normal((n, dim)).astype(np.float32)
    start = rng.standard_normal((rows, dim)).astype(np.float32)
    want, table = start.copy(), start.copy()
    np.add.at(want, ids, values)
    backend._sorted_scatter(np, table, ids, values, None, None)
    np.testing.assert_allclose(table, want, rtol=1e-5, atol=1e-4)


def test_a_launch_with_the_wrong_argument_types_is_refused(cpu_cupy):
    """The CPU stand-in checks what a GPU launch would get wrong silently."""
    W_in, W_out, contexts, mask, centers, negatives = cbow_case(1)
    kernel = CpuRawKernel(backend._NS_KERNELS, "cbow_ns")
    B, C = contexts.shape
    good = [W_in, W_out, contexts.astype(np.int32), mask, centers.astype(np.int32), negatives.astype(np.int32),
            np.int64(B), np.int64(C), np.int64(3), np.int64(8), np.float32(0.1), np.int32(0),
            np.empty((B, 8), np.float32), np.empty((B, 4, 8), np.float32), np.empty(B, np.float32)]
    kernel((1,), (B,), tuple(good))
    for i, bad in ((2, contexts.astype(np.int64)), (6, B), (10, np.float64(0.1))):
        with pytest.raises(AssertionError):
            kernel((1,), (B,), tuple(good[:i] + [bad] + good[i + 1:]))


def test_kernels_compile_for_the_gpu_without_spills(monkeypatch, tmp_path):
    """Every source backend hands to ``cupy.RawKernel``, built by the CUDA compiler for an H100/H200
    (sm_90): it compiles, and no kernel spills registers to local memory."""
    if NVCC is None:
        pytest.skip("no nvcc: the CUDA compiler checks the kernels where it is installed")
    made = []

    class Record:
        def __init__(self, source, name):
            made.append((source, name))

        def __call__(self, grid, block, args):
            pass
    monkeypatch.setattr(backend, "_import_cupy", lambda: types.SimpleNamespace(RawKernel=Record))
    monkeypatch.setattr(backend, "_kernels", {})
    for dtype in (np.float32, np.float64):
        backend._sorted_scatter_kernels(dtype)
    for model in ("cbow", "skipgram"):
        run_ns_kernel(model, *cbow_case(1), 0.05, False)
    sources = {}
    for source, name in made:
        sources.setdefault(source, []).append(name)
    assert len(sources) == 3 and len(made) == 6
    for number, (source, names) in enumerate(sources.items()):
        path = tmp_path / f"kernels{number}.cu"
        path.write_text(source)
        done = subprocess.run([NVCC, "-arch=sm_90", "-cubin", "-Xptxas", "-v", "-o", str(path.with_suffix(".cubin")),
                               str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        for name in names:
            found = re.search(r"Function properties for " + name + r"\n\s*(\d+) bytes stack frame, (\d+) bytes spill "
                              r"stores, (\d+) bytes spill loads", done.stderr)
            assert found, f"{name} not in the compiler's report:\n{done.stderr}"
            assert found.group(2) == found.group(3) == "0", f"{name} spills registers:\n{done.stderr}"
    ptx = tmp_path / "ns.ptx"
    ns_source = next(path for path in tmp_path.glob("kernels*.cu") if "cbow_ns" in path.read_text())
    subprocess.run([NVCC, "-arch=sm_90", "-ptx", "-o", str(ptx), str(ns_source)], check=True, capture_output=True)
    loads = re.findall(r"ld\.global(?:\.nc)?\.(\w+)\.?(f32)?", ptx.read_text())
    assert ("v4", "f32") in loads and not [kind for kind in loads if kind == ("f32", "")], \
        "the scores' kernels read rows of W_in and W_out four floats at a time (float4)"


@pytest.mark.gpu
@pytest.mark.parametrize("model", ["cbow", "skipgram"])
def test_fused_steps_on_the_gpu_equal_numpy(xp, monkeypatch, model):
    monkeypatch.setenv("NSW2V_FAST_GPU", "1")
    step = cbow_step if model == "cbow" else skipgram_step
    if not backend.is_cupy(xp):
        assert backend.fused_scores(model, *[np.zeros((2, 2), np.float32)] * 2, None, None, None, None, 0.1,
                                    False) is None
        return
    W_in, W_out, contexts, mask, centers, negatives = (xp.asarray(a) for a in cbow_case(3, B=40, V=12, H=6))
    assert backend.fused_scores(model, W_in, W_out, centers, contexts, mask, negatives, 0.05, False) is None
    assert backend.fused_scores(model, W_in[:, :4].copy(), W_out[:, :4].copy(), centers, contexts, mask, negatives,
                                0.05, False) is not None                # rows of 6 floats: no float4 kernel; 4: one
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
