"""Scaling on paper from measured parts: what a sync costs here, what a rank trains, and a model of both.

    python benchmarks/mpi_scaling.py                      # measure on 2 ranks here, then print the model
    python benchmarks/mpi_scaling.py --json benchmarks/published/cpu-mpi-scaling.json

Measured (``mpiexec -n 2`` on this machine): the time of one sync against the rows it averages (both tables,
vector_size 100: the changes and a changed-or-not column staged, one ``MPI_Iallreduce``, the new rows written;
``nsw2v.training.distributed``'s own code), with the allreduce alone beside it; and the training words per second
of one rank (one process, the default engine, one epoch of the first 20 MB of enwiki). The two ranks share the
machine's two cores, so the sync's own work (staging, fingerprints, the new rows) is also timed on one rank alone
while the other waits, as it would run on a node of its own: the model takes that figure.

Modelled (not measured): a sync of ``m`` bytes over ``p`` nodes by ring allreduce takes
``2 (p - 1) a + 2 (p - 1) / p * m / b`` (``a``: the latency of one step, ``b``: the link's bandwidth) plus the
local work per row measured here. A sync averages on average ``E[rows]`` rows (pWord2Vec's schedule: sync ``k``
averages ``min(1024 * 2**z(k), V)``, ``z`` the trailing zero bits of ``k``), so ``E[rows] = sum_j 2**-(j+1) *
min(1024 * 2**j, V)``. A rank trains ``P`` words between syncs (the sync period) at ``w`` words/s, then waits for
the sync (nothing overlaps): efficiency ``= (P / w) / (P / w + t_sync)``, words/s ``= nodes * w * efficiency``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shared import ROOT, corpus_path, machine, markdown_header, markdown_row, save_json

H = 100                                         # vector_size
LINKS = {"25 Gb/s": (25e9 / 8, 20e-6), "100 Gb/s": (100e9 / 8, 3e-6)}   # bandwidth (B/s), latency of a step (s)
GPU_WORDS = 50e6                                # the target for one GPU (an assumption)
NVLINK = (150e9, 5e-6)                          # NCCL's bus bandwidth over NVLink in one node, a step's latency
VOCAB = 292_000                                 # enwiki x6's vocabulary at min_count 5 (as the issue counts it)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="FILE", help="also save the measurements and the model as JSON")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--words-per-second", type=float, default=None,
                        help="one rank's training speed, instead of measuring it")
    parser.add_argument("--from-json", metavar="FILE", help="the model again from a --json file's measurements")
    parser.add_argument("--measure", metavar="FILE", help=argparse.SUPPRESS)   # the mpiexec part
    return parser.parse_args(argv)


def measure_syncs(out: str, repeats: int) -> None:
    """Under mpiexec: time ``Sync._average`` and a bare allreduce of the same block, per number of rows."""
    import numpy as np
    from mpi4py import MPI
    from nsw2v.training import distributed
    from nsw2v.training.plan import LearningRate
    from nsw2v.vocab import Vocab

    comm = MPI.COMM_WORLD
    rows_list = [1024 << i for i in range(9)]                       # 1,024 to 262,144
    V = rows_list[-1]

    class Model:
        verbose, epochs_trained, words_trained, sync_period, loss_history = False, 0, 0, 1, []
        vocab = Vocab([f"w{i}" for i in range(V)], np.arange(V, 0, -1))

    model = Model()
    rng = np.random.default_rng(comm.Get_rank())
    model.W_in = rng.standard_normal((V, H), dtype=np.float32)
    model.W_out = rng.standard_normal((V, H), dtype=np.float32)
    group = distributed.join(True, np)
    sync = group.training(model, LearningRate(0.05, 0.0001, 1e9))
    results = []
    for rows in rows_list:
        block = np.ones((2, rows, H + 1), dtype=np.float32)
        total = np.empty_like(block)
        times = {"sync": [], "allreduce": []}
        for _ in range(repeats):
            model.W_in[:rows] += 1e-3                               # every row changed since the last sync
            comm.Barrier()
            start = time.perf_counter()
            sync._average(rows, exact=False)
            times["sync"].append(time.perf_counter() - start)
            comm.Barrier()
            start = time.perf_counter()
            group.wait(comm.Iallreduce(block, total, op=MPI.SUM), "timing")
            times["allreduce"].append(time.perf_counter() - start)
        # the sync's own work alone, on rank 0 while rank 1 waits (as on a node of its own): the sum an identity
        comm.Barrier()
        if comm.Get_rank() == 0:
            group.averager.sum = lambda block: block.copy()
            for _ in range(repeats):
                model.W_in[:rows] += 1e-3
                start = time.perf_counter()
                sync._average(rows, exact=False)
                times.setdefault("local", []).append(time.perf_counter() - start)
            del group.averager.sum
        comm.Barrier()
        results.append({"rows": rows, "bytes": block.nbytes, "sync_ms": 1e3 * float(np.median(times["sync"])),
                        "allreduce_ms": 1e3 * float(np.median(times["allreduce"])),
                        "local_ms": 1e3 * float(np.median(times.get("local", [float("nan")])))})
    if comm.Get_rank() == 0:
        with open(out, "w") as fh:
            json.dump(results, fh)


def rank_speed() -> float:
    """Training words/s of one process on the first 20 MB of enwiki (one epoch, the default engine)."""
    import gzip
    from nsw2v import Word2Vec
    part = Path(tempfile.gettempdir()) / "nsw2v-enwiki-20MB.txt"       # not benchmarks/.cache: kept small
    if not part.exists():
        with gzip.open(corpus_path("enwiki"), "rb") as fh:
            part.write_bytes(fh.read(20_000_000))
    model = Word2Vec(corpus_file=str(part), epochs=1, verbose=False)
    return model.words_trained / model.train_seconds


def expected_rows(V: int, first: int = 1024) -> float:
    """E[rows] of a sync under pWord2Vec's schedule."""
    total, j = 0.0, 0
    while (first << j) < V:
        total += 2.0 ** -(j + 1) * (first << j)
        j += 1
    return total + 2.0 ** -j * V


