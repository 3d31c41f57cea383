"""Nothing silent, nothing lost (issue 14): each example the issue found, as a test.

Divergence and settings that cannot train end in one clear error and no output;
signals end every worker at once; every reader failure is one ReadError naming
the file; outputs never clobber an input, another output, a link or a device;
a window wider than every sentence costs nothing; one parameter is checked the
same way at every entry point. The fuzzing of the readers is in test_fuzz.py.
"""
import contextlib
import gzip
import json
import math
import os
import resource
import signal
import stat
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

from nsw2v import Word2Vec, WordVectors, cli, formats
from nsw2v.corpus import LineSentence, text_blocks
from nsw2v.errors import DivergedError, Nsw2vError, OutputError, ParameterError, ReadError
from conftest import data_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = ("the king rules the land and the queen rules the land . "
          "a man walks the dog and a woman walks the cat .\n") * 40
SENTENCES = [line.split() for line in CORPUS.splitlines()]
SMALL = dict(vector_size=8, window=2, min_count=1, epochs=1, xp="numpy", verbose=False)


def run(*args, timeout=300, **popen):
    env = {k: v for k, v in os.environ.items() if k != "GPU"}
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "nsw2v", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, **popen)


def one_line_error(result, *words):
    """The CLI failed with one line on stderr holding ``words``, and no traceback."""
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("nsw2v: error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS)
    return path


@contextlib.contextmanager
def address_space(extra_bytes: int):
    """Cap this process's address space at its present size plus ``extra_bytes`` (the soft limit only, raised
    back after): a larger allocation fails with MemoryError instead of taking the machine's memory."""
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ------------------------------------------------------------------------------------------ divergence


@pytest.mark.parametrize("alpha", [1, 2, 10, 1e6])
def test_a_learning_rate_that_diverges_stops_with_one_error_and_no_numpy_warning(alpha, recwarn):
    path = data_file("corpora/lee_background.cor")
    with pytest.raises(DivergedError, match=r"training diverged.*lower alpha \(now") as info:
        Word2Vec(corpus_file=str(path), alpha=alpha, engine="array", epochs=1, xp="numpy", verbose=False)
    assert "alpha" in str(info.value)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]      # overflow: said once, above


@pytest.mark.parametrize("sg, alpha, below", [(0, 0.5, 0.4), (1, 0.3, 0.2)])
def test_a_finite_loss_far_above_an_untrained_models_stops_as_diverged(sg, alpha, below):
    # at these rates the loss of lee_background stays finite while it climbs to 45 (CBOW) and 4,000 (skip-gram)
    # times an untrained model's: vectors that mean nothing, written without a word before the check
    path = str(data_file("corpora/lee_background.cor"))
    settings = dict(corpus_file=path, sg=sg, epochs=5, workers=1, seed=1, verbose=False)
    with pytest.raises(DivergedError, match=r"training diverged \(loss .* per example, above 2 times an untrained "
                                            r"model's 4\.16 at learning rate .*lower alpha \(now"):
        Word2Vec(alpha=alpha, **settings)
    healthy = Word2Vec(alpha=below, **settings)                               # a rate below trains
    worst = max(entry["loss"] for entry in healthy.loss_history)
    assert worst < 6 * math.log(2) and healthy.loss_history[-1]["loss"] < 0.9 * worst         # and it learns


def test_diverged_is_a_loss_not_finite_or_above_twice_an_untrained_models():
    from nsw2v.training.driver import diverged
    model = Word2Vec(negative=3)                    # untrained, an example's loss is 4 ln 2
    assert not diverged(model, 8 * math.log(2) * 0.999) and diverged(model, 8 * math.log(2) * 1.001)
    assert diverged(model, math.nan) and diverged(model, math.inf) and not diverged(model, 0.0)


def test_the_cli_diverging_writes_nothing_and_says_it_in_one_line(tmp_path):
    out = tmp_path / "v.txt"
    result = run("train", data_file("corpora/lee_background.cor"), "--alpha", "1", "--engine", "array",
                 "--epochs", "1", "-q", "-o", out)
    one_line_error(result, "training diverged", "alpha")
    assert os.listdir(tmp_path) == []


