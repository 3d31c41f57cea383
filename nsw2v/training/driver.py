"""The epoch loop: chunks in, updates, loss history and progress out, divergence stopped.

The driver reads the corpus chunk by chunk (the next one prepared in a reader
thread, or handed to a :class:`~.pool.Pool` of processes), has the engine train
each, and after each chunk moves the loss into ``model.loss_history``. A loss
that is not finite, or above twice an untrained model's (:func:`diverged`),
stops training with :class:`~nsw2v.errors.DivergedError`.
"""
from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Callable, Iterable

from .. import backend
from ..errors import DivergedError
from . import engines
from .plan import LearningRate
from .prefetch import prefetch
from .progress import Progress


def train(model: Any, epoch_chunks: Callable[[int], Iterable], epochs: int, schedule: LearningRate,
          group: Any = None) -> int:
    """Train ``model`` for ``epochs`` passes of ``epoch_chunks(chunk_words)``; return the words read.

    ``group``: the ranks of a training on several processes (:class:`.distributed.Group`); this process's
    ``epoch_chunks`` are then its share, and the ranks' syncs sum the words and the loss (returned, logged and
    shown by rank 0: global figures) and average the tables."""
    # Overflow on the way to a non-finite loss is reported once, as DivergedError, not as NumPy's warnings
    # (the forked training processes inherit the setting; the reader thread only plans, in integers).
    with _quiet(model.xp):
        return _train(model, epoch_chunks, epochs, schedule, group)


def _train(model: Any, epoch_chunks: Callable[[int], Iterable], epochs: int, schedule: LearningRate,
           group: Any) -> int:
    sync = None if group is None else group.training(model, schedule)
    if sync is None:
        progress = Progress(schedule.total, echo=model.verbose)
        if not progress.active:             # neither drawn nor logged: no report needs the loss
            progress = None
    else:
        progress = sync.progress            # rank 0's, shown at the syncs with the global figures
    acc = engines.Accumulator()
    done, lr = 0, schedule.alpha
    start = time.time()

    pending: list = []                      # [(Accumulator, words, lr)] of the chunk before, not yet read

    def flush_pending() -> None:
        while pending:
            flush(model, *pending.pop())

    def report(words: float, lr: float) -> None:
        if sync is not None:
            sync.tick(words, acc)
        elif progress is not None and progress.due():
            flush_pending()
            progress.show(words, lr, flush(model, acc, words, lr))

    pool = None
    completed = False
    try:        # from here a failure on one rank (compiling, forking, a callback) reaches every rank
        engine = engines.make(model, schedule if sync is None else sync.rate)
        # An engine whose work is still queued on the device when train() returns (lagged_loss) has each chunk's
        # loss read once the next chunk is queued: no blocking wait at a chunk's end, the device never idle there.
        lagged = getattr(engine, "lagged_loss", False) and sync is None
        processes = getattr(engine, "processes", 1)
        if processes > 1:
            from .pool import Pool
            pool = Pool(engine, processes)
        # with several processes, smaller chunks shorten the end of an epoch, when one works alone
        chunk_words = (model.chunk_words or engine.chunk_words) // processes or 1
        model._hook("on_train_begin")
        for _ in range(epochs):
            model._hook("on_epoch_begin")
            chunks = epoch_chunks(chunk_words)
            if pool is None:
                epoch = model.epochs_trained
                prepared = ((len(ids), engine.prepare(epoch, number, ids, sid))
                            for number, (ids, sid) in enumerate(chunks))
                # the next chunk is prepared as this one trains, in a thread on this thread's GPU
                for raw_n, item in prefetch(prepared, depth=1, context=backend.this_threads_device(model.xp)):
                    lr = engine.train(item, raw_n, done, acc, report)
                    done += raw_n
                    if sync is not None:
                        sync.tick(done, acc)
                    elif lagged:
                        flush_pending()             # the chunk before: its kernel ended before this one began
                        pending.append((acc.take(), done, lr))
                    else:
                        flush(model, acc, done, lr)
                flush_pending()
            else:
                # Chunks finish out of order: report the words of the chunks finished so far (never going back,
                # in the progress line or in loss_history) and the lowest rate yet, not a chunk's own end.
                sizes: dict = {}
                finished = done
                for loss, examples, end, chunk_lr in pool.epoch(_sized(chunks, done, sizes), done):
                    finished += sizes.pop(end, 0)      # 0: an empty chunk ended here too
                    lr = min(lr, chunk_lr)
                    acc.add(loss, examples)
                    if sync is not None:
                        sync.tick(finished, acc)
                        continue
                    mean = flush(model, acc, finished, lr)
                    if progress is not None and progress.due():
                        progress.show(finished, lr, mean)
                done += pool.words
            if sync is not None:
                sync.end_epoch(done, acc)
            model._end_epoch()
        completed = True
    except BaseException as exc:
        if sync is not None:
            sync.fail(exc)              # raised on every rank (this one included) as one error
        raise
    finally:
        if pool is not None:
            pool.close(abort=not completed)     # Ctrl-C, SIGTERM, divergence: the workers end at once
        if progress is not None:
            progress.end_line()             # an error's message starts on a line of its own
    if sync is not None:
        done = sync.finish()                # the words of all ranks
    check_tables(model, lr)
    model.words_trained += done
    model.train_seconds = time.time() - start
    if progress is not None:
        progress.finish(done, model.train_seconds)
    return done


