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