def test_negative_5000_on_the_batched_path_stops_as_diverged(recwarn):
    # the batched path draws each word many times per center: a context row gets 5000 terms a step; at a rate
    # that trains with negative=5, the loss leaves the floats within a few epochs
    sentences = [line.split() for line in data_file("corpora/lee_background.cor").read_text().splitlines()[:10]]
    settings = dict(sampler="batched", engine="array", vector_size=4, epochs=4, alpha=0.2, min_alpha=0.2,
                    min_count=1, xp="numpy", verbose=False)
    assert all(math.isfinite(x) for x in Word2Vec(sentences, negative=5, **settings).epoch_losses)
    with pytest.raises(DivergedError, match=r"negative \(now 5000\)"):
        Word2Vec(sentences, negative=5000, **settings)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("alpha", [math.inf, -math.inf, math.nan, -1.0, 0.0])
def test_a_learning_rate_that_cannot_train_is_refused_before_training(alpha, tmp_path):
    with pytest.raises(ParameterError, match="alpha="):
        Word2Vec(SENTENCES, alpha=alpha, **SMALL)
    result = run("train", data_file("corpora/lee_background.cor"), f"--alpha={alpha}", "-o", tmp_path / "v.txt")
    one_line_error(result, "alpha=")
    assert os.listdir(tmp_path) == []


def test_more_workers_than_the_shared_cap_allows_are_refused(tmp_path, corpus):
    with pytest.raises(ParameterError, match=r"workers=100 with max_row_updates=64.*use workers <= 64"):
        Word2Vec(SENTENCES, workers=100, engine="array", **SMALL)
    Word2Vec(SENTENCES, workers=100, engine="array", max_row_updates=None, sample=0, **dict(SMALL, epochs=1))
    result = run("train", corpus, "--workers", "100", "--engine", "array", "-o", tmp_path / "v.txt")
    one_line_error(result, "workers=100", "max_row_updates")


def test_a_corpus_of_one_token_lines_is_refused_before_training(tmp_path):
    lines = tmp_path / "words.txt"
    lines.write_text("alpha\nbeta\ngamma\n" * 50)
    started = []
    model = Word2Vec(min_count=1, vector_size=8, negative=2, xp="numpy", verbose=False, engine="array",
                     callbacks=[lambda m: started.append(1)])
    model.build_vocab(corpus_file=str(lines))
    with pytest.raises(ReadError, match="words.txt: no training example: no sentence holds two"):
        model.train(corpus_file=str(lines), callbacks=[type("C", (), {"on_train_begin": started.append})()])
    assert started == []                                    # refused before training began
    with pytest.raises(ReadError, match="no training example"):    # an iterable: found after one pass
        Word2Vec([["a"], ["b"], ["a"], ["b"]], negative=1, **SMALL)
    result = run("train", lines, "--min-count", "1", "--negative", "2", "-q", "-o", tmp_path / "v.txt")
    one_line_error(result, "no training example")
    assert not (tmp_path / "v.txt").exists()


def test_tables_are_checked_once_at_the_end_for_what_the_loss_misses():
    def spoil(model):                                       # a non-finite value the loss has not seen
        model.W_out[0, 0] = np.nan
    with pytest.raises(DivergedError, match="non-finite vectors"):
        Word2Vec(SENTENCES, callbacks=[spoil], engine="array", **SMALL)


# ------------------------------------------------------------------------------------------- signals


def _children_of(pid: int) -> list:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def busy_corpus(tmp_path_factory):
    """700k tokens, 2000 words."""
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(2000)])
    lines = words[rng.zipf(1.3, 700_000) % 2000].reshape(-1, 20)
    path = tmp_path_factory.mktemp("busy") / "busy.txt"
    path.write_text("\n".join(map(" ".join, lines)) + "\n")
    return path


