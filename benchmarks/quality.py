"""Vector quality and speed of each sampler path, one Markdown row per (path, backend, batch size).

    python benchmarks/quality.py                                   # PTB, NumPy, batch 1024 and 4096
    python benchmarks/quality.py --corpus enwiki --epochs 1 --json results/quality.json
    GPU=1 python benchmarks/quality.py --corpus enwiki --xp cupy --batch-sizes 4096,16384
    python benchmarks/quality.py --corpus PATH --xp numpy,cupy --sg 1

Every run uses the same seed and settings (vector_size 100, window 5, negative 5,
sample 1e-3, min_count 5; CBOW unless ``--sg 1``) and differs only in the sampler
path, the backend and the batch size. Columns: analogy accuracy on the 30,000 most
frequent words (questions-words.txt), WordSim-353 Spearman rho, in-vocabulary words
per second of training (``model.train_seconds``, vocabulary building excluded) and
the training seconds.
"""
from __future__ import annotations

import argparse
import shlex
import datetime
import sys
import time

from _shared import corpus_path, eval_files, evaluate_nsw2v, machine, markdown_header, markdown_row, save_json

COLUMNS = ["path", "backend", "batch", "model", "epochs", "analogy acc (30k)", "WS-353 rho",
           "words/s", "train s"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="ptb", help="ptb, enwiki or a path (plain or gzip text)")
    parser.add_argument("--xp", default="numpy", help="numpy, cupy, or both: numpy,cupy")
    parser.add_argument("--paths", default="exclusion,batched", help="sampler paths, comma-separated")
    parser.add_argument("--batch-sizes", default="1024,4096", help="comma-separated, e.g. 1024,4096")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--sg", type=int, choices=(0, 1), default=0, help="0: CBOW, 1: skip-gram")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="FILE", help="also save the rows as JSON")
    parser.add_argument("--verbose", action="store_true", help="show nsw2v's progress line")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from nsw2v import Word2Vec, backend

    corpus = corpus_path(args.corpus)
    eval_files()                                    # fail before training, not after
    backends = [backend.resolve_xp(name.strip()) for name in args.xp.split(",") if name.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    model_name = "skip-gram" if args.sg else "CBOW"

    print(f"corpus {corpus}; {machine()}; {datetime.date.today()}")
    print(f"command: python {shlex.join(sys.argv)}\n")
    print(markdown_header(COLUMNS), flush=True)
    rows = []
    for xp in backends:
        for path in paths:
            for batch_size in batch_sizes:
                start = time.time()
                model = Word2Vec(corpus_file=str(corpus), vector_size=100, window=5, min_count=5, sg=args.sg,
                                 negative=5, sample=1e-3, epochs=args.epochs, batch_size=batch_size,
                                 sampler=path, seed=args.seed, xp=xp, verbose=args.verbose, engine="array")
                wall = time.time() - start
                accuracy, rho = evaluate_nsw2v(model.wv)
                words = model.vocab.total_words * args.epochs
                row = {"path": path, "backend": xp.__name__, "batch_size": batch_size, "model": model_name,
                       "epochs": args.epochs, "analogy_acc": accuracy, "wordsim_rho": rho,
                       "words_per_s": words / model.train_seconds, "train_seconds": model.train_seconds,
                       "wall_seconds": wall, "vocab_size": len(model.vocab), "words": words,
                       "final_loss": model.epoch_losses[-1]}
                rows.append(row)
                print(markdown_row([path, xp.__name__, batch_size, model_name, args.epochs, accuracy, rho,
                                    row["words_per_s"], model.train_seconds]), flush=True)
    save_json(args.json, rows, corpus=str(corpus), machine=machine(), date=str(datetime.date.today()),
              command=shlex.join(["python"] + sys.argv), sg=args.sg, epochs=args.epochs, seed=args.seed)


if __name__ == "__main__":
    main()
