"""The command line: ``nsw2v train|similar|analogy|eval`` (also ``python -m nsw2v``).

    $ nsw2v train                                  # the shipped public-domain corpus, then neighbours
    $ nsw2v train corpus.txt.gz -o vectors.bin --binary --sg 1 --epochs 5
    $ nsw2v similar vectors.bin king queen
    $ nsw2v analogy vectors.bin man king woman
    $ nsw2v eval vectors.bin --analogies questions-words.txt --pairs wordsim353.tsv --json

Errors are one line on stderr and a non-zero exit status; no traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from importlib import resources
from typing import List, Optional

DEMO_WORDS = ("elizabeth", "monster", "holmes", "alice", "ship", "happy")


def default_corpus() -> str:
    """Path of the corpus shipped in the package (five public-domain novels, gzip)."""
    return str(resources.files("nsw2v") / "data" / "gutenberg_small.txt.gz")


def _is_binary(path: str, binary: Optional[bool]) -> bool:
    """The format to write: binary when asked or when the name ends in .bin (or .bin.gz)."""
    if binary is not None:
        return binary
    return path.endswith(".bin") or path.endswith(".bin.gz")


def _load_vectors(path: str, binary: Optional[bool]):
    """Vectors in the word2vec text or binary format, or GloVe's (text without a header), told by content."""
    from .formats import file_format
    from .vectors import WordVectors
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    layout = file_format(path)
    if layout == "headerless" and not binary:
        return WordVectors.load_word2vec_format(path, no_header=True)
    return WordVectors.load_word2vec_format(path, binary=layout == "binary" if binary is None else binary)


def _print_neighbours(wv, words, topn: int) -> None:
    for word in words:
        print(f"{word}: " + ", ".join(f"{w} {s:.3f}" for w, s in wv.most_similar(word, topn=topn)))


def _c_tool_options(args: argparse.Namespace) -> None:
    """Fold the C tool's -train, -output, -cbow and -binary into ours, refusing conflicts."""
    if args.train_file is not None:
        if args.corpus is not None:
            raise ValueError(f"two corpora, {args.corpus} and -train {args.train_file}: give one")
        args.corpus = args.train_file
    if args.cbow is not None:
        if args.sg is not None and args.sg != 1 - args.cbow:
            raise ValueError(f"-cbow {args.cbow} and --sg {args.sg} disagree: give one")
        args.sg = 1 - args.cbow
    if args.c_binary is not None:
        if args.binary and not args.c_binary:
            raise ValueError("--binary and -binary 0 disagree: give one")
        args.binary = bool(args.c_binary)
    if args.c_output is not None:
        if args.output is not None:
            raise ValueError(f"two outputs, -o {args.output} and -output {args.c_output}: give one")
        args.output = args.c_output
        args.binary = bool(args.binary)     # as the C tool: text unless -binary 1, whatever the name


def cmd_train(args: argparse.Namespace) -> int:
    from .formats import save_counts
    from .word2vec import Word2Vec
    _c_tool_options(args)
    corpus = args.corpus or default_corpus()
    if args.plot:
        _matplotlib()                       # fail before training, not after
    for option, path in (("-o", args.output), ("--save-model", args.save_model), ("--save-vocab", args.save_vocab),
                         ("--plot", args.plot)):
        if path:
            _check_writable(option, path)
    model = Word2Vec(corpus_file=corpus, vector_size=args.size, window=args.window, min_count=args.min_count,
                     max_vocab_size=args.max_vocab_size, max_final_vocab=args.max_final_vocab, sg=args.sg or 0,
                     hs=args.hs, negative=args.negative, ns_exponent=args.ns_exponent, sample=args.sample,
                     alpha=args.alpha, min_alpha=args.min_alpha, epochs=args.epochs, batch_size=args.batch_size,
                     sampler=args.sampler, seed=args.seed, xp=args.xp, max_row_updates=args.max_row_updates or None,
                     workers=args.workers, verbose=not args.quiet, engine=args.engine, sync_period=args.sync_period)
    if model.rank != 0:                     # several processes (mpiexec, srun): rank 0 writes and prints
        return 0
    wv = model.wv
    if args.output:
        wv.save_word2vec_format(args.output, binary=_is_binary(args.output, args.binary))
        if not args.quiet:
            print(f"wrote {len(wv)} vectors of size {wv.vector_size} to {args.output}", file=sys.stderr)
    if args.save_model:
        model.save(args.save_model)
    if args.save_vocab:
        save_counts(args.save_vocab, wv.index_to_key, wv.counts)
    if args.plot:
        _plot_loss(model, args.plot)
    if args.corpus is None:
        print(f"nearest neighbours after training on the shipped corpus ({model.vocab.total_words} words):")
        _print_neighbours(wv, [w for w in DEMO_WORDS if w in wv], topn=5)
    return 0


