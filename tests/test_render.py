"""benchmarks/render.py: saved pytest-benchmark results become Markdown tables (and a chart with matplotlib)."""
import importlib.util
import json
import subprocess
import sys
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