def _sized(chunks: Iterable, done: int, sizes: dict):
    """``chunks`` as they are, noting each chunk's words in ``sizes`` under its end (``done`` plus the words of
    the epoch up to and including it), the position the pool reports with its result."""
    end = done
    for ids, sid in chunks:
        end += len(ids)
        sizes[end] = sizes.get(end, 0) + len(ids)
        yield ids, sid


def flush(model: Any, acc: engines.Accumulator, words: float, lr: float) -> float:
    """Move the accumulated loss into ``model.loss_history``; return its mean per example.

    Raises :class:`~nsw2v.errors.DivergedError` when the loss is not finite."""
    examples = int(backend.to_float(acc.examples))
    if examples == 0:
        return float("nan")
    mean = backend.to_float(acc.loss) / examples
    if diverged(model, mean):
        raise DivergedError(_advice(model, lr, mean))
    record(model, words, lr, mean, examples)
    acc.loss, acc.examples = 0.0, 0
    return mean


def record(model: Any, words: float, lr: float, mean: float, examples: int) -> None:
    """One entry of ``model.loss_history``: the mean loss of ``examples`` examples up to word ``words`` of this
    training, where the learning rate was ``lr``."""
    model.loss_history.append({"epoch": model.epochs_trained, "words": int(model.words_trained + words),
                               "alpha": float(lr), "loss": mean, "examples": examples})


def check_tables(model: Any, lr: float) -> None:
    """Raise :class:`~nsw2v.errors.DivergedError` when a table holds a value that is not finite: once, at the end
    of training (one reduction over each table), for what the loss does not show (a last step's overflow)."""
    xp = backend.get_array_module(model.W_in)
    for table in (model.W_in, model.W_out):
        if not bool(xp.isfinite(table).all()):
            error = DivergedError(_advice(model, lr, what="non-finite vectors"))
            error.rank = getattr(model, "rank", 0)      # on several ranks the tables are the same: rank 0 prints
            raise error


@contextlib.contextmanager
def _quiet(xp: Any):
    if backend.is_cupy(xp):
        yield
        return
    import numpy as np
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        yield


#: A mean loss per example above this many times an untrained model's means training diverged. Untrained (every score
#: 0), an example's loss is (1 + negative) ln 2; training lowers it from the first chunk on (no healthy run of
#: lee_background or the shipped corpus, CBOW or skip-gram, alpha 0.05 to 0.4, 5 epochs, went above 0.85 times it; the
#: array engine's first reports at batch 16,384, whose first steps are few: 0.96), while a rate too high for the corpus
#: climbs far past it and writes vectors that mean nothing (CBOW at alpha 0.5 on lee_background: 45 times, finite to
#: the end; skip-gram at 0.3: 4,000 times).
DIVERGED_LOSS = 2.0


def diverged(model: Any, mean: float) -> bool:
    """Whether a mean loss per example says training diverged: not finite, or above :data:`DIVERGED_LOSS` times
    an untrained model's."""
    return not math.isfinite(mean) or mean > DIVERGED_LOSS * untrained_loss(model)


def untrained_loss(model: Any) -> float:
    """The loss of an example when every score is 0: ``(1 + negative) ln 2``."""
    return (1 + model.negative) * math.log(2)


def _advice(model: Any, lr: float, mean: float = math.nan, what: str = "") -> str:
    """What to change when training diverged (with the mean loss that said so, or ``what`` did)."""
    settings = [f"alpha (now {model.alpha})", f"negative (now {model.negative})"]
    if engines.choose(model) == "array":        # the cap is the array engine's alone
        settings.append(f"max_row_updates (now {model.max_row_updates})")
    if not what:
        what = ("non-finite loss" if not math.isfinite(mean) else
                f"loss {mean:.4g} per example, above {DIVERGED_LOSS:g} times an untrained model's "
                f"{untrained_loss(model):.3g}")
    return (f"training diverged ({what} at learning rate {lr:.4g}, epoch {model.epochs_trained + 1}); "
            f"no vectors were kept: lower {', '.join(settings[:-1])} or {settings[-1]}")
