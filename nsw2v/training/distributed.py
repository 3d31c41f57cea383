"""Training on many processes and machines with MPI: one corpus, one model (the only module importing mpi4py).

    $ mpiexec -n 8 nsw2v train corpus.txt -o vectors.bin          # or: srun -n 8 nsw2v train ...
    $ mpiexec -n 8 python script.py                               # Word2Vec(corpus_file=...) in it

Launched by ``mpiexec``/``srun`` with more than one process, ``Word2Vec`` trains as one of ``N`` ranks
(``distributed=None``, the default: the launcher's variables are read, mpi4py is imported only then;
``distributed=True`` asks for it, ``False`` refuses it; an mpi4py communicator trains over its processes).
With one process, or without a launcher, nothing changes and mpi4py is not imported.

What the ranks do
-----------------
- **Read**: each rank reads its own part of ``corpus_file``, cut at whitespace (:mod:`.shards`): a byte
  range of a plain file; pieces in turn of a gzip file, which every rank decompresses whole.
- **Count**: each rank counts its part; the counts are merged (each word summed on the rank its hash
  names, then the kept words shared by all), giving exactly the vocabulary one process counts: the same
  words, counts, order and ``sentences_seen``. All ranks start from the same tables (the same seed).
- **Train**: each rank trains its own copy of the tables on its part with the engine its backend chooses
  (NumPy processes or threads, or one GPU), the random draws of its chunks its own.
- **Synchronise by averaging** (never summing: Spark's summed vectors grow without bound, SPARK-24666): every
  ``sync_period`` (in-vocabulary words of a rank, or seconds when a float) the ranks average both tables over
  the first rows of the vocabulary, its most frequent words, with pWord2Vec's schedule (Ji et al. 2016): sync
  ``k`` averages ``min(1024 * 2**z, V)`` rows, ``z`` the trailing zero bits of ``k`` (1024, 2048, 1024, 4096,
  ...: small prefixes often, the whole table every ``V / 1024`` syncs). A row takes the mean of the changes of
  the ranks that changed it since the last sync: a rare word one rank trained keeps its change whole instead of
  shrinking ``N``-fold at every sync. The prefix is contiguous: one collective call for both tables (the
  largest prefixes in slices of :data:`SLICE_BYTES`). At each epoch's end the whole tables are averaged. The
  first, small call of a sync sums the ranks' word counts: the learning rate falls with the global count
  (extrapolated between syncs as ``N`` times this rank's words), and the loss and the progress line are
  global, printed once, by rank 0. What averaging costs: a row all ranks train moves by the mean of their
  changes, so an epoch on ``N`` ranks moves the frequent words about as far as ``1/N`` epoch of one process
  (more epochs, or a larger ``alpha`` with few ranks, make up for it; see the README).
- **Finish**: every rank holds the same tables; rank 0 writes the outputs (the CLI; scripts test
  ``model.rank == 0``), atomically.

GPU ranks average through MPI with the rows staged in host memory, or with NCCL (``cupy.cuda.nccl``, its
unique id broadcast over MPI) when every rank has its own GPU: both behind :class:`HostAverager`'s one method.
The NCCL path has never run (no machine with several GPUs was at hand); the host path is the tested one.

When a rank fails
-----------------
An error on one rank while reading or training (a missing file, bad input in its part, out of memory) is
raised on every rank at the next synchronisation as one :class:`~nsw2v.errors.DistributedError` that names
the rank, its host and the cause; nothing is written. An error inside a collective call, or Ctrl-C, aborts
the job (``MPI_Abort``) after one line on stderr. A rank that dies (killed, out of memory) is reported by the
launcher, which stops the others (mpiexec; with ``srun``, pass ``--kill-on-bad-exit=1``); should the launcher
leave them waiting, a rank waiting longer than ``NSW2V_MPI_TIMEOUT`` seconds (default 600) for the others at
a synchronisation aborts the job.
"""
from __future__ import annotations

import mmap
import os
import socket
import sys
import time
import zlib
from typing import Any, Callable, Optional, Tuple

import numpy as np

from .. import backend
from ..errors import DistributedError, DivergedError, ParameterError
from .driver import _advice, diverged, record
from .plan import LearningRate
from .progress import Progress
from .shards import Share, ShareSentences, combine, count_share, partition, sentence_count, vocabulary

__all__ = ["FIRST_PREFIX", "GlobalRate", "Group", "HostAverager", "NcclAverager", "join", "launched_processes",
           "prefix_rows"]

