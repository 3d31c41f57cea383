"""Markdown tables and one PNG chart from pytest-benchmark JSON files.

    pytest benchmarks/ --benchmark-only --benchmark-json=results/numpy.json
    GPU=1 pytest benchmarks/ --benchmark-only --benchmark-json=results/cupy.json
    python benchmarks/render.py results/numpy.json results/cupy.json --out results/

Writes ``benchmarks.md`` (one table per benchmark group; a row per path,
backend and batch size, with the median time and the rate recorded in
``extra_info``: negatives/s for the sampler, centers (words)/s for the steps and
training, and for the end-to-end runs the peak memory) and ``benchmarks.png``
(that rate against batch size, log axes, one panel per group). Each table says which machine, date and command produced it.
matplotlib is optional: without it only the Markdown is written.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

import _shared  # noqa: F401  (puts the checkout on sys.path)
from nsw2v.formats import atomic_write

RATE_KEYS = ("negatives_per_s", "words_per_s")
MEMORY_KEYS = {"peak_rss_mb": "peak RSS", "cupy_pool_mb": "GPU pool"}      # extra_info key: column, in MiB


def load(paths: List[str]) -> List[dict]:
    """One record per benchmark, carrying its file's machine, date and command."""
    records = []
    for name in paths:
        with open(name, encoding="utf-8") as fh:
            data = json.load(fh)
        cpu = data.get("machine_info", {}).get("cpu", {})
        cpu_text = f"{cpu.get('brand_raw') or data.get('machine_info', {}).get('processor') or '?'}, " \
                   f"{cpu.get('count', '?')} cores"
        for bench in data.get("benchmarks", []):
            extra = bench.get("extra_info", {})
            rate_key = next((k for k in RATE_KEYS if k in extra), None)
            records.append({
                "group": bench.get("group") or bench.get("name"),
                "path": extra.get("path", "?"),
                "backend": extra.get("backend", "?"),
                "batch_size": extra.get("batch_size"),
                "median": bench["stats"]["median"],
                "rounds": bench["stats"]["rounds"],
                "rate_key": rate_key,
                "rate": extra.get(rate_key) if rate_key else None,
                "memory": {k: extra[k] for k in MEMORY_KEYS if extra.get(k) is not None},
                "machine": cpu_text + (f"; GPU {extra['gpu']}" if extra.get("gpu") else ""),
                "date": data.get("datetime", "?")[:16].replace("T", " "),
                "command": extra.get("command", "?"),
                "file": name,
            })
    return records


def by_group(records: List[dict]) -> Dict[str, List[dict]]:
    groups: Dict[str, List[dict]] = defaultdict(list)
    for record in records:
        groups[record["group"]].append(record)
    for rows in groups.values():
        rows.sort(key=lambda r: (r["path"], r["backend"], r["batch_size"] or 0))
    return dict(sorted(groups.items()))


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def markdown(groups: Dict[str, List[dict]]) -> str:
    out = []
    for group, rows in groups.items():
        rate_key = next((r["rate_key"] for r in rows if r["rate_key"]), None) or "rate"
        out.append(f"### {group}\n")
        for source in sorted({(r["machine"], r["date"], r["command"]) for r in rows}):
            out.append(f"- {source[0]}; {source[1]}; `{source[2]}`")
        out.append("")
        memory = [k for k in MEMORY_KEYS if any(k in r["memory"] for r in rows)]
        out.append(f"| path | backend | batch size | median | {rate_key.replace('_per_s', '/s')} | rounds |"
                   + "".join(f" {MEMORY_KEYS[k]} MiB |" for k in memory))
        out.append("|---|---|---:|---:|---:|---:|" + "---:|" * len(memory))
        for r in rows:
            rate = "–" if r["rate"] is None else f"{r['rate']:,.0f}"
            out.append(f"| {r['path']} | {r['backend']} | {r['batch_size']} | {_time(r['median'])} | {rate} "
                       f"| {r['rounds']} |" + "".join(f" {r['memory'][k]:,.0f} |" if k in r["memory"] else " – |"
                                                      for k in memory))
        out.append("")
    return "\n".join(out)


def chart(groups: Dict[str, List[dict]], path: Path) -> bool:
    """Write the PNG; False (with a message) when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: wrote the Markdown only "
              "(pip install 'nsw2v[plot]' or pip install matplotlib for the chart)", file=sys.stderr)
        return False
    charted = {g: [r for r in rows if r["rate"] is not None and r["batch_size"]] for g, rows in groups.items()}
    charted = {g: rows for g, rows in charted.items() if rows}
    if not charted:
        print("no benchmark recorded a rate and a batch size: no chart", file=sys.stderr)
        return False
    n = len(charted)
    cols = min(n, 2)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(6.5 * cols, 4.2 * nrows), squeeze=False)
    for ax, (group, rows) in zip(axes.ravel(), charted.items()):
        lines: Dict[tuple, List[dict]] = defaultdict(list)
        for r in rows:
            lines[(r["path"], r["backend"])].append(r)
        for (path_name, backend), points in sorted(lines.items()):
            points.sort(key=lambda r: r["batch_size"])
            ax.plot([p["batch_size"] for p in points], [p["rate"] for p in points], marker="o",
                    linestyle="--" if backend == "cupy" else "-", label=f"{path_name}, {backend}")
        rate_key = rows[0]["rate_key"]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(group, fontsize=10)
        ax.set_xlabel("batch size")
        ax.set_ylabel(rate_key.replace("_per_s", " per second"))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    machines = "; ".join(sorted({r["machine"] for rows in charted.values() for r in rows}))
    fig.suptitle(machines, fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=120))
    plt.close(fig)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="+", help="files written by pytest --benchmark-json=FILE")
    parser.add_argument("--out", default="benchmarks/results", help="folder for benchmarks.md and benchmarks.png")
    args = parser.parse_args(argv)
    records = load(args.json)
    if not records:
        sys.exit(f"{', '.join(args.json)}: no benchmarks recorded (was --benchmark-only given?)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    groups = by_group(records)
    text = markdown(groups).encode("utf-8")
    atomic_write(out / "benchmarks.md", lambda fh: fh.write(text))
    print(f"wrote {out / 'benchmarks.md'}")
    if chart(groups, out / "benchmarks.png"):
        print(f"wrote {out / 'benchmarks.png'}")


if __name__ == "__main__":
    main()
