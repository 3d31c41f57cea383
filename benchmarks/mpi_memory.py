"""Peak resident memory of each MPI rank against the corpus size.

    python benchmarks/mpi_memory.py --corpus /tmp/enwiki.txt --ranks 2
    python benchmarks/mpi_memory.py --corpus /tmp/enwiki-x60.txt --ranks 2 --seconds 300   # stop after 5 minutes

``mpiexec -n R`` trains CBOW for one epoch (vector_size 100, window 5, negative 5, min_count 5, one training
process a rank, the backend's default engine). Each rank samples its own ``VmHWM`` (peak resident set, from
``/proc/self/status``) twice a second, noting the phase: counting (reading its share and merging the
vocabulary), then training. With ``--seconds`` the job is stopped that long after it started (a 1B-token epoch
takes hours on two cores): the peak is then the peak so far, counting whole and training partial; the
training phase's memory does not grow with the corpus (a rank holds its tables, its share encoded while under
50M tokens, and a bounded number of chunks), which the shorter corpora's full epochs show.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _shared import ROOT, machine, markdown_header, markdown_row, save_json

COLUMNS = ["corpus", "tokens", "vocabulary", "ranks", "tables MiB", "share kept encoded", "peak counting MiB",
           "peak training MiB", "training s measured", "finished"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", required=True, help="a plain text file (repeatable)")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=None, help="stop each job after this many seconds")
    parser.add_argument("--json", metavar="FILE", help="also save the rows as JSON")
    parser.add_argument("--rank-run", metavar="DIR", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def peak_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rank_run(folder: str, corpus: str) -> None:
    """One rank: train, writing what it measured into ``folder/rank<r>.json`` every half second."""
    from nsw2v import Word2Vec
    state = {"phase": "counting", "peak": {"counting": 0.0, "training": 0.0}, "start": time.time()}
    rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
    path = os.path.join(folder, f"rank{rank}.json")

    def write() -> None:
        state["peak"][state["phase"]] = max(state["peak"][state["phase"]], peak_mib())
        with open(path + ".tmp", "w") as fh:
            json.dump(state, fh)
        os.replace(path + ".tmp", path)

    def sample() -> None:
        while True:
            write()
            time.sleep(0.5)

    threading.Thread(target=sample, daemon=True).start()
    model = Word2Vec(vector_size=100, window=5, negative=5, min_count=5, epochs=1, verbose=rank == 0)
    model.build_vocab(corpus_file=corpus)
    write()
    state.update(phase="training", training_start=time.time(), vocabulary=len(model.vocab),
                 tokens=model.vocab.raw_words, tables_mib=2 * model.W_in.nbytes / 2 ** 20,
                 kept=model._encoded is not None)
    model.train(corpus_file=corpus)
    state["finished"] = True
    write()


def run(corpus: str, ranks: int, seconds) -> dict:
    folder = tempfile.mkdtemp(prefix="mpi-memory-")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = ["mpiexec", "-n", str(ranks), sys.executable, str(Path(__file__).resolve()), "--rank-run", folder,
               "--corpus", corpus]
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
    states = []
    for r in range(ranks):
        with open(os.path.join(folder, f"rank{r}.json")) as fh:
            states.append(json.load(fh))
    first = states[0]
    trained = time.time() - first["training_start"] if "training_start" in first else 0.0
    return {"corpus": os.path.basename(corpus), "tokens": first.get("tokens"), "vocabulary": first.get("vocabulary"),
            "ranks": ranks, "tables_mib": first.get("tables_mib"), "kept": [s.get("kept") for s in states],
            "peak_counting_mib": [s["peak"]["counting"] for s in states],
            "peak_training_mib": [s["peak"]["training"] for s in states],
            "training_seconds": trained, "finished": all(s.get("finished") for s in states)}


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.rank_run:
        rank_run(args.rank_run, args.corpus[0])
        return
    print(f"{machine()}; {datetime.date.today()}")
    print(f"command: python {shlex.join(sys.argv)}\n")
    print(markdown_header(COLUMNS), flush=True)
    rows = []
    for corpus in args.corpus:
        row = run(corpus, args.ranks, args.seconds)
        rows.append(row)
        print(markdown_row([row["corpus"], f"{row['tokens']:,}" if row["tokens"] else None,
                            f"{row['vocabulary']:,}" if row["vocabulary"] else None, row["ranks"],
                            row["tables_mib"], "/".join("yes" if k else "no" for k in row["kept"]),
                            "/".join(f"{m:.0f}" for m in row["peak_counting_mib"]),
                            "/".join(f"{m:.0f}" for m in row["peak_training_mib"]),
                            row["training_seconds"], "yes" if row["finished"] else "no (stopped)"]), flush=True)
    save_json(args.json, rows, machine=machine(), date=str(datetime.date.today()),
              command="python " + shlex.join(sys.argv))


if __name__ == "__main__":
    main()
