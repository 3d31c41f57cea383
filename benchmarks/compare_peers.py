"""nsw2v against gensim 4 and the original word2vec C tool: same corpus, same settings.

    python benchmarks/compare_peers.py --corpus enwiki --epochs 1            # nsw2v, and gensim if importable
    python benchmarks/compare_peers.py --corpus enwiki --word2vec-bin ~/word2vec/bin/word2vec
    GPU=1 python benchmarks/compare_peers.py --corpus enwiki --xp cupy --batch-size 4096 --only nsw2v
    python benchmarks/compare_peers.py --corpus ptb --sg 1 --json results/peers-sg.json

Settings shared by all peers: vector_size 100, window 5, negative 5 (no
hierarchical softmax), sample 1e-3, min_count 5, ns_exponent 0.75, the C tool's
initial learning rate (0.05 CBOW, 0.025 skip-gram, passed explicitly: gensim's
own default is 0.025 for both), min_alpha 1e-4, seed 1, 2 CPU threads.

- gensim reads the corpus as an iterator, with ``workers=2`` and
  ``max_vocab_size=None``: ``Text8Corpus`` for a file of one line (text8's format,
  read in pieces of 10,000 words without holding the line), else ``LineSentence``
  (which holds a whole line in memory). (Its ``corpus_file`` mode is not used: on a
  one-line file it trains on the first 10,000 words only.)
- the C tool (``--word2vec-bin``) runs as a subprocess on a decompressed copy of
  the corpus (decompression is not timed) with ``-threads 2 -binary 1``.

"wall s" covers everything a user waits for: reading the corpus, building the
vocabulary and training (for the C tool also writing its vector file), but not
importing the library (gensim is imported before its timer starts; for nsw2v on
CuPy, importing CuPy and starting the GPU are timed apart, as ``startup_seconds`` in
the JSON). "words/s" is corpus tokens (before min_count and subsampling) times
epochs over wall seconds, the same numerator for every peer. Every model's vectors
are scored by nsw2v.evaluate and, when gensim is importable, by gensim's own
evaluators: analogy accuracy on the 30,000 most frequent words and WordSim-353
Spearman rho. The last columns compare each row with gensim's: speed ratio, accuracy
difference in points, rho difference.
"""
from __future__ import annotations

import argparse
import shlex
import datetime
import gzip
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, Optional, Tuple

import numpy as np

from _shared import (CACHE, corpus_path, eval_files, evaluate_nsw2v, machine, markdown_header, markdown_row,
                     save_json)

PEERS = ("nsw2v", "gensim", "c")
COLUMNS = ["peer", "model", "wall s", "words/s", "analogy acc (30k)", "WS-353 rho",
           "acc, gensim eval", "rho, gensim eval", "speed vs gensim", "acc − gensim (pts)", "rho − gensim"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="ptb", help="ptb, enwiki or a path (plain or gzip text)")
    parser.add_argument("--sg", type=int, choices=(0, 1), default=0, help="0: CBOW, 1: skip-gram")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--xp", default=None, help="nsw2v's backend: numpy or cupy (default: GPU=... decides)")
    parser.add_argument("--batch-size", type=int, default=None, help="nsw2v's centers per step")
    parser.add_argument("--workers", type=int, default=None,
                        help="nsw2v's training threads (numba engine) or processes (array engine), and reading "
                             "processes (default: nsw2v's, the usable cores with the numba engine)")
    parser.add_argument("--engine", choices=("array", "numba", "cuda"), default=None,
                        help="nsw2v's engine (default: the backend's)")
    parser.add_argument("--sampler", choices=("exclusion", "batched"), default=None,
                        help="nsw2v's sampler path (default: the backend's)")
    parser.add_argument("--only", choices=PEERS, action="append",
                        help="run only this peer (repeatable); default: every available one")
    parser.add_argument("--word2vec-bin", metavar="PATH", help="the C tool's word2vec executable")
    parser.add_argument("--decompressed", action="store_true",
                        help="every peer reads a decompressed copy of a gzip corpus (made once, not timed)")
    parser.add_argument("--json", metavar="FILE", help="also save the rows as JSON")
    parser.add_argument("--verbose", action="store_true", help="show each tool's progress output")
    return parser.parse_args(argv)


def import_gensim() -> Optional[Any]:
    try:
        import gensim.models
        import gensim.models.word2vec  # noqa: F401
    except ImportError:
        return None
    if int(gensim.__version__.split(".")[0]) < 4:
        print(f"gensim {gensim.__version__} found; gensim 4 is needed: skipping it", file=sys.stderr)
        return None
    return gensim


