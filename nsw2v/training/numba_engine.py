"""The compiled CPU engine: the word2vec C tool's loop, compiled with Numba, on ``workers`` threads.

    >>> from nsw2v import Word2Vec
    >>> model = Word2Vec(corpus_file="text8", engine="numba", workers=4)     # doctest: +SKIP
    >>> model = Word2Vec(corpus_file="text8", engine="numba", workers=1)     # the same vectors for a seed

The default engine on NumPy when numba is installed (:mod:`.engines`). It walks
each chunk center after center by the rules of :mod:`.walk` (the same
counter-based draws for subsampling, window and negatives, on both sampler
paths; reads before writes per center; CBOW, and skip-gram with the negatives
shared by a window), updating ``model.W_in`` and ``model.W_out`` in place. The
only module of nsw2v that imports numba.

Threads and streams
-------------------
A chunk's kept positions are cut into ``workers x`` :data:`INTERLEAVE` of
:mod:`.walk`'s streams; each of ``workers`` Python threads takes
:data:`INTERLEAVE` consecutive streams and walks them together, position ``t``
of each before position ``t + 1`` of any, every update made at once
(``walk.reference(..., interleave=True)``), by calling the compiled loop, which
releases the GIL (``nogil=True``). Walking 64 streams together rather than one
in order (the C tool's order; ``INTERLEAVE = 1``) cost 12% more time and gave
1.2 to 1.5 points more analogy accuracy after one epoch of enwiki (CBOW 13.8
and 13.9% against 12.4 and 12.5%, skip-gram 14.7% against 13.5%, WordSim-353
0.01 to 0.02 higher; two threads, 2026-12-07): consecutive centers share their
windows, and a walk that dwells on one passage pulls the vectors toward it.

The threads update the two tables without locks, as the C tool's threads do
(Hogwild), so nothing is copied per thread but a few rows of scratch. Python
threads rather than Numba's ``parallel=True``: the thread count is exactly
``workers`` with no threading layer to choose or configure, the main thread
stays free to report progress and to catch Ctrl-C (it sets a stop flag that
the loop polls every :data:`POLL` centers), and one thread reproduces
:func:`.walk.reference` exactly. With ``workers=1`` a seed gives the same
vectors on every run; with more, the threads' updates interleave by timing, as
in the C tool and gensim.

Compilation
-----------
The loops are compiled on first use and cached on disk (``cache=True``: in
``__pycache__`` beside this file, or Numba's user-wide cache when that is not
writable); :func:`load` compiles or loads them (``Word2Vec.build_vocab`` calls
it before it allocates the tables, an engine when it is built), and says so on
stderr when it takes a while (``compile_seconds``). Loading reads in some 70
MiB of LLVM's shared library, which training never runs: they are handed back
at once (:func:`nsw2v.util.release_library_pages`), so that a process training
with the loop is resident at what it holds, not at what Numba read to load it
(one epoch of enwiki: 317-335 MiB at its peak before, 230-245 after, with the
smaller chunks of :attr:`NumbaEngine.chunk_words`). ``fastmath`` allows reassociation
and fused multiply-adds only (``reassoc``, ``contract``, ``nsz``): the dot
products then vectorise (their float32 sums are taken in another order, a
difference of rounding, tested against the reference), while ``nnan``/``ninf``
stay off so that a diverging run still shows a non-finite loss to the driver.

Lockstep simulation (benchmarks only)
-------------------------------------
``NumbaEngine(model, schedule, lockstep=N)`` (or the :func:`lockstep` context
manager around ``Word2Vec.train``) trains on one thread as a GPU with ``N``
streams in flight would at worst: step ``t`` computes the ``t``-th center of
every stream from the tables as they were at the step's start, then adds all
the updates (summed per row). ``N=1`` is the sequential walk. It answers how
much staleness costs in quality (``benchmarks/quality_streams.py``); nothing
else uses it.
"""
from __future__ import annotations

import contextlib
import math
import sys
import threading
import time
from typing import Any, Callable, Iterator, Optional, Tuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..util import release_library_pages
from . import walk
from .plan import LearningRate

__all__ = ["NumbaEngine", "load", "lockstep", "POLL"]

