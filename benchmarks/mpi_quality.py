"""Quality of training on several MPI ranks against one process and gensim, on one corpus.

    python benchmarks/mpi_quality.py --corpus enwiki --epochs 1
    python benchmarks/mpi_quality.py --corpus enwiki --epochs 5 --json benchmarks/published/cpu-mpi-quality-5.json
    python benchmarks/mpi_quality.py --runs ranks,control --ranks 2 --sync-period 50000

Runs, each a process of its own (``--runs``, comma-separated):

- ``ranks``: ``mpiexec -n R`` (``--ranks``), one training process a rank (``workers=1``), the tables averaged
  every ``--sync-period`` words of a rank (nsw2v's default unless given);
- ``workers``: one process with ``workers=W`` (``--workers``) training processes sharing the tables;
- ``gensim``: gensim 4 with ``workers=W``, reading the file as ``Text8Corpus``;
- ``control``: as ``ranks``, but averaged only at each epoch's end (``sync_period=None``): the negative
  control, which should score measurably worse and shows that the comparison can fail.

Settings: vector_size 100, window 5, negative 5, sample 1e-3, min_count 5, CBOW, alpha 0.05, seed 1, on a
decompressed copy of the corpus (made once in the system's temporary folder, not timed). Columns: analogy accuracy
on the 30,000 most frequent words (questions-words.txt) and WordSim-353 Spearman rho, both by
``nsw2v.evaluate``; training words per second (in-vocabulary words of all ranks over ``model.train_seconds``,
the vocabulary excluded; gensim: its own count over its train() time); the whole run's wall seconds.
"""
from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shared import ROOT, corpus_path, eval_files, evaluate_nsw2v, machine, markdown_header, markdown_row, \
    save_json

