"""The README's results table script (benchmarks/results_table.py), as a smoke test on a slice of enwiki: every
peer asked for runs as a whole process, its vectors are scored, and the table and JSON carry the figures."""
import json
import subprocess
import sys
from pathlib import Path


from conftest import data_file

ROOT = Path(__file__).resolve().parents[1]


def test_results_table_smoke(tmp_path):
    data_file("corpora/enwiki-2019-text8style.txt.gz")
    data_file("eval/questions-words.txt")
    data_file("eval/wordsim353.tsv")
    peers = "nsw2v,nsw2v-1"
    try:
        import gensim  # noqa: F401
        peers += ",gensim"
    except ImportError:
        pass
    out = tmp_path / "runs.json"
    done = subprocess.run([sys.executable, "benchmarks/results_table.py", "--tokens", "60000", "--runs", "1",
                           "--configs", "cbow1", "--peers", peers, "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads(out.read_text())["runs"]
    assert sorted(run["peer"] for run in runs) == sorted(peers.split(","))
    for run in runs:
        assert run["wall_seconds"] > 0 and run["cpu_seconds"] > 0 and run["peak_mib"] > 20
        assert 0 <= run["analogy_acc"] <= 1 and run["vocab_size"] > 500
    rows = [line for line in done.stdout.splitlines() if line.startswith("| nsw2v")]
    assert len(rows) == 2
    assert ("**" in rows[0]) == ("gensim" in peers)         # the speed against gensim where gensim ran
    assert "Command: `python benchmarks/results_table.py --tokens 60000" in done.stdout
    assert "NumPy" in json.loads(out.read_text())["meta"]["versions"]


def test_results_table_from_json_gives_each_days_median_and_the_range_of_all_runs(tmp_path):
    def day(date, nsw2v_walls, gensim_walls):
        runs = [{"config": "cbow1", "peer": peer, "run": n + 1, "wall_seconds": wall, "cpu_seconds": 2 * wall,
                 "peak_mib": 300.0, "analogy_acc": 0.1, "wordsim_rho": 0.5}
                for peer, walls in (("nsw2v", nsw2v_walls), ("gensim", gensim_walls)) for n, wall in enumerate(walls)]
        meta = {"raw_words": 1000, "machine": "m", "versions": "nsw2v 0.1.0, gensim 4.4.0", "date": date,
                "command": "c"}
        path = tmp_path / f"{date}.json"
        path.write_text(json.dumps({"meta": meta, "runs": runs}))
        return str(path)

    files = [day("2026-12-07", [10, 11, 30], [20, 22, 24]), day("2026-12-08", [8, 9, 9.5], [24, 24, 25])]
    done = subprocess.run([sys.executable, "benchmarks/results_table.py", "--from-json", *files],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("| nsw2v"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3] == "11.0 / 9.0 (8.0–30.0)"                 # wall s: each day's median, every run's range
    assert cells[4] == "22 / 18 (16–60)"
    assert cells[-1] == "**2.00x** / **2.67x**"                 # gensim's median over nsw2v's, day by day
    assert "gensim 4.4.0" in done.stdout