def run_nsw2v(corpus: Path, args: argparse.Namespace, alpha: float) -> dict:
    from nsw2v import Word2Vec, backend
    start = time.time()
    xp = backend.resolve_xp(args.xp)                # CuPy imported and the GPU started before the timer,
    if backend.is_cupy(xp):                         # as gensim is imported before its timer starts
        xp.zeros(1)
        backend.synchronize(xp)
    startup = time.time() - start
    start = time.time()
    model = Word2Vec(corpus_file=str(corpus), vector_size=100, window=5, min_count=5, sg=args.sg, negative=5,
                     ns_exponent=0.75, sample=1e-3, alpha=alpha, min_alpha=1e-4, epochs=args.epochs,
                     batch_size=args.batch_size, sampler=args.sampler, seed=1, xp=xp, verbose=args.verbose,
                     workers=args.workers, engine=args.engine)
    wall = time.time() - start
    from nsw2v.training import engines
    engine = engines.choose(model)
    batch = f"batch {model.batch_size}, " if engine == "array" else ""
    return {"peer": "nsw2v", "detail": f"{model.xp.__name__}, {engine} engine, {batch}"
                                       f"{args.sampler or 'default'} sampler, workers={model.workers}",
            "wall": wall, "startup": startup, "raw_words": model.vocab.raw_words,
            "keys": list(model.wv.index_to_key), "vectors": model.wv.vectors}


def one_line(corpus: Path, probe: int = 1 << 20) -> bool:
    """Whether the (plain or gzip) corpus is one line, as text8 is: no line break in its first ``probe``
    characters, but at its end."""
    with open(corpus, "rb") as fh:
        opener = gzip.open if fh.read(2) == b"\x1f\x8b" else open
    with opener(corpus, "rb") as fh:
        head = fh.read(probe)
    return b"\n" not in head.rstrip(b"\n")


def run_gensim(gensim: Any, corpus: Path, args: argparse.Namespace, alpha: float) -> dict:
    from gensim.models.word2vec import LineSentence, Text8Corpus
    reader = Text8Corpus if one_line(corpus) else LineSentence
    start = time.time()
    model = gensim.models.Word2Vec(reader(str(corpus)), vector_size=100, window=5, min_count=5, sg=args.sg,
                                   hs=0, negative=5, ns_exponent=0.75, sample=1e-3, alpha=alpha, min_alpha=1e-4,
                                   epochs=args.epochs, workers=2, max_vocab_size=None, seed=1)
    wall = time.time() - start
    return {"peer": "gensim", "detail": f"gensim {gensim.__version__}, {reader.__name__}, workers=2", "wall": wall,
            "raw_words": model.corpus_total_words,
            "keys": list(model.wv.index_to_key), "vectors": np.asarray(model.wv.vectors, dtype=np.float32)}