COLUMNS = ["run", "epochs", "analogy acc (30k)", "WS-353 rho", "train words/s", "wall s", "loss (last epoch)"]
SETTINGS = dict(vector_size=100, window=5, negative=5, sample=1e-3, min_count=5, sg=0, alpha=0.05, seed=1)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="enwiki", help="enwiki, ptb or a path (plain or gzip text)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--runs", default="ranks,workers,gensim,control")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sync-period", default=None,
                        help="words of a rank (an integer) or seconds (a decimal); default: nsw2v's")
    parser.add_argument("--engine", default=None, help="nsw2v's engine (default: the backend's)")
    parser.add_argument("--alpha", type=float, default=SETTINGS["alpha"], help="nsw2v's initial learning rate")
    parser.add_argument("--json", metavar="FILE", help="also save the rows as JSON")
    parser.add_argument("--train", metavar="DIR", help=argparse.SUPPRESS)   # one nsw2v training (a subprocess)
    parser.add_argument("--control", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def period(text):
    """``--sync-period``: an int (words), a float (seconds), ``None`` (nsw2v's default)."""
    if text is None:
        return None
    return float(text) if "." in text else int(text)


def plain_copy(path: Path) -> Path:
    """A decompressed copy of a gzip corpus (byte ranges of a plain file are what ranks read best)."""
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return path
    folder = Path(tempfile.gettempdir())                # not benchmarks/.cache, which is kept small
    target = folder / ("nsw2v-" + (path.name[:-3] if path.name.endswith(".gz") else path.name + ".txt"))
    if not target.exists():
        with gzip.open(path, "rb") as src, tempfile.NamedTemporaryFile(dir=folder, delete=False) as dst:
            shutil.copyfileobj(src, dst, 1 << 24)
        os.replace(dst.name, target)
    return target


def train_nsw2v(args: argparse.Namespace) -> None:
    """One training (run under mpiexec or not); rank 0 writes the vectors and its figures into ``args.train``."""
    from nsw2v import Word2Vec
    kwargs = dict(SETTINGS, epochs=args.epochs, workers=args.workers, engine=args.engine, verbose=False,
                  alpha=args.alpha)
    if args.control:
        kwargs["sync_period"] = None
    elif args.sync_period is not None:
        kwargs["sync_period"] = period(args.sync_period)
    model = Word2Vec(corpus_file=args.file, **kwargs)
    if model.rank != 0:
        return
    model.wv.save_word2vec_format(os.path.join(args.train, "vectors.bin"), binary=True)
    from nsw2v.training import engines
    with open(os.path.join(args.train, "stats.json"), "w") as fh:
        json.dump({"train_s": model.train_seconds, "words": model.words_trained, "engine": engines.choose(model),
                   "loss": model.epoch_losses[-1], "ranks": model._group.size if model._group else 1}, fh)


def train_gensim(path: Path, epochs: int, workers: int, out: str) -> dict:
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.models.word2vec import Text8Corpus
    settings = dict(SETTINGS)
    model = GensimWord2Vec(vector_size=settings["vector_size"], window=settings["window"],
                           negative=settings["negative"], sample=settings["sample"], min_count=settings["min_count"],
                           sg=0, hs=0, alpha=settings["alpha"], min_alpha=1e-4, seed=1, workers=workers,
                           epochs=epochs)
    corpus = Text8Corpus(str(path))
    model.build_vocab(corpus)
    start = time.time()
    _, words = model.train(corpus, total_examples=model.corpus_count, epochs=epochs)
    seconds = time.time() - start
    model.wv.save_word2vec_format(os.path.join(out, "vectors.bin"), binary=True)
    return {"train_s": seconds, "words": words, "engine": "gensim", "loss": None}


def run(name: str, args: argparse.Namespace, path: Path) -> dict:
    """One run in a process of its own; its row."""
    out = tempfile.mkdtemp(prefix=f"mpi-quality-{name}-")
    me = [sys.executable, str(Path(__file__).resolve()), "--train", out, "--file", str(path),
          "--epochs", str(args.epochs)]
    if args.engine:
        me += ["--engine", args.engine]
    me += ["--alpha", str(args.alpha)]
    if args.sync_period is not None:
        me += ["--sync-period", args.sync_period]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    label = {"ranks": f"nsw2v, {args.ranks} ranks x 1 process", "workers": f"nsw2v, 1 process x {args.workers} workers",
             "gensim": f"gensim 4, {args.workers} workers", "control": f"nsw2v, {args.ranks} ranks, averaged at "
                                                                       "epoch ends only (control)"}[name]
    if name != "gensim" and args.alpha != SETTINGS["alpha"]:
        label += f", alpha {args.alpha}"
    if name == "ranks" and args.sync_period is not None:
        label += f", sync every {args.sync_period}"
    start = time.time()
    if name == "gensim":
        stats = train_gensim(path, args.epochs, args.workers, out)
        command = None
    else:
        if name in ("ranks", "control"):
            command = ["mpiexec", "-n", str(args.ranks)] + me + ["--workers", "1"] + (["--control"] * (name == "control"))
        else:
            command = me + ["--workers", str(args.workers)]
        subprocess.run(command, check=True, env=env)
        with open(os.path.join(out, "stats.json")) as fh:
            stats = json.load(fh)
    wall = time.time() - start
    from nsw2v import WordVectors
    wv = WordVectors.load_word2vec_format(os.path.join(out, "vectors.bin"), binary=True)
    accuracy, rho = evaluate_nsw2v(wv)
    shutil.rmtree(out, ignore_errors=True)
    return {"run": label, "epochs": args.epochs, "analogy": accuracy, "rho": rho,
            "words_per_s": stats["words"] / stats["train_s"], "wall_s": wall, "loss": stats["loss"],
            "engine": stats["engine"], "command": None if command is None else shlex.join(command[:4] + ["..."])}


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.train:
        train_nsw2v(args)
        return
    eval_files()
    path = plain_copy(corpus_path(args.corpus))
    print(f"corpus {path}; {machine()}; {datetime.date.today()}")
    print(f"command: python {shlex.join(sys.argv)}\n")
    print(markdown_header(COLUMNS), flush=True)
    rows = []
    for name in [r.strip() for r in args.runs.split(",") if r.strip()]:
        row = run(name, args, path)
        rows.append(row)
        print(markdown_row([row["run"], row["epochs"], f"{100 * row['analogy']:.1f}%", f"{row['rho']:.3f}",
                            f"{row['words_per_s'] / 1000:,.0f}k", row["wall_s"],
                            None if row["loss"] is None else f"{row['loss']:.4f}"]), flush=True)
    save_json(args.json, rows, corpus=str(path), machine=machine(), date=str(datetime.date.today()),
              command="python " + shlex.join(sys.argv), settings=SETTINGS)


if __name__ == "__main__":
    main()
