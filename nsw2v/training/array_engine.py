"""The array engine: batched CBOW and skip-gram steps written once over ``xp`` (NumPy or CuPy).

The reference in which the chapter-4 layers and both sampler paths are written:
each step gathers the rows of ``batch_size`` centers spread over the chunk
(:mod:`.plan`), scores them against ``[center | negatives]`` and scatter-adds
the updates (``nsw2v.steps``), with a cap on a row's summed updates per step.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .. import backend
from ..errors import ParameterError
from ..negative_sampling import UnigramSampler
from ..steps import CappedScatter, cbow_step, skipgram_step
from .plan import LearningRate, Plan, mix, plan_chunk


def shared_cap(cap: Optional[int], processes: int) -> Optional[int]:
    """Each process's share of ``max_row_updates`` (processes update the same rows at the same time), or a
    :class:`~nsw2v.errors.ParameterError` when a share would fall below one update: the tables would then barely
    move (``workers=100`` with the cap at 64 left the loss at 6 ln 2, nothing trained)."""
    if cap is None or processes <= 1:
        return cap
    if cap < processes:
        raise ParameterError(f"workers={processes} with max_row_updates={cap}: the array engine shares the cap "
                             f"among its training processes, {cap} // {processes} = 0 updates each, and nothing "
                             f"would train; use workers <= {cap}, or raise max_row_updates (or None: exact sums)")
    return cap // processes


class ArrayEngine:
    """What one training call needs to turn chunks into steps, in this process or a forked worker.

    Chunk ``number`` of an epoch is planned with its own seeded generator, so a
    chunk's subsampling and windows do not depend on which process trains it.
    ``processes`` training processes share the tables (:mod:`.pool`), and the
    per-step cap with them.
    """

    name = "array"
    #: In-vocabulary words of a chunk when ``model.chunk_words`` is None (shared out among the processes).
    chunk_words = 1_000_000

    def __init__(self, model: Any, schedule: LearningRate, processes: int = 1):
        xp = model.xp
        self.model, self.schedule = model, schedule
        self.seed = model.seed + 1000003 * (model.epochs_trained + 1)
        self.epoch0 = model.epochs_trained
        sampler_seed = model.seed + 7 + model.epochs_trained
        # MPI ranks (nsw2v.training.distributed) draw streams of their own; rank 0 those of a lone process
        self.rank = getattr(model, "rank", 0)
        if self.rank:
            self.seed, sampler_seed = mix(self.seed, self.rank), mix(sampler_seed, self.rank)
        self.sampler = UnigramSampler(None, model.ns_exponent, model.negative, method=model.sampler, xp=xp,
                                      counts=model.vocab.counts, seed=sampler_seed)
        self.skip_hits = self.sampler.method == "batched"
        self.processes = processes
        self.scatter = CappedScatter(shared_cap(model.max_row_updates, processes))
        self.keep_p = xp.asarray(model.vocab.keep_probabilities(model.sample)) if model.sample > 0 else None

    def reseed(self, worker: int) -> None:
        """Give a worker process its own sampler stream."""
        streams = (self.model.seed + 7, self.epoch0, worker) + ((self.rank,) if self.rank else ())
        self.sampler.rng = backend.make_rng(self.model.xp, mix(*streams))

    def train_chunk(self, epoch: int, number: int, ids_host: np.ndarray, sid_host: np.ndarray, done: int,
                    acc: Any, report: Optional[Callable] = None) -> float:
        """Train on one chunk whose first word is word ``done`` of this call; return the last lr."""
        return self.train(self.prepare(epoch, number, ids_host, sid_host), len(ids_host), done, acc, report)

    def train(self, plan: Plan, raw_n: int, done: int, acc: Any, report: Optional[Callable] = None) -> float:
        """Train on a planned chunk of ``raw_n`` words whose first is word ``done`` of this call; return the last lr."""
        n_steps = len(plan.bounds) - 1
        lr = self.schedule.at(done)
        for j in range(n_steps):
            words = done + raw_n * j / n_steps
            lr = self.schedule.at(words)
            acc.add(*self.step(plan, int(plan.bounds[j]), int(plan.bounds[j + 1]), lr))
            if report is not None:
                report(words, lr)
        return lr

    def prepare(self, epoch: int, number: int, ids_host: np.ndarray, sid_host: np.ndarray) -> Plan:
        """Chunk ``number`` of ``epoch``: its subsampling and windows (seeded by both), and the negatives
        of all its centers in one call of the sampler (rows are drawn independently of each other, so
        one call for the chunk draws what a call per step would, with one call's overhead)."""
        xp = self.model.xp
        rng = backend.make_rng(xp, mix(self.seed, epoch, number))
        plan = plan_chunk(xp, rng, xp.asarray(ids_host), xp.asarray(sid_host), self.keep_p, self.model.window,
                          self.model.batch_size)
        plan.negatives = self.sampler.sample(plan.centers)
        return plan

    def step(self, plan: Plan, lo: int, hi: int, lr: float):
        """One step over plan positions ``lo:hi``; returns ``(loss sum, examples)``, both maybe on the device."""
        model = self.model
        if hi <= lo:
            return 0.0, 0
        centers, valid, ctx = plan.centers[lo:hi], plan.valid[lo:hi], plan.ctx[lo:hi]
        negatives = plan.negatives[lo:hi]
        if model.sg:
            loss = skipgram_step(model.W_in, model.W_out, centers, ctx, valid, negatives, lr, self.skip_hits,
                                 self.scatter)
            return loss, valid.sum()                    # one example per (context, center) pair
        loss = cbow_step(model.W_in, model.W_out, centers, ctx, valid, negatives, lr, self.skip_hits, self.scatter)
        return loss, hi - lo
