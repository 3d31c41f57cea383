"""Where one epoch of training spends its time: reading, encoding, planning, steps.

    python benchmarks/profile_train.py --corpus enwiki                   # NumPy
    GPU=1 python benchmarks/profile_train.py --corpus enwiki --xp cupy   # CuPy (device synchronised)

Phases, each timed on its own (same settings as the peers' comparison, CBOW unless
``--sg 1``):

- ``read``: ``Word2Vec.build_vocab``: one pass that counts and keeps the corpus
  encoded (on CuPy the file is tokenised on the device, ``nsw2v.ingest``);
- ``plan`` and ``steps`` on the first ``--chunks`` chunks: subsampling, windows and
  the chunk's negatives, then the training steps alone, with the device synchronised after each phase (on
  CuPy also the host's share of the steps' time: how long Python took to issue them, and for one step
  and its pieces, the fused kernel and the two scatters, the device's own time, all calls queued behind
  a wait kernel so that no launch gap counts, beside the host's time to issue them);
- ``train``: one whole epoch of ``Word2Vec.train`` (its reader thread overlaps
  encoding with the steps), then the functions that took the most time in it
  (``cProfile``; on CuPy this is host time, the device work is asynchronous).
  The epoch trains on the kept encoding, as ``Word2Vec(corpus_file=...)`` does.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time

from _shared import corpus_path, machine


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="enwiki", help="ptb, enwiki or a path")
    parser.add_argument("--xp", default=None, help="numpy or cupy (default: GPU=... decides)")
    parser.add_argument("--sg", type=int, choices=(0, 1), default=0)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--chunks", type=int, default=3, help="chunks timed step by step")
    parser.add_argument("--top", type=int, default=15, help="functions listed from the profile")
    args = parser.parse_args(argv)

    from nsw2v import Word2Vec, backend
    from nsw2v.corpus import LineSentence
    from nsw2v.training.array_engine import ArrayEngine
    from nsw2v.training.engines import Accumulator
    from nsw2v.training.plan import LearningRate

    xp = backend.resolve_xp(args.xp)
    path = str(corpus_path(args.corpus))
    print(f"{machine()}; backend {xp.__name__}; corpus {path}")
    print(f"command: python {' '.join(sys.argv)}\n")

    def timed(name, fn):
        backend.synchronize(xp)
        start = time.perf_counter()
        out = fn()
        backend.synchronize(xp)
        seconds = time.perf_counter() - start
        print(f"{name:28s} {seconds:8.3f} s", flush=True)
        return out, seconds

    model = Word2Vec(sg=args.sg, epochs=1, batch_size=args.batch_size, xp=xp, verbose=False, engine="array")
    _, t_vocab = timed("read: count + encode", lambda: model.build_vocab(corpus_file=path))
    vocab = model.vocab
    if model._encoded is not None:
        chunks = model._encoded[1].iter_chunks(model.chunk_words)
    else:
        chunks = vocab.iter_chunks(LineSentence(path), model.chunk_words)
    job = ArrayEngine(model, LearningRate(model.alpha, model.min_alpha, vocab.total_words))
    t_plan = t_steps = t_issue = 0.0
    words = steps = 0
    for number in range(args.chunks):
        ids, sid = next(chunks, (None, None))
        if ids is None:
            break
        plan, seconds = timed(f"plan chunk {number}", lambda: job.prepare(0, number, ids, sid))
        t_plan += seconds
        acc = Accumulator()

        def run_steps():
            start = time.perf_counter()
            for j in range(len(plan.bounds) - 1):
                acc.add(*job.step(plan, int(plan.bounds[j]), int(plan.bounds[j + 1]), 0.01))
            return time.perf_counter() - start, backend.to_float(acc.loss)
        (issue, _), seconds = timed(f"steps chunk {number}", run_steps)
        t_steps += seconds
        t_issue += issue
        words += len(ids)
        steps += len(plan.bounds) - 1
    print(f"\nper 1M words: read {t_vocab / vocab.total_words * 1e6:.3f} s, plan {t_plan / words * 1e6:.3f} s, "
          f"steps {t_steps / words * 1e6:.3f} s ({t_steps / steps * 1e3:.2f} ms per step of "
          f"{model.batch_size} centers); steps alone: {words / t_steps / 1e6:.2f}M words/s")
    if backend.is_cupy(xp):
        # Python issuing the steps took this much of their time; near all of it, the device waits on the
        # host (launches, or syncs inside a step); far less, the host waits on the device's kernels.
        print(f"host time issuing the steps: {t_issue:.3f} s of {t_steps:.3f} s")
        step_pieces(xp, job, plan, args.sg)
    print()

    profile = cProfile.Profile()
    profile.enable()
    _, t_train = timed("train (one epoch)", lambda: model.train(corpus_file=path, epochs=1))
    profile.disable()
    print(f"train: {vocab.total_words / t_train / 1e6:.2f}M words/s; "
          f"with the count pass: {vocab.total_words / (t_train + t_vocab) / 1e6:.2f}M words/s\n")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())


# Holds the device for a given number of clock cycles, so that the work queued behind it is all issued
# before any of it runs: the time between two events around that work is then the device's own.
_SPIN = r"""
extern "C" __global__ void spin(const long long cycles) {
    long long start = clock64();
    while (clock64() - start < cycles) {}
}
"""


def step_pieces(xp, job, plan, sg: int, repeat: int = 20) -> None:
    """Device and host time of one step and of its pieces (the kernels path: fused scores, two scatters)."""
    if len(plan.bounds) < 2:
        return
    model = job.model
    tables = model.W_in, model.W_out
    model.W_in, model.W_out = model.W_in.copy(), model.W_out.copy()     # the pieces update copies
    try:
        _time_pieces(xp, job, plan, sg, repeat)
    finally:
        model.W_in, model.W_out = tables


def _time_pieces(xp, job, plan, sg: int, repeat: int) -> None:
    import numpy as np
    from nsw2v import backend
    from nsw2v.steps import _sorted_rows

    W_in, W_out = job.model.W_in, job.model.W_out
    j = (len(plan.bounds) - 1) // 2
    lo, hi = int(plan.bounds[j]), int(plan.bounds[j + 1])
    centers, ctx, valid, negatives = plan.centers[lo:hi], plan.ctx[lo:hi], plan.valid[lo:hi], plan.negatives[lo:hi]
    name = "skipgram" if sg else "cbow"
    pieces = {"step": lambda: job.step(plan, lo, hi, 0.01)}
    fused = backend.fused_scores(name, W_in, W_out, centers, ctx, valid, negatives, 0.01, job.skip_hits)
    if fused is not None:
        dh, d_out, _ = fused
        out_rows, in_rows = plan.rows(lo, hi) or _sorted_rows(xp, W_out, centers, ctx, valid, negatives)
        n_inputs = xp.broadcast_to(valid.sum(axis=1)[:, None], d_out.shape[:2]) if sg else None
        pieces.update({
            "scores (fused kernel)": lambda: backend.fused_scores(name, W_in, W_out, centers, ctx, valid, negatives,
                                                                  0.01, job.skip_hits),
            "scatter to W_out": lambda: job.scatter(W_out, out_rows, d_out, n_inputs),
            "scatter to W_in": lambda: job.scatter(W_in, in_rows, dh)})
    spin = xp.RawKernel(_SPIN, "spin")
    print(f"\none step of {hi - lo} centers and its pieces, {repeat} calls each (device time measured with "
          f"all calls queued behind a wait):")
    for label, piece in pieces.items():
        piece()
        backend.synchronize(xp)
        start, end = xp.cuda.Event(), xp.cuda.Event()
        spin((1,), (1,), (np.int64(200_000_000),))                    # about 0.1 s
        start.record()
        t0 = time.perf_counter()
        for _ in range(repeat):
            piece()
        host = (time.perf_counter() - t0) / repeat
        end.record()
        end.synchronize()
        device = xp.cuda.get_elapsed_time(start, end) / repeat / 1e3
        late = " (issued slower than the wait lasts: device time includes waits on the host)" \
            if host * repeat > 0.08 else ""
        print(f"  {label:24s} device {device * 1e3:7.3f} ms, host {host * 1e3:7.3f} ms per call{late}")


if __name__ == "__main__":
    main()