def plain_copy(corpus: Path) -> Path:
    """The corpus as plain text for the C tool (decompressed once into benchmarks/.cache)."""
    with open(corpus, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return corpus
    target = CACHE / (corpus.name[:-3] if corpus.name.endswith(".gz") else corpus.name + ".txt")
    if not target.exists() or target.stat().st_mtime < corpus.stat().st_mtime:
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        with gzip.open(corpus, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        tmp.replace(target)
    return target


def run_c(binary: str, corpus: Path, args: argparse.Namespace, alpha: float) -> dict:
    from nsw2v.vectors import WordVectors
    text = plain_copy(corpus)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "vectors.bin"
        cmd = [binary, "-train", str(text), "-output", str(out), "-cbow", "0" if args.sg else "1",
               "-size", "100", "-window", "5", "-negative", "5", "-hs", "0", "-sample", "1e-3",
               "-min-count", "5", "-threads", "2", "-iter", str(args.epochs), "-alpha", str(alpha),
               "-binary", "1"]
        start = time.time()
        done = subprocess.run(cmd, stdout=None if args.verbose else subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        wall = time.time() - start
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)}\nfailed with exit status {done.returncode}:\n{done.stderr[-2000:]}")
        wv = WordVectors.load_word2vec_format(out, binary=True)
    return {"peer": "c", "detail": f"word2vec C ({Path(binary).name}), -threads 2", "wall": wall,
            "raw_words": None, "keys": list(wv.index_to_key), "vectors": wv.vectors}


def evaluate_gensim(gensim: Any, keys: List[str], vectors: np.ndarray) -> Tuple[float, float]:
    """The same two scores by gensim's own KeyedVectors evaluators."""
    analogies, wordsim = eval_files()
    kv = gensim.models.KeyedVectors(vectors.shape[1])
    kv.add_vectors(keys, vectors)
    accuracy, _ = kv.evaluate_word_analogies(str(analogies), restrict_vocab=30000)
    _, spearman, _ = kv.evaluate_word_pairs(str(wordsim))
    rho = getattr(spearman, "statistic", None)
    return float(accuracy), float(spearman[0] if rho is None else rho)


def count_tokens(corpus: Path) -> int:
    from nsw2v.corpus import LineSentence
    return sum(len(sentence) for sentence in LineSentence(corpus))


def main(argv=None) -> None:
    args = parse_args(argv)
    from nsw2v.vectors import WordVectors

    corpus = corpus_path(args.corpus)
    if args.decompressed:
        corpus = plain_copy(corpus)
    eval_files()                                    # fail before training, not after
    peers = args.only or list(PEERS)
    gensim = import_gensim()
    if gensim is None and "gensim" in peers:
        print("gensim is not importable: comparing without it (pip install 'gensim>=4')", file=sys.stderr)
    if "c" in peers and not args.word2vec_bin:
        if args.only:
            sys.exit("--only c needs --word2vec-bin PATH (the C tool's executable)")
        print("no --word2vec-bin given: comparing without the C tool", file=sys.stderr)
    alpha = 0.025 if args.sg else 0.05
    model_name = "skip-gram" if args.sg else "CBOW"

    runs = []
    if "nsw2v" in peers:
        runs.append(run_nsw2v(corpus, args, alpha))
    if "gensim" in peers and gensim is not None:
        runs.append(run_gensim(gensim, corpus, args, alpha))
    if "c" in peers and args.word2vec_bin:
        runs.append(run_c(args.word2vec_bin, corpus, args, alpha))
    if not runs:
        sys.exit("nothing to run: check --only, and that gensim is importable or --word2vec-bin is given")

    raw_words = next((r["raw_words"] for r in runs if r["raw_words"]), None) or count_tokens(corpus)
    rows = []
    for run in runs:
        accuracy, rho = evaluate_nsw2v(WordVectors(run["keys"], run["vectors"]))
        g_accuracy, g_rho = evaluate_gensim(gensim, run["keys"], run["vectors"]) if gensim else (None, None)
        rows.append({"peer": run["peer"], "detail": run["detail"], "model": model_name, "epochs": args.epochs,
                     "wall_seconds": run["wall"], "words_per_s": raw_words * args.epochs / run["wall"],
                     "vocab_size": len(run["keys"]), "analogy_acc": accuracy, "wordsim_rho": rho,
                     "analogy_acc_gensim_eval": g_accuracy, "wordsim_rho_gensim_eval": g_rho,
                     "startup_seconds": run.get("startup")})
    base = next((r for r in rows if r["peer"] == "gensim"), None)
    for row in rows:
        if base is not None:
            row["speed_vs_gensim"] = row["words_per_s"] / base["words_per_s"]
            row["acc_minus_gensim_points"] = 100 * (row["analogy_acc"] - base["analogy_acc"])
            row["rho_minus_gensim"] = row["wordsim_rho"] - base["wordsim_rho"]

    print(f"\ncorpus {corpus} ({raw_words:,} tokens), {model_name}, {args.epochs} epoch(s), alpha {alpha}; "
          f"{machine()}; {datetime.date.today()}")
    print(f"command: python {shlex.join(sys.argv)}\n")
    print(markdown_header(COLUMNS))
    for row in rows:
        print(markdown_row([f"{row['peer']} ({row['detail']})", model_name, row["wall_seconds"],
                            row["words_per_s"], row["analogy_acc"], row["wordsim_rho"],
                            row["analogy_acc_gensim_eval"], row["wordsim_rho_gensim_eval"],
                            _ratio(row.get("speed_vs_gensim")), _signed(row.get("acc_minus_gensim_points")),
                            _signed(row.get("rho_minus_gensim"))]))
    for row in rows:
        if row["startup_seconds"] and row["startup_seconds"] >= 0.01:
            print(f"\n{row['peer']}: {row['startup_seconds']:.2f} s to import CuPy and start the GPU, not in wall s")
    save_json(args.json, rows, corpus=str(corpus), raw_words=raw_words, machine=machine(),
              date=str(datetime.date.today()), command=shlex.join(["python"] + sys.argv), sg=args.sg,
              epochs=args.epochs, alpha=alpha)


def _ratio(value: Optional[float]) -> Optional[str]:
    return None if value is None else f"{value:.2f}×"


def _signed(value: Optional[float]) -> Optional[str]:
    return None if value is None else f"{value:+.3g}"


if __name__ == "__main__":
    main()
