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

import os
from types import ModuleType
from typing import Any, Optional

import numpy as np

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

_cupy: Optional[ModuleType] = None
_cupy_error: Optional[BaseException] = None
_cupy_tried = False


class BackendUnavailableError(RuntimeError):
    """The GPU backend was asked for but cannot be used."""


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


def cupy_or_raise() -> ModuleType:
    """Return CuPy with a usable CUDA device, or raise BackendUnavailableError saying why."""
    cupy = _import_cupy()
    if cupy is None:
        raise BackendUnavailableError(
            f"GPU=1 asks for CuPy, but CuPy is not installed ({_cupy_error}). "
            "Install it with `pip install 'nsw2v[gpu]'` (CUDA 12) or unset GPU to run on NumPy."
        )
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        raise BackendUnavailableError(
            f"GPU=1 asks for CuPy; CuPy is installed but no usable CUDA device was found ({exc}). "
            "Check the NVIDIA driver (nvidia-smi) or unset GPU to run on NumPy."
        ) from None
    if count < 1:
        raise BackendUnavailableError(
            "GPU=1 asks for CuPy; CuPy is installed but no CUDA device is visible. "
            "Check CUDA_VISIBLE_DEVICES and the driver, or unset GPU to run on NumPy."
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
            return cupy_or_raise()
        raise ValueError(f"xp={xp!r}: expected 'numpy' or 'cupy'")
    if xp is np or getattr(xp, "__name__", "") == "cupy":
        return xp
    raise ValueError(f"xp={xp!r}: expected numpy, cupy, 'numpy' or 'cupy'")


def is_cupy(xp: ModuleType) -> bool:
    return xp is not np


def get_array_module(*arrays: Any) -> ModuleType:
    """The module (numpy or cupy) that owns these arrays."""
    if _cupy is not None:
        return _cupy.get_array_module(*arrays)
    return np


def to_numpy(a: Any) -> np.ndarray:
    """A host (NumPy) copy or view of a NumPy or CuPy array."""
    if isinstance(a, np.ndarray):
        return a
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def to_float(x: Any) -> float:
    """A Python float from a scalar, 0-d NumPy or 0-d CuPy array."""
    return float(to_numpy(x))


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


def scatter_add(table: Any, ids: Any, values: Any) -> None:
    """``table[ids] += values`` with repeated ids summed, in place, deterministically.

    NumPy: the rows are flattened into one 1-D ``np.add.at`` over
    ``table.ravel()``, which takes NumPy's fast path for 1-D ``ufunc.at``
    (NumPy >= 1.25): about 4x faster than sorting the ids and reducing runs
    with ``np.add.reduceat``, and 8x faster than a 2-D ``np.add.at``.
    CuPy: ``cupy.add.at`` adds floats atomically in an order that changes
    from run to run, so float tables go through :func:`segment_scatter_add`
    instead (the same seed then gives the same vectors); integer tables, whose
    sums do not depend on the order, use ``cupy.add.at``.
    """
    if isinstance(table, np.ndarray):
        ids = np.asarray(ids).ravel()
        values = np.asarray(values, dtype=table.dtype)
        if table.ndim == 1 or not table.flags.c_contiguous:
            np.add.at(table, ids, values.reshape((ids.size,) + table.shape[1:]))
            return
        row = int(np.prod(table.shape[1:]))
        flat = (ids.astype(np.int64)[:, None] * row + np.arange(row, dtype=np.int64)).ravel()
        np.add.at(table.reshape(-1), flat, values.reshape(-1))
        return
    xp = get_array_module(table)
    ids = ids.ravel()
    values = values.reshape((ids.size,) + table.shape[1:]).astype(table.dtype, copy=False)
    if np.issubdtype(table.dtype, np.integer):
        xp.add.at(table, ids, values)
    else:
        segment_scatter_add(xp, table, ids, values)


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
