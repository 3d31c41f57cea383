"""The README's whole results table, measured again: nsw2v against gensim (and the C tool where given).

    python benchmarks/results_table.py --corpus enwiki --runs 3                   # the README's rows
    python benchmarks/results_table.py --corpus enwiki --runs 3 --word2vec-bin ~/word2vec/bin/word2vec
    python benchmarks/results_table.py --tokens 200000 --runs 1 --configs cbow1   # a smoke test (a minute)
    python benchmarks/results_table.py --from-json day1.json day2.json            # one table of two days' runs

Each run is a whole process, as a user starts it, timed from outside: ``nsw2v
train CORPUS -o v.bin --binary --quiet ...`` (the command line), a gensim 4
script with the same settings that reads the corpus with gensim's best reader for
it (``Text8Corpus`` for a one-line file in text8's format, ``LineSentence`` for
a file of lines) and writes its vectors, and the C tool's ``word2vec`` binary on
a decompressed copy (decompressed once, not timed). For one setting the peers
take turns, run after run (nsw2v, gensim, C, nsw2v, gensim, C, ...), so that a
disturbance of the machine falls on each alike. Per process: wall seconds
(start to exit: imports, reading, vocabulary, training, writing the vectors),
CPU seconds (user + system, its child processes included: the work done,
whatever the machine's noise) and peak resident memory (``ru_maxrss`` of the
largest process). The vectors each run wrote are then scored, untimed, by
nsw2v.evaluate (analogy accuracy on the 30,000 most frequent words of
questions-words.txt, WordSim-353 Spearman rho).

The table gives the median and, over several runs, the range of each figure;
"speed vs gensim" is gensim's median wall time over the row's (above 1: faster
than gensim). Settings shared by every peer: vector_size 100, window 5,
negative 5, sample 1e-3, min_count 5, alpha 0.05 (CBOW) or 0.025 (skip-gram),
min_alpha 1e-4, 2 workers or threads (one thread for the ``nsw2v-1`` rows). nsw2v runs its default engine
on NumPy: the compiled loop with numba installed, else the array code.
The output names the machine, the date, the versions and this command; the
figures in the README come from it, run on a quiet machine.
"""
from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from _shared import corpus_path, eval_files, evaluate_nsw2v, machine, markdown_header, markdown_row

HERE = Path(__file__).resolve().parent
CONFIGS = {"cbow1": (0, 1), "sg1": (1, 1), "cbow5": (0, 5)}         # name: (sg, epochs)
PEERS = ("nsw2v", "gensim", "c", "nsw2v-1")
PEER_NAMES = {"nsw2v": "nsw2v, `--workers 2`", "gensim": "gensim {gensim}, `workers=2`",
              "c": "word2vec C tool, `-threads 2`", "nsw2v-1": "nsw2v, `--workers 1`"}
COLUMNS = ["peer", "model", "epochs", "wall s", "CPU s", "peak MiB", "k words/s", "analogy acc. % (30k)",
           "WordSim-353 rho", "speed vs gensim"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="enwiki", help="enwiki, ptb or a path (plain or gzip text)")
    parser.add_argument("--tokens", type=int, default=None,
                        help="train on the corpus's first N tokens only (a one-line file: a smoke test)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each peer for each setting, alternating")
    parser.add_argument("--configs", default="cbow1,sg1,cbow5", help=f"settings, of {', '.join(CONFIGS)}")
    parser.add_argument("--peers", default="nsw2v,gensim,c,nsw2v-1",
                        help="of nsw2v (--workers 2), gensim, c (needs --word2vec-bin), nsw2v-1 (--workers 1)")
    parser.add_argument("--word2vec-bin", metavar="PATH", help="the C tool's word2vec executable")
    parser.add_argument("--json", metavar="FILE", help="also write every run as JSON")
    parser.add_argument("--from-json", nargs="+", metavar="FILE",
                        help="measure nothing: print the table of runs saved by --json, one file a day")
    parser.add_argument("--gensim-child", nargs=5, metavar=("CORPUS", "OUT", "SG", "EPOCHS", "ALPHA"),
                        help=argparse.SUPPRESS)     # the gensim process this script times
    args = parser.parse_args(argv)
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    for name in args.configs:
        if name not in CONFIGS:
            parser.error(f"--configs: {name!r} is not one of {', '.join(CONFIGS)}")
    for name in args.peers:
        if name not in PEERS:
            parser.error(f"--peers: {name!r} is not one of {', '.join(PEERS)}")
    if args.runs < 1 or (args.tokens is not None and args.tokens < 1000):
        parser.error("--runs must be >= 1 and --tokens >= 1000")
    return args


