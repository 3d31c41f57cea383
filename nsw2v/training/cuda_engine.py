"""The CUDA engine: one kernel launch per chunk, each warp walking one stream of it in order.

    >>> model = Word2Vec(corpus_file="text8.txt.gz", xp="cupy", engine="cuda")        # doctest: +SKIP

What it computes is :mod:`.walk`'s rules (the batched sampler path): the chunk's
kept positions cut into ``streams`` streams, each walked center after center by
one warp of ``nsw2v/cuda/walk.cu``, which draws its windows and negatives from
the chunk's key and adds its updates to ``W_in`` and ``W_out`` in place with
atomic adds, without locks (Hogwild). ``tests/test_cuda_walk.py`` runs that
source on the CPU against :func:`.walk.reference`.

The host side stays off the training stream's way: the subsampling of the next
chunk (:meth:`CudaEngine.prepare`, run by the driver's reader thread) runs on a
stream of its own and hands its result over by an event, which the training
stream waits for on the device; the host never waits for a chunk to finish
before launching the next (the driver's loss report is what synchronises). A
corpus read by the device reader (:class:`nsw2v.ingest.ResidentCorpus`) is
already on the device: its chunks are slices, nothing is copied per epoch.

The number of streams is the quality knob: ``N`` warps in flight read rows that
up to ``N - 1`` other centers are about to update. ``model.streams`` sets it;
by default :data:`DEFAULT_STREAMS`, but at most a 256th of the corpus's words
(the array engine's rule for its batch), so that a small corpus still gets
enough sequential steps. ``benchmarks/README.md`` says how the default was chosen.
"""
from __future__ import annotations

import contextlib
import functools
from collections import deque
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Tuple

import numpy as np

from .. import backend
from ..errors import ParameterError
from . import walk
from .plan import LearningRate

#: Streams (warps) in flight by default: the most that held quality without a cap in the CPU's lockstep
#: simulation (4,096 diverged there; the kernel's atomic adds have no cap), over five times what the latency
#: estimate asks for 50M words/s (benchmarks/README.md, "How many streams"). Not yet measured on a GPU.
DEFAULT_STREAMS = 1024
#: The default streams are at most the corpus's words over this (a stream then walks at least this many
#: words an epoch), as the array engine's default batch.
MIN_STREAM_WORDS = 256
#: Warps per block (fewer when a warp's shared memory needs it).
WARPS_PER_BLOCK = 4
#: Try float4 atomic adds on devices that have them (compute capability 9.0); off: four float atomics.
VECTOR_ATOMICS = True
#: The kernels' source, shipped in the package.
SOURCE = Path(__file__).resolve().parent.parent / "cuda" / "walk.cu"
KERNELS = {0: "walk_cbow", 1: "walk_skipgram"}
_STATIC_SHARED_LIMIT = 48 * 1024        # dynamic shared memory a block gets without asking


@functools.lru_cache(maxsize=None)
def source() -> str:
    return SOURCE.read_text(encoding="utf-8")