#: Rows averaged by the first sync and every other one (pWord2Vec's ``min_sync_words``).
FIRST_PREFIX = 1024
#: Bytes of table rows averaged per collective call: the largest prefixes and the whole tables go in slices of
#: this, which bounds the temporary memory of a sync (a few times this).
SLICE_BYTES = 1 << 23
#: The launchers' variables giving the number of processes started: MPICH/Intel MPI (Hydra, PMI), Open MPI,
#: MVAPICH, Slurm's srun (set for the tasks of a step, not in a batch script).
_LAUNCHER_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "SLURM_STEP_NUM_TASKS")


def launched_processes() -> Tuple[int, Optional[str]]:
    """``(processes, variable)``: how many processes an MPI launcher started, from its environment variables
    (``(1, None)`` without one). Reads no MPI library."""
    for name in _LAUNCHER_SIZES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return int(value), name
    return 1, None


def join(setting: Any, xp: Any, verbose: bool = False) -> Optional["Group"]:
    """The :class:`Group` this process trains in, or ``None`` to train alone (see the module's docstring).

    ``setting``: ``None`` (join when a launcher started several processes), ``True`` (join, even as the only
    rank), ``False`` (never), or an mpi4py communicator (train over its processes)."""
    if setting is False:
        return None
    if setting is None:
        processes, variable = launched_processes()
        if processes == 1:
            return None
    elif setting is not True and not hasattr(setting, "Get_rank"):
        raise ParameterError(f"distributed={setting!r} must be None, True, False or an mpi4py communicator")
    try:
        from mpi4py import MPI      # the one place mpi4py is imported
    except ImportError as exc:
        why = f"started by an MPI launcher as {processes} processes ({variable}={processes})" if setting is None \
            else f"distributed={setting!r}"
        raise ParameterError(f"{why}, but mpi4py cannot be imported ({exc}): pip install 'nsw2v[mpi]' (and an MPI "
                             "library: your cluster's, or pip install mpich), or distributed=False") from None
    comm = MPI.COMM_WORLD if setting is None or setting is True else setting
    if setting is None and comm.Get_size() != processes:
        raise ParameterError(f"the launcher started {processes} processes ({variable}) but MPI counts "
                             f"{comm.Get_size()}: mpi4py is linked to another MPI than the launcher's; use the "
                             "mpiexec of the MPI that mpi4py loads, or distributed=False")
    return Group(MPI, comm, xp, verbose)


def prefix_rows(sync: int, vocab_size: int, first: int = FIRST_PREFIX) -> int:
    """Rows averaged at sync number ``sync`` (from 1): ``min(first * 2**z, vocab_size)``, ``z`` the trailing
    zero bits of ``sync`` (pWord2Vec's schedule: the whole table once every ``vocab_size / first`` syncs)."""
    if sync < 1:
        raise ValueError(f"sync={sync} must be >= 1")
    zeros = (sync & -sync).bit_length() - 1
    return min(first << zeros, vocab_size)


_MIX = np.random.default_rng(20261207).integers(1, 1 << 63, size=8192, dtype=np.uint64) | np.uint64(1)


def fingerprint(xp: Any, rows: Any) -> Any:
    """A 64-bit fingerprint of each row of float32 ``rows`` (``(..., H)``, ``H <= 8192``): its bits, two floats
    to a 64-bit word (one float a word when ``H`` is odd), times odd constants, summed modulo 2**64. A change of
    any bits of a row changes it, but for a chance of 2**-64."""
    rows = xp.ascontiguousarray(rows)
    words = rows.view(xp.uint64) if rows.shape[-1] % 2 == 0 else rows.view(xp.uint32).astype(xp.uint64)
    mix = xp.asarray(_MIX[:words.shape[-1]])
    if xp is np:
        return words @ mix                          # integer matmul: one pass, wrapping as it should
    return (words * mix).sum(axis=-1, dtype=xp.uint64)


