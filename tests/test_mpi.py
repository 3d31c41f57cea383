"""Training on several processes with MPI (``nsw2v.training.distributed``, ``.shards``).

The shares and the vocabulary's merge are checked in this process against one process's reader, for any
number of ranks (simulated: the merge is plain functions); the rest runs under ``mpiexec -n 2`` (or 3) in
subprocesses: averaging and its schedule, identical tables after the last sync, one rank against today's
trainer, the command line, and the failures (an error on one rank, a killed rank, a stalled rank).
"""
import gzip
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from nsw2v import Word2Vec
from nsw2v.corpus import LineSentence
from nsw2v.errors import ParameterError
from nsw2v.training import distributed, shards
from nsw2v.training.plan import LearningRate
from nsw2v.vocab import Vocab
from conftest import data_file
from test_ingest import TRICKY

ROOT = Path(__file__).resolve().parents[1]
MPIEXEC = shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
                               reason="mpi4py or mpiexec is absent (pip install '.[mpi]' mpich)")


# ---------------------------------------------------------------------------------------- in this process
def corpora(tmp_path):
    """Small corpora with the reader's hard cases: ties, one line, CRLF, Unicode, gzip, empty lines."""
    rng = np.random.default_rng(3)
    words = np.array([f"w{i}" for i in range(200)])
    texts = {
        "ties.txt": "b a c\na b c\n\nc a b d d\n",
        "oneline.txt": " ".join(words[rng.zipf(1.3, 4000) % 200]),
        "crlf.txt": "x y\r\nz  x\r\n\r\ny\rq\n" * 40,
        "tricky.txt": TRICKY + "\u2028x y\u3000z \x85w\n\n",
        "lines.txt": "\n".join(" ".join(words[rng.zipf(1.4, rng.integers(0, 40)) % 200]) for _ in range(300)),
        "one-word.txt": "word",
    }
    paths = []
    for name, text in texts.items():
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8"))
        paths.append(path)
    packed = tmp_path / "lines.gz"
    packed.write_bytes(gzip.compress((tmp_path / "lines.txt").read_bytes()))
    return paths + [packed]


def merged(path, ranks, min_count, limit, piece, max_tokens=50_000_000):
    """What the ranks compute together (distributed.Group.count_and_encode), with the messages passed here."""
    counted = [shards.count_share(shards.Share(path, r, ranks, piece), limit, max_tokens) for r in range(ranks)]
    parts = [shards.partition(c.words, c.counts, c.first, ranks) for c in counted]
    kept, largest = [], 0
    for rank in range(ranks):
        words, counts, first = shards.combine([parts[source][rank] for source in range(ranks)])
        keep = np.flatnonzero(counts >= min_count)
        kept.append(([words[i] for i in keep], counts[keep], first[keep]))
        largest = max([largest] + counts.tolist())
    lines = [line for c in counted for line in c.lines]
    vocab = shards.vocabulary(kept, min_count, sum(c.raw_words for c in counted),
                              shards.sentence_count(lines, limit), str(path), largest)
    return vocab, counted


@pytest.mark.parametrize("ranks", [1, 2, 3, 7])
def test_merged_vocabulary_is_one_process_vocabulary(tmp_path, ranks):
    for path in corpora(tmp_path):
        for min_count, limit in ((1, 10000), (2, 7), (3, 3)):
            try:
                want, _ = Vocab.build_encoded(LineSentence(path, limit), min_count=min_count)
            except ValueError as exc:               # the same error from the merge
                with pytest.raises(ValueError, match=str(exc).replace("(", r"\(").replace(")", r"\)")):
                    merged(path, ranks, min_count, limit, piece=13)
                continue
            got, counted = merged(path, ranks, min_count, limit, piece=13)
            assert got.index_to_key == want.index_to_key, (path.name, min_count)
            np.testing.assert_array_equal(got.counts, want.counts)
            assert (got.raw_words, got.sentences_seen) == (want.raw_words, want.sentences_seen), path.name
            for rank, count in enumerate(counted):  # a share kept encoded is the share read again
                share = shards.ShareSentences(shards.Share(path, rank, ranks, 13), limit)
                again = [(i.tolist(), s.tolist()) for i, s in got.iter_chunks(share, 5)]
                kept = count.encoded(got)
                assert [(i.tolist(), s.tolist()) for i, s in kept.iter_chunks(5)] == again


