"""benchmarks/render.py: saved pytest-benchmark results become Markdown tables (and a chart with matplotlib)."""
import importlib.util
import json
import subprocess
import sys

import pytest
from pathlib import Path

RENDER = Path(__file__).resolve().parents[1] / "benchmarks" / "render.py"


def bench(group, path, backend, batch, median, rounds, **extra):
    extra.update(path=path, backend=backend, batch_size=batch, command=f"pytest {group}")
    return {"group": group, "name": f"{group}-{path}-{batch}", "extra_info": extra,
            "stats": {"median": median, "rounds": rounds}}


def results(tmp_path, name, benchmarks, brand="Test CPU", cores=2):
    path = tmp_path / name
    path.write_text(json.dumps({"machine_info": {"cpu": {"brand_raw": brand, "count": cores}},
                                "datetime": "2026-11-28T04:05:06.789", "benchmarks": benchmarks}))
    return str(path)


def render(*args):
    return subprocess.run([sys.executable, str(RENDER), *args], capture_output=True, text=True, cwd="/")


def test_tables_carry_rates_memory_and_their_source(tmp_path):
    cpu = results(tmp_path, "numpy.json", [
        bench("sampler ptb", "exclusion", "numpy", 1024, 2.5e-4, 40, negatives_per_s=20_480_000.4),
        bench("sampler ptb", "batched", "numpy", 100, 1.25e-5, 900, negatives_per_s=40_000_000),
        bench("train cbow", "batched", "numpy", 256, 1.5, 3, words_per_s=700_000, peak_rss_mb=396.8),
    ])
    gpu = results(tmp_path, "cupy.json", [
        bench("train cbow", "batched", "cupy", 3700, 0.25, 2, words_per_s=4_000_000, cupy_pool_mb=1234.4,
              gpu="NVIDIA H200"),
    ], brand="Other CPU", cores=16)
    out = tmp_path / "out"
    done = render(cpu, gpu, "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = (out / "benchmarks.md").read_text(encoding="utf-8")
    sampler, train = text.split("### train cbow")
    assert sampler.startswith("### sampler ptb")
    assert "- Test CPU, 2 cores; 2026-11-28 04:05; `pytest sampler ptb`" in sampler
    assert "| path | backend | batch size | median | negatives/s | rounds |\n" in sampler     # no memory columns
    rows = [line for line in sampler.splitlines() if line.startswith("| ") and "numpy" in line]
    assert rows == ["| batched | numpy | 100 | 12.5 µs | 40,000,000 | 900 |",          # sorted by path, then batch
                    "| exclusion | numpy | 1024 | 250.0 µs | 20,480,000 | 40 |"]
    assert "- Other CPU, 16 cores; GPU NVIDIA H200; 2026-11-28 04:05; `pytest train cbow`" in train
    assert "| words/s | rounds | peak RSS MiB | GPU pool MiB |" in train
    assert "| batched | cupy | 3700 | 250.00 ms | 4,000,000 | 2 | – | 1,234 |" in train
    assert "| batched | numpy | 256 | 1.50 s | 700,000 | 3 | 397 | – |" in train
    if importlib.util.find_spec("matplotlib"):
        assert (out / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib is not installed" in done.stderr and not (out / "benchmarks.png").exists()
    assert {p.name for p in out.iterdir()} <= {"benchmarks.md", "benchmarks.png"}   # no temporary file left


def test_a_file_without_benchmarks_is_named(tmp_path):
    empty = results(tmp_path, "empty.json", [])
    done = render(empty, "--out", str(tmp_path / "out"))
    assert done.returncode != 0 and f"{empty}: no benchmarks recorded" in done.stderr
    assert not (tmp_path / "out").exists()


def load_render():
    spec = importlib.util.spec_from_file_location("render", RENDER)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(RENDER.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(RENDER.parent))
    return module


def test_close_rates_get_a_linear_axis_from_zero_and_spread_ones_a_log_axis():
    """Two rates 0.04% apart filled a log axis before (the published chart); they must look equal."""
    render = load_render()
    rows = lambda key, *rates: [{"rate_key": key, "rate": r} for r in rates]   # noqa: E731
    scales = render.axis_scales({"train": rows("words_per_s", 759_022, 758_624), "step": rows("words_per_s", 2e5),
                                 "sampler": rows("negatives_per_s", 1e4, 1.2e8)})
    assert scales["words_per_s"] == ("linear", (0.0, pytest.approx(759_022 * 1.12)))    # shared by both panels
    kind, (low, high) = scales["negatives_per_s"]
    assert kind == "log" and low < 1e4 and high > 1.2e8


def test_a_rendered_table_reads_back_to_the_same_table_and_chart(tmp_path):
    cpu = results(tmp_path, "numpy.json", [
        bench("train cbow", "batched", "numpy", 256, 1.5, 3, words_per_s=759_022, peak_rss_mb=396.8),
        bench("train cbow", "exclusion", "numpy", 256, 1.6, 3, words_per_s=758_624, peak_rss_mb=398.1),
        bench("step cbow", "batched", "numpy", 1024, 2.4e-3, 50, words_per_s=430_000),
        bench("step cbow", "batched", "numpy", 4096, 1.5e-2, 20, words_per_s=270_000),
    ])
    module = load_render()
    first = tmp_path / "first"
    groups = module.by_group(module.load([cpu]))
    (first / "benchmarks.md").parent.mkdir()
    (first / "benchmarks.md").write_text(module.markdown(groups), encoding="utf-8")
    again = module.by_group(module.load([str(first / "benchmarks.md")]))
    assert module.markdown(again) == module.markdown(groups)
    assert [(r["path"], r["batch_size"], r["rate"], r["memory"]) for rows in again.values() for r in rows] == \
        [(r["path"], r["batch_size"], round(r["rate"]), {k: round(v) for k, v in r["memory"].items()})
         for rows in groups.values() for r in rows]
    if importlib.util.find_spec("matplotlib"):              # one batch size: bars; several: lines
        assert module.chart(again, tmp_path / "chart.png")
        assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_published_tables_read_back_exactly():
    published = RENDER.parent / "published"
    for name in ("cpu-benchmarks.md", "h200-benchmarks.md"):
        render_module = load_render()
        records = render_module.load_markdown(str(published / name))
        assert records and all(r["rate"] for r in records)
        text = render_module.markdown(render_module.by_group(records))
        assert text.strip() == (published / name).read_text(encoding="utf-8").strip()