class GlobalRate(LearningRate):
    """``schedule`` over the words of all ranks, asked with this rank's words.

    At each sync the ranks learn the global count; between syncs every other rank is taken to have read as
    many words as this one: the global count is estimated as ``ranks * words + offset``, the offset set at
    each sync (with one rank it stays 0, and the rate is exactly ``schedule``'s). It lives in memory shared
    with forked training processes (:mod:`.pool`), so that they follow the syncs too.
    """

    def __init__(self, schedule: LearningRate, ranks: int):
        super().__init__(schedule.alpha, schedule.min_alpha, schedule.total)
        self.ranks = ranks
        self.offset = np.ndarray(1, dtype=np.float64, buffer=mmap.mmap(-1, 8))
        self.offset[0] = 0.0

    def at(self, words: float) -> float:
        """The rate after ``words`` words of this rank (of this ``train()``)."""
        return self.at_global(words * self.ranks + float(self.offset[0]))   # a Python float: NumPy keeps float32 steps

    def at_global(self, words: float) -> float:
        """The rate after ``words`` words of all ranks."""
        return super().at(words)

    def learn(self, global_words: float, local_words: float) -> None:
        """At a sync: the ranks have read ``global_words`` words, this one ``local_words``."""
        self.offset[0] = global_words - local_words * self.ranks


class HostAverager:
    """Sums blocks of rows over the ranks with MPI in host memory, where the blocks of CuPy tables are staged
    (copied down, summed, copied up). An averager has one method, ``sum(block)``."""

    name = "host"

    def __init__(self, group: "Group"):
        self.group = group

    def sum(self, block: Any) -> Any:
        """The sum over the ranks of ``block`` (float32, the same shape on every rank), where ``block`` is."""
        group = self.group
        host = np.ascontiguousarray(backend.to_numpy(block))
        total = np.empty_like(host)
        group.wait(group.comm.Iallreduce(host, total, op=group.MPI.SUM), "averaging the tables")
        return total if isinstance(block, np.ndarray) else backend.get_array_module(block).asarray(total)


class NcclAverager:
    """Sums a block of rows over the ranks with NCCL, device to device (each rank its own GPU).

    Untested: written to the NCCL calls' documented signatures, never run (no machine with several GPUs)."""

    name = "nccl"

    def __init__(self, group: "Group", xp: Any, nccl: Any):
        self.group, self.xp, self.nccl = group, xp, nccl
        uid = nccl.get_unique_id() if group.rank == 0 else None
        uid = group.comm.bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(group.size, uid, group.rank)

    def sum(self, block: Any) -> Any:
        """As :meth:`HostAverager.sum`."""
        xp, nccl = self.xp, self.nccl
        block = xp.ascontiguousarray(block)
        total = xp.empty_like(block)
        stream = xp.cuda.get_current_stream()
        self.comm.allReduce(block.data.ptr, total.data.ptr, block.size, nccl.NCCL_FLOAT32, nccl.NCCL_SUM,
                            stream.ptr)
        return total