@pytest.mark.parametrize("ranks", [1, 2, 4, 9])
def test_shares_hold_every_token_once_and_whole(tmp_path, ranks):
    for path in corpora(tmp_path):
        want = [token for sentence in LineSentence(path) for token in sentence]
        got = [[token for sentence in shards.ShareSentences(shards.Share(path, r, ranks, 11)) for token in sentence]
               for r in range(ranks)]
        if path.suffix == ".gz":                    # pieces in turn: every token once, in another order
            assert sorted(sum(got, [])) == sorted(want)
        else:                                       # contiguous byte ranges, in order
            assert sum(got, []) == want, path.name


def test_a_share_past_max_tokens_is_read_again(tmp_path):
    path = corpora(tmp_path)[4]
    vocab, counted = merged(path, 2, 1, 10000, 13, max_tokens=50)
    assert all(c.encoded(vocab) is None for c in counted)
    want, _ = Vocab.build_encoded(LineSentence(path), min_count=1)
    assert vocab.index_to_key == want.index_to_key


def test_prefix_schedule_is_pword2vecs():
    # sync k averages first * 2**(trailing zeros of k) rows, at most the whole table
    got = [distributed.prefix_rows(k, 5000) for k in range(1, 17)]
    assert got == [1024, 2048, 1024, 4096, 1024, 2048, 1024, 5000, 1024, 2048, 1024, 4096, 1024, 2048, 1024, 5000]
    assert [distributed.prefix_rows(k, 100, first=4) for k in (1, 2, 4, 8, 16, 32, 64)] == [4, 8, 16, 32, 64, 100,
                                                                                             100]
    with pytest.raises(ValueError):
        distributed.prefix_rows(0, 10)


def test_global_rate():
    base = LearningRate(0.05, 0.0001, 1000)
    alone = distributed.GlobalRate(base, 1)
    assert [alone.at(w) for w in (0, 3.5, 999)] == [base.at(w) for w in (0, 3.5, 999)]
    rate = distributed.GlobalRate(base, 4)
    assert rate.at(10) == base.at(40)               # before any sync: the others taken to read as much
    rate.learn(global_words=100, local_words=10)    # the ranks read 100 words, this one 10
    assert rate.at(10) == pytest.approx(base.at(100)) and rate.at(15) == pytest.approx(base.at(120))
    assert type(rate.at(15)) is float               # a NumPy scalar would turn float32 steps into float64


def test_settings_are_checked(monkeypatch):
    for bad in (0, -5, True, 0.0, "10", [1]):
        with pytest.raises(ValueError, match="sync_period"):
            Word2Vec(sync_period=bad)
    with pytest.raises(ParameterError, match="distributed"):
        Word2Vec(distributed="yes")
    monkeypatch.setenv("PMI_SIZE", "4")             # as under mpiexec -n 4
    assert Word2Vec(distributed=False).rank == 0
    monkeypatch.setitem(sys.modules, "mpi4py", None)   # mpi4py absent
    with pytest.raises(ParameterError, match=r"4 processes \(PMI_SIZE=4\).*pip install 'nsw2v\[mpi\]'"):
        Word2Vec()
    monkeypatch.delenv("PMI_SIZE")
    assert Word2Vec().rank == 0                     # one process, no launcher: mpi4py is not needed