def model_rows(measured: list, w: float) -> list:
    """The model's rows: nodes x link x sync period -> sync ms, efficiency, words/s; and the period for 90%."""
    import numpy as np
    rows = np.array([m["rows"] for m in measured], dtype=float)
    local = np.array([m["local_ms"] for m in measured]) / 1e3                         # s, the work besides MPI
    per_row_local = max(0.0, float(np.polyfit(rows, local, 1)[0]))                    # s per row
    avg_rows = expected_rows(VOCAB)
    message = avg_rows * 2 * (H + 1) * 4                                              # bytes per sync
    cases = [("CPU node", w, (2, 4, 8, 16, 32, 64), link, values, per_row_local * avg_rows)
             for link, values in LINKS.items()]
    # GPUs: one a node, a sync's block staged through host memory over PCIe (25 GB/s each way), its own work on the
    # GPU (taken as nothing beside that); or 8 in one node averaged by NCCL over NVLink (bus bandwidth 150 GB/s
    # assumed), no staging
    staging = 2 * message / 25e9            # PCIe both ways; the rest of a sync's own work runs on the GPU
    cases += [("GPU", GPU_WORDS, (1, 2, 4, 8), link + ", host-staged", values, staging)
              for link, values in LINKS.items()]
    cases += [("GPU", GPU_WORDS, (1, 2, 4, 8), "NVLink, NCCL", NVLINK, 0.0)]
    out = []
    for kind, speed, counts, link, (bandwidth, latency), local_work in cases:
        for p in counts:
            t_sync = 0.0 if p == 1 else 2 * (p - 1) * latency + 2 * (p - 1) / p * message / bandwidth + local_work
            for period in (10_000, 100_000, 1_000_000):
                efficiency = (period / speed) / (period / speed + t_sync)
                out.append({"kind": kind, "link": link, "nodes": p, "period": period, "sync_ms": 1e3 * t_sync,
                            "efficiency": efficiency, "words_per_s": p * speed * efficiency,
                            "period_for_90": 9 * speed * t_sync})
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.measure:
        measure_syncs(args.measure, args.repeats)
        return
    if args.from_json:
        with open(args.from_json) as fh:
            meta = json.load(fh)["meta"]
        measured, w = meta["measured"], args.words_per_second or meta["rank_words_per_s"]
    else:
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "syncs.json")
            env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            subprocess.run(["mpiexec", "-n", "2", sys.executable, str(Path(__file__).resolve()), "--measure", out,
                            "--repeats", str(args.repeats)], check=True, env=env)
            with open(out) as fh:
                measured = json.load(fh)
        w = args.words_per_second or rank_speed()
    print(f"{machine()}; {datetime.date.today()}\ncommand: python {shlex.join(sys.argv)}\n")
    print("Measured on 2 ranks here (medians):\n")
    print(markdown_header(["rows", "MB", "sync ms (2 ranks)", "allreduce alone ms", "sync's own work ms (1 rank)"]))
    for m in measured:
        print(markdown_row([f"{m['rows']:,}", m["bytes"] / 1e6, m["sync_ms"], m["allreduce_ms"], m["local_ms"]]))
    print(f"\nOne rank trains {w / 1e3:,.0f}k words/s here. E[rows] per sync at V={VOCAB:,}: "
          f"{expected_rows(VOCAB):,.0f}.\n\nModel:\n")
    table = model_rows(measured, w)
    print(markdown_header(["ranks", "link", "count", "sync ms", "eff. @10k", "eff. @100k", "eff. @1M",
                           "words/s @100k", "period for 90%"]))
    for i in range(0, len(table), 3):
        a, b, c = table[i:i + 3]
        print(markdown_row([a["kind"], a["link"], a["nodes"], a["sync_ms"], f"{100 * a['efficiency']:.0f}%",
                            f"{100 * b['efficiency']:.0f}%", f"{100 * c['efficiency']:.0f}%",
                            f"{b['words_per_s'] / 1e6:,.1f}M", f"{a['period_for_90'] / 1e3:,.0f}k words"]))
    if args.json:
        save_json(args.json, table, measured=measured, rank_words_per_s=w, machine=machine(),
                  date=str(datetime.date.today()), command="python " + shlex.join(sys.argv))


if __name__ == "__main__":
    main()