class Group:
    """This process's place among the ranks of a training: ``rank`` of ``size``, and what they do together."""

    def __init__(self, MPI: Any, comm: Any, xp: Any, verbose: bool = False):
        self.MPI, self.comm = MPI, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.host = socket.gethostname()
        self.verbose = verbose
        self.timeout = float(os.environ.get("NSW2V_MPI_TIMEOUT", "600"))
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        where = comm.allgather((self.host, os.getpid(), cores))
        # the ranks on this machine that may run on this rank's cores (all of them, unless the launcher pinned
        # each rank to cores of its own): they share those cores' threads
        self.core_sharers = sum(host == self.host and (cores is None or mine is None or not set(cores).isdisjoint(mine))
                                for host, _, mine in where)
        if verbose and self.rank == 0 and self.size > 1:      # maps the launcher's pids to ranks
            sys.stderr.write(f"nsw2v: training on {self.size} ranks: "
                             + ", ".join(f"{r}: {h} pid {p}" for r, (h, p, _) in enumerate(where)) + "\n")
        self.averager = self._averager(xp)

    def _averager(self, xp: Any):
        """NCCL when every rank has a GPU of its own (and ``NSW2V_NCCL`` is not 0), else the host path. On CuPy
        each rank of a machine takes the GPU of its local rank when there are several."""
        own = 0
        nccl = backend.nccl(xp)
        if backend.is_cupy(xp):
            local = self.comm.Split_type(self.MPI.COMM_TYPE_SHARED)
            devices = xp.cuda.runtime.getDeviceCount()
            if devices > 1:
                xp.cuda.Device(local.Get_rank() % devices).use()
            own = int(devices >= local.Get_size() and nccl is not None and os.environ.get("NSW2V_NCCL") != "0")
            local.Free()
        if self.comm.allreduce(own, op=self.MPI.MIN):
            return NcclAverager(self, xp, nccl)
        return HostAverager(self)

    # ------------------------------------------------------------------ failures
    def wait(self, request: Any, what: str, patient: bool = False) -> None:
        """Wait for a nonblocking call; abort the job when the others stay silent ``timeout`` seconds (unless
        ``patient``)."""
        deadline = float("inf") if patient else time.monotonic() + self.timeout
        spins = 0
        while not request.Test():
            spins += 1
            if spins > 1000:                        # past a millisecond or so: give the cores back
                time.sleep(0.001 if spins < 2000 else 0.01)
            if time.monotonic() > deadline:
                self.abort(f"no answer from the other ranks for {self.timeout:.0f} s while {what} (a rank may "
                           "have died); set NSW2V_MPI_TIMEOUT to wait longer")

    def abort(self, message: str, code: int = 1) -> None:
        """One line on stderr, then stop every rank (``MPI_Abort``)."""
        start = "\n" if self.verbose and self.rank == 0 else ""          # after rank 0's progress line
        sys.stderr.write(f"{start}nsw2v: error: rank {self.rank} of {self.size} ({self.host}): {message}; "
                         "stopping all ranks, nothing written\n")
        sys.stderr.flush()
        self.comm.Abort(code)

    def guarded(self, work: Callable[[], Any]) -> Any:
        """``work()``, which makes collective calls: a failure there cannot be told to the others (they wait in
        a call this rank will not make), so it aborts the job."""
        try:
            return work()
        except KeyboardInterrupt:
            self.abort("interrupted", 130)
        except Exception as exc:
            self.abort(f"{type(exc).__name__}: {exc}")

    def together(self, work: Callable[[], Any]) -> Any:
        """``work()`` on every rank (no collective calls inside); an exception on any rank is raised on all as
        one :class:`~nsw2v.errors.DistributedError`."""
        failure = None
        try:
            result = work()
        except KeyboardInterrupt:
            self.abort("interrupted", 130)
        except Exception as exc:
            failure, result = exc, None
        failed = self.comm.allreduce(int(failure is not None), op=self.MPI.SUM)
        if failed:
            self.raise_first(failure, failed)
        return result

    def raise_first(self, failure: Optional[BaseException], failed: int = 1) -> None:
        """Raise, on every rank, the failure of the lowest failed rank as a :class:`~nsw2v.errors.DistributedError`
        (each rank calls this after learning that ``failed`` ranks failed; its ``rank`` attribute is the raising
        process's, so that one of them, rank 0, prints it)."""
        first = self.comm.allreduce(self.rank if failure is not None else self.size, op=self.MPI.MIN)
        message = None
        if self.rank == first:
            message = str(failure) or type(failure).__name__
            if not isinstance(failure, (OSError, ValueError)) or not str(failure):
                message = f"{type(failure).__name__}: {message}"
            if failed < self.size:                  # the same error on every rank needs no rank named
                message = f"rank {self.rank} of {self.size} ({self.host}) failed: {message}"
        error = DistributedError(self.comm.bcast(message, root=first))
        error.rank = self.rank
        raise error from failure

    # ------------------------------------------------------------------ reading
    def sentences(self, path: str, max_sentence_length: int, check: Callable[[str], None]) -> ShareSentences:
        """This rank's share of ``path`` (``check(path)``: the facade's checks, run on every rank), after
        checking that every rank sees the same file."""
        def open_share():
            check(path)
            share = Share(path, self.rank, self.size)
            with open(path, "rb") as f:           # a cheap fingerprint: size, first and last 64 KiB
                head = f.read(1 << 16)
                f.seek(max(0, share.size - (1 << 16)))
                tail = f.read()
            return share, (share.size, zlib.crc32(tail, zlib.crc32(head)))

        share, seen = self.together(open_share)
        seen_by = self.comm.allgather(seen)
        if len(set(seen_by)) > 1:
            raise DistributedError(f"{path}: the ranks read different files ("
                                   + ", ".join(f"rank {r}: {size} bytes" for r, (size, _) in enumerate(seen_by))
                                   + "): every rank must see the same corpus file (a shared file system, or "
                                     "identical copies at the same path)")
        return ShareSentences(share, max_sentence_length)

    def count_and_encode(self, corpus: ShareSentences, min_count: int, source: str, max_tokens: int = 50_000_000):
        """The vocabulary of the whole file, exactly as one process counts it, and this rank's share encoded
        (``None`` past ``max_tokens`` tokens: it is then read again each epoch)."""
        counted = self.together(lambda: count_share(corpus.share, corpus.max_sentence_length, max_tokens))
        MPI, comm = self.MPI, self.comm

        def merge():
            # each word's counts summed on the rank its hash names; the kept words then shared by all
            words, counts, first = combine(comm.alltoall(partition(counted.words, counted.counts, counted.first,
                                                                   self.size)))
            keep = np.flatnonzero(counts >= min_count)
            kept = comm.allgather(([words[i] for i in keep.tolist()], counts[keep], first[keep]))
            largest = comm.allreduce(int(counts.max()) if counts.size else 0, op=MPI.MAX)
            raw_words = comm.allreduce(counted.raw_words, op=MPI.SUM)
            lines = [line for part in comm.allgather(counted.lines) for line in part]
            return kept, largest, raw_words, sentence_count(lines, corpus.max_sentence_length)

        kept, largest, raw_words, sentences = self.guarded(merge)
        vocab = self.together(lambda: vocabulary(kept, min_count, raw_words, sentences, source, largest))
        return vocab, self.together(lambda: counted.encoded(vocab))

    # ------------------------------------------------------------------ training
    def training(self, model: Any, schedule: LearningRate) -> "Sync":
        """What the epoch loop (:func:`.driver.train`) calls for one ``train()``."""
        return Sync(self, model, schedule)