@pytest.mark.parametrize("workers,signum,to_group", [
    (1, signal.SIGINT, True), (2, signal.SIGINT, True), (4, signal.SIGINT, True),
    (2, signal.SIGTERM, True), (4, signal.SIGTERM, False),
])
def test_a_signal_ends_every_worker_at_once(tmp_path, busy_corpus, workers, signum, to_group):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) and SIGTERM (to the group, or to the
    main process only) end training with every worker process, exit 130 (SIGINT) or 143 (SIGTERM) and leave
    no file. Ctrl-C hung before when a chunk was on its way to the workers: the exit waited on a pipe that no
    one read any more."""
    out = tmp_path / "vectors.txt"
    env = {k: v for k, v in os.environ.items() if k != "GPU"}
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    # the command line, with chunks of 200k words instead of 1M (5 to 14 a pass): a chunk then nearly always
    # waits in the task pipe while the workers train
    script = ("import functools, sys; from nsw2v import cli, word2vec; word2vec.Word2Vec.__init__ = "
              "functools.partialmethod(word2vec.Word2Vec.__init__, chunk_words=200_000); sys.exit(cli.main())")
    proc = subprocess.Popen([sys.executable, "-c", script, "train", str(busy_corpus), "-o", str(out), "--epochs",
                             "1000", "--workers", str(workers), "--engine", "array", "--min-count", "1"],
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        seen = ""
        deadline = time.time() + 120
        while "Progress" not in seen and time.time() < deadline and proc.poll() is None:
            seen += proc.stderr.read(1)
        assert "Progress" in seen, seen
        workers_seen = _children_of(proc.pid)
        assert len(workers_seen) >= (workers if workers > 1 else 0)
        start = time.time()
        os.killpg(proc.pid, signum) if to_group else proc.send_signal(signum)
        _, err = proc.communicate(timeout=20)
        took = time.time() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == (130 if signum == signal.SIGINT else 143), err
    assert took < 5, took                      # "within a second or two" (0.1-0.3 s measured; the machine is shared)
    assert "Traceback" not in err and "no output file was written" in err
    assert os.listdir(tmp_path) == []          # no vectors, no temporary file
    time.sleep(0.2)
    assert not [pid for pid in workers_seen if _process_state(pid) not in ("gone", "Z")]


def _process_state(pid: int) -> str:
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    return "gone"


def test_sigterm_during_a_write_removes_the_temporary_file(tmp_path):
    target = tmp_path / "vectors.txt"
    target.write_text("old\n")
    script = textwrap.dedent(f"""
        import signal, sys, time
        from nsw2v import cli, formats
        signal.signal(signal.SIGTERM, cli._terminate)
        def slow(fh):
            fh.write(b"new" * 1000)
            print("writing", flush=True)
            time.sleep(60)
        try:
            formats.atomic_write({str(target)!r}, slow)
        except cli.Terminated:
            sys.exit(143)
    """)
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "writing"
    assert len(os.listdir(tmp_path)) == 2                   # the file and its temporary
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 143
    assert os.listdir(tmp_path) == ["vectors.txt"] and target.read_text() == "old\n"


def test_a_later_write_removes_what_a_killed_writer_left(tmp_path):
    target = tmp_path / "vectors.txt"
    script = textwrap.dedent(f"""
        import time
        from nsw2v import formats
        def slow(fh):
            fh.write(b"x" * 100000)
            print("writing", flush=True)
            time.sleep(60)
        formats.atomic_write({str(target)!r}, slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.stdout.readline().strip() == "writing"
    proc.kill()                                             # SIGKILL: nothing can clean up
    proc.wait()
    (left,) = os.listdir(tmp_path)
    assert left.startswith(".vectors.txt.") and left.endswith(".tmp")
    # another process's temporary file, still running, and one of another file: never touched
    alive = tmp_path / f".vectors.txt.{os.getppid()}.0123abcd.tmp"
    other = tmp_path / f".other.txt.{proc.pid}.0123abcd.tmp"
    for path in (alive, other):
        path.write_bytes(b"y")
    old = time.time() - 2 * formats.STALE_SECONDS
    for name in (left, alive.name, other.name):
        os.utime(tmp_path / name, (old, old))
    formats.atomic_write(target, lambda fh: fh.write(b"new\n"))
    assert sorted(os.listdir(tmp_path)) == sorted([alive.name, other.name, "vectors.txt"])
    fresh = tmp_path / left                                 # a dead writer's, but touched a moment ago: kept
    fresh.write_bytes(b"z")
    formats.atomic_write(target, lambda fh: fh.write(b"newer\n"))
    assert fresh.exists()


def test_an_interrupt_after_one_output_says_which_was_written(tmp_path, corpus, monkeypatch, capsys):
    out, model_file = tmp_path / "v.txt", tmp_path / "m.npz"

    def interrupted(self, path):
        raise KeyboardInterrupt
    monkeypatch.setattr(Word2Vec, "save", interrupted)
    code = cli.main(["train", str(corpus), "-o", str(out), "--save-model", str(model_file), "--size", "8",
                     "--min-count", "1", "--epochs", "1", "--xp", "numpy", "-q"])
    err = capsys.readouterr().err
    assert code == 130
    assert "no output file was written" not in err and f"wrote {out}" in err
    assert out.exists() and not model_file.exists()


# ----------------------------------------------------------------------------------------- readers


def _gzip_cut_and_spoiled(tmp_path, name: str, data: bytes):
    packed = gzip.compress(data)
    cut, spoiled = tmp_path / f"cut-{name}", tmp_path / f"spoiled-{name}"
    cut.write_bytes(packed[: len(packed) // 2])
    spoiled.write_bytes(packed[:20] + bytes(b ^ 0x5A for b in packed[20:60]) + packed[60:])
    return cut, spoiled


@pytest.mark.parametrize("binary", [False, True])
def test_corrupt_or_truncated_gzip_vectors_are_one_read_error(tmp_path, binary):
    wv = WordVectors([f"w{i}" for i in range(200)], np.random.default_rng(0).random((200, 10)))
    plain = tmp_path / "v"
    wv.save_word2vec_format(plain, binary=binary)
    for path in _gzip_cut_and_spoiled(tmp_path, "v.gz", plain.read_bytes()):
        with pytest.raises(ReadError, match=f"{path.name}: corrupt or truncated gzip data"):
            WordVectors.load_word2vec_format(path, binary=binary)
        one_line_error(run("similar", path, "w1"), path.name, "gzip")


@pytest.mark.parametrize("workers", [1, 2])
def test_corrupt_or_truncated_gzip_corpora_are_one_read_error(tmp_path, workers):
    text = " ".join(f"w{i % 300}" for i in range(60000)).encode()
    for path in _gzip_cut_and_spoiled(tmp_path, "c.gz", text):
        with pytest.raises(ReadError, match=f"{path.name}: corrupt or truncated gzip data after"):
            Word2Vec(corpus_file=str(path), workers=workers, **SMALL)
        one_line_error(run("train", path, "--workers", workers, "-o", tmp_path / "v.txt"), path.name, "gzip")
    with pytest.raises(ReadError):
        list(LineSentence(path))


@pytest.mark.parametrize("header", [b"99999999999 999999\n", b"3 99999999999\n", b"99999999999 4\n"])
def test_a_huge_header_is_checked_against_the_file_before_allocating(tmp_path, header):
    for binary in (False, True):
        path = tmp_path / "huge"
        path.write_bytes(header + b"cat 1 2 3 4\n")
        with address_space(256 << 20), pytest.raises(ReadError, match="huge"):
            WordVectors.load_word2vec_format(path, binary=binary)


def test_non_finite_vectors_load_with_a_warning_naming_the_line(tmp_path):
    path = tmp_path / "nan.txt"
    path.write_text("3 2\na 1 2\nb nan 1\nc 1 inf\n")
    with pytest.warns(UserWarning, match=r"nan.txt line 3: the vector of word 'b' holds a value that is not "
                                         r"finite \(2 such vectors in all\)"):
        WordVectors.load_word2vec_format(path)


def test_a_token_is_read_in_time_linear_in_its_length(tmp_path):
    """A 2 MB token in blocks of 64 characters: joined once (it was copied at every block: 32 GB of copies)."""
    path = tmp_path / "token.txt"
    path.write_text("a" * (2 << 20) + " b\nc")
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("quadratic")))
    signal.alarm(20)
    try:
        blocks = list(text_blocks(path, block_chars=64))
        sentences = list(LineSentence(path, block_chars=64))
    finally:
        signal.alarm(0)
    assert "".join(blocks) == path.read_text()
    assert [len(s) for s in sentences] == [2, 1] and len(sentences[0][0]) == 2 << 20


# ------------------------------------------------------------------------------------------- model files


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    Word2Vec(SENTENCES, **SMALL).save(str(path))
    return path


def _rewrite(saved, tmp_path, name="bad.npz", compress=False, **members):
    """A copy of the saved model with some members replaced (``None``: removed)."""
    with np.load(saved) as data:
        arrays = {k: data[k] for k in data.files}
    for key, value in members.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path = tmp_path / name
    (np.savez_compressed if compress else np.savez)(path, **arrays)
    return path


def _state(saved, **changes):
    with np.load(saved) as data:
        state = json.loads(str(data["state"]))
    state.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        state.pop(key)
    return np.array(json.dumps(state))


@pytest.mark.parametrize("change,message", [
    (dict(state=np.array("{not json")), "member state is not JSON"),
    (dict(state="missing epochs_trained"), "member state lacks 'epochs_trained'"),
    (dict(state="window=-1"), "member state: window=-1 must be an integer >= 1"),
    (dict(W_in="wide"), "member W_in is float32 of shape"),
    (dict(W_out="nan"), "member W_out holds values that are not finite"),
    (dict(W_in="strings"), "member W_in is <U"),
    (dict(W_in=None), "without the member.s. W_in"),
    (dict(vocab_counts="short"), "disagree"),
    (dict(vocab_words_utf8="spoiled"), "the vocabulary is damaged"),
])
def test_a_model_file_whose_members_disagree_is_one_read_error(saved, tmp_path, change, message):
    with np.load(saved) as data:
        W_in, counts, words = data["W_in"], data["vocab_counts"], data["vocab_words_utf8"]
    (key, what), = change.items()
    value = {"missing epochs_trained": lambda: _state(saved, epochs_trained=None),
             "window=-1": lambda: _state(saved, window=-1),
             "wide": lambda: np.zeros((W_in.shape[0], W_in.shape[1] + 1), np.float32),
             "nan": lambda: np.full(W_in.shape, np.nan, np.float32),
             "strings": lambda: W_in.astype(str),
             "short": lambda: counts[:-1],
             "spoiled": lambda: np.where(np.arange(words.size) == 0, 0xFF, words).astype(np.uint8),
             }.get(what, lambda: what)() if isinstance(what, str) else what
    path = _rewrite(saved, tmp_path, **{key: value})
    with pytest.raises(ReadError, match=message):
        Word2Vec.load(str(path))


def test_a_member_that_would_inflate_far_past_its_file_is_refused_before_reading(saved, tmp_path):
    """A 200 KB file whose W_in inflates to 200 MB (the issue's was 2.1 MB to 2.1 GB)."""
    path = tmp_path / "bomb.npz"
    with np.load(saved) as data:
        arrays = {k: data[k] for k in data.files if k != "W_in"}
        V = data["W_in"].shape[0]
    H = (200 << 20) // (4 * V)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array(fh, value)
        with archive.open("W_in.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (V, H)})
            zeros = bytes(1 << 20)
            for _ in range(4 * V * H // len(zeros)):
                fh.write(zeros)
            fh.write(bytes(4 * V * H % len(zeros)))
    assert os.path.getsize(path) < 1 << 20
    with address_space(64 << 20), pytest.raises(ReadError, match="W_in would inflate to"):
        Word2Vec.load(str(path))


def test_a_member_whose_header_disagrees_with_the_zip_directory_is_refused(saved, tmp_path):
    path = tmp_path / "liar.npz"
    with np.load(saved) as data:
        arrays = {k: data[k] for k in data.files}
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w") as fh:
                if key == "W_out":      # announces 10**9 rows, holds the real ones
                    np.lib.format.write_array_header_1_0(
                        fh, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 9, value.shape[1])})
                    fh.write(value.tobytes())
                else:
                    np.lib.format.write_array(fh, value)
    with address_space(64 << 20), pytest.raises(ReadError, match="member W_out: its header announces"):
        Word2Vec.load(str(path))


def test_a_model_compressed_by_numpy_still_loads(saved, tmp_path):
    path = _rewrite(saved, tmp_path, compress=True)
    model = Word2Vec.load(str(path))
    assert np.array_equal(model.W_in, Word2Vec.load(str(saved)).W_in)


# ----------------------------------------------------------------------------------------- outputs


def test_an_output_naming_the_corpus_is_refused(tmp_path, corpus):
    before = corpus.read_bytes()
    one_line_error(run("train", corpus, "-o", corpus, "--min-count", "1"), "-o", "is the corpus")
    os.link(corpus, tmp_path / "hard-link.txt")
    os.symlink(corpus, tmp_path / "soft-link.txt")
    for other in ("hard-link.txt", "soft-link.txt"):
        one_line_error(run("train", corpus, "--save-model", tmp_path / other), "is the corpus")
    assert corpus.read_bytes() == before


@pytest.mark.parametrize("second", ["--save-model", "--save-vocab", "--plot"])
def test_two_outputs_naming_one_file_are_refused(tmp_path, corpus, second):
    result = run("train", corpus, "-o", tmp_path / "x", second, tmp_path / "x", "--min-count", "1")
    one_line_error(result, f"{second} {tmp_path / 'x'}: is the output of -o")
    assert not (tmp_path / "x").exists()


def test_a_device_or_a_fifo_is_refused_not_replaced(tmp_path, corpus):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    devices = [fifo]
    with contextlib.suppress(PermissionError, OSError):
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))      # root only: a copy of /dev/null
        devices.append(tmp_path / "null")
    for device in devices:
        one_line_error(run("train", corpus, "-o", device, "--min-count", "1"), "give a file name")
        with pytest.raises(OutputError, match="give a file name"):
            WordVectors(["a"], np.ones((1, 2))).save_word2vec_format(device)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    if len(devices) > 1:
        assert stat.S_ISCHR(os.stat(devices[1]).st_mode)