#: Centers between two looks at the stop flag (and two progress updates) in the compiled loop.
POLL = 2048
#: Streams each thread walks together (:func:`.walk.reference`'s ``interleave``); see the module docstring.
INTERLEAVE = 64
#: Positions subsampled at a time by :meth:`NumbaEngine.prepare`.
SUBSAMPLE_PIECE = 1 << 16
#: Reassociation (vectorised dot products) and fused multiply-adds; no nnan/ninf (see the module docstring).
FASTMATH = {"reassoc", "contract", "nsz"}

_U32 = np.uint64(32)
_U11 = np.uint64(11)
_LOW32 = np.uint64(0xFFFFFFFF)
_GAMMA = np.uint64(walk.GAMMA)
_M1, _M2 = np.uint64(walk.M1), np.uint64(walk.M2)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_WINDOW = np.uint64(walk.WINDOW)
_NEGATIVES = walk.NEGATIVES
_STATS = 8          # float64 per thread in the stats array: one 64-byte line each (loss, examples, positions)


# ------------------------------------------------------------------------------------- the compiled loops


@intrinsic
def _prefetch_row(typingctx, table, row):
    """Ask the CPU to bring row ``row`` of a 2-D C-contiguous table into its caches (``llvm.prefetch`` on each
    64-byte line; a hint: no fault, no result)."""
    if not (isinstance(table, types.Array) and table.ndim == 2 and table.layout == "C"
            and isinstance(row, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        zero = ir.Constant(cgutils.intp_t, 0)
        start = builder.bitcast(cgutils.get_item_pointer(context, builder, array_type, array, [index, zero]),
                                ir.IntType(8).as_pointer())
        width = cgutils.unpack_tuple(builder, array.shape)[1]
        size = builder.mul(width, ir.Constant(cgutils.intp_t, context.get_abi_sizeof(
            context.get_data_type(array_type.dtype))))
        i32 = ir.IntType(32)
        prefetch = builder.module.declare_intrinsic(          # named by llvmlite for its LLVM's pointer types
            "llvm.prefetch", [start.type], ir.FunctionType(ir.VoidType(), [start.type, i32, i32, i32]))
        with cgutils.for_range_slice(builder, zero, size, ir.Constant(cgutils.intp_t, 64)) as (offset, _):
            # read, keep in all cache levels, data
            builder.call(prefetch, [builder.gep(start, [offset]), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(table, row), codegen


@njit(nogil=True, cache=True)
def _mix(z):
    """splitmix64's output for state ``z`` (uint64, wrapping): :func:`.walk.mix`."""
    z = z + _GAMMA
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(nogil=True, cache=True)
def _exact_excluding(bits, center, outs, n, p):
    """One id from ``p`` without the center and ``outs[1:1+n]``, by inverse transform (:mod:`.walk`'s
    fallback; no fastmath: the cumulative sums are NumPy's, in order)."""
    V = p.shape[0]
    total = 0.0
    for i in range(V):
        if not _taken(i, center, outs, n):
            total += p[i]
    u = np.float64(bits >> _U11) * 2.0 ** -53 * total
    cumulative = 0.0
    for i in range(V):
        if not _taken(i, center, outs, n):
            cumulative += p[i]
        if cumulative > u:
            return i
    return V - 1


@njit(nogil=True, cache=True)
def _taken(word, center, outs, n):
    if word == center:
        return True
    for i in range(n):
        if outs[1 + i] == word:
            return True
    return False


@njit(nogil=True, cache=True)
def _outputs(key_q, center, negative, exclusion, max_draws, accept, alias, p, outs):
    """``outs[0] = center`` and its negatives after it; returns how many outputs train (the batched path's
    negatives equal to the center are dropped, the others keep their order)."""
    V = np.uint64(alias.shape[0])
    outs[0] = center
    n = 0
    j = 0
    while n < negative:
        bits = _mix(key_q ^ np.uint64(_NEGATIVES + j))
        if exclusion and j >= max_draws:
            outs[1 + n] = _exact_excluding(bits, center, outs, n, p)
            n += 1
            j += 1
            continue
        column = ((bits >> _U32) * V) >> _U32
        word = np.int64(column) if (bits & _LOW32) < accept[column] else np.int64(alias[column])
        j += 1
        if exclusion and _taken(word, center, outs, n):
            continue
        outs[1 + n] = word
        n += 1
    if exclusion:
        return 1 + negative
    trained = 1
    for k in range(1, 1 + negative):
        if outs[k] != center:
            outs[trained] = outs[k]
            trained += 1
    return trained


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def _center(q, ids, sid, key, window, sg, lr, W_in, W_out, dst_in, dst_out, outs, T, ctx, grads, rows, h, work,
            bits):
    """Train position ``q`` against the outputs ``outs[:T]`` (:func:`_outputs`): read ``W_in``/``W_out``, add
    the updates to ``dst_in``/``dst_out`` (the tables themselves, or the lockstep's sums). Returns ``(loss,
    examples, contexts)``; the input rows touched are ``ctx[:contexts]``. Scratch: ``grads`` (float32,
    ``2 window (1 + negative)``), ``rows`` (``(2 window, H)``), ``h`` (``H``), ``work`` (float64, ``(3,
    len(grads))``) and ``bits``, ``work`` viewed as int64."""
    m = ids.shape[0]
    H = W_in.shape[1]
    key_q = _mix(key ^ np.uint64(q))
    reach = window - np.int64(((_mix(key_q ^ _WINDOW) >> _U32) * np.uint64(window)) >> _U32)
    sentence = sid[q]
    lo = q
    while lo > 0 and q - lo < reach and sid[lo - 1] == sentence:
        lo -= 1
    hi = q
    while hi < m - 1 and hi - q < reach and sid[hi + 1] == sentence:
        hi += 1
    C = 0
    for c in range(lo, hi + 1):
        if c != q:
            ctx[C] = ids[c]
            C += 1
    if C == 0:
        return 0.0, 0, 0
    if sg:
        # Ji et al.'s shape: the window's C context rows against the T output rows, (C, H) x (H, T); every
        # row is read in place, and each table is read in full before it is written. grads[c T + k]: first the
        # scores, two a pass (independent dots overlap), then their gradients in one vectorised pass.
        for c in range(C):
            row = ctx[c]
            for k in range(0, T - 1, 2):
                out, out2 = outs[k], outs[k + 1]
                s = np.float32(0.0)
                s2 = np.float32(0.0)
                for j in range(H):
                    s += W_in[row, j] * W_out[out, j]
                    s2 += W_in[row, j] * W_out[out2, j]
                grads[c * T + k] = s
                grads[c * T + k + 1] = s2
            if T % 2 == 1:
                out = outs[T - 1]
                s = np.float32(0.0)
                for j in range(H):
                    s += W_in[row, j] * W_out[out, j]
                grads[c * T + T - 1] = s
        loss = _gradients(grads, C, T, lr, work, bits)
        # Two rows a pass in the sums below: half the loads and stores of the row summed into.
        for c in range(C):                      # rows[c] = sum_k g_ck W_out[o_k]: every read of W_out
            g, out = grads[c * T], outs[0]
            for j in range(H):
                rows[c, j] = g * W_out[out, j]
            for k in range(1, T - 1, 2):
                g, out, g2, out2 = grads[c * T + k], outs[k], grads[c * T + k + 1], outs[k + 1]
                for j in range(H):
                    rows[c, j] += g * W_out[out, j] + g2 * W_out[out2, j]
            if T % 2 == 0:
                g, out = grads[c * T + T - 1], outs[T - 1]
                for j in range(H):
                    rows[c, j] += g * W_out[out, j]
        for k in range(T):                      # W_out[o_k] += sum_c g_ck W_in[c]: every read of W_in
            out = outs[k]
            for c in range(0, C - 1, 2):
                g, row, g2, row2 = grads[c * T + k], ctx[c], grads[(c + 1) * T + k], ctx[c + 1]
                for j in range(H):
                    dst_out[out, j] += g * W_in[row, j] + g2 * W_in[row2, j]
            if C % 2 == 1:
                g, row = grads[(C - 1) * T + k], ctx[C - 1]
                for j in range(H):
                    dst_out[out, j] += g * W_in[row, j]
        for c in range(C):
            row = ctx[c]
            for j in range(H):
                dst_in[row, j] += rows[c, j]
        return loss, C, C
    # CBOW: h is the mean of the context rows; every context row gets the error of h whole (rows[0])
    for j in range(H):
        h[j] = 0.0
    for c in range(C):
        row = ctx[c]
        for j in range(H):
            h[j] += W_in[row, j]
    size = np.float32(C)
    for j in range(H):
        h[j] = h[j] / size
        rows[0, j] = 0.0
    for k in range(T):
        out = outs[k]
        s = np.float32(0.0)
        for j in range(H):
            s += h[j] * W_out[out, j]
        grads[k] = s
    loss = _gradients(grads, 1, T, lr, work, bits)
    for k in range(T):
        out = outs[k]
        g = grads[k]
        for j in range(H):
            rows[0, j] += g * W_out[out, j]
    for k in range(T):                          # after every read of W_out
        out = outs[k]
        g = grads[k]
        for j in range(H):
            dst_out[out, j] += g * h[j]
    for c in range(C):
        row = ctx[c]
        for j in range(H):
            dst_in[row, j] += rows[0, j]
    return loss, 1, C


_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 0.693145751953125, 1.4286068203094173e-06       # ln 2 split (Cody and Waite)
_BLOCK = 512                                                    # factors in (1, 2] a product: < 2**512


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def _gradients(scores, rows, T, lr, work, bits):
    """Scores to gradients in place, for ``rows`` rows of ``T`` outputs (the first the center: label 1, the
    others negatives: label 0): ``g = lr (label - sigmoid(s))`` as float32, the reference's float32 rate times
    float64 errors. Returns the loss, the sum of ``softplus(-z) = max(-z, 0) + log(1 + e)`` over them (``z = s``
    for the center, ``-s`` for a negative; ``e = exp(-|s|)``), with one log a block of terms.

    ``e`` is computed here rather than by libm's exp so that the loops vectorise (LLVM has no vector exp
    without SVML; a call to exp a score was a sixth of a skip-gram center): ``e = 2**n exp(r)``, ``r`` within
    ``ln2 / 2`` of 0, ``exp(r)`` by its Taylor series to ``r**8`` (relative error below 3e-10), ``2**n`` from
    its exponent bits (``bits`` views ``work`` as int64)."""
    n = rows * T
    lr32 = np.float64(np.float32(lr))
    for i in range(n):
        y = -min(abs(np.float64(scores[i])), 700.0)
        t = np.floor(y * _LOG2E + 0.5)
        r = (y - t * _LN2_HI) - t * _LN2_LO
        work[0, i] = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
            1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320))))))))
        bits[1, i] = (np.int64(t) + 1023) << 52
        work[2, i] = 0.0
    for c in range(rows):
        work[2, c * T] = 1.0
    loss = 0.0
    for start in range(0, n, _BLOCK):
        product = 1.0
        for i in range(start, min(start + _BLOCK, n)):
            x = np.float64(scores[i])
            e = work[0, i] * work[1, i]
            inverse = 1.0 / (1.0 + e)
            sigmoid = inverse if x >= 0 else e * inverse
            label = work[2, i]
            scores[i] = np.float32(lr32 * (label - sigmoid))
            loss += max(x * (1.0 - 2.0 * label), 0.0)       # max(-z, 0)
            product *= 1.0 + e
        loss += math.log(product)
    return loss


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def _walk(W_in, W_out, ids, sid, key, accept, alias, p, first, streams, length, window, negative, sg, exclusion,
          max_draws, lr0, lr1, stop, stats, slot):
    """Walk the ``streams`` streams of ``length`` positions from stream ``first`` on, together: position ``t``
    of each of them, then ``t + 1``, each update made at once (:func:`.walk.reference` with ``interleave``;
    one stream: the positions in order), updating the tables in place.

    ``stats[slot]`` gets the loss, the examples and the positions done every :data:`POLL` centers and at the
    end; the walk stops early when ``stop[0]`` is set. The next center's outputs are drawn one center ahead
    and their rows prefetched (the draws are counters, not a generator's state: drawing early changes nothing),
    as is the input row that enters its window."""
    m = ids.shape[0]
    width = 2 * window
    ctx = np.empty(width, dtype=np.int32)
    outs = np.empty((2, 1 + negative), dtype=np.int64)
    grads = np.empty(width * (1 + negative), dtype=np.float32)
    rows = np.empty((width, W_in.shape[1]), dtype=np.float32)
    h = np.empty(W_in.shape[1], dtype=np.float32)
    work = np.empty((3, width * (1 + negative)), dtype=np.float64)
    bits = work.view(np.int64)
    loss = 0.0
    examples = 0
    done = 0
    start = first * length
    if start >= m:
        return
    T_next = _outputs(_mix(key ^ np.uint64(start)), np.int64(ids[start]), negative, exclusion, max_draws, accept,
                      alias, p, outs[0])
    for t in range(length):
        if stop[0] != 0:
            break
        for s in range(first, first + streams):
            q = s * length + t
            if q >= m:
                break
            if done % POLL == 0:
                if stop[0] != 0:
                    break
                stats[slot, 0] = loss
                stats[slot, 1] = examples
                stats[slot, 2] = done
            T = T_next
            current = outs[done % 2]
            following = q + length                  # the next center: the next stream's, or the first's next
            if s + 1 == first + streams or following >= m:
                following = start + t + 1
            if following < m and following < (first + streams) * length:
                ahead = outs[(done + 1) % 2]
                T_next = _outputs(_mix(key ^ np.uint64(following)), np.int64(ids[following]), negative, exclusion,
                                  max_draws, accept, alias, p, ahead)
                for k in range(T_next):
                    _prefetch_row(W_out, ahead[k])
                if following + window < m:
                    _prefetch_row(W_in, ids[following + window])
            lr = lr0 + (lr1 - lr0) * t / length
            term, n, _ = _center(q, ids, sid, key, window, sg, lr, W_in, W_out, W_in, W_out, current, T, ctx,
                                 grads, rows, h, work, bits)
            loss += term
            examples += n
            done += 1
    stats[slot, 2] = done
    stats[slot, 0] = loss
    stats[slot, 1] = examples


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def _lockstep(W_in, W_out, ids, sid, key, accept, alias, p, streams, window, negative, sg, exclusion, max_draws,
              lr0, lr1, stop, stats, cap, sum_in, sum_out, hits_in, hits_out):
    """Walk all ``streams`` streams of a chunk in lockstep: step ``t`` trains the ``t``-th position of every
    stream from the tables as they were at the step's start (``sum_in``/``sum_out``: zero tables that collect
    the step's updates; ``hits_*``: zero counts of the updates each row got), then adds the sums to the tables;
    with ``cap > 0``, a row updated more than ``cap`` times gets ``cap / hits`` of its sum (the array engine's
    ``max_row_updates``; a skip-gram output entry stands for one update per context)."""
    m = ids.shape[0]
    H = W_in.shape[1]
    length = (m + streams - 1) // streams
    width = 2 * window
    ctx = np.empty(width, dtype=np.int32)
    outs = np.empty((2, 1 + negative), dtype=np.int64)
    grads = np.empty(width * (1 + negative), dtype=np.float32)
    rows = np.empty((width, H), dtype=np.float32)
    h = np.empty(H, dtype=np.float32)
    work = np.empty((3, width * (1 + negative)), dtype=np.float64)
    bits = work.view(np.int64)
    rows_in = np.empty(streams * width, dtype=np.int64)
    rows_out = np.empty(streams * (1 + negative), dtype=np.int64)
    loss = 0.0
    examples = 0
    for t in range(length):
        if stop[0] != 0:
            break
        n_in = 0
        n_out = 0
        T_next = _outputs(_mix(key ^ np.uint64(t)), np.int64(ids[t]), negative, exclusion, max_draws, accept,
                          alias, p, outs[0])
        for s in range(streams):
            q = s * length + t
            if q >= m:
                break
            T = T_next
            if q + length < m:          # the next stream's center is far away: all its rows are cold
                ahead = outs[(s + 1) % 2]
                T_next = _outputs(_mix(key ^ np.uint64(q + length)), np.int64(ids[q + length]), negative, exclusion,
                                  max_draws, accept, alias, p, ahead)
                for k in range(T_next):
                    _prefetch_row(W_out, ahead[k])
                    _prefetch_row(sum_out, ahead[k])
                for c in range(max(q + length - window, 0), min(q + length + window + 1, m)):
                    _prefetch_row(W_in, ids[c])
                    _prefetch_row(sum_in, ids[c])
            lr = lr0 + (lr1 - lr0) * t / length
            term, n, C = _center(q, ids, sid, key, window, sg, lr, W_in, W_out, sum_in, sum_out, outs[s % 2], T,
                                 ctx, grads, rows, h, work, bits)
            if C == 0:
                continue
            loss += term
            examples += n
            for c in range(C):
                row = ctx[c]
                if hits_in[row] == 0:
                    rows_in[n_in] = row
                    n_in += 1
                hits_in[row] += 1
            for k in range(T):
                row = outs[s % 2, k]
                if hits_out[row] == 0:
                    rows_out[n_out] = row
                    n_out += 1
                hits_out[row] += C if sg else 1
        _add_sums(W_in, sum_in, hits_in, rows_in, n_in, cap)
        _add_sums(W_out, sum_out, hits_out, rows_out, n_out, cap)
        stats[0, 2] = min((t + 1) * streams, m)
    stats[0, 0] = loss
    stats[0, 1] = examples