def layout(vector_size: int, aligned: bool) -> Tuple[int, int]:
    """``(VEC, NCH)``: floats a lane reads at once (4 when rows are 16-byte aligned and a multiple of 4 floats)
    and the chunks of ``32 * VEC`` floats a row spans."""
    vec = 4 if aligned and vector_size % 4 == 0 else 1
    return vec, -(-vector_size // (32 * vec))


def shared_words(window: int, negative: int, sg: int, vec: int, nch: int) -> int:
    """32-bit words of shared memory a warp uses (``walk_shared_words`` in ``walk.cu``)."""
    words = (sg and (negative + 1) * nch * 32 * vec) + 2 * (negative + 1) + 6 * window
    return (words + 3) // 4 * 4


def block_shape(bytes_per_warp: int) -> Tuple[int, int]:
    """``(warps per block, shared bytes per block)``: :data:`WARPS_PER_BLOCK`, fewer when a block's shared
    memory would pass what a block gets without asking."""
    warps = WARPS_PER_BLOCK
    while warps > 1 and warps * bytes_per_warp > _STATIC_SHARED_LIMIT:
        warps //= 2
    return warps, warps * bytes_per_warp


def packed_alias(tables: walk.Tables) -> np.ndarray:
    """The alias table one uint64 a column, as ``walk.cu`` reads it: the acceptance threshold (at most
    ``2**32``) in the low 33 bits, the alias id above them."""
    return tables.accept.astype(np.uint64) | (tables.alias.astype(np.uint64) << np.uint64(33))


_modules: dict = {}


def kernel(xp: Any, sg: int, vec: int, nch: int) -> Any:
    """The compiled kernel of ``walk.cu`` for skip-gram or CBOW and these sizes, built once per process
    (CuPy also keeps the binary in its cache folder, ``CUPY_CACHE_DIR``)."""
    options = (f"-DVEC={vec}", f"-DNCH={nch}")
    if VECTOR_ATOMICS and vec == 4 and backend.is_cupy(xp) and int(xp.cuda.Device().compute_capability) >= 90:
        options += ("-DWALK_VEC_ATOMIC=1",)
    key = (xp.__name__, sg, options)
    if key not in _modules:
        try:
            _modules[key] = backend.raw_module(xp, source(), options).get_function(KERNELS[sg])
        except Exception:
            if "-DWALK_VEC_ATOMIC=1" not in options:
                raise
            # a CUDA without float4 atomicAdd (before 12.x): four float atomics
            _modules[key] = backend.raw_module(xp, source(), options[:2]).get_function(KERNELS[sg])
    return _modules[key]


def default_streams(total_words: int) -> int:
    """The streams used when ``model.streams`` is not set."""
    return max(1, min(DEFAULT_STREAMS, int(total_words) // MIN_STREAM_WORDS))


class Walk:
    """``walk.cu``'s kernel for one model's sizes, and its launch: ``walk(W_in, W_out, ids, sid, key, table,
    streams, lr0, lr1)`` trains a chunk's kept positions and returns ``[loss sum, examples]`` on the device.

    ``aligned``: whether both tables' rows start on 16 bytes (float4 reads). Raises
    :class:`~nsw2v.errors.ParameterError` when a warp's shared memory would not fit on the device.
    """

    def __init__(self, xp: Any, sg: int, vector_size: int, window: int, negative: int, aligned: bool = True):
        self.xp, self.sg, self.window, self.negative = xp, int(sg), int(window), int(negative)
        self.vec, self.nch = layout(vector_size, aligned)
        per_warp = 4 * shared_words(window, negative, sg, self.vec, self.nch)
        self.warps, self.shared_bytes = block_shape(per_warp)
        if self.shared_bytes > _STATIC_SHARED_LIMIT and self.shared_bytes > _shared_limit(xp):
            raise ParameterError(
                f"vector_size={vector_size} with negative={negative} and window={window} needs {self.shared_bytes} "
                f"bytes of shared memory per warp on engine='cuda', more than the device's {_shared_limit(xp)}: "
                "lower them or use engine='array'")
        self.kernel = kernel(xp, sg, self.vec, self.nch)
        if self.shared_bytes > _STATIC_SHARED_LIMIT:
            self.kernel.max_dynamic_shared_size_bytes = self.shared_bytes

    def __call__(self, W_in: Any, W_out: Any, ids: Any, sid: Any, key: int, table: Any, streams: int, lr0: float,
                 lr1: float) -> Any:
        xp, kept = self.xp, int(ids.shape[0])
        length = -(-kept // streams)
        streams = -(-kept // length)                                # streams that hold positions
        partial = xp.empty((2, streams), dtype=xp.float64)          # per warp: loss, examples
        self.kernel((-(-streams // self.warps),), (32 * self.warps,),
                    (W_in, W_out, np.int32(W_in.shape[1]), ids, sid, np.int64(kept), np.int64(length),
                     np.int64(streams), table, np.int32(table.shape[0]), np.uint64(key), np.int32(self.window),
                     np.int32(self.negative), np.float64(lr0), np.float64(lr1), partial),
                    shared_mem=self.shared_bytes)
        return partial.sum(axis=1)                                  # one reduction for both


class Chunk(NamedTuple):
    """A chunk ready to train: its kept ids and sentence numbers on the device, its key, how many, and the
    event after which they are there (``None`` on NumPy)."""

    ids: Any
    sid: Any
    key: int
    kept: int
    ready: Any


class CudaEngine:
    """Trains chunks by launches of ``walk.cu`` (see the module's docstring)."""

    name = "cuda"
    #: In-vocabulary words of a chunk (one launch) when ``model.chunk_words`` is None.
    chunk_words = 1_000_000
    #: train() returns with the kernel queued: the driver reads a chunk's loss after queueing the next chunk
    lagged_loss = True

    def __init__(self, model: Any, schedule: LearningRate):
        xp = self.xp = model.xp
        for name in ("W_in", "W_out"):
            table = getattr(model, name)
            if table.dtype != np.float32 or not table.flags.c_contiguous:
                raise ParameterError(f"engine='cuda' trains C-contiguous float32 tables; {name} is not one")
        self.model, self.schedule = model, schedule
        tables = walk.Tables.of(model.vocab, model.ns_exponent, model.sample)
        self.keep = xp.asarray(tables.keep) if model.sample > 0 else None
        self.table = xp.asarray(packed_alias(tables))
        streams = getattr(model, "streams", None)
        self.streams = default_streams(model.vocab.total_words) if streams is None else int(streams)
        aligned = all(_address(getattr(model, name)) % 16 == 0 for name in ("W_in", "W_out"))
        self.walk = Walk(xp, model.sg, model.vector_size, model.window, model.negative, aligned)
        # the subsampling of the next chunk runs on a stream of its own, beside the training
        self.side = xp.cuda.Stream(non_blocking=True) if backend.is_cupy(xp) else None
        self._in_flight: deque = deque()          # (chunk, sums, done event) until their kernel ends

    def prepare(self, epoch: int, number: int, ids: Any, sid: Any) -> Chunk:
        """Chunk ``number`` of ``epoch`` on the device, subsampled (:func:`.walk.subsample`); host or device
        ``ids``/``sid`` (int32)."""
        xp = self.xp
        key = walk.chunk_key(self.model.seed, epoch, number, getattr(self.model, "rank", 0))
        with (self.side if self.side is not None else contextlib.nullcontext()):
            ids, sid = xp.asarray(ids, dtype=xp.int32), xp.asarray(sid, dtype=xp.int32)
            if self.keep is not None:
                ids, sid = walk.subsample(xp, ids, sid, self.keep, key)
            ready = self.side.record() if self.side is not None else None
        return Chunk(ids, sid, key, int(ids.shape[0]), ready)

    def train(self, chunk: Chunk, raw_words: int, words_before: float, acc: Any,
              report: Optional[Callable] = None) -> float:
        """One launch over the chunk: every stream from the chunk's first rate to its last."""
        xp, model = self.xp, self.model
        lr0, lr1 = self.schedule.at(words_before), self.schedule.at(words_before + raw_words)
        self._retire()
        if chunk.kept:
            if chunk.ready is not None:
                xp.cuda.get_current_stream().wait_event(chunk.ready)
            sums = self.walk(model.W_in, model.W_out, chunk.ids, chunk.sid, chunk.key, self.table, self.streams,
                             lr0, lr1)
            acc.add(sums[0], sums[1])
            if backend.is_cupy(xp):                               # keep the inputs alive until the kernel ends
                self._in_flight.append((chunk, sums, xp.cuda.get_current_stream().record()))
        if report is not None:
            report(words_before + raw_words, lr1)
        return lr1

    def _retire(self) -> None:
        """Let go of the chunks whose kernels have finished (their memory may then be reused by any stream)."""
        while self._in_flight and self._in_flight[0][2].done:
            self._in_flight.popleft()


def _address(a: Any) -> int:
    return int(a.ctypes.data) if isinstance(a, np.ndarray) else int(a.data.ptr)


def _shared_limit(xp: Any) -> int:
    """Dynamic shared memory a block may ask for on this device."""
    if not backend.is_cupy(xp):
        return 227 * 1024
    return int(xp.cuda.Device().attributes["MaxSharedMemoryPerBlockOptin"])