def test_a_symlink_is_written_through_and_the_mode_is_kept(tmp_path, corpus):
    target, link = tmp_path / "real.txt", tmp_path / "link.txt"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    os.symlink(target.name, link)                           # relative, as ln -s makes them
    result = run("train", corpus, "-o", link, "--size", "4", "--min-count", "1", "--epochs", "1", "-q")
    assert result.returncode == 0, result.stderr
    assert os.path.islink(link) and os.readlink(link) == target.name
    assert WordVectors.load_word2vec_format(target).vector_size == 4
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["corpus.txt", "link.txt", "real.txt"]


def test_training_with_no_output_warns_before_training(corpus):
    result = run("train", corpus, "--size", "4", "--min-count", "1", "--epochs", "1", "-q")
    assert result.returncode == 0
    assert "warning: no -o, --save-model, --save-vocab or --plot: the trained vectors will not be kept" \
        in result.stderr


# ----------------------------------------------------------------------------------- cost in proportion


@pytest.mark.parametrize("window", [100_000, 100_000_000])
def test_a_window_wider_than_every_sentence_costs_nothing_more(window):
    """window=100000 used 12.7 GB and window=1e8 8.7 GB on a small corpus; now the planner clips the window to
    the longest sentence (here 24 words), within 300 MB more than a run needs at all."""
    with address_space(300 << 20):
        wide = Word2Vec(SENTENCES, engine="array", **dict(SMALL, window=window, epochs=2))
    assert all(math.isfinite(x) for x in wide.epoch_losses) and wide.epoch_losses[-1] < wide.epoch_losses[0]


