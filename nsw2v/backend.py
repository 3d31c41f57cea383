"""The array backend: NumPy on the CPU or CuPy on an NVIDIA GPU.

This is the only module that imports CuPy. Everything else receives an array
module ``xp`` and writes one algorithm over it.

    >>> from nsw2v import backend
    >>> xp = backend.get_default_xp()      # NumPy unless GPU=1 is set
    >>> rng = backend.make_rng(xp, seed=1)
    >>> W = rng.standard_normal((10, 3), dtype=xp.float32)
    >>> backend.scatter_add(W, xp.array([1, 1, 2]), xp.ones((3, 3), dtype=xp.float32))

``GPU=1`` (also ``true``/``yes``/``on``) in the environment makes CuPy the
default; it is read when first needed, never at import time, so
``import nsw2v`` always works and both backends can be used in one process.
"""
from __future__ import annotations

import math
import os
import sys
from types import ModuleType
from typing import Any, Optional

import numpy as np

from .errors import BackendUnavailableError  # re-exported: nsw2v.backend.BackendUnavailableError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

_cupy: Optional[ModuleType] = None
_cupy_error: Optional[BaseException] = None
_cupy_tried = False


def _import_cupy() -> Optional[ModuleType]:
    """Import CuPy once; remember the failure so the error can be re-raised."""
    global _cupy, _cupy_error, _cupy_tried
    if not _cupy_tried:
        _cupy_tried = True
        try:
            import cupy  # the one place CuPy is imported
            _cupy = cupy
        except Exception as exc:  # ImportError, or a broken CUDA install
            _cupy_error = exc
    return _cupy