# ------------------------------------------------------------------------------------ under mpiexec
def run_mpi(tmp_path, code, ranks=2, args=(), timeout=60, env=None, python=True):
    """Run ``code`` (a script) or a command under ``mpiexec -n ranks``; return the CompletedProcess."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    environment.pop("GPU", None)
    if python:
        script = tmp_path / "script.py"
        script.write_text(textwrap.dedent(code))
        command = [MPIEXEC, "-n", str(ranks), sys.executable, str(script), *map(str, args)]
    else:
        command = [MPIEXEC, "-n", str(ranks), *code]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment, cwd=tmp_path)


@needs_mpi
def test_averaging_follows_the_schedule_and_ends_identical(tmp_path):
    # Each rank simulates every rank's tables (seeded by rank) through the syncs and checks its own against them.
    code = """
        import json
        import numpy as np
        from mpi4py import MPI
        from nsw2v.training import distributed
        from nsw2v.training.engines import Accumulator
        from nsw2v.training.plan import LearningRate
        from nsw2v.vocab import Vocab

        class Model:                                # what a sync reads of a Word2Vec
            verbose, epochs_trained, words_trained, sync_period = False, 0, 0, 10
            vocab = Vocab([f"w{i}" for i in range(40)], np.arange(40, 0, -1))

        rank, size = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
        distributed.FIRST_PREFIX = 4
        group = distributed.join(True, np)
        model = Model()
        model.loss_history = []
        tables = [[np.random.default_rng((r, t)).standard_normal((40, 3)).astype(np.float32) for t in (0, 1)]
                  for r in range(size)]
        model.W_in, model.W_out = (t.copy() for t in tables[rank])
        base = LearningRate(0.05, 0.0, 10 ** 4)
        sync = group.training(model, base)
        acc = Accumulator()
        report = {"prefixes": [], "errors": [], "rates": []}

        def simulate(k, during=0.0):
            rows = distributed.prefix_rows(k, 40, 4)
            for t in (0, 1):
                mean = np.sum([tables[r][t][:rows] for r in range(size)], axis=0, dtype=np.float32) / np.float32(size)
                for r in range(size):
                    tables[r][t][:rows] = mean
            for r in range(size):
                tables[r][0][0] += during
            return rows

        def check():
            for mine, want in zip((model.W_in, model.W_out), tables[rank]):
                report["errors"].append(float(np.abs(mine - want).max()))

        words = 0
        ticks = 6 + 2 * rank                        # rank 1 trains longer: rank 0 syncs idle at its epoch's end
        for k in range(1, ticks + 1):
            words += 10 + rank                      # a sync is due every 10 words of a rank
            acc.add(1.5, 3)
            during = 0.0
            if k == 6:                              # a training thread writes row 0 during the collective
                mean, during = group.averager.mean, 1.0
                def mean_while_training(block):
                    model.W_in[0] += 1.0
                    return mean(block)
                group.averager.mean = mean_while_training
            sync.tick(words, 0.05, acc)
            group.averager.__dict__.pop("mean", None)
            report["prefixes"].append(simulate(k, during))
            check()
            everyone = 10 * min(k, 6) + 11 * k      # rank 0's words and rank 1's at sync k
            report["rates"].append([sync.rate.at(words), base.at(everyone)])
        for k in range(ticks + 1, 9):               # rank 0: the syncs it joins while rank 1 finishes its part
            simulate(k)
        sync.end_epoch(words, acc)
        for t in (0, 1):                            # the epoch's end: the whole tables averaged
            mean = np.sum([tables[r][t] for r in range(size)], axis=0, dtype=np.float32) / np.float32(size)
            for r in range(size):
                tables[r][t] = mean
        check()
        report["bytes"] = [MPI.COMM_WORLD.allgather(t.tobytes()) == [t.tobytes()] * size
                           for t in (model.W_in, model.W_out)]
        report["words"], report["syncs"], report["history"] = sync.finish(), sync.syncs, model.loss_history
        json.dump(report, open(f"report{rank}.json", "w"))
    """
    result = run_mpi(tmp_path, code)
    assert result.returncode == 0, result.stderr
    r0, r1 = (json.loads((tmp_path / f"report{r}.json").read_text()) for r in (0, 1))
    assert r0["prefixes"] == [4, 8, 4, 16, 4, 8]
    assert r1["prefixes"] == [4, 8, 4, 16, 4, 8, 4, 32]
    assert max(r0["errors"] + r1["errors"]) < 1e-6          # the means (and the write kept during the sync)
    assert r0["bytes"] == r1["bytes"] == [True, True]       # identical tables after the last sync
    assert r0["syncs"] == r1["syncs"] == 9                  # 8 ticks of rank 1, then one with no rank active
    assert r0["words"] == r1["words"] == 60 + 88            # the global word count
    for got, want in r0["rates"] + r1["rates"]:             # the rate after a sync: the global count's
        assert got == pytest.approx(want)
    for history in (r0["history"], r1["history"]):          # the global loss: 14 reports of 1.5 over 3 examples
        assert sum(h["examples"] for h in history) == 42
        assert all(h["loss"] == pytest.approx(0.5) for h in history)
