"""The command line: ``nsw2v train|similar|analogy|eval|map`` (also ``python -m nsw2v``).

    $ nsw2v train                                  # the shipped public-domain corpus, then neighbours
    $ nsw2v train corpus.txt.gz -o vectors.bin --binary --sg 1 --epochs 5
    $ nsw2v similar vectors.bin king queen
    $ nsw2v analogy vectors.bin man king woman
    $ nsw2v eval vectors.bin --analogies questions-words.txt --pairs wordsim353.tsv --json
    $ nsw2v map vectors.bin king queen paris -o map.png
    $ nsw2v train --help                           # every option with its default; nsw2v --version

Errors are one line on stderr and a non-zero exit status; no traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
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
    from .util import one_heap, release_freed_memory
    from .word2vec import Word2Vec
    one_heap()
    _c_tool_options(args)
    corpus = args.corpus or default_corpus()
    if args.plot:
        _matplotlib()                       # fail before training, not after
    outputs = [(option, path) for option, path in (("-o", args.output), ("--save-model", args.save_model),
                                                   ("--save-vocab", args.save_vocab), ("--plot", args.plot)) if path]
    _check_outputs(outputs, [("the corpus", corpus)])
    model = Word2Vec(vector_size=args.size, window=args.window, min_count=args.min_count,
                     max_vocab_size=args.max_vocab_size, max_final_vocab=args.max_final_vocab, sg=args.sg or 0,
                     hs=args.hs, negative=args.negative, ns_exponent=args.ns_exponent, sample=args.sample,
                     alpha=args.alpha, min_alpha=args.min_alpha, epochs=args.epochs, batch_size=args.batch_size,
                     sampler=args.sampler, seed=args.seed, xp=args.xp, max_row_updates=args.max_row_updates or None,
                     workers=args.workers, verbose=not args.quiet, engine=args.engine, streams=args.streams,
                     sync_period=args.sync_period)
    model.build_vocab(corpus_file=corpus)
    if not outputs and args.corpus is not None and model.rank == 0:     # (the demo run prints neighbours)
        print("nsw2v: warning: no -o, --save-model, --save-vocab or --plot: the trained vectors will not be "
              "kept", file=sys.stderr)
    model.train(corpus_file=corpus)
    if model.rank != 0:                     # several processes (mpiexec, srun): rank 0 writes and prints
        return 0
    model._encoded = None                   # trained once: the kept corpus goes before the vectors are copied out
    release_freed_memory()
    wv = model.wv
    if args.output:
        wv.save_word2vec_format(args.output, binary=_is_binary(args.output, args.binary))
        args.written.append(args.output)
        if not args.quiet:
            print(f"wrote {len(wv)} vectors of size {wv.vector_size} to {args.output}", file=sys.stderr)
    if args.save_model:
        model.save(args.save_model)
        args.written.append(args.save_model)
    if args.save_vocab:
        save_counts(args.save_vocab, wv.index_to_key, wv.counts)
        args.written.append(args.save_vocab)
    if args.plot:
        _plot_loss(model, args.plot)
        args.written.append(args.plot)
    if args.corpus is None:
        print(f"nearest neighbours after training on the shipped corpus ({model.vocab.total_words} words):")
        _print_neighbours(wv, [w for w in DEMO_WORDS if w in wv], topn=5)
    return 0


def _check_writable(option: str, path: str) -> None:
    """Refuse an output path that cannot be written before training, not after it."""
    from .formats import check_output
    directory = os.path.dirname(os.path.realpath(path))
    check_output(path, option)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{option} {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {path}: the directory {directory} is not writable")


def _check_outputs(outputs: List[tuple], inputs: List[tuple]) -> None:
    """Refuse, before training, an output that cannot be written, or that names an input or another output
    of the run (the same path through links, or the same file under another name: a hard link)."""
    from .errors import OutputError
    seen: dict = {}
    for role, path in inputs:
        seen.setdefault(_identity(path), (role, path))
    for option, path in outputs:
        _check_writable(option, path)
        for key in {_identity(path), ("path", os.path.realpath(path))}:
            if key in seen:
                role, other = seen[key]
                what = f"{role} {other}" if role.startswith("the ") else f"the output of {role} {other}"
                raise OutputError(f"{option} {path}: is {what}; give another file name")
            seen[key] = (option, path)


def _identity(path: str) -> tuple:
    """What names one file: its device and inode when it exists (through links), else its resolved path."""
    try:
        status = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    return ("inode", status.st_dev, status.st_ino)


def _matplotlib() -> None:
    """Fail before training, not after it, when a picture is asked for and matplotlib is missing."""
    import importlib.util
    if importlib.util.find_spec("matplotlib") is None:
        raise RuntimeError("pictures (--plot, map) need matplotlib: pip install 'nsw2v[plot]'")


def _plot_loss(model, path: str) -> None:
    from . import plots
    plots.save(plots.training_loss(model), path)


def cmd_similar(args: argparse.Namespace) -> int:
    wv = _load_vectors(args.vectors, args.binary)
    _print_neighbours(wv, args.words, args.topn)
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    wv = _load_vectors(args.vectors, args.binary)
    for word, score in wv.analogy(args.a, args.b, args.c, topn=args.topn, method=args.method):
        print(f"{word} {score:.4f}")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from . import plots
    _matplotlib()
    _check_outputs([("-o", args.output)], [("the vectors", args.vectors)])
    wv = _load_vectors(args.vectors, args.binary)
    words = args.words or wv.index_to_key[:8]
    plots.save(plots.word_map(wv, words, topn=args.topn, method=args.method), args.output)
    print(f"wrote a map of {len(words)} words and their neighbours to {args.output}", file=sys.stderr)
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
        print(json.dumps(_nan_to_null(result), indent=2))
    else:
        if "analogies" in result:
            a = result["analogies"]
            answered = a["correct"] + a["incorrect"]
            print(f"analogies: accuracy {100 * a['accuracy']:.2f}% ({a['correct']}/{answered}, {a['skipped']} "
                  "skipped)" if answered else f"analogies: no question answered: all {a['skipped']} have a word "
                  f"outside the first {args.restrict_vocab} words of the vectors")
        if "pairs" in result:
            p = result["pairs"]
            print(f"word pairs: spearman {p['spearman']:.3f}, pearson {p['pearson']:.3f}, "
                  f"out of vocabulary {p['oov_ratio']:.1f}%")
    return 0


def _nan_to_null(value):
    """``value`` with every NaN float as ``None``: JSON has no NaN (Python would write a bare ``NaN``)."""
    if isinstance(value, dict):
        return {k: _nan_to_null(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:
        return None
    return value


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


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help, unless the help says it (or there is none to show)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(prog="nsw2v", description="word2vec with negative sampling on NumPy or CuPy",
                                     formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"nsw2v {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train vectors on a corpus (default: the shipped public-domain corpus)",
                       formatter_class=_HelpFormatter,
                       description="Train word vectors; progress on stderr (logging too), -q to silence it.")
    t.add_argument("corpus", nargs="?", help="text file, plain or .gz, one sentence per line, tokens split on "
                                              "whitespace (default: five public-domain novels shipped with nsw2v)")
    t.add_argument("-o", "--output", metavar="FILE", help="write vectors in word2vec format (binary if it ends in .bin)")
    t.add_argument("--binary", action="store_true", default=None, help="binary word2vec format, whatever the name")
    t.add_argument("--save-model", metavar="FILE", help="also save the whole model (.npz) to continue training later")
    t.add_argument("--save-vocab", "-save-vocab", metavar="FILE", help="also write the vocabulary, one 'word count' line per word")
    t.add_argument("--size", "--vector-size", "-size", dest="size", type=int, metavar="N", default=100, help="vector size")
    t.add_argument("--window", "-window", type=int, metavar="N", default=5,
                   help="largest distance between a word and its context (shrunk at random per word)")
    t.add_argument("--min-count", "-min-count", type=int, metavar="N", default=5, help="drop words seen fewer times")
    t.add_argument("--max-vocab-size", type=int, metavar="N", default=None,
                   help="bound on distinct words held while counting (default: none)")
    t.add_argument("--max-final-vocab", type=int, metavar="N", default=None,
                   help="keep at most this many words, the most frequent (gensim's rule; default: all)")
    t.add_argument("--sg", type=int, default=None, choices=(0, 1), help="1 for skip-gram, 0 for CBOW (default)")
    t.add_argument("--negative", "-negative", type=int, metavar="N", default=5, help="negative samples per word")
    t.add_argument("--ns-exponent", type=float, metavar="X", default=0.75,
                   help="negatives drawn with probability proportional to count**ns_exponent")
    t.add_argument("--sample", "-sample", type=float, metavar="X", default=1e-3,
                   help="subsampling threshold for frequent words (0: off)")
    t.add_argument("--alpha", "-alpha", type=float, metavar="X", default=None,
                   help="initial learning rate (default: 0.05 for CBOW, 0.025 for skip-gram, the C tool's)")
    t.add_argument("--min-alpha", type=float, metavar="X", default=0.0001, help="final learning rate (falls linearly)")
    t.add_argument("--epochs", "--iter", "-iter", dest="epochs", type=int, metavar="N", default=5, help="passes over the corpus")
    t.add_argument("--batch-size", type=int, metavar="N", default=None,
                   help="centers per step of the array engine (default: 256 on NumPy; on CuPy 16384, or a 256th of the "
                        "corpus's words if less, at least 256)")
    t.add_argument("--sampler", choices=("exclusion", "batched"), default=None,
                   help="negatives: distinct and never the target (exclusion), or one draw with replacement "
                        "(batched) (default: exclusion on NumPy, batched on CuPy)")
    t.add_argument("--workers", "--threads", "-threads", dest="workers", type=int, metavar="N", default=None,
                   help="training threads (the compiled engine; the array engine: processes) and processes "
                        "reading the corpus; more than 1 is faster and not bit-reproducible: --workers 1 gives the "
                        "same vectors for a seed (default: the usable cores with the compiled engine, else 1)")
    t.add_argument("--max-row-updates", type=_int_from(0), metavar="N", default=64,
                   help="the array engine's cap on a row's summed updates per step (0: exact sums)")
    t.add_argument("--seed", type=int, metavar="N", default=1, help="the same seed gives the same vectors (with --workers 1)")
    t.add_argument("--xp", choices=("numpy", "cupy"), default=None,
                   help="array module (default: GPU=1 in the environment picks cupy, else numpy)")
    t.add_argument("--engine", choices=("array", "numba", "cuda"), default=None,
                   help="what trains: the array code over NumPy/CuPy, the compiled CPU loop, or the CUDA kernels "
                        "(default: the backend's)")
    t.add_argument("--streams", type=_int_from(1), default=None,
                   help="--engine cuda: streams (warps) walking a chunk at once (default: 1,024, or a 256th of the "
                        "corpus's words if less)")
    t.add_argument("--sync-period", type=_sync_period, default=100_000,
                   help="under mpiexec/srun with several processes: average the ranks' tables every N words of a "
                        "rank, or every S seconds (a decimal: 0.5), or 'epoch': at epochs' ends only")
    t.add_argument("--plot", metavar="PNG", help="draw the loss curve to this PNG (needs matplotlib)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")
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
                                 ("eval", cmd_eval, "analogy accuracy and word-pair similarity"),
                                 ("map", cmd_map, "a labelled 2-D map of words and their neighbours (PNG)")):
        p = sub.add_parser(name, help=helptext, description=helptext, formatter_class=_HelpFormatter)
        p.add_argument("vectors", help="word2vec text or binary file, or GloVe's text (told from the content)")
        p.add_argument("--binary", action="store_true", default=None, help="read as binary, whatever the content")
        if name == "similar":
            p.add_argument("words", nargs="+", help="words to find neighbours of")
            p.add_argument("--topn", type=_int_from(1), default=10, help="neighbours per word")
        elif name == "analogy":
            p.add_argument("a")
            p.add_argument("b")
            p.add_argument("c")
            p.add_argument("--topn", type=_int_from(1), default=5, help="answers")
            p.add_argument("--method", choices=("3cosadd", "3cosmul"), default="3cosadd",
                           help="how the three words combine (Levy and Goldberg, 2014)")
        elif name == "eval":
            p.add_argument("--analogies", metavar="FILE", help="questions-words.txt format")
            p.add_argument("--pairs", metavar="FILE", help="wordsim353.tsv format")
            p.add_argument("--restrict-vocab", type=_int_from(1), default=30000,
                           help="analogies: only the most frequent words are questions and answers")
            p.add_argument("--json", action="store_true", help="the results as JSON (NaN as null)")
        else:
            p.add_argument("words", nargs="*",
                           help="words to map with their neighbours (default: the 8 most frequent words)")
            p.add_argument("-o", "--output", required=True, metavar="PNG", help="the picture to write")
            p.add_argument("--topn", type=_int_from(0), default=5, help="neighbours drawn with each word")
            p.add_argument("--method", choices=("pca", "tsne"), default="pca",
                           help="projection: principal components, or t-SNE (needs scikit-learn)")
        p.set_defaults(func=func)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C is, so that the same clean-up runs (workers ended,
    temporary files removed); the exit status is then 143 (128 + 15) instead of 130."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    args.written = []                       # the outputs written so far, for the message if interrupted
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"nsw2v: warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from .errors import Nsw2vError
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        written = (f"wrote {', '.join(args.written)} before it" if args.written
                   else "no output file was written")
        print(f"\nnsw2v: {'terminated (SIGTERM)' if terminated else 'interrupted'}; {written}", file=sys.stderr)
        return 143 if terminated else 130
    except KeyError as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"nsw2v: error: {message}", file=sys.stderr)
        return 1
    except MemoryError:
        print("nsw2v: error: out of memory", file=sys.stderr)
        return 1
    except (Nsw2vError, ValueError, OSError, RuntimeError, TypeError) as exc:
        if getattr(exc, "rank", 0) != 0:
            return 1                        # on several ranks (MPI) every rank raised it: rank 0 prints it
        print(f"nsw2v: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
