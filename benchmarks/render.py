"""Markdown tables and one PNG chart from pytest-benchmark JSON files.

    pytest benchmarks/ --benchmark-only --benchmark-json=results/numpy.json
    GPU=1 pytest benchmarks/ --benchmark-only --benchmark-json=results/cupy.json
    python benchmarks/render.py results/numpy.json results/cupy.json --out results/

Writes ``benchmarks.md`` (one table per benchmark group; a row per path,
backend and batch size, with the median time and the rate recorded in
``extra_info``: negatives/s for the sampler, centers (words)/s for the steps and
training, and for the end-to-end runs the peak memory) and ``benchmarks.png``
(that rate against batch size, one panel per group). Each table says which machine, date and command produced it.
matplotlib is optional: without it only the Markdown is written.

The chart shows differences as large as they are: panels of one rate share their
axes; a rate whose values all lie within a factor of 10 is drawn on a linear axis
from zero (a log axis spreads two values 0.04% apart over its whole height), a
wider one on a log axis; a group measured at one batch size is drawn as bars.

A ``benchmarks.md`` that this script wrote can be given instead of the JSON (its
tables hold every figure the chart needs), so a published chart can be drawn
again from the published tables:

    python benchmarks/render.py benchmarks/published/cpu-benchmarks.md --out /tmp/cpu
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
        if name.endswith(".md"):
            records += load_markdown(name)
            continue
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


def load_markdown(name: str) -> List[dict]:
    """The records of a ``benchmarks.md`` written by :func:`markdown` (rates as printed: whole units)."""
    rate_names = {key.replace("_per_s", "/s"): key for key in RATE_KEYS}
    memory_names = {f"{column} MiB": key for key, column in MEMORY_KEYS.items()}
    records: List[dict] = []
    group = source = None
    header: List[str] = []
    with open(name, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("### "):
                group, header = line[4:], []
            elif line.startswith("- ") and group:
                machine, date, command = line[2:].split("; ", 2) if line.count("; ") >= 2 else (line[2:], "?", "?")
                if "; GPU " in line:                # "CPU, N cores; GPU name; date; `command`"
                    cpu, gpu, date, command = line[2:].split("; ", 3)
                    machine = f"{cpu}; {gpu}"
                source = (machine, date, command.strip("`"))
            elif line.startswith("| path |"):
                header = [cell.strip() for cell in line.strip("|").split("|")]
            elif line.startswith("| ") and header and not line.startswith("|---"):
                row = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|"))))
                rate_key = next((rate_names[h] for h in header if h in rate_names), None)
                rate = row.get(rate_key.replace("_per_s", "/s")) if rate_key else None
                records.append({
                    "group": group, "path": row["path"], "backend": row["backend"],
                    "batch_size": int(row["batch size"]) if row["batch size"].isdigit() else None,
                    "median": _seconds(row["median"]), "rounds": int(row["rounds"]), "rate_key": rate_key,
                    "rate": None if rate in (None, "–") else float(rate.replace(",", "")),
                    "memory": {memory_names[h]: float(row[h].replace(",", "")) for h in header
                               if h in memory_names and row.get(h, "–") != "–"},
                    "machine": source[0] if source else "?", "date": source[1] if source else "?",
                    "command": source[2] if source else "?", "file": name,
                })
    return records


def _seconds(text: str) -> float:
    value, unit = text.split()
    return float(value) * {"µs": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


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


def axis_scales(charted: Dict[str, List[dict]]) -> Dict[str, tuple]:
    """For each rate: ``("linear", (0, top))`` when its values lie within a factor of 10 of each other,
    else ``("log", (low, high))``; one range for every panel of that rate."""
    scales = {}
    for rate_key in {rows[0]["rate_key"] for rows in charted.values()}:
        rates = [r["rate"] for rows in charted.values() if rows[0]["rate_key"] == rate_key for r in rows]
        low, high = min(rates), max(rates)
        if high <= 10 * low:
            scales[rate_key] = ("linear", (0.0, high * 1.12))
        else:
            scales[rate_key] = ("log", (low / 1.6, high * 1.6))
    return scales


def _short(value: float, _position=None) -> str:
    """A tick label: 750k, 1.2M."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}k" if value >= 1e3 else f"{value:g}"


def chart(groups: Dict[str, List[dict]], path: Path) -> bool:
    """Write the PNG; False (with a message) when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("matplotlib is not installed: wrote the Markdown only "
              "(pip install 'nsw2v[plot]' or pip install matplotlib for the chart)", file=sys.stderr)
        return False
    charted = {g: [r for r in rows if r["rate"] is not None and r["batch_size"]] for g, rows in groups.items()}
    charted = {g: rows for g, rows in charted.items() if rows}
    if not charted:
        print("no benchmark recorded a rate and a batch size: no chart", file=sys.stderr)
        return False
    scales = axis_scales(charted)
    batches = [r["batch_size"] for rows in charted.values() for r in rows]
    x_range = (min(batches) / 1.5, max(batches) * 1.5)           # one batch axis for every line panel
    n = len(charted)
    cols = min(n, 2)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(6.5 * cols, 4.2 * nrows), squeeze=False)
    for ax, (group, rows) in zip(axes.ravel(), charted.items()):
        lines: Dict[tuple, List[dict]] = defaultdict(list)
        for r in rows:
            lines[(r["path"], r["backend"])].append(r)
        rate_key = rows[0]["rate_key"]
        scale, y_range = scales[rate_key]
        if len({r["batch_size"] for r in rows}) == 1:           # one batch size: bars, labelled with the rate
            names = [f"{path_name}, {backend}" for path_name, backend in sorted(lines)]
            values = [lines[key][0]["rate"] for key in sorted(lines)]
            bars = ax.bar(names, values, color=[f"C{i}" for i in range(len(values))], width=0.6)
            ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
            ax.set_xlabel(f"path (batch size {rows[0]['batch_size']})")
        else:
            for (path_name, backend), points in sorted(lines.items()):
                points.sort(key=lambda r: r["batch_size"])
                ax.plot([p["batch_size"] for p in points], [p["rate"] for p in points], marker="o",
                        linestyle="--" if backend == "cupy" else "-", label=f"{path_name}, {backend}")
            ax.set_xscale("log")
            ax.set_xlim(*x_range)
            ax.set_xlabel("batch size")
            ax.legend(fontsize=8)
        ax.set_yscale(scale)
        ax.set_ylim(*y_range)
        if scale == "linear":
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_short))
        ax.set_title(group, fontsize=10)
        ax.set_ylabel(rate_key.replace("_per_s", " per second") + (" (log)" if scale == "log" else ""))
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    machines = "; ".join(sorted({r["machine"] for rows in charted.values() for r in rows}))
    fig.suptitle(machines, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.985))                  # room for the machine above the panels
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=120))
    plt.close(fig)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="+", help="files written by pytest --benchmark-json=FILE, or a "
                                                 "benchmarks.md this script wrote")
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