# ---------------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("kwargs,name", [
    (dict(start_alpha=math.nan), "start_alpha=nan"),
    (dict(start_alpha=-1), "start_alpha=-1"),
    (dict(start_alpha="x"), "start_alpha='x' must be a number"),
    (dict(start_alpha=0.01, end_alpha=0.02), "end_alpha=0.02 must be in [0, 0.01]"),
    (dict(end_alpha=math.inf), "end_alpha=inf"),
    (dict(epochs="2"), "epochs='2'"),
    (dict(total_words=2.5), "total_words=2.5"),
])
def test_train_checks_its_parameters_as_the_constructor_does(kwargs, name):
    model = Word2Vec(**SMALL)
    model.build_vocab(SENTENCES)
    with pytest.raises(ParameterError) as info:
        model.train(SENTENCES, **kwargs)
    assert name in str(info.value)
    # the same value given to the constructor: the same words
    key = {"start_alpha": "alpha", "end_alpha": "min_alpha"}.get(next(iter(kwargs)), None)
    if key is not None and len(kwargs) == 1:
        with pytest.raises(ParameterError) as same:
            Word2Vec(**{key: kwargs[next(iter(kwargs))]}, **SMALL)
        assert str(same.value).split("=", 1)[1] == str(info.value).split("=", 1)[1]


