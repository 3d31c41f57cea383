"""``workers`` forked processes training on the same two tables in shared memory (the array engine on NumPy)."""
from __future__ import annotations

import os
import queue
from typing import Any, Iterable

import numpy as np

from .. import backend
from ..util import quiet_worker
from .engines import Accumulator


class Pool:
    """``workers`` processes training on the same two tables in shared memory (NumPy only).

    As the C tool's threads do, the processes update the tables without locks
    (Hogwild): results no longer repeat exactly for a seed. The main process
    reads and encodes the corpus and hands out whole chunks; the learning rate
    of a chunk follows from its position in the corpus, as with one process.
    """

    def __init__(self, engine: Any, workers: int):
        import mmap
        import multiprocessing as mp
        model = engine.model
        self.engine, self.model, self.words = engine, model, 0
        tables = []
        for table in (model.W_in, model.W_out):
            # An anonymous shared mapping, inherited by the forked workers: nothing in /dev/shm (whose size
            # containers often limit) to leak if a process is killed, and no resource-tracker process.
            shared = np.ndarray(table.shape, dtype=table.dtype, buffer=mmap.mmap(-1, max(table.nbytes, 1)))
            shared[...] = table
            tables.append(shared)
        model.W_in, model.W_out = tables
        ctx = mp.get_context("fork")            # the workers inherit the model, vocabulary and tables
        self.tasks = ctx.Queue(maxsize=2 * workers)
        self.results = ctx.Queue()
        self.procs = [ctx.Process(target=_work, args=(engine, i, self.tasks, self.results, os.getpid()),
                                  daemon=True)
                      for i in range(workers)]
        for proc in self.procs:
            proc.start()

    def epoch(self, chunks: Iterable, done: int):
        """Hand out one epoch's chunks; yield ``(loss, examples, words, lr)`` per chunk as they finish."""
        sent, self.received, self.words = 0, 0, 0
        for number, (ids_host, sid_host) in enumerate(chunks):
            while True:
                try:
                    self.tasks.put((self.model.epochs_trained, number, ids_host, sid_host, done + self.words),
                                   timeout=0.2)
                    break
                except queue.Full:
                    yield from self._drain(block=False)
            sent += 1
            self.words += len(ids_host)
            yield from self._drain(block=False)
        while self.received < sent:
            yield from self._drain(block=True)

    def _drain(self, block: bool):
        while True:
            try:
                item = self.results.get(timeout=1.0) if block else self.results.get_nowait()
            except queue.Empty:
                if block and not all(p.is_alive() for p in self.procs):
                    raise RuntimeError("a training process died") from None
                if block:
                    continue
                return
            if isinstance(item, str):
                raise RuntimeError(f"a training process failed:\n{item}")
            self.received += 1
            yield item
            if block:
                return

    def close(self, abort: bool = False) -> None:
        """End the workers: after the last chunk, when each has finished (``abort=False``); on an error, Ctrl-C
        or SIGTERM at once (``abort=True``: they are killed, and what waits in the queues is dropped, so that
        neither this process nor its exit waits on a pipe that no one reads)."""
        if abort:
            for q in (self.tasks, self.results):
                q.cancel_join_thread()          # else exit joins the feeder thread, blocked writing a chunk
            for proc in self.procs:
                if proc.is_alive():
                    proc.kill()
            for proc in self.procs:
                proc.join(timeout=1)
        else:
            for _ in self.procs:
                try:
                    self.tasks.put_nowait(None)
                except queue.Full:
                    pass
            for proc in self.procs:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.terminate()
        for q in (self.tasks, self.results):
            q.close()
        model = self.model
        model.W_in, model.W_out = model.W_in.copy(), model.W_out.copy()   # off the mapping, unmapped once unused


def _work(engine: Any, worker: int, tasks: Any, results: Any, parent: int = 0) -> None:
    """A worker process: train every chunk it is handed until it gets ``None``."""
    import traceback
    if parent:
        quiet_worker(parent)
    engine.reseed(worker)
    try:
        while True:
            task = tasks.get()
            if task is None:
                return
            epoch, number, ids_host, sid_host, done = task
            acc = Accumulator()
            lr = engine.train_chunk(epoch, number, ids_host, sid_host, done, acc)
            results.put((backend.to_float(acc.loss), int(backend.to_float(acc.examples)), done + len(ids_host), lr))
    except KeyboardInterrupt:
        return
    except BaseException:
        results.put(traceback.format_exc())