def one_line(path: Path) -> bool:
    """Whether the file is in text8's format: one line (no newline in its first MiB but at its very end)."""
    with open(path, "rb") as fh:
        opener = gzip.open if fh.read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as fh:
        head = fh.read(1 << 20)
    return b"\n" not in head.rstrip(b"\n")


def gensim_child(corpus: str, out: str, sg: str, epochs: str, alpha: str) -> None:
    """What a gensim user runs: train with the shared settings, reading with gensim's reader for the file's
    layout, and save the vectors."""
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence, Text8Corpus
    path = Path(corpus)
    sentences = Text8Corpus(corpus) if one_line(path) else LineSentence(corpus)
    model = Word2Vec(sentences, vector_size=100, window=5, min_count=5, sg=int(sg), hs=0, negative=5,
                     ns_exponent=0.75, sample=1e-3, alpha=float(alpha), min_alpha=1e-4, epochs=int(epochs),
                     workers=2, max_vocab_size=None, seed=1)
    model.wv.save_word2vec_format(out, binary=True)


def command(peer: str, corpus: Path, plain: Optional[Path], out: Path, sg: int, epochs: int, alpha: float,
            word2vec_bin: Optional[str]) -> List[str]:
    """The process of one run."""
    if peer in ("nsw2v", "nsw2v-1"):
        return [sys.executable, "-m", "nsw2v", "train", str(corpus), "-o", str(out), "--binary", "--quiet",
                "--sg", str(sg), "--epochs", str(epochs), "--alpha", str(alpha), "--size", "100", "--window", "5",
                "--negative", "5", "--sample", "1e-3", "--min-count", "5", "--min-alpha", "1e-4",
                "--workers", "2" if peer == "nsw2v" else "1", "--xp", "numpy"]
    if peer == "gensim":
        return [sys.executable, str(Path(__file__).resolve()), "--gensim-child", str(corpus), str(out), str(sg),
                str(epochs), str(alpha)]
    return [word2vec_bin, "-train", str(plain), "-output", str(out), "-cbow", "0" if sg else "1", "-size", "100",
            "-window", "5", "-negative", "5", "-hs", "0", "-sample", "1e-3", "-min-count", "5", "-threads", "2",
            "-iter", str(epochs), "-alpha", str(alpha), "-binary", "1"]


# Starts the measured process from a small Python of its own and reports it: a process started from this one
# would inherit this one's peak memory (Linux keeps ru_maxrss across exec), which holds the vectors read back.
LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)        # the tool's own output: not this report's
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
print(json.dumps({"status": os.waitstatus_to_exitcode(status), "wall_seconds": wall,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime, "maxrss": usage.ru_maxrss}))
"""


def timed(argv: List[str], env: Dict[str, str]) -> dict:
    """Run a whole process: wall and CPU seconds (its children included), peak resident MiB of its largest
    process (``ru_maxrss`` from ``wait4``; at least the launcher's, about 10 MiB)."""
    done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, text=True)
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines else {"status": done.returncode}
    if result["status"] != 0:
        sys.exit(f"{shlex.join(argv)}\nfailed with exit status {result['status']}:\n{done.stderr[-2000:]}")
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024          # ru_maxrss: bytes on macOS, KiB on Linux
    return {"wall_seconds": result["wall_seconds"], "cpu_seconds": result["cpu_seconds"],
            "peak_mib": result["maxrss"] / scale}