@njit(nogil=True, cache=True)
def _add_sums(table, sums, hits, rows, n, cap):
    """``table[r] += sums[r]`` (times ``cap / hits[r]`` past the cap) for the ``n`` rows ``rows``; zero the
    sums and counts again."""
    for i in range(n):
        row = rows[i]
        scale = np.float32(1.0)
        if cap > 0 and hits[row] > cap:
            scale = np.float32(cap / hits[row])
        for j in range(table.shape[1]):
            table[row, j] += scale * sums[row, j]
            sums[row, j] = 0.0
        hits[row] = 0


# ------------------------------------------------------------------------------------------------ the engine

_LOCKSTEP: Optional[Tuple[int, Optional[int]]] = None


@contextlib.contextmanager
def lockstep(streams: int, cap: Optional[int] = None) -> Iterator[None]:
    """Within the block, numba engines built by ``Word2Vec.train`` simulate ``streams`` streams in lockstep,
    with the array engine's cap on a row's updates per step when ``cap`` is given (for
    ``benchmarks/quality_streams.py``; see the module docstring)."""
    global _LOCKSTEP
    before, _LOCKSTEP = _LOCKSTEP, (int(streams), cap)
    try:
        yield
    finally:
        _LOCKSTEP = before


class NumbaEngine:
    """The compiled loop on ``model.workers`` threads (the engine interface of :mod:`.engines`).

    Parameters
    ----------
    model : Word2Vec
        Its tables (float32, C-contiguous NumPy arrays) are updated in place.
    schedule : LearningRate
        The learning rate over this ``train()`` call's words.
    lockstep : int, optional
        Simulate this many streams in lockstep on one thread instead (benchmarks only).
    cap : int, optional
        With ``lockstep``: a row updated more than ``cap`` times in a step gets ``cap`` updates' worth.

    Attributes
    ----------
    compile_seconds : float
        Time taken to compile (or load from the cache) the loop when this engine was built; 0 when it was
        already loaded in this process.
    """

    name = "numba"
    #: In-vocabulary words of a chunk when ``model.chunk_words`` is None. A chunk training and the next one,
    #: read and subsampled ahead, are held at once: half a million words rather than a million take some 20 MiB
    #: off the peak of one epoch of enwiki (two threads, `/usr/bin/time -f %M nsw2v train`: 230-234 MiB against
    #: 252, alternating, the 2-core machine, 2026-12-08), at the same speed. The
    #: vectors differ as another seed's do (every draw is keyed by the chunk): CBOW, one epoch, one thread,
    #: seeds 1-8, analogy 12.8-13.9% (mean 13.5) against 12.4-13.7% (13.3), WordSim-353 0.451-0.501 (0.477)
    #: against 0.452-0.515 (0.485), 2026-12-08.
    chunk_words = 500_000

    def __init__(self, model: Any, schedule: LearningRate, lockstep: Optional[int] = None,
                 cap: Optional[int] = None, interleave: Optional[int] = None):
        self.model, self.schedule = model, schedule
        if lockstep is None and _LOCKSTEP is not None:
            lockstep, cap = _LOCKSTEP
        self.lockstep, self.cap = lockstep, cap
        if lockstep is not None and lockstep < 1 or cap is not None and cap < 1:
            raise ValueError(f"lockstep={lockstep} and cap={cap} must be None or >= 1")
        for name in ("W_in", "W_out"):       # the compiled loop is typed for C-contiguous float32 tables
            table = getattr(model, name)
            if table.dtype != np.float32 or not table.flags.c_contiguous or not table.flags.writeable:
                setattr(model, name, np.ascontiguousarray(table, dtype=np.float32).copy())
        self.tables = walk.Tables.of(model.vocab, model.ns_exponent, model.sample)
        self.exclusion = model.sampler != "batched"       # NumPy's default path is exclusion
        self.threads = 1 if self.lockstep is not None else max(1, int(model.workers))
        self.interleave = INTERLEAVE if interleave is None else int(interleave)
        self.stop = np.zeros(1, dtype=np.uint8)
        self.compile_seconds = _compile(self.lockstep is not None, model.verbose)

    def prepare(self, epoch: int, number: int, ids: np.ndarray, sid: np.ndarray) -> Tuple[np.ndarray, np.ndarray, int]:
        """Chunk ``number`` of ``epoch`` subsampled with its key (:func:`.walk.subsample`): ``(ids, sid, key)``.

        The draws are taken :data:`SUBSAMPLE_PIECE` positions at a time (:func:`.walk.draws` of the positions
        themselves: the same kept words as one call), so that their uint64 temporaries stay a few MiB instead
        of some 40 MiB a chunk."""
        key = walk.chunk_key(self.model.seed, epoch, number, getattr(self.model, "rank", 0))
        if self.model.sample > 0:
            kept = np.empty(len(ids), dtype=bool)
            for start in range(0, len(ids), SUBSAMPLE_PIECE):
                stop = min(start + SUBSAMPLE_PIECE, len(ids))
                bits = walk.draws(np, key, np.arange(start, stop, dtype=np.uint64), walk.SUBSAMPLE)
                kept[start:stop] = (bits >> np.uint64(32)) < self.tables.keep[ids[start:stop]]
            ids, sid = ids[kept], sid[kept]
        return (np.ascontiguousarray(ids, dtype=np.int32), np.ascontiguousarray(sid, dtype=np.int32), key)

    def train(self, prepared: Tuple[np.ndarray, np.ndarray, int], raw_words: int, words_before: float, acc: Any,
              report: Optional[Callable] = None) -> float:
        """Train on a prepared chunk of ``raw_words`` words whose first is word ``words_before`` of this call;
        return the last learning rate."""
        ids, sid, key = prepared
        lr0 = self.schedule.at(words_before)
        lr1 = self.schedule.at(words_before + raw_words)
        m = len(ids)
        if m == 0:
            return lr1
        model, tables = self.model, self.tables
        settings = (np.uint64(key), tables.accept, tables.alias, tables.p)
        common = (np.int64(model.window), np.int64(model.negative), np.int64(model.sg), np.bool_(self.exclusion),
                  np.int64(walk.MAX_DRAWS), np.float64(lr0), np.float64(lr1))
        self.stop[0] = 0
        if self.lockstep is not None:
            stats = np.zeros((1, _STATS), dtype=np.float64)
            V, H = model.W_in.shape
            scratch = (np.zeros((V, H), dtype=np.float32), np.zeros((V, H), dtype=np.float32),
                       np.zeros(V, dtype=np.int64), np.zeros(V, dtype=np.int64))
            window, negative, sg, exclusion, max_draws, lr0_, lr1_ = common
            jobs = [(_lockstep, (model.W_in, model.W_out, ids, sid, *settings, np.int64(self.lockstep), window,
                                 negative, sg, exclusion, max_draws, lr0_, lr1_, self.stop, stats,
                                 np.int64(self.cap or 0), *scratch))]
        else:
            S = self.interleave
            length = -(-m // (self.threads * S))      # walk's streams: threads x S of them
            firsts = [i * S for i in range(self.threads) if i * S * length < m]
            stats = np.zeros((len(firsts), _STATS), dtype=np.float64)
            window, negative, sg, exclusion, max_draws, lr0_, lr1_ = common
            jobs = [(_walk, (model.W_in, model.W_out, ids, sid, *settings, np.int64(first), np.int64(S),
                             np.int64(length), window, negative, sg, exclusion, max_draws, lr0_, lr1_, self.stop,
                             stats, np.int64(slot)))
                    for slot, first in enumerate(firsts)]
        added = [0.0, 0]

        def collect() -> None:
            loss, examples = float(stats[:, 0].sum()), int(stats[:, 1].sum())
            acc.add(loss - added[0], examples - added[1])
            added[0], added[1] = loss, examples

        shown = [0.0]
        _run(jobs, self.stop, lambda: _progress(stats, m, words_before, raw_words, lr0, lr1, collect, report,
                                                shown))
        collect()
        return lr1


def _progress(stats: np.ndarray, m: int, words_before: float, raw_words: int, lr0: float, lr1: float,
              collect: Callable, report: Optional[Callable], shown: list) -> None:
    """Hand the loss so far to the accumulator and the position to ``report``, when the threads have moved
    on since the last report (``shown[0]``: its share of the chunk) and not yet to the chunk's end, which
    the driver reports: the words reported then only ever grow."""
    if report is None:
        return
    done = float(stats[:, 2].sum()) / m
    if not shown[0] < done < 1.0:
        return
    shown[0] = done
    collect()
    report(words_before + raw_words * done, lr0 + (lr1 - lr0) * done)


def _run(jobs: list, stop: np.ndarray, tick: Callable, interval: float = 0.1) -> None:
    """Run each ``(function, args)`` in a thread of its own; call ``tick()`` every ``interval`` seconds
    while they run. On any exception here (Ctrl-C, a diverged loss from ``tick``) or in a thread, set the
    stop flag, wait for the threads (they see it within :data:`POLL` centers) and raise it."""
    errors: list = []

    def target(function, args):
        try:
            function(*args)
        except BaseException as exc:          # handed to the main thread
            errors.append(exc)
            stop[0] = 1

    threads = [threading.Thread(target=target, args=job, name=f"nsw2v-numba-{i}", daemon=True)
               for i, job in enumerate(jobs)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(interval)
                tick()
    except BaseException:
        stop[0] = 1
        for thread in threads:
            if thread.ident is not None:
                thread.join()
        raise
    if errors:
        raise errors[0]


# ------------------------------------------------------------------------------------------- compilation

_compiled: set = set()


def _compile(with_lockstep: bool, verbose: bool) -> float:
    """Compile (or load from the on-disk cache) the loops this process needs, once; seconds taken.

    When it takes more than a second (compiling: several seconds; loading the cache: well under one), a
    line on stderr says what the wait is, when ``verbose``."""
    needed = [f for f in ((_walk, _lockstep) if with_lockstep else (_walk,)) if f not in _compiled]
    if not needed:
        return 0.0
    said = threading.Event()
    lock = threading.Lock()

    def say():
        with lock:
            if not done:
                sys.stderr.write("compiling the training loop (first run only)...")
                sys.stderr.flush()
                said.set()

    done = False
    timer = threading.Timer(1.0, say)
    timer.daemon = True
    start = time.time()
    if verbose:
        timer.start()
    try:
        for function in needed:
            _warm(function)
            _compiled.add(function)
    finally:
        with lock:
            done = True
        timer.cancel()
    seconds = time.time() - start
    if said.is_set():
        sys.stderr.write(f" {seconds:.1f} s\n")
    # Loading (or compiling) read in some 70 MiB of LLVM's library, which the loop never runs: hand them back.
    release_library_pages("llvmlite")
    return seconds


def load(verbose: bool = False) -> float:
    """Compile the training loop, or load it from the cache, now rather than when the first engine is built;
    seconds taken (0 once loaded). ``Word2Vec.build_vocab`` calls it before it allocates the tables, so that the
    libraries Numba reads in while it loads (then handed back) come on top of a small process."""
    return _compile(False, verbose)


def _warm(function: Any) -> None:
    """Call ``function`` once on a tiny problem with the argument types of real calls (compiles it)."""
    W_in = np.zeros((3, 4), dtype=np.float32)
    W_out = np.zeros((3, 4), dtype=np.float32)
    ids = np.zeros(2, dtype=np.int32)
    sid = np.zeros(2, dtype=np.int32)
    accept = np.full(3, 1 << 32, dtype=np.uint64)
    alias = np.zeros(3, dtype=np.int32)
    p = np.full(3, 1 / 3, dtype=np.float64)
    stop = np.zeros(1, dtype=np.uint8)
    stats = np.zeros((1, _STATS), dtype=np.float64)
    tail = (np.int64(1), np.int64(1), np.int64(0), np.bool_(False), np.int64(walk.MAX_DRAWS), np.float64(0.0),
            np.float64(0.0), stop, stats)
    if function is _walk:
        _walk(W_in, W_out, ids, sid, np.uint64(1), accept, alias, p, np.int64(0), np.int64(2), np.int64(1),
              *tail, np.int64(0))
    else:
        _lockstep(W_in, W_out, ids, sid, np.uint64(1), accept, alias, p, np.int64(1), *tail, np.int64(0),
                  np.zeros((3, 4), dtype=np.float32), np.zeros((3, 4), dtype=np.float32),
                  np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64))
