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

import contextlib
import math
import os
import sys
from types import ModuleType
from typing import Any, Callable, ContextManager, Optional

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


def free_pool(xp: ModuleType) -> None:
    """Give the blocks CuPy's memory pool keeps for reuse back to the device (no-op on NumPy): after a phase
    whose temporaries dwarf what follows, such as reading a corpus on the device."""
    if is_cupy(xp):
        xp.get_default_memory_pool().free_all_blocks()


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


def this_threads_device(xp: ModuleType) -> Callable[[], ContextManager]:
    """A context factory that makes the calling thread's current GPU current in another thread (CUDA keeps the
    current device per thread: a reader thread would otherwise work on device 0); nothing on NumPy."""
    if not is_cupy(xp):
        return contextlib.nullcontext
    device = xp.cuda.Device().id
    return lambda: xp.cuda.Device(device)


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
    same seed then gives the same vectors). Integer tables, whose sums do not
    depend on the order, use ``cupy.add.at``.
    """
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


def _cap_scale(xp: ModuleType, table: Any, hits: Any, cap: float) -> Any:
    """Each entry's factor ``min(1, cap / hits of its row)``, shaped to multiply its values."""
    scale = (cap / xp.maximum(hits, cap)).astype(table.dtype)
    return scale.reshape((-1,) + (1,) * (table.ndim - 1))


def fast_gpu() -> bool:
    """Whether ``NSW2V_FAST_GPU=1`` turns on the GPU paths not yet measured on a GPU.

    They are: the device reader (``nsw2v.ingest``) and the CUDA engine, which
    walks the corpus in order (``nsw2v.training.cuda_engine``). Their logic is
    tested on the CPU (the reader on NumPy, the kernels' CUDA source run on the
    CPU by a warp emulator); until a GPU session has run the test suite and the
    benchmarks with them, CuPy keeps the array code measured on an H200.
    """
    return os.environ.get("NSW2V_FAST_GPU", "").strip().lower() in _TRUE


def raw_module(xp: ModuleType, code: str, options: tuple = ()) -> Any:
    """``cupy.RawModule`` of CUDA source ``code`` built with compiler ``options`` (CuPy compiles it when a
    kernel is first asked for, and keeps the binary in its cache folder)."""
    if not is_cupy(xp):
        raise BackendUnavailableError("CUDA kernels run on CuPy (xp='cupy'), not on NumPy")
    return xp.RawModule(code=code, options=tuple(options))


def segment_scatter_add(xp: ModuleType, table: Any, ids: Any, values: Any) -> None:
    """Deterministic ``table[ids] += values``: sort the ids, sum each run, one non-zero add per row.

    A run's sum is the difference of two entries of one float64 running sum
    (the error is about 1e-16 of the running total, far below float32
    resolution); run bounds come from ``searchsorted`` on the sorted ids.
    Every entry but the last of each run then adds exactly zero, so the
    atomic adds of ``xp.add.at`` give the same result in any order, and no
    step waits for the device (nothing depends on the number of runs).
    Written over ``xp``; CuPy uses it, and the tests check it on NumPy too.
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