def first_tokens(corpus: Path, tokens: int, folder: Path) -> Path:
    """The corpus's first ``tokens`` tokens as one line (text8's format), plain text."""
    from nsw2v.corpus import LineSentence
    words: List[str] = []
    for sentence in LineSentence(corpus):
        words.extend(sentence[:tokens - len(words)])
        if len(words) >= tokens:
            break
    path = folder / f"{corpus.name.split('.')[0]}-first-{tokens}.txt"
    path.write_text(" ".join(words) + "\n", encoding="utf-8")
    return path


def commit() -> str:
    """`` at commit abc1234`` (`` (modified)`` when the tree differs from it), or nothing outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    if head.returncode != 0:
        return ""
    return f" at commit {head.stdout.strip()}" + (" (modified)" if dirty.stdout.strip() else "")


def versions() -> str:
    import numpy
    import nsw2v
    text = f"nsw2v {nsw2v.__version__}{commit()}, NumPy {numpy.__version__}, Python {platform.python_version()}"
    try:
        import numba
        text += f", Numba {numba.__version__}"
    except ImportError:
        pass
    try:
        import gensim
        text += f", gensim {gensim.__version__}"
    except ImportError:
        pass
    return text


def spread(days: List[List[float]], digits: str) -> str:
    """Each day's median, then the range of every run in brackets: ``median`` for one run, ``median (low–high)``
    for one day, ``median / median (low–high)`` for two."""
    middles = " / ".join(format(statistics.median(values), digits) for values in days)
    every = [value for values in days for value in values]
    if len(every) == 1:
        return middles
    low, high = format(min(every), digits), format(max(every), digits)
    return middles if low == high else f"{middles} ({low}–{high})"


def table(days: List[List[dict]], raw_words: int, gensim_version: str) -> str:
    """The table of the runs of one day or more (``days``: each day's runs), a row for each setting and peer."""
    lines = [markdown_header(COLUMNS)]
    groups: Dict[tuple, List[List[dict]]] = {}
    for day, runs in enumerate(days):
        for run in runs:
            per_day = groups.setdefault((run["config"], run["peer"]), [[] for _ in days])
            per_day[day].append(run)
    for (config, peer), per_day in groups.items():
        sg, epochs = CONFIGS[config]
        gensim_days = groups.get((config, "gensim"))

        def column(figure, digits: str, scale: float = 1.0) -> str:
            return spread([[scale * figure(r) for r in rows] for rows in per_day if rows], digits)

        speed = "1" if peer == "gensim" else None
        if gensim_days and peer != "gensim":
            ratios = [statistics.median(r["wall_seconds"] for r in theirs) /
                      statistics.median(r["wall_seconds"] for r in ours)
                      for ours, theirs in zip(per_day, gensim_days) if ours and theirs]
            speed = " / ".join(f"**{ratio:.2f}x**" for ratio in ratios) or None
        cpu_median = statistics.median(r["cpu_seconds"] for rows in per_day for r in rows)
        lines.append(markdown_row([
            PEER_NAMES[peer].format(gensim=gensim_version), "skip-gram" if sg else "CBOW", epochs,
            column(lambda r: r["wall_seconds"], ".1f"),
            column(lambda r: r["cpu_seconds"], ".1f" if cpu_median < 10 else ".0f"),
            column(lambda r: r["peak_mib"], ",.0f"),
            column(lambda r: raw_words * epochs / r["wall_seconds"] / 1000, ",.0f"),
            column(lambda r: r["analogy_acc"], ".1f", 100),
            column(lambda r: r["wordsim_rho"], ".3f"), speed]))
    return "\n".join(lines)


def from_json(paths: List[str]) -> None:
    """Print the table of the runs saved by ``--json``, one file a day (the README's two-day table)."""
    saved = [json.loads(Path(path).read_text(encoding="utf-8")) for path in paths]
    raw_words = {s["meta"]["raw_words"] for s in saved}
    if len(raw_words) != 1:
        sys.exit(f"--from-json: the files measured different corpora ({sorted(raw_words)} tokens)")
    for path, s in zip(paths, saved):
        print(f"{s['meta']['date']}: {s['meta']['machine']}; {s['meta']['versions']}; `{s['meta']['command']}` "
              f"({path})")
    print("\nEach cell: each file's median in the order above, then the range of every run.\n")
    version = saved[0]["meta"]["versions"].partition("gensim ")[2] or "?"
    print(table([s["runs"] for s in saved], raw_words.pop(), version))


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.gensim_child:
        gensim_child(*args.gensim_child)
        return
    if args.from_json:
        from_json(args.from_json)
        return
    if "c" in args.peers and not args.word2vec_bin:
        print("no --word2vec-bin given: the table has no C tool rows", file=sys.stderr)
        args.peers.remove("c")
    if "gensim" in args.peers:
        try:
            import gensim  # noqa: F401
        except ImportError:
            sys.exit("gensim is not importable (pip install 'gensim>=4'), or leave it out with --peers")
    eval_files()                                    # fail before the runs, not after
    from compare_peers import count_tokens, plain_copy
    from nsw2v.vectors import WordVectors
    env = {k: v for k, v in os.environ.items() if k not in ("GPU", "NSW2V_FAST_GPU")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent)] + [p for p in [env.get("PYTHONPATH")] if p])
    with tempfile.TemporaryDirectory(prefix="nsw2v-results-") as tmp:
        folder = Path(tmp)
        corpus = corpus_path(args.corpus)
        if args.tokens:
            corpus = first_tokens(corpus, args.tokens, folder)
        plain = plain_copy(corpus) if "c" in args.peers else None
        raw_words = count_tokens(corpus)
        gensim_version = "?"
        if "gensim" in args.peers:
            import gensim
            gensim_version = gensim.__version__
        runs: List[dict] = []
        for config in args.configs:
            sg, epochs = CONFIGS[config]
            alpha = 0.025 if sg else 0.05
            for number in range(args.runs):
                for peer in args.peers:                 # the peers take turns
                    out = folder / f"{peer}.bin"
                    argv = command(peer, corpus, plain, out, sg, epochs, alpha, args.word2vec_bin)
                    run = {"config": config, "peer": peer, "run": number + 1, "command": shlex.join(argv),
                           **timed(argv, env)}
                    wv = WordVectors.load_word2vec_format(out, binary=True)
                    run["analogy_acc"], run["wordsim_rho"] = evaluate_nsw2v(wv)
                    run["vocab_size"] = len(wv)
                    out.unlink()
                    runs.append(run)
                    print(f"{config} run {number + 1} {peer}: {run['wall_seconds']:.1f} s wall, "
                          f"{run['cpu_seconds']:.1f} s CPU, {run['peak_mib']:.0f} MiB, "
                          f"acc {100 * run['analogy_acc']:.1f}%, rho {run['wordsim_rho']:.3f}", file=sys.stderr)
    source = args.corpus if not args.tokens else f"the first {args.tokens:,} tokens of {args.corpus}"
    header = (f"Corpus {source} ({raw_words:,} tokens); {args.runs} run(s) of each peer per setting, whole "
              f"processes taking turns; median (range). Machine: {machine()}; {versions()}; "
              f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}.\n"
              f"Command: `python {shlex.join(['benchmarks/results_table.py'] + sys.argv[1:])}`\n")
    print(header)
    print(table([runs], raw_words, gensim_version))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"meta": {"corpus": source, "raw_words": raw_words, "machine": machine(),
                                "versions": versions(), "date": datetime.datetime.now().isoformat(timespec="minutes"),
                                "command": shlex.join(["python", "benchmarks/results_table.py"] + sys.argv[1:]),
                                "runs": args.runs}, "runs": runs}, fh, indent=2)
        print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
