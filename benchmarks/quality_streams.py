"""Quality of the walk in order with N streams in flight, simulated on the CPU (issue 13's table).

    python benchmarks/quality_streams.py --corpus enwiki --streams 1024,4096,16384     # and the walks 1 and 64
    python benchmarks/quality_streams.py --corpus enwiki --walks "" --streams 4096,16384 --max-row-updates 64
    python benchmarks/quality_streams.py --corpus enwiki --streams 4096 --sg 1 --sampler exclusion --json q.json

A GPU kernel that walks a chunk's N streams with one warp each reads rows that
the other warps may be updating. The most stale it can be is the lockstep
simulation of the numba engine (``nsw2v.training.numba_engine.lockstep``): step
t trains the t-th center of every stream from the tables as they were at the
step's start, then adds all the updates (with ``--max-row-updates K``, the array
engine's cap: a row updated more than K times in a step gets K updates' worth).
Beside those rows, the walks without staleness on one thread (``--walks``): one
stream in order (the C tool's order) and 64 streams walked together (the numba
engine's default), each update made at once. Each row is one epoch with the
same seed and settings (vector_size 100, window 5, negative 5, sample 1e-3,
min_count 5, alpha 0.05 for CBOW and 0.025 for skip-gram unless ``--alpha``;
CBOW and the batched sampler unless told otherwise). Columns: analogy accuracy
on the 30,000 most frequent words, WordSim-353 Spearman rho, the last epoch's
mean loss, the training seconds (one thread; the lockstep's extra bookkeeping
included, so compare quality here, not speed). A run whose loss stops being
finite is reported as diverged, with the learning rate and the share of the
epoch it had reached.
"""
from __future__ import annotations

import argparse
import datetime
import shlex
import sys

from _shared import corpus_path, eval_files, evaluate_nsw2v, machine, markdown_header, markdown_row, save_json

COLUMNS = ["streams", "updates", "cap", "model", "sampler", "alpha", "epochs", "analogy acc (30k)", "WS-353 rho",
           "loss", "train s"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="enwiki", help="ptb, enwiki or a path (plain or gzip text)")
    parser.add_argument("--streams", default="1024,4096,16384", help="streams in lockstep, comma-separated")
    parser.add_argument("--walks", default="1,64",
                        help="streams walked together without staleness (one thread), comma-separated")
    parser.add_argument("--sg", type=int, choices=(0, 1), default=0, help="0: CBOW, 1: skip-gram")
    parser.add_argument("--sampler", choices=("exclusion", "batched"), default="batched",
                        help="the negatives' path (the GPU's: batched)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--alpha", type=float, default=None, help="initial learning rate (default: the C tool's)")
    parser.add_argument("--max-row-updates", type=int, default=None,
                        help="cap on a row's updates per lockstep step (default: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="FILE", help="also save the rows as JSON")
    parser.add_argument("--verbose", action="store_true", help="show nsw2v's progress line")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from nsw2v import Word2Vec
    from nsw2v.errors import DivergedError
    from nsw2v.training import numba_engine

    corpus = corpus_path(args.corpus)
    eval_files()                                    # fail before training, not after
    runs = [("walk", int(n)) for n in args.walks.split(",") if n.strip()]
    runs += [("lockstep", int(n)) for n in args.streams.split(",") if n.strip()]
    model_name = "skip-gram" if args.sg else "CBOW"
    print(f"corpus {corpus}; {machine()}; {datetime.date.today()}")
    print(f"command: python {shlex.join(sys.argv)}\n")
    print(markdown_header(COLUMNS), flush=True)
    rows = []
    for kind, streams in runs:
        model = Word2Vec(vector_size=100, window=5, min_count=5, sg=args.sg, negative=5, sample=1e-3,
                         alpha=args.alpha, epochs=args.epochs, sampler=args.sampler, seed=args.seed, xp="numpy",
                         engine="numba", workers=1, verbose=args.verbose)
        model.build_vocab(corpus_file=str(corpus))
        cap = args.max_row_updates if kind == "lockstep" else None
        updates = "at once" if kind == "walk" else "at the step's end"
        row = {"streams": streams, "kind": kind, "cap": cap, "model": model_name, "sampler": args.sampler,
               "alpha": model.alpha, "epochs": args.epochs, "vocab_size": len(model.vocab)}
        try:
            if kind == "walk":
                default, numba_engine.INTERLEAVE = numba_engine.INTERLEAVE, streams
                try:
                    model.train(corpus_file=str(corpus))
                finally:
                    numba_engine.INTERLEAVE = default
            else:
                with numba_engine.lockstep(streams, cap):
                    model.train(corpus_file=str(corpus))
        except DivergedError:
            last = model.loss_history[-1] if model.loss_history else {"words": 0, "alpha": model.alpha}
            reached = last["words"] / (model.vocab.total_words * args.epochs)
            row.update(diverged=True, diverged_at_alpha=last["alpha"], diverged_at_share=reached)
            rows.append(row)
            print(markdown_row([f"{streams:,}", updates, cap, model_name, args.sampler, model.alpha, args.epochs,
                                f"diverged (after {100 * reached:.0f}% of the epoch, lr {last['alpha']:.4f})",
                                None, None, None]), flush=True)
            continue
        accuracy, rho = evaluate_nsw2v(model.wv)
        row.update(analogy_acc=accuracy, wordsim_rho=rho, final_loss=model.epoch_losses[-1],
                   train_seconds=model.train_seconds)
        rows.append(row)
        print(markdown_row([f"{streams:,}", updates, cap, model_name, args.sampler, model.alpha, args.epochs,
                            accuracy, rho, f"{row['final_loss']:.4f}", model.train_seconds]), flush=True)
    save_json(args.json, rows, corpus=str(corpus), machine=machine(), date=str(datetime.date.today()),
              command=shlex.join(["python"] + sys.argv), sg=args.sg, epochs=args.epochs, seed=args.seed)


if __name__ == "__main__":
    main()