def gpu_requested() -> bool:
    """True when ``GPU`` in the environment asks for CuPy."""
    value = os.environ.get("GPU", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BackendUnavailableError(
        f"GPU={os.environ['GPU']!r} is not understood: use GPU=1 for CuPy or GPU=0 (or unset) for NumPy"
    )


def cupy_or_raise(asked_by: str = "GPU=1", instead: str = "unset GPU") -> ModuleType:
    """Return CuPy with a usable CUDA device, or raise BackendUnavailableError saying why.

    `asked_by` names the choice that asked for CuPy and `instead` how to choose NumPy, for the message.
    """
    cupy = _import_cupy()
    if cupy is None:
        raise BackendUnavailableError(
            f"{asked_by} asks for CuPy, but CuPy is not installed ({_cupy_error}). "
            f"Install it with `pip install 'nsw2v[gpu]'` (CUDA 12) or {instead} to run on NumPy."
        )
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        raise BackendUnavailableError(
            f"{asked_by} asks for CuPy; CuPy is installed but no usable CUDA device was found ({exc}). "
            f"Check the NVIDIA driver (nvidia-smi) or {instead} to run on NumPy."
        ) from None
    if count < 1:
        raise BackendUnavailableError(
            f"{asked_by} asks for CuPy; CuPy is installed but no CUDA device is visible. "
            f"Check CUDA_VISIBLE_DEVICES and the driver, or {instead} to run on NumPy."
        )
    return cupy


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        cupy_or_raise()
    except BackendUnavailableError:
        return False
    return True


def get_default_xp() -> ModuleType:
    """The default array module: CuPy when ``GPU=1``, else NumPy."""
    return cupy_or_raise() if gpu_requested() else np


def resolve_xp(xp: Any = None) -> ModuleType:
    """Turn an ``xp=`` argument into an array module.

    ``None`` means the default (see :func:`get_default_xp`); ``"numpy"``,
    ``"cpu"``, ``"cupy"`` and ``"gpu"`` name one; a module is returned as is.
    """
    if xp is None:
        return get_default_xp()
    if isinstance(xp, str):
        name = xp.lower()
        if name in ("numpy", "np", "cpu"):
            return np
        if name in ("cupy", "cp", "gpu", "cuda"):
            return cupy_or_raise(f"xp={xp!r}", "use xp='numpy'")
        raise ValueError(f"xp={xp!r}: expected 'numpy' or 'cupy'")
    if xp is np or getattr(xp, "__name__", "") == "cupy":
        return xp
    raise ValueError(f"xp={xp!r}: expected numpy, cupy, 'numpy' or 'cupy'")


def is_cupy(xp: ModuleType) -> bool:
    return xp is not np


def _seen() -> Optional[ModuleType]:
    """CuPy if this process has imported it, nsw2v or not: CuPy arrays made before nsw2v asked for CuPy
    are then recognised. A dictionary lookup, not a look at each array (it runs in every step)."""
    if _cupy is None and not _cupy_tried and "cupy" in sys.modules:
        _import_cupy()
    return _cupy


def get_array_module(*arrays: Any) -> ModuleType:
    """The module (numpy or cupy) that owns these arrays."""
    cupy = _seen()
    if cupy is not None:
        return cupy.get_array_module(*arrays)
    return np


def to_numpy(a: Any) -> np.ndarray:
    """A host (NumPy) copy or view of a NumPy or CuPy array."""
    if isinstance(a, np.ndarray):
        return a
    cupy = _seen()
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy.asnumpy(a)
    return np.asarray(a)


def to_float(x: Any) -> float:
    """A Python float from a scalar, 0-d NumPy or 0-d CuPy array."""
    return float(to_numpy(x))


def softplus(x: Any) -> Any:
    """``log(1 + e^x)`` elementwise, without overflow.

    NumPy: ``max(x, 0) + log1p(e^-|x|)``, about 8x faster than
    ``np.logaddexp(0, x)`` on float32 (which has no vectorised loop). CuPy:
    ``logaddexp``, one kernel instead of five launches.
    """
    if isinstance(x, np.ndarray):
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return get_array_module(x).logaddexp(0, x)


def device_free_bytes(xp: ModuleType) -> Optional[int]:
    """Bytes the GPU can still hand out (free device memory and the blocks CuPy's pool keeps); ``None`` on NumPy."""
    if not is_cupy(xp):
        return None
    free, _total = xp.cuda.Device().mem_info
    return int(free) + int(xp.get_default_memory_pool().free_bytes())


def nccl(xp: ModuleType) -> Optional[ModuleType]:
    """CuPy's NCCL bindings (``cupy.cuda.nccl``) when ``xp`` is CuPy and NCCL loads, else ``None``
    (for averaging tables between GPUs in ``nsw2v.training.distributed``)."""
    if not is_cupy(xp):
        return None
    try:
        from cupy.cuda import nccl as module
    except Exception:       # NCCL's library absent or broken
        return None
    return module if getattr(module, "available", True) else None


def synchronize(xp: ModuleType) -> None:
    """Wait for queued device work (no-op on NumPy); for honest timings."""
    if is_cupy(xp):
        xp.cuda.Stream.null.synchronize()


def make_rng(xp: ModuleType, seed: Optional[int] = None):
    """A seeded random generator for ``xp`` (``numpy``/``cupy.random.default_rng``).

    The same seed gives the same stream on the same backend; NumPy and CuPy
    streams differ.
    """
    return xp.random.default_rng(seed)


def scatter_add(table: Any, ids: Any, values: Any, cap: Optional[float] = None, weights: Any = None) -> None:
    """``table[ids] += values`` with repeated ids summed, in place, deterministically.

    With ``cap``, a row hit ``n > cap`` times gets ``cap / n`` of its summed
    update; ``weights`` (default 1) says how many hits each entry counts for
    (see ``steps.CappedScatter``).

    NumPy: the rows are flattened into one 1-D ``np.add.at`` over
    ``table.ravel()``, which takes NumPy's fast path for 1-D ``ufunc.at``
    (NumPy >= 1.25): about 4x faster than sorting the ids and reducing runs
    with ``np.add.reduceat``, and 8x faster than a 2-D ``np.add.at``. Rows of
    an even number of floats are viewed as complex numbers, two floats an
    entry (:data:`_PAIRS`): a third less time for the same sums, bit for bit.
    The cap's hit counts are one ``bincount``.
    CuPy: ``cupy.add.at`` adds floats atomically in an order that changes from
    run to run, so float tables go through :func:`segment_scatter_add` (the
    same seed then gives the same vectors); with ``NSW2V_FAST_GPU=1``, two
    kernels (:data:`_SORTED_SCATTER`) instead sum each run of equal ids in a
    fixed order, tile by tile, count its hits, cap and add it to its row: one
    writer per row, no atomics; ``ids`` may then be :class:`SortedIds` (a
    step's entries sorted ahead with its plan). Integer tables, whose sums do
    not depend on the order, use ``cupy.add.at``.
    """
    if _kernel_table(table):
        _sorted_scatter(get_array_module(table), table, ids, values, cap, weights)
        return
    if isinstance(ids, SortedIds):
        raise TypeError("SortedIds are for the scatter kernels (CuPy, NSW2V_FAST_GPU=1, float tables)")
    if isinstance(table, np.ndarray):
        ids = np.asarray(ids).ravel()
        values = np.asarray(values, dtype=table.dtype).reshape((ids.size,) + table.shape[1:])
        if cap is not None:
            hits = row_hits(np, ids, weights, table.shape[0])
            if hits.max() > cap:                        # CBOW at batch 256: seldom; skip-gram: most steps
                values = values * _cap_scale(np, table, hits, cap)
        if table.ndim == 1 or not table.flags.c_contiguous:
            np.add.at(table, ids, values)
            return
        row = math.prod(table.shape[1:])
        target, values = table.reshape(-1), np.ascontiguousarray(values).reshape(-1)
        pair = _PAIRS.get(table.dtype.type)
        if pair is not None and row % 2 == 0:         # two floats per entry: half the indices, same sums
            target, values, row = target.view(pair), values.view(pair), row // 2
        flat = (ids.astype(np.int64)[:, None] * row + np.arange(row, dtype=np.int64)).ravel()
        np.add.at(target, flat, values)
        return
    xp = get_array_module(table)
    ids = ids.ravel()
    n = int(ids.size)
    if n == 0:
        return
    values = values.reshape((n,) + table.shape[1:]).astype(table.dtype, copy=False)
    if cap is not None:
        values = values * _cap_scale(xp, table, row_hits(xp, ids, weights, table.shape[0]), cap)
    if table.dtype in (np.float32, np.float64):
        segment_scatter_add(xp, table, ids, values)
    else:
        xp.add.at(table, ids, values)


# A complex number is two floats of its dtype, and complex addition adds each part as a float:
# viewing a float table as complex halves the entries ``np.add.at`` walks and gives the same bits.
_PAIRS = {np.float32: np.complex64, np.float64: np.complex128}


def _kernel_table(table: Any) -> bool:
    """Whether :func:`scatter_add` on ``table`` goes to the sorted-run kernels."""
    return not isinstance(table, np.ndarray) and table.dtype in (np.float32, np.float64) \
        and table.flags.c_contiguous and fast_gpu()


def _sorted_scatter(xp: ModuleType, table: Any, ids: Any, values: Any, cap: Optional[float], weights: Any) -> None:
    """:func:`scatter_add` by the sorted-run kernels (float, C-contiguous ``table``; ``ids`` 1-D or :class:`SortedIds`).

    The entries are sorted by row (here, or ahead by :class:`StepSort`) and cut
    into tiles of :data:`SCATTER_TILE`: ``scatter_tiles`` sums each run's part
    within a tile, ``scatter_runs`` adds a run's tile sums in a fixed order and
    applies the sum to its row. No thread walks a whole run: on a real plan of
    16,384 centers a step's longest run is 1,300-1,400 entries of W_out and about
    2,000 of W_in (the most frequent words), which one thread would sum one
    dependent memory read at a time.
    """
    if not isinstance(ids, SortedIds):
        ids = SortedIds.of(xp, ids)
    sorted_ids, order, base = ids.sorted_ids, ids.order, ids.base
    n, dim = int(sorted_ids.size), math.prod(table.shape[1:])
    value_rows = values.size // dim
    group = ids.group(value_rows)
    if n == 0:
        return
    values = _as(xp, values.reshape(value_rows, dim), table.dtype)
    weighted = cap is not None and weights is not None
    weights = _as(xp, weights.ravel(), xp.float64) if weighted else xp.empty(0, xp.float64)   # unread
    part, part_hits = xp.empty((n, dim), dtype=table.dtype), xp.empty(n, dtype=xp.float64)
    tiles, tile = -(-n // SCATTER_TILE), np.int64(SCATTER_TILE)
    tiles_kernel, runs_kernel = _sorted_scatter_kernels(table.dtype)
    tiles_kernel(((tiles * dim + 255) // 256,), (256,),
                 (sorted_ids, order, base, np.int64(group), values, weights, np.int32(weighted), part, part_hits,
                  np.int64(n), np.int64(dim), tile))
    runs_kernel(((n * dim + 255) // 256,), (256,),
                (sorted_ids, part, part_hits, table, np.int64(n), np.int64(dim), tile,
                 np.float64(0.0 if cap is None else cap)))


class SortedIds:
    """A step's entries of an ``(rows, width)`` id matrix, sorted by id (:meth:`StepSort.step`).

    ``sorted_ids[i]`` is the step's flat entry ``order[i] - base`` (``order``
    counts from the chunk's first entry, ``base`` is the step's); entries left
    out by the sort's mask are not there. The values scattered with it have one
    row per entry, or one per id row, shared by the row's ``width`` entries.
    """

    __slots__ = ("sorted_ids", "order", "base", "rows", "width")

    def __init__(self, sorted_ids: Any, order: Any, base: int, rows: int, width: int):
        self.sorted_ids, self.order, self.base = sorted_ids, order, np.int64(base)
        self.rows, self.width = rows, width

    @classmethod
    def of(cls, xp: ModuleType, ids: Any) -> "SortedIds":
        """Ids sorted here, one step of width 1 (what :class:`StepSort` does ahead for a chunk)."""
        ids = _as(xp, ids.ravel(), xp.int32)                    # row ids fit int32; the plan's already are
        order = xp.argsort(ids) if ids.size else xp.zeros(0, dtype=xp.int64)
        return cls(ids[order], order, 0, int(ids.size), 1)

    def group(self, value_rows: int) -> int:
        """How many entries share a row of values: 1, or ``width`` when there is a row per id row."""
        if value_rows == self.rows * self.width:
            return 1
        if value_rows == self.rows:
            return self.width
        raise ValueError(f"{value_rows} rows of values for {self.rows} x {self.width} ids")


class StepSort:
    """The entries of a chunk's ``(m, w)`` id matrix sorted by (step, id), once a chunk.

    Step ``j`` trains rows ``bounds[j]:bounds[j + 1]``; :meth:`step` gives its
    entries as :class:`SortedIds`, so the sorted-run scatter kernels need no sort
    of their own: one sort a chunk instead of two a step (on CuPy a sort is a
    handful of launches and allocations). Entries where ``mask`` is false (a
    window's padding slots) are left out.
    """

    def __init__(self, xp: ModuleType, ids: Any, bounds: np.ndarray, vocab_size: int, mask: Any = None):
        self.width, self.bounds = int(ids.shape[1]), np.asarray(bounds)
        if ids.shape[0] == 0:                   # a chunk that planned no center: no sort on empty arrays
            self.order, self.sorted_ids = xp.zeros(0, dtype=xp.int64), xp.zeros(0, dtype=xp.int32)
            self.starts = np.zeros(len(self.bounds), dtype=np.int64)
            return
        steps = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
        key_type = np.int32 if (len(bounds) + 1) * (vocab_size + 1) < 2**31 else np.int64
        steps = xp.asarray(steps.astype(key_type))
        key = (steps[:, None] * key_type(vocab_size) + ids.astype(key_type)).ravel()
        if mask is None:
            self.order = xp.argsort(key)
            self.starts = self.bounds.astype(np.int64) * self.width
        else:
            kept = xp.flatnonzero(mask)
            self.order = kept[xp.argsort(key[kept])]
            before = xp.concatenate([xp.zeros(1, dtype=xp.int64), xp.cumsum(mask.sum(axis=1), dtype=xp.int64)])
            self.starts = to_numpy(before[xp.asarray(self.bounds)])      # kept entries before each step's rows
        self.sorted_ids = ids.ravel()[self.order].astype(xp.int32, copy=False)

    def step(self, lo: int, hi: int) -> SortedIds:
        """The entries of rows ``lo:hi`` (rows on the chunk's step bounds)."""
        first, last = np.searchsorted(self.bounds, [lo, hi])
        a, b = int(self.starts[first]), int(self.starts[last])
        return SortedIds(self.sorted_ids[a:b], self.order[a:b], int(lo) * self.width, int(hi) - int(lo), self.width)


def _cap_scale(xp: ModuleType, table: Any, hits: Any, cap: float) -> Any:
    """Each entry's factor ``min(1, cap / hits of its row)``, shaped to multiply its values."""
    scale = (cap / xp.maximum(hits, cap)).astype(table.dtype)
    return scale.reshape((-1,) + (1,) * (table.ndim - 1))


def fast_gpu() -> bool:
    """Whether ``NSW2V_FAST_GPU=1`` turns on the GPU paths not yet measured on a GPU.

    They are: the device reader (``nsw2v.ingest``), the fused CBOW and
    skip-gram kernels (:func:`fused_scores`) and the sorted-run scatter kernels. Their logic is
    tested on the CPU (the kernels' CUDA source compiled for the CPU, the
    reader on NumPy); until a GPU session has run the test suite and the
    benchmarks with them, CuPy keeps the array code measured on an H200.
    """
    return os.environ.get("NSW2V_FAST_GPU", "").strip().lower() in _TRUE


def segment_scatter_add(xp: ModuleType, table: Any, ids: Any, values: Any) -> None:
    """Deterministic ``table[ids] += values``: sort the ids, sum each run, one non-zero add per row.

    A run's sum is the difference of two entries of one float64 running sum
    (the error is about 1e-16 of the running total, far below float32
    resolution); run bounds come from ``searchsorted`` on the sorted ids.
    Every entry but the last of each run then adds exactly zero, so the
    atomic adds of ``xp.add.at`` give the same result in any order, and no
    step waits for the device (nothing depends on the number of runs).
    Written over ``xp``; CuPy uses it (unless ``NSW2V_FAST_GPU=1``), and the
    tests check it on NumPy too.
    """
    n = ids.size
    if n == 0:
        return
    ids = ids.ravel()
    order = xp.argsort(ids)
    sorted_ids = ids[order]
    running = xp.cumsum(values.reshape((n, -1))[order].astype(xp.float64), axis=0)      # (N, D)
    first = xp.searchsorted(sorted_ids, sorted_ids, side="left")
    last = xp.searchsorted(sorted_ids, sorted_ids, side="right") - 1
    before = running[xp.maximum(first - 1, 0)] * (first > 0)[:, None]                 # sum before the run
    is_last = (xp.arange(n) == last)[:, None]
    sums = xp.where(is_last, running - before, 0.0).astype(table.dtype)
    xp.add.at(table, sorted_ids, sums.reshape((n,) + table.shape[1:]))


def row_hits(xp: ModuleType, ids: Any, weights: Any, vocab_size: int) -> Any:
    """For each entry of ``ids`` (1-D), the hits its row gets from all entries (float64).

    One ``bincount`` over the rows, or a sort-based count when the table is
    much larger than the step (the bincount would be mostly zeros). On NumPy
    with 79,084 rows and 1,536 entries: 10 us against 26 us for the sort.
    """
    if weights is not None:
        weights = weights.ravel().astype(xp.float64)
    if vocab_size <= 256 * ids.shape[0]:
        return xp.bincount(ids, weights, minlength=vocab_size)[ids]
    _, inverse, counts = xp.unique(ids, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    if weights is not None:
        counts = xp.bincount(inverse, weights, minlength=counts.shape[0])
    return counts[inverse]


# The sorted-run scatter, in two kernels; SCALAR is float or double. Entry i of the sorted order
# is entry e = order[i] - base of the weights, and reads row e / group of the values (group entries
# share a row of values: a CBOW center's error, applied to each of its context words).
# scatter_tiles: one thread per (tile of SCATTER_TILE sorted entries, column) sums the entries of
# each run within its tile, in order, and writes each such sum (and its hits) at the run's last
# entry in the tile. scatter_runs: one thread per (entry, column); the thread of a run's last
# entry adds the run's sums from the earlier tiles (each at a tile's last entry), from last to
# first: a fixed order, one writer per table element, no atomics; then it caps the sum and adds
# it to the table.
SCATTER_TILE = 32
_SORTED_SCATTER = r"""
extern "C" __global__ void scatter_tiles(
        const int* sorted_ids, const long long* order, const long long base, const long long group,
        const SCALAR* values, const double* weights, const int weighted, SCALAR* part, double* part_hits,
        const long long n, const long long dim, const long long tile) {
    long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (tid >= (n + tile - 1) / tile * dim) return;
    long long t = tid / dim, d = tid % dim;
    long long end = (t + 1) * tile < n ? (t + 1) * tile : n;
    SCALAR sum = 0;
    double hits = 0;
    for (long long i = t * tile; i < end; ++i) {
        long long e = order[i] - base;
        sum += values[e / group * dim + d];
        hits += weighted ? weights[e] : 1.0;
        if (i + 1 == end || sorted_ids[i + 1] != sorted_ids[i]) {
            part[i * dim + d] = sum;
            if (d == 0) part_hits[i] = hits;
            sum = 0;
            hits = 0;
        }
    }
}

extern "C" __global__ void scatter_runs(
        const int* sorted_ids, const SCALAR* part, const double* part_hits, SCALAR* table, const long long n,
        const long long dim, const long long tile, const double cap) {
    long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (tid >= n * dim) return;
    long long i = tid / dim, d = tid % dim;
    long long id = sorted_ids[i];
    if (i + 1 < n && sorted_ids[i + 1] == id) return;
    SCALAR sum = part[i * dim + d];
    double hits = part_hits[i];
    for (long long j = i / tile * tile - 1; j >= 0 && sorted_ids[j] == id; j -= tile) {
        sum += part[j * dim + d];
        hits += part_hits[j];
    }
    if (cap > 0 && hits > cap) sum *= (SCALAR)(cap / hits);
    table[id * dim + d] += sum;
}
"""
_kernels: dict = {}


def _sorted_scatter_kernels(dtype: Any) -> tuple:
    """``(scatter_tiles, scatter_runs)`` for a float32 or float64 table."""
    name = np.dtype(dtype).name
    if name not in _kernels:
        source = _SORTED_SCATTER.replace("SCALAR", {"float32": "float", "float64": "double"}[name])
        cupy = _import_cupy()
        _kernels[name] = (cupy.RawKernel(source, "scatter_tiles"), cupy.RawKernel(source, "scatter_runs"))
    return _kernels[name]


# The steps' scores and gradients, one thread per center (tests/test_kernels.py runs this
# source on the CPU against the NumPy steps). For the center (label 1) and each negative
# (label 0): s = input . W_out[id], loss += -log sigma(+-s), g = lr (label - sigma(s)) (0 for a
# negative equal to the center with skip_hits); every row is read before any table is updated.
# CBOW: one input h, the mean of the real context rows; d_out[k] = g h, dh = sum_k g W_out[id].
# Skip-gram: each real context row is an input scored against the center's 1+K rows;
# d_out[k] = sum_c g_ck W_in[ctx_c], dh[c] = sum_k g_ck W_out[id] (0 for padding slots).
# A thread keeps h and its g in local arrays (vector_size up to NS_MAX_H, C * (1 + K) up to
# NS_MAX_G; larger steps use the array code) and writes each output element once, column by
# column after the scores: no read-modify-write of global memory. Rows are read and written
# four floats at a time (float4; vector_size a multiple of 4, rows 16-byte aligned): each thread
# walks its own rows, so a warp's access touches 32 rows at once, and a float4 access moves four
# times the data of a float access for the same cost in the L1 cache.
NS_MAX_H, NS_MAX_G = 512, 256
_NS_KERNELS = f"#define NS_MAX_H {NS_MAX_H}\n#define NS_MAX_G {NS_MAX_G}\n" + r"""
__device__ float dot4(const float4 a, const float4 b) {
    return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}

__device__ float4 axpy4(const float a, const float4 x, const float4 y) {
    float4 out = {a * x.x + y.x, a * x.y + y.y, a * x.z + y.z, a * x.w + y.w};
    return out;
}

__device__ float ns_term(const float4* input, const float4* row, const long long H4, const long long k,
                         const int hit, const float lr, float* total) {
    float s = 0.0f;
    for (long long q = 0; q < H4; ++q) s += dot4(input[q], row[q]);
    const float keep = (k > 0 && hit) ? 0.0f : 1.0f;
    const float z = k == 0 ? s : -s;
    *total += keep * (fmaxf(-z, 0.0f) + log1pf(expf(-fabsf(z))));
    return keep * lr * (k == 0 ? 1.0f : -1.0f) / (1.0f + expf(z));
}

__device__ const float4* ns_row(const float* W_out, const int* centers, const int* negatives, const long long b,
                                const long long K, const long long k, const long long H) {
    return (const float4*)(W_out + (long long)(k == 0 ? centers[b] : negatives[b * K + k - 1]) * H);
}

extern "C" __global__ void cbow_ns(
        const float* W_in, const float* W_out, const int* contexts, const unsigned char* mask,
        const int* centers, const int* negatives, const long long B, const long long C,
        const long long K, const long long H, const float lr, const int skip_hits,
        float* dh, float* d_out, float* loss) {
    long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const long long H4 = H / 4;
    const float4 zero = {0.0f, 0.0f, 0.0f, 0.0f};
    float4 h[NS_MAX_H / 4];
    float g[NS_MAX_G];
    float count = 0.0f;
    for (long long q = 0; q < H4; ++q) h[q] = zero;
    for (long long c = 0; c < C; ++c) {
        if (!mask[b * C + c]) continue;
        count += 1.0f;
        const float4* row = (const float4*)(W_in + (long long)contexts[b * C + c] * H);
        for (long long q = 0; q < H4; ++q) h[q] = axpy4(1.0f, row[q], h[q]);
    }
    for (long long q = 0; q < H4; ++q) h[q] = axpy4(1.0f / count, h[q], zero);
    const long long center = centers[b];
    float total = 0.0f;
    for (long long k = 0; k <= K; ++k) {
        const int hit = skip_hits && k > 0 && negatives[b * K + k - 1] == center;
        g[k] = ns_term(h, ns_row(W_out, centers, negatives, b, K, k, H), H4, k, hit, lr, &total);
    }
    float4* out = (float4*)(d_out + b * (K + 1) * H);
    for (long long q = 0; q < H4; ++q) {
        float4 sum = zero;
        for (long long k = 0; k <= K; ++k) {
            sum = axpy4(g[k], ns_row(W_out, centers, negatives, b, K, k, H)[q], sum);
            out[k * H4 + q] = axpy4(g[k], h[q], zero);
        }
        ((float4*)(dh + b * H))[q] = sum;
    }
    loss[b] = total;
}

extern "C" __global__ void skipgram_ns(
        const float* W_in, const float* W_out, const int* contexts, const unsigned char* mask,
        const int* centers, const int* negatives, const long long B, const long long C,
        const long long K, const long long H, const float lr, const int skip_hits,
        float* dh, float* d_out, float* loss) {
    long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const long long H4 = H / 4;
    const float4 zero = {0.0f, 0.0f, 0.0f, 0.0f};
    float g[NS_MAX_G];                                      // g[c * (K + 1) + k], 0 for padding slots
    const long long center = centers[b];
    float total = 0.0f;
    for (long long c = 0; c < C; ++c) {
        const int real = mask[b * C + c];
        const float4* input = (const float4*)(W_in + (long long)contexts[b * C + c] * H);
        for (long long k = 0; k <= K; ++k) {
            const int hit = skip_hits && k > 0 && negatives[b * K + k - 1] == center;
            g[c * (K + 1) + k] = real ? ns_term(input, ns_row(W_out, centers, negatives, b, K, k, H), H4, k, hit,
                                                lr, &total)
                                      : 0.0f;
        }
    }
    for (long long q = 0; q < H4; ++q) {
        for (long long c = 0; c < C; ++c) {
            float4 sum = zero;
            for (long long k = 0; k <= K; ++k)
                sum = axpy4(g[c * (K + 1) + k], ns_row(W_out, centers, negatives, b, K, k, H)[q], sum);
            ((float4*)(dh + (b * C + c) * H))[q] = sum;
        }
        for (long long k = 0; k <= K; ++k) {
            float4 sum = zero;
            for (long long c = 0; c < C; ++c)
                sum = axpy4(g[c * (K + 1) + k], ((const float4*)(W_in + (long long)contexts[b * C + c] * H))[q], sum);
            ((float4*)(d_out + (b * (K + 1) + k) * H))[q] = sum;
        }
    }
    loss[b] = total;
}
"""


def kernel_steps(W_in: Any, W_out: Any, width: int, negative: int) -> bool:
    """Whether steps on these tables, ``width`` context slots and ``negative`` negatives a center, go to the
    fused kernels (and their scatters): CuPy with :func:`fast_gpu`, C-contiguous float32 tables 16-byte
    aligned, rows of a multiple of 4 floats up to ``NS_MAX_H``, at most ``NS_MAX_G`` scores per center."""
    return not isinstance(W_in, np.ndarray) and fast_gpu() and W_in.dtype == np.float32 \
        and W_out.dtype == np.float32 and W_in.flags.c_contiguous and W_out.flags.c_contiguous \
        and W_in.shape[1] <= NS_MAX_H and W_in.shape[1] % 4 == 0 and W_in.data.ptr % 16 == 0 \
        and W_out.data.ptr % 16 == 0 and width * (negative + 1) <= NS_MAX_G


def fused_scores(model: str, W_in: Any, W_out: Any, centers: Any, contexts: Any, mask: Any, negatives: Any,
                 lr: float, skip_hits: bool) -> Optional[tuple]:
    """A step's scores and gradients in one CuPy kernel: ``(dh, d_out (B, 1+K, H), loss (B,))``.

    ``model`` is ``"cbow"`` (``dh`` is ``(B, H)``, one input per center) or
    ``"skipgram"`` (``dh`` is ``(B, C, H)``, zero on padding slots). ``None``
    where :func:`kernel_steps` says there is no such kernel: the caller then
    computes the same with array operations (``steps._ns_update``).
    """
    if isinstance(W_in, np.ndarray) or not kernel_steps(W_in, W_out, contexts.shape[1], negatives.shape[1]):
        return None
    return _ns_kernel_scores(get_array_module(W_in), model, W_in, W_out, centers, contexts, mask, negatives, lr,
                             skip_hits)


def _ns_kernel_scores(xp: ModuleType, model: str, W_in: Any, W_out: Any, centers: Any, contexts: Any, mask: Any,
                      negatives: Any, lr: float, skip_hits: bool) -> tuple:
    """:func:`fused_scores` past its checks: the outputs allocated and the kernel launched."""
    name = {"cbow": "cbow_ns", "skipgram": "skipgram_ns"}[model]
    B, C = (int(n) for n in contexts.shape)
    K, H = int(negatives.shape[1]), int(W_in.shape[1])
    if name not in _kernels:
        _kernels[name] = _import_cupy().RawKernel(_NS_KERNELS, name)
    dh = xp.empty((B, H) if model == "cbow" else (B, C, H), dtype=xp.float32)
    d_out = xp.empty((B, K + 1, H), dtype=xp.float32)
    loss = xp.empty(B, dtype=xp.float32)
    _kernels[name](((B + 127) // 128,), (128,),
                   (W_in, W_out, _as(xp, contexts, xp.int32), _as(xp, mask, xp.bool_), _as(xp, centers, xp.int32),
                    _as(xp, negatives, xp.int32), np.int64(B), np.int64(C), np.int64(K), np.int64(H),
                    np.float32(lr), np.int32(bool(skip_hits)), dh, d_out, loss))
    return dh, d_out, loss


def _as(xp: ModuleType, a: Any, dtype: Any) -> Any:
    """``a`` as a C-contiguous array of ``dtype`` for a kernel: no copy (and no launch) when it already is one."""
    if a.dtype == dtype and a.flags.c_contiguous:
        return a
    return xp.ascontiguousarray(a, dtype=dtype)