def _check_writable(option: str, path: str) -> None:
    """Refuse an output path that cannot be written before training, not after it."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{option} {path}: is a directory; give a file name")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{option} {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {path}: the directory {directory} is not writable")


def _matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'nsw2v[plot]'") from None
    return plt


def _plot_loss(model, path: str) -> None:
    from .formats import atomic_write
    plt = _matplotlib()
    words = [h["words"] for h in model.loss_history]
    loss = [h["loss"] for h in model.loss_history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(words, loss)
    ax.set_xlabel("words processed")
    ax.set_ylabel("mean loss per training example")
    ax.set_title(f"nsw2v {'skip-gram' if model.sg else 'CBOW'}")
    try:
        atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
    finally:
        plt.close(fig)


def cmd_similar(args: argparse.Namespace) -> int:
    wv = _load_vectors(args.vectors, args.binary)
    _print_neighbours(wv, args.words, args.topn)
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    wv = _load_vectors(args.vectors, args.binary)
    for word, score in wv.analogy(args.a, args.b, args.c, topn=args.topn, method=args.method):
        print(f"{word} {score:.4f}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_word_analogies, evaluate_word_pairs
    if not args.analogies and not args.pairs:
        raise ValueError("eval needs --analogies FILE and/or --pairs FILE")
    wv = _load_vectors(args.vectors, args.binary)
    result = {}
    for path in (args.analogies, args.pairs):
        if path and not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file")
    if args.analogies:
        accuracy, sections = evaluate_word_analogies(wv, args.analogies, restrict_vocab=args.restrict_vocab)
        total = sections[-1]
        result["analogies"] = {
            "accuracy": accuracy,
            "correct": len(total["correct"]),
            "incorrect": len(total["incorrect"]),
            "skipped": total.get("skipped"),
            "sections": {s["section"]: len(s["correct"]) / max(1, len(s["correct"]) + len(s["incorrect"]))
                         for s in sections[:-1]},
        }
    if args.pairs:
        pearson, spearman, oov = evaluate_word_pairs(wv, args.pairs)
        result["pairs"] = {"pearson": pearson[0], "spearman": spearman[0], "oov_ratio": oov}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        if "analogies" in result:
            a = result["analogies"]
            print(f"analogies: accuracy {100 * a['accuracy']:.2f}% "
                  f"({a['correct']}/{a['correct'] + a['incorrect']}, {a['skipped']} skipped)")
        if "pairs" in result:
            p = result["pairs"]
            print(f"word pairs: spearman {p['spearman']:.3f}, pearson {p['pearson']:.3f}, "
                  f"out of vocabulary {p['oov_ratio']:.1f}%")
    return 0


def _int_from(low: int):
    """An argparse type: an integer of at least ``low``."""
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be >= {low}")
        return value
    parse.__name__ = "int"          # argparse names the type in its messages
    return parse


def _sync_period(text: str):
    """An argparse type: words (an integer), seconds (a decimal) or 'epoch' (None)."""
    if text == "epoch":
        return None
    value = float(text) if "." in text else int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nsw2v", description="word2vec with negative sampling on NumPy or CuPy")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train vectors on a corpus (default: the shipped public-domain corpus)")
    t.add_argument("corpus", nargs="?", help="text file, plain or .gz, one sentence per line")
    t.add_argument("-o", "--output", help="write vectors in word2vec format (binary if it ends in .bin)")
    t.add_argument("--binary", action="store_true", default=None, help="binary word2vec format")
    t.add_argument("--save-model", help="also save the whole model (.npz) to continue training later")
    t.add_argument("--save-vocab", "-save-vocab", help="also write the vocabulary, one 'word count' line per word")
    t.add_argument("--size", "--vector-size", "-size", dest="size", type=int, default=100)
    t.add_argument("--window", "-window", type=int, default=5)
    t.add_argument("--min-count", "-min-count", type=int, default=5)
    t.add_argument("--max-vocab-size", type=int, default=None)
    t.add_argument("--max-final-vocab", type=int, default=None,
                   help="keep at most this many words, the most frequent (gensim's rule)")
    t.add_argument("--sg", type=int, default=None, choices=(0, 1), help="1 for skip-gram, 0 for CBOW (default)")
    t.add_argument("--negative", "-negative", type=int, default=5)
    t.add_argument("--ns-exponent", type=float, default=0.75)
    t.add_argument("--sample", "-sample", type=float, default=1e-3)
    t.add_argument("--alpha", "-alpha", type=float, default=None)
    t.add_argument("--min-alpha", type=float, default=0.0001)
    t.add_argument("--epochs", "--iter", "-iter", dest="epochs", type=int, default=5)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--sampler", choices=("exclusion", "batched"), default=None)
    t.add_argument("--workers", "--threads", "-threads", dest="workers", type=int, default=1,
                   help="processes reading the corpus, and on NumPy training (more than 1 there: faster, "
                        "not bit-reproducible)")
    t.add_argument("--max-row-updates", type=_int_from(0), default=64,
                   help="cap on a row's summed updates per step (0: exact sums)")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--xp", choices=("numpy", "cupy"), default=None, help="overrides GPU=...")
    t.add_argument("--engine", choices=("array", "numba", "cuda"), default=None,
                   help="what trains: the array code over NumPy/CuPy, the compiled CPU loop, or the CUDA kernels "
                        "(default: the backend's)")
    t.add_argument("--sync-period", type=_sync_period, default=100_000,
                   help="under mpiexec/srun with several processes: average the ranks' tables every N words of a "
                        "rank, or every S seconds (a decimal: 0.5), or 'epoch': at epochs' ends only")
    t.add_argument("--plot", help="draw the loss curve to this PNG (needs matplotlib)")
    t.add_argument("-q", "--quiet", action="store_true")
    c_tool = t.add_argument_group("the word2vec C tool's spellings (with -size, -window, -sample, -negative, "
                                  "-threads, -iter, -min-count, -alpha, -save-vocab above)")
    c_tool.add_argument("-train", dest="train_file", metavar="FILE", help="the corpus")
    c_tool.add_argument("-output", dest="c_output", metavar="FILE", help="the vectors: text unless -binary 1")
    c_tool.add_argument("-cbow", type=int, choices=(0, 1), default=None, help="1 for CBOW, 0 for skip-gram")
    c_tool.add_argument("-binary", dest="c_binary", type=int, choices=(0, 1), default=None,
                        help="1: binary vectors, 0: text")
    c_tool.add_argument("-hs", type=int, default=0, help="0 only: negative sampling, no hierarchical softmax")
    t.set_defaults(func=cmd_train)

    for name, func, helptext in (("similar", cmd_similar, "nearest neighbours of words"),
                                 ("analogy", cmd_analogy, "a : b :: c : ?"),
                                 ("eval", cmd_eval, "analogy accuracy and word-pair similarity")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("vectors", help="word2vec text or binary file, or GloVe's text (told from the content)")
        p.add_argument("--binary", action="store_true", default=None, help="read as binary, whatever the content")
        if name == "similar":
            p.add_argument("words", nargs="+")
            p.add_argument("--topn", type=_int_from(1), default=10)
        elif name == "analogy":
            p.add_argument("a")
            p.add_argument("b")
            p.add_argument("c")
            p.add_argument("--topn", type=_int_from(1), default=5)
            p.add_argument("--method", choices=("3cosadd", "3cosmul"), default="3cosadd")
        else:
            p.add_argument("--analogies", help="questions-words.txt format")
            p.add_argument("--pairs", help="wordsim353.tsv format")
            p.add_argument("--restrict-vocab", type=_int_from(1), default=30000)
            p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(args)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"nsw2v: warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from .backend import BackendUnavailableError
    from .errors import DistributedError
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\nnsw2v: interrupted; no output file was written", file=sys.stderr)
        return 130
    except KeyError as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"nsw2v: error: {message}", file=sys.stderr)
        return 1
    except (ValueError, OSError, RuntimeError, TypeError, BackendUnavailableError) as exc:
        if isinstance(exc, DistributedError) and exc.rank != 0:
            return 1                        # every rank raised it: rank 0 prints it
        print(f"nsw2v: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