@pytest.mark.parametrize("query", ["most_similar", "most_similar_cosmul", "similar_by_word", "analogy"])
def test_queries_check_topn_and_restrict_vocab(query):
    wv = WordVectors(["a", "b", "c", "d"], np.eye(4, dtype=np.float32) + 0.1)
    call = (lambda **kw: getattr(wv, query)("a", "b", "c", **kw)) if query == "analogy" \
        else (lambda **kw: getattr(wv, query)("a", **kw))
    for bad in ("3", 2.0, True, -1):
        with pytest.raises(ParameterError, match=f"topn={bad!r} must be"):
            call(topn=bad)
    with pytest.raises(ParameterError, match="restrict_vocab='2'"):
        call(restrict_vocab="2")
    assert len(call(topn=np.int64(1))) == 1


def test_the_cli_refuses_a_non_finite_setting(tmp_path, corpus):
    for option in ("--ns-exponent", "--sample", "--min-alpha"):
        result = run("train", corpus, option, "inf", "-o", tmp_path / "v.txt")
        one_line_error(result, "must be a finite number")
    assert not (tmp_path / "v.txt").exists()


def test_every_error_is_one_base_class():
    for error in (ParameterError, ReadError, OutputError, DivergedError):
        assert issubclass(error, Nsw2vError)
    assert issubclass(ParameterError, ValueError) and issubclass(ParameterError, TypeError)
    assert issubclass(OutputError, OSError) and issubclass(ReadError, ValueError)