class Sync:
    """The synchronisations of one ``train()`` (called by :func:`.driver.train`).

    ``rate`` is the engine's learning rate; ``tick(words, acc)`` at each report and chunk's end may sync;
    ``end_epoch(words, acc)`` syncs until every rank is through its part, then averages the whole tables;
    ``fail(exc)`` makes a failure of this rank every rank's; ``finish()`` returns the global words.
    """

    def __init__(self, group: Group, model: Any, schedule: LearningRate):
        self.group, self.model = group, model
        self.rate = GlobalRate(schedule, group.size)
        self.period = model.sync_period
        self.syncs = 0
        self.last_words, self.last_time = 0.0, time.monotonic()
        self.global_words = 0.0
        self.loss, self.examples = 0.0, 0           # global, not yet in model.loss_history
        self.logged = time.monotonic()
        self.settled = False                        # an error every rank raised together
        self.progress = Progress(schedule.total, echo=model.verbose) if group.rank == 0 else None
        if self.progress is not None and not self.progress.active:
            self.progress = None
        # a fingerprint of each row as of the last sync (the same on every rank: the tables start equal, the same
        # seed or the last epoch's end), to tell the rows this rank changed since; beside the tables (a GPU's
        # rows are fingerprinted there, and only the block of a sync travels through host memory)
        xp = backend.get_array_module(model.W_in)
        self.marks = xp.stack([fingerprint(xp, t) for t in (model.W_in, model.W_out)])      # (2, V) uint64

    def tick(self, words: float, acc: Any) -> None:
        """Sync when ``sync_period`` has passed since the last one."""
        if self.period is None:
            return
        if isinstance(self.period, float):
            due = time.monotonic() - self.last_time >= self.period
        else:
            due = words - self.last_words >= self.period
        if due:
            self._sync(words, acc, active=True)

    def end_epoch(self, words: float, acc: Any) -> None:
        """Keep syncing while other ranks still train their part, then average the whole tables."""
        while self._sync(words, acc, active=False):
            pass
        self.group.guarded(lambda: self._average(len(self.model.vocab), exact=True))
        self._log(force=True)

    def fail(self, exc: BaseException) -> None:
        """This rank failed outside a sync: tell the others at their next sync, then raise on every rank."""
        if self.settled:
            return
        if isinstance(exc, KeyboardInterrupt):
            self.group.abort("interrupted", 130)
        total = self._control(self.last_words, 0.0, 0, active=False, failed=True)
        self.settled = True
        self.group.raise_first(exc, int(total[4]))

    def finish(self) -> int:
        """All ranks' words of this ``train()``, after a last small collective that catches a failure of
        another rank since the last sync (a callback at the last epoch's end)."""
        total = self._control(self.last_words, 0.0, 0, active=False)
        if total[4]:
            self.settled = True
            self.group.raise_first(None, int(total[4]))
        return int(round(self.global_words))

    # ---------------------------------------------------------------- inside
    def _control(self, words: float, loss: float, examples: int, active: bool, failed: bool = False) -> np.ndarray:
        """The one small collective of a sync: ``[words, loss, examples, active ranks, failed ranks]`` summed."""
        group = self.group
        local = np.array([words, loss, examples, float(active), float(failed)], dtype=np.float64)
        total = np.empty_like(local)
        # a rank done with its share while the others train without syncs (sync_period=None) waits for the
        # epoch's end, however long: no deadline then
        patient = not active and not failed and self.period is None
        group.wait(group.comm.Iallreduce(local, total, op=group.MPI.SUM), "synchronising", patient)
        return total

    def _sync(self, words: float, acc: Any, active: bool) -> int:
        """One sync: sum the counts, learn the rate, log the loss, average a prefix. Returns the active ranks."""
        loss, examples = backend.to_float(acc.loss), int(backend.to_float(acc.examples))
        acc.loss, acc.examples = 0.0, 0
        total = self._control(words, loss, examples, active)
        if total[4]:
            self.settled = True
            self.group.raise_first(None, int(total[4]))
        self.syncs += 1
        self.last_words, self.last_time = words, time.monotonic()
        self.global_words = float(total[0])
        self.rate.learn(total[0], words)
        self.loss += float(total[1])
        self.examples += int(total[2])
        lr = self.rate.at_global(total[0])
        if self.examples and diverged(self.model, self._mean()):
            self.settled = True
            error = DivergedError(_advice(self.model, lr, self._mean()))
            error.rank = self.group.rank            # raised on every rank: rank 0 prints it
            raise error
        active_ranks = int(total[3])
        if active_ranks:                            # the last sync of an epoch is followed by the whole tables'
            rows = prefix_rows(self.syncs, len(self.model.vocab), FIRST_PREFIX)
            self.group.guarded(lambda: self._average(rows, exact=False))
        if self.progress is not None and self.progress.due():
            self.progress.show(self.global_words, lr, self._mean())
        self._log()
        return active_ranks

    def _average(self, rows: int, exact: bool) -> None:
        """Average the first ``rows`` rows of both tables over the ranks, in slices of at most ``SLICE_BYTES``.

        A row takes the mean of its values on the ranks that changed it since the last sync (told by a
        fingerprint of each row, kept from the last sync: no copy of the tables), which is its value then
        plus the mean of their changes; a row no rank changed stays. So a row only one rank trained keeps
        that rank's change whole (averaged with the others' untouched copies it would shrink ``size``-fold
        at every sync), a row all trained takes the mean of the ranks' values; never a sum. The rows and a
        changed-or-not column go in one collective call for both tables.

        ``exact``: the tables take the new values (the epoch's end, when no training runs). Otherwise they
        take the new values plus what threads still training (Hogwild engines) wrote while the collective ran
        (the table less the snapshot), to be counted as changes at the next sync."""
        if self.group.size == 1:                    # alone: the tables are their own mean
            return
        model = self.model
        W_in, W_out = model.W_in, model.W_out
        width = W_in.shape[1]
        xp = backend.get_array_module(W_in)
        step = max(1, SLICE_BYTES // (2 * (width + 1) * 4))
        for lo in range(0, rows, step):
            hi = min(rows, lo + step)
            snapshot = xp.stack((W_in[lo:hi], W_out[lo:hi]))           # (2, n, H)
            changed = fingerprint(xp, snapshot) != self.marks[:, lo:hi]                 # (2, n)
            block = xp.empty(snapshot.shape[:2] + (width + 1,), dtype=xp.float32)    # (2, n, H + 1)
            block[..., :width] = snapshot
            block[~changed] = 0                     # a row this rank left adds nothing (and is not counted)
            block[..., width] = changed
            total = self.group.averager.sum(block)
            count = total[..., width:]
            new = total[..., :width] / xp.maximum(count, 1)             # (2, n, H), contiguous
            same = count[..., 0] == 0
            new[same] = snapshot[same]              # rows no rank changed stay as they are
            self.marks[:, lo:hi] = fingerprint(xp, new)
            for t, table in enumerate((W_in, W_out)):
                if exact:
                    table[lo:hi] = new[t]
                else:       # exactly new where nothing was written meanwhile (a rounding left would read as a
                    # change), in one write: threads still training never read a row that is only a difference
                    moved = table[lo:hi] - snapshot[t]
                    moved += new[t]
                    table[lo:hi] = moved

    def _mean(self) -> float:
        return float(self.loss / self.examples) if self.examples else float("nan")

    def _log(self, force: bool = False) -> None:
        """Move the global loss into ``model.loss_history``, about once a second and at each epoch's end."""
        if not self.examples or not (force or time.monotonic() - self.logged >= 1.0):
            return
        record(self.model, self.global_words, self.rate.at_global(self.global_words), self._mean(), self.examples)
        self.loss, self.examples = 0.0, 0
        self.logged = time.monotonic()
