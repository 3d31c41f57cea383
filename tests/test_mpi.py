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


@pytest.mark.parametrize("ranks, piece", [(1, 13), (2, 13), (3, 13), (7, 13), (3, shards.GZIP_PIECE)])
def test_merged_vocabulary_is_one_process_vocabulary(tmp_path, ranks, piece):
    for path in corpora(tmp_path):
        for min_count, limit in ((1, 10000), (2, 7), (3, 3)):
            try:
                want, _ = Vocab.build_encoded(LineSentence(path, limit), min_count=min_count)
            except ValueError as exc:               # the same error from the merge
                with pytest.raises(ValueError, match=str(exc).replace("(", r"\(").replace(")", r"\)")):
                    merged(path, ranks, min_count, limit, piece)
                continue
            got, counted = merged(path, ranks, min_count, limit, piece)
            assert got.index_to_key == want.index_to_key, (path.name, min_count)
            np.testing.assert_array_equal(got.counts, want.counts)
            assert (got.raw_words, got.sentences_seen) == (want.raw_words, want.sentences_seen), path.name
            for rank, count in enumerate(counted):  # a share kept encoded is the share read again
                share = shards.ShareSentences(shards.Share(path, rank, ranks, piece), limit)
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


def test_a_model_loaded_on_one_rank_trains_alone(tmp_path, monkeypatch):
    model = Word2Vec([["a", "b", "c", "d"]] * 20, min_count=1, epochs=1, negative=2, sample=0, verbose=False)
    model.save(str(tmp_path / "m.npz"))
    monkeypatch.setenv("PMI_SIZE", "4")             # as under mpiexec -n 4, without mpi4py: joining would fail
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    loaded = Word2Vec.load(str(tmp_path / "m.npz"))     # `if model.rank == 0: Word2Vec.load(...)` must not wait
    assert loaded.rank == 0 and loaded._group is None
    with pytest.raises(ParameterError, match="mpi4py"):
        Word2Vec.load(str(tmp_path / "m.npz"), distributed=None)


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
    # Every rank changes some rows between syncs (rows drawn by (rank, sync): each rank can replay all of them)
    # and simulates every rank's tables through the syncs; its own tables must match the simulation.
    code = """
        import json
        import numpy as np
        from mpi4py import MPI
        from nsw2v.training import distributed
        from nsw2v.training.engines import Accumulator
        from nsw2v.training.plan import LearningRate
        from nsw2v.vocab import Vocab

        V, H = 40, 3

        class Model:                                # what a sync reads of a Word2Vec
            verbose, epochs_trained, words_trained, sync_period, negative = False, 0, 0, 10, 5
            vocab = Vocab([f"w{i}" for i in range(V)], np.arange(V, 0, -1))

        rank, size = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
        distributed.FIRST_PREFIX = 4
        group = distributed.join(True, np)
        model = Model()
        model.loss_history = []
        start = [np.random.default_rng(t).standard_normal((V, H)).astype(np.float32) for t in (0, 1)]
        tables = [[t.copy() for t in start] for _ in range(size)]       # every rank's, simulated
        last = [t.copy() for t in start]                                # their common value at the last sync
        model.W_in, model.W_out = (t.copy() for t in start)
        base = LearningRate(0.05, 0.0, 10 ** 4)
        sync = group.training(model, base)
        acc = Accumulator()
        report = {"prefixes": [], "errors": [], "rates": [], "shared": 0, "alone": 0}

        def train(r, k):                            # rank r's changes before its sync k: a few rows, both tables
            rng = np.random.default_rng((r, k))
            for t, table in enumerate((model.W_in, model.W_out)):
                rows = rng.choice(V, 12, replace=False)
                change = rng.standard_normal((12, H)).astype(np.float32)
                tables[r][t][rows] += change
                if r == rank:
                    table[rows] += change

        def simulate(k, during=0.0):
            rows = distributed.prefix_rows(k, V, 4) if k else V
            for t in range(2):
                change = [tables[r][t][:rows] - last[t][:rows] for r in range(size)]
                changed = np.sum([(c != 0).any(axis=1) for c in change], axis=0)
                report["shared"] += int((changed == size).sum())
                report["alone"] += int((changed == 1).sum())
                new = last[t][:rows] + np.sum(change, axis=0) / np.maximum(changed, 1)[:, None]
                last[t][:rows] = new
                for r in range(size):
                    tables[r][t][:rows] = new
            for r in range(size):
                tables[r][0][0] += during           # a training thread's write during the collective
            return rows

        def check():
            for mine, want in zip((model.W_in, model.W_out), tables[rank]):
                report["errors"].append(float(np.abs(mine - want).max()))

        words = 0
        ticks = 6 + 2 * rank                        # rank 1 trains longer: rank 0 syncs idle at its epoch's end
        for k in range(1, ticks + 1):
            for r in range(size):
                if k <= 6 + 2 * r:
                    train(r, k)
            words += 10 + rank                      # a sync is due every 10 words of a rank
            acc.add(1.5, 3)
            during = 0.0
            if k == 6:
                during, total = 1.0, group.averager.sum
                def sum_while_training(block):
                    model.W_in[0] += 1.0
                    return total(block)
                group.averager.sum = sum_while_training
            sync.tick(words, acc)
            group.averager.__dict__.pop("sum", None)
            report["prefixes"].append(simulate(k, during))
            check()
            everyone = 10 * min(k, 6) + 11 * k      # rank 0's words and rank 1's at sync k
            report["rates"].append([sync.rate.at(words), base.at(everyone)])
        for k in range(ticks + 1, 9):               # rank 0: the syncs it joins while rank 1 finishes its part
            for r in range(size):
                if k <= 6 + 2 * r:
                    train(r, k)
            simulate(k)
        sync.end_epoch(words, acc)
        simulate(0)                                 # the epoch's end: the whole tables
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
    assert max(r0["errors"] + r1["errors"]) < 1e-5          # the means (and the write kept during the sync)
    assert r0["shared"] > 20 and r0["alone"] > 20           # rows both ranks changed, and rows one changed
    assert r0["bytes"] == r1["bytes"] == [True, True]       # identical tables after the last sync
    assert r0["syncs"] == r1["syncs"] == 9                  # 8 ticks of rank 1, then one with no rank active
    assert r0["words"] == r1["words"] == 60 + 88            # the global word count
    for got, want in r0["rates"] + r1["rates"]:             # the rate after a sync: the global count's
        assert got == pytest.approx(want)
    for history in (r0["history"], r1["history"]):          # the global loss: 14 reports of 1.5 over 3 examples
        assert sum(h["examples"] for h in history) == 42
        assert all(h["loss"] == pytest.approx(0.5) for h in history)


@needs_mpi
def test_two_ranks_count_exactly_and_train_one_model(tmp_path):
    paths = corpora(tmp_path)
    lee = data_file("corpora/lee_background.cor")
    code = """
        import json, sys
        import numpy as np
        from mpi4py import MPI
        from nsw2v import Word2Vec
        from nsw2v.corpus import LineSentence
        from nsw2v.vocab import Vocab

        comm = MPI.COMM_WORLD
        report = {"vocab": []}
        for path in sys.argv[2:]:                   # the merged vocabulary against one process's
            model = Word2Vec(min_count=2, max_sentence_length=7, sampler="batched", verbose=False)
            model.build_vocab(corpus_file=path)
            want, _ = Vocab.build_encoded(LineSentence(path, 7), min_count=2)
            report["vocab"].append([model.vocab.index_to_key == want.index_to_key,
                                    model.vocab.counts.tolist() == want.counts.tolist(),
                                    [model.vocab.raw_words, model.vocab.sentences_seen]
                                    == [want.raw_words, want.sentences_seen]])
        model = Word2Vec(corpus_file=sys.argv[1], epochs=3, engine="array", sync_period=3000, verbose=False)
        report["rank"], report["ranks"] = model.rank, model._group.size
        report["same"] = [comm.allgather(t.tobytes()) == [t.tobytes()] * comm.Get_size()
                          for t in (model.W_in, model.W_out)]
        report["words"], report["total"] = model.words_trained, model.vocab.total_words
        report["losses"], report["history"] = model.epoch_losses, model.loss_history
        json.dump(report, open(f"report{model.rank}.json", "w"))
    """
    result = run_mpi(tmp_path, code, args=[lee] + [p for p in paths if p.name != "one-word.txt"])
    assert result.returncode == 0, result.stderr
    for rank in (0, 1):
        report = json.loads((tmp_path / f"report{rank}.json").read_text())
        assert report["rank"] == rank and report["ranks"] == 2
        assert report["vocab"] and all(all(checks) for checks in report["vocab"])
        assert report["same"] == [True, True]                   # one model: identical tables on every rank
        assert report["words"] == 3 * report["total"]           # the global count: every rank's words
        words = [h["words"] for h in report["history"]]
        assert words == sorted(words) and words[-1] == report["words"]
        untrained = 6 * np.log(2)                               # (1 + negative) ln 2
        losses = report["losses"]
        assert losses[0] < untrained - 0.05 and losses[2] < losses[1] < losses[0]   # it learns


@needs_mpi
def test_compiled_engine_on_two_ranks_shares_the_cores_and_trains_one_model(tmp_path):
    pytest.importorskip("numba")
    lee = data_file("corpora/lee_background.cor")
    code = """
        import json, os, sys
        from mpi4py import MPI
        from nsw2v import Word2Vec
        import numpy as np
        from nsw2v.training import engines

        comm = MPI.COMM_WORLD
        model = Word2Vec(corpus_file=sys.argv[1], epochs=3, sync_period=3000, verbose=False)
        ids = np.arange(100, dtype=np.int32)
        key = engines.make(model, None).prepare(0, 0, ids, np.zeros_like(ids))[2]   # chunk 0's key on this rank
        report = dict(engine=engines.choose(model), workers=model.workers, cores=len(os.sched_getaffinity(0)),
                      same=[comm.allgather(t.tobytes()) == [t.tobytes()] * 2 for t in (model.W_in, model.W_out)],
                      keys=comm.allgather(key), losses=model.epoch_losses)
        json.dump(report, open(f"report{model.rank}.json", "w"))
    """
    result = run_mpi(tmp_path, code, args=[lee], timeout=180)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report0.json").read_text())
    assert report["engine"] == "numba"
    assert report["workers"] == max(1, report["cores"] // 2)        # two ranks on this machine share its cores
    assert report["same"] == [True, True]
    assert report["keys"][0] != report["keys"][1]                   # each rank draws its own negatives
    losses = report["losses"]
    assert losses[0] < 6 * np.log(2) - 0.05 and losses[2] < losses[0]


def test_one_rank_through_the_mpi_path_is_todays_trainer(tmp_path):
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is absent (pip install '.[mpi]' mpich)")
    lee = data_file("corpora/lee_background.cor")
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from nsw2v import Word2Vec
        settings = dict(corpus_file=sys.argv[1], epochs=2, engine="array", chunk_words=20000, verbose=False)
        alone = Word2Vec(distributed=False, **settings)
        ranked = Word2Vec(distributed=True, sync_period=2000, **settings)   # one rank, syncs included
        assert ranked._group is not None and ranked._group.size == 1
        assert ranked.vocab.index_to_key == alone.vocab.index_to_key
        print(np.array_equal(alone.W_in, ranked.W_in), np.array_equal(alone.W_out, ranked.W_out))
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code, str(lee)], capture_output=True, text=True, timeout=120,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


@needs_mpi
def test_command_line_on_two_ranks_writes_and_prints_once(tmp_path):
    lee = data_file("corpora/lee_background.cor")
    result = run_mpi(tmp_path, [sys.executable, "-m", "nsw2v", "train", str(lee), "-o", "out.bin", "--epochs", "2",
                                "--sync-period", "3000"], python=False)
    result_cmd = result
    assert result_cmd.returncode == 0, result.stderr
    from nsw2v import WordVectors
    wv = WordVectors.load_word2vec_format(str(tmp_path / "out.bin"), binary=True)
    assert len(wv) > 1000
    err = result.stderr.replace("\r", "\n")
    assert err.count("training on 2 ranks") == 1 and err.count("Trained on") == 1 and err.count("wrote") == 1
    assert err.count("vocabulary of") == 1
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".out.bin")] == []


@needs_mpi
def test_divergence_on_two_ranks_is_printed_once(tmp_path):
    lee = data_file("corpora/lee_background.cor")
    result = run_mpi(tmp_path, [sys.executable, "-m", "nsw2v", "train", str(lee), "-o", "out.bin", "--epochs", "2",
                                "--alpha", "1e6", "--quiet"], python=False, timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("nsw2v: error:") == 1 and "alpha" in result.stderr, result.stderr
    assert not (tmp_path / "out.bin").exists()


def big_corpus(path, tokens=300_000):
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(3000)])
    path.write_text(" ".join(words[(rng.zipf(1.2, tokens) - 1) % 3000]))
    return path


@needs_mpi
def test_an_error_on_one_rank_stops_every_rank_with_one_message(tmp_path):
    # the corpus is missing where rank 1 runs (as on a node without the shared file system)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    shutil.copy(data_file("corpora/lee_background.cor"), tmp_path / "a" / "c.txt")
    train = [sys.executable, "-m", "nsw2v", "train", "c.txt", "-o", "out.bin", "-q"]
    result = run_mpi(tmp_path, ["-wdir", str(tmp_path / "a"), *train, ":", "-n", "1", "-wdir", str(tmp_path / "b"),
                                *train], ranks=1, python=False, timeout=60)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("nsw2v: error")]
    assert errors == ["nsw2v: error: rank 1 of 2 (%s) failed: c.txt: no such file" % os.uname().nodename]
    assert sorted(os.listdir(tmp_path / "a")) == ["c.txt"]          # nothing written
    # an error in the middle of training (here a callback of rank 1): every rank raises it, naming the rank
    code = """
        import sys
        from nsw2v import Word2Vec
        from nsw2v.errors import DistributedError

        def fail(model):                            # at the last epoch's end: after the last sync
            if model.rank == 1 and model.epochs_trained == 3:
                raise MemoryError("no room on purpose")

        model = Word2Vec(engine="array", epochs=3, sync_period=2000, verbose=False)
        model.build_vocab(corpus_file=sys.argv[1])
        try:
            model.train(corpus_file=sys.argv[1], callbacks=[fail])
        except DistributedError as error:
            with open(f"error{model.rank}.txt", "w") as fh:     # not stdout, where the ranks' lines interleave
                fh.write(f"{error} {type(error.__cause__).__name__}")
    """
    result = run_mpi(tmp_path, code, args=[tmp_path / "a" / "c.txt"], timeout=60)
    assert result.returncode == 0, result.stderr
    host = os.uname().nodename
    assert [(tmp_path / f"error{rank}.txt").read_text() for rank in (0, 1)] == [
        f"rank 1 of 2 ({host}) failed: MemoryError: no room on purpose NoneType",
        f"rank 1 of 2 ({host}) failed: MemoryError: no room on purpose MemoryError"]


def start_training(tmp_path, env=None):
    """``mpiexec -n 2 nsw2v train`` on a corpus long enough to kill it in the middle; returns the process, its
    stderr file and rank 1's pid (from the line that maps ranks to pids), once training is under way."""
    corpus = big_corpus(tmp_path / "big.txt")
    err = tmp_path / "stderr.txt"
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    environment.pop("GPU", None)
    process = subprocess.Popen([MPIEXEC, "-n", "2", sys.executable, "-m", "nsw2v", "train", str(corpus), "-o",
                                str(tmp_path / "out.bin"), "--epochs", "200", "--engine", "array"],
                               stdout=open(tmp_path / "stdout.txt", "w"), stderr=open(err, "w"), env=environment,
                               cwd=tmp_path)
    deadline = time.time() + 60
    while "Alpha:" not in err.read_text():      # the progress line: training has begun
        assert process.poll() is None and time.time() < deadline, err.read_text()
        time.sleep(0.2)
    pid = int(err.read_text().split("1: ", 1)[1].split("pid ", 1)[1].split()[0].rstrip(","))
    return process, err, pid


@needs_mpi
def test_a_killed_rank_stops_every_rank(tmp_path):
    process, err, pid = start_training(tmp_path)
    os.kill(pid, signal.SIGKILL)
    try:
        code = process.wait(timeout=30)         # no rank hangs
    finally:
        process.kill()
    assert code != 0
    text = err.read_text() + (tmp_path / "stdout.txt").read_text()
    assert "signal 9" in text or "Killed" in text, text   # the launcher names the process and the cause
    assert not (tmp_path / "out.bin").exists()


@needs_mpi
def test_a_stalled_rank_ends_the_training_after_the_timeout(tmp_path):
    # a rank that neither dies nor answers (stopped here; a hung file system does the same)
    process, err, pid = start_training(tmp_path, env={"NSW2V_MPI_TIMEOUT": "4"})
    os.kill(pid, signal.SIGSTOP)
    try:
        code = process.wait(timeout=30)
    finally:
        process.kill()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    text = err.read_text() + (tmp_path / "stdout.txt").read_text()
    assert code != 0, text
    assert "of 2 (" in text and "no answer from the other ranks for 4 s" in text, text
    assert not (tmp_path / "out.bin").exists()