def test_settings_assigned_after_the_constructor_are_checked_by_build_vocab_and_train():
    model = Word2Vec(**SMALL)
    model.window = 0
    with pytest.raises(ParameterError, match="window=0 must be an integer >= 1"):
        model.build_vocab(SENTENCES)
    model.window = 2
    model.build_vocab(SENTENCES)
    model.alpha = math.nan
    with pytest.raises(ParameterError, match="alpha=nan must be a finite number"):
        model.train(SENTENCES)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise(MADV_PAGEOUT) and /proc are Linux's")
def test_a_mapped_files_pages_are_handed_back_and_read_again_unchanged(tmp_path):
    """util.release_library_pages (what the compiled engine does to LLVM's library once its loop is loaded):
    the resident pages of the mappings of the named file go, and reading them again gives the same bytes."""
    import mmap
    from nsw2v.util import release_library_pages
    path = tmp_path / "library-like.bin"
    data = np.random.default_rng(5).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()
    path.write_bytes(data)

    def resident_kib():
        total, ours = 0, False
        with open("/proc/self/smaps") as smaps:
            for line in smaps:
                head = line.split()
                if head and not head[0].endswith(":"):
                    ours = len(head) >= 6 and head[5] == str(path)
                elif ours and head[0] == "Rss:":
                    total += int(head[1])
        return total

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ) as mapped:
        touched = sum(mapped[i] for i in range(0, len(data), 4096))      # every page read in
        assert resident_kib() > 7 * 1024
        assert release_library_pages("library-like.bin") == len(data)
        assert resident_kib() < 1024
        assert mapped[:] == data and sum(data[::4096]) == touched
        assert release_library_pages("no-such-library") == 0
