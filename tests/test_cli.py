"""The command line, run as a user would: ``python -m nsw2v ...`` in a subprocess."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nsw2v import WordVectors, backend
from nsw2v import formats as vectors_module

CORPUS = ("the king rules the land and the queen rules the land . "
          "a man walks the dog and a woman walks the cat .\n") * 300


def run(*args, env=None, timeout=300):
    full_env = {k: v for k, v in os.environ.items() if k != "GPU"}    # NumPy unless a test says otherwise
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "nsw2v", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    corpus = tmp / "corpus.txt"
    corpus.write_text(CORPUS)
    out = tmp / "vectors.bin"
    result = run("train", str(corpus), "-o", str(out), "--size", "10", "--min-count", "2", "--epochs", "2",
                 "--xp", "numpy")
    assert result.returncode == 0, result.stderr
    return tmp, out


def test_train_writes_binary_vectors_and_reports_progress(vectors):
    tmp, out = vectors
    wv = WordVectors.load_word2vec_format(str(out), binary=True)
    assert "king" in wv and wv.vector_size == 10


def test_similar_analogy_and_eval(vectors, tmp_path):
    _, out = vectors
    result = run("similar", str(out), "king", "--topn", "3")
    assert result.returncode == 0 and result.stdout.startswith("king: ") and result.stdout.count(",") == 2
    result = run("analogy", str(out), "man", "king", "woman", "--topn", "2")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2
    questions = tmp_path / "q.txt"
    questions.write_text(": family\nman king woman queen\nman dog woman cat\nman zebra woman okapi\n")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("king\tqueen\t8\nman\twoman\t7\ndog\tland\t1\ncat\trules\t2\n")
    result = run("eval", str(out), "--analogies", str(questions), "--pairs", str(pairs), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["analogies"]["correct"] + report["analogies"]["incorrect"] == 2
    assert report["analogies"]["skipped"] == 1
    assert -1 <= report["pairs"]["spearman"] <= 1


def test_reading_commands_tell_the_format_from_the_content(vectors, tmp_path):
    _, out = vectors
    wv = WordVectors.load_word2vec_format(str(out), binary=True)
    binary_named_oddly, text_named_bin = tmp_path / "vectors.w2v", tmp_path / "text.bin"
    binary_named_oddly.write_bytes(out.read_bytes())
    wv.save_word2vec_format(str(text_named_bin), binary=False)
    answers = [run("similar", str(path), "king", "--topn", "3") for path in (out, binary_named_oddly, text_named_bin)]
    assert all(a.returncode == 0 for a in answers), [a.stderr for a in answers]
    assert answers[0].stdout == answers[1].stdout
    assert answers[0].stdout.split(":")[0] == answers[2].stdout.split(":")[0] == "king"
    glove = tmp_path / "glove.6B.10d.txt"                  # GloVe's text: no header line
    wv.save_word2vec_format(str(glove), write_header=False)
    answer = run("similar", str(glove), "king", "--topn", "3")
    assert answer.returncode == 0 and answer.stdout.startswith("king: "), answer.stderr


def test_the_c_tools_spellings_train_as_ours(vectors, tmp_path):
    corpus = vectors[0] / "corpus.txt"
    c_tool, ours = tmp_path / "c.vec", tmp_path / "ours.bin"
    first = run("train", "-train", str(corpus), "-output", str(c_tool), "-cbow", "0", "-size", "10", "-window", "2",
                "-negative", "3", "-hs", "0", "-sample", "1e-4", "-threads", "1", "-binary", "1", "-iter", "1",
                "-min-count", "2", "-alpha", "0.03", "-save-vocab", str(tmp_path / "vocab.txt"), "--xp", "numpy", "-q")
    second = run("train", str(corpus), "-o", str(ours), "--sg", "1", "--size", "10", "--window", "2", "--negative",
                 "3", "--sample", "1e-4", "--epochs", "1", "--min-count", "2", "--alpha", "0.03", "--xp", "numpy", "-q")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert c_tool.read_bytes() == ours.read_bytes()         # binary (-binary 1) skip-gram (-cbow 0) vectors
    text = tmp_path / "c.bin"                              # the C tool's -output: text unless -binary 1
    assert run("train", "-train", str(corpus), "-output", str(text), "-size", "10", "-iter", "1", "-min-count", "2",
               "--xp", "numpy", "-q").returncode == 0
    assert vectors_module.file_format(text) == "text"
    vocab = dict(line.split() for line in (tmp_path / "vocab.txt").read_text().splitlines())
    assert vocab["the"] == str(CORPUS.split().count("the")) and len(vocab) == len(set(CORPUS.split()))


@pytest.mark.parametrize("args,message", [
    (["similar", "missing.bin", "king"], "missing.bin: no such file"),
    (["train", "missing.txt"], "missing.txt: no such file"),
    (["similar", "{out}", "notaword"], "'notaword' not in vocabulary"),
    (["train", "{corpus}", "--window", "0"], "window=0 must be an integer >= 1"),
    (["train", "{corpus}", "--size", "0"], "vector_size=0 must be an integer >= 1"),
    (["train", "{corpus}", "--min-count", "100000"], "no tokens left after min_count=100000 (largest count is"),
    (["train", "{corpus}", "--negative", "30", "--sampler", "exclusion", "--min-count", "2"],
     "negative=30 must be less than the vocabulary size"),
    # output paths are checked before training, not after it
    (["train", "{corpus}", "-o", "{tmp}/no-such-dir/v.bin", "--epochs", "1000"], "no-such-dir does not exist"),
    (["train", "{corpus}", "--save-model", "{tmp}", "--epochs", "1000"], "is a directory; give a file name"),
    (["train", "-train", "{corpus}", "-cbow", "1", "--sg", "1"], "-cbow 1 and --sg 1 disagree"),
    (["train", "-train", "{corpus}", "{corpus}"], "two corpora"),
    (["train", "-train", "{corpus}", "-hs", "1"], "hs=1: hierarchical softmax is not implemented"),
])
def test_errors_are_one_line_and_nonzero(vectors, args, message):
    tmp, out = vectors
    args = [a.format(out=out, corpus=tmp / "corpus.txt", tmp=tmp) for a in args]
    result = run(*args, "--xp", "numpy") if args[0] == "train" else run(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(backend.gpu_available(), reason="a GPU is usable here")
def test_gpu_without_a_device_is_a_clear_error(vectors):
    tmp, _ = vectors
    result = run("train", str(tmp / "corpus.txt"), "--min-count", "2", env={"GPU": "1"})
    assert result.returncode != 0
    assert "GPU=1" in result.stderr and "Traceback" not in result.stderr


def test_interrupted_training_leaves_no_output(tmp_path):
    corpus = tmp_path / "big.txt"
    corpus.write_text(CORPUS * 20)
    out = tmp_path / "vectors.txt"
    env = {k: v for k, v in os.environ.items() if k != "GPU"}
    # (batch 32: at the default 256 steps of this 13-word corpus diverge, and training stops by itself)
    proc = subprocess.Popen([sys.executable, "-m", "nsw2v", "train", str(corpus), "-o", str(out),
                             "--epochs", "1000", "--min-count", "2", "--xp", "numpy", "--batch-size", "32"],
                            stderr=subprocess.PIPE, text=True, env=env)
    # wait for the first progress line, then press Ctrl-C
    buffer = ""
    deadline = time.time() + 120
    while "Progress" not in buffer and time.time() < deadline:
        buffer += proc.stderr.read(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name not in ("big.txt",)]


def test_plot_draws_the_loss_curve_or_says_matplotlib_is_missing(vectors, tmp_path):
    tmp, _ = vectors
    png = tmp_path / "loss.png"
    result = run("train", str(tmp / "corpus.txt"), "--min-count", "2", "--epochs", "1", "--size", "8",
                 "--plot", str(png), "--quiet", "--xp", "numpy")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result.returncode == 1 and "--plot needs matplotlib" in result.stderr
        assert not png.exists()
    else:
        assert result.returncode == 0, result.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def in_process(capsys, *args):
    """``main(args)`` in this process (faster than a subprocess where nothing process-wide is tested)."""
    from nsw2v.cli import main
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_gives_every_option_a_text_and_its_default_and_version_answers(capsys):
    from nsw2v import __version__
    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"nsw2v {__version__}"
    with pytest.raises(SystemExit):
        in_process(capsys, "train", "--help")
    text = capsys.readouterr().out
    blocks = {}                                     # option -> its help text (the lines up to the next option)
    for block in text.split("\n  -")[1:]:
        blocks[block.split()[0].rstrip(",").lstrip("-")] = " ".join(block.split())
    defaults = {"size": "100", "window": "5", "negative": "5", "sample": "0.001", "epochs": "5", "seed": "1",
                "min-count": "5", "min-alpha": "0.0001", "workers": "1", "ns-exponent": "0.75",
                "max-row-updates": "64"}
    for option, value in defaults.items():
        assert f"(default: {value})" in blocks[option], blocks[option]
    assert "default: 0.05 for CBOW, 0.025 for skip-gram" in blocks["alpha"]
    assert "default: 256 on NumPy; on CuPy 16384" in blocks["batch-size"]
    assert len(blocks) >= 30 and all(len(h.split()) > 2 for h in blocks.values()), blocks   # none without a text


def test_eval_reports_nan_for_broken_vectors_and_refuses_a_file_without_questions(tmp_path, capsys):
    words = ["king", "queen", "man", "woman"]
    vectors = np.array([[1, 0, 0], [1, 1, 0], [np.nan, 0, 0], [0, 1, 1]], dtype=np.float32)
    path = tmp_path / "broken.txt"
    WordVectors(words, vectors).save_word2vec_format(str(path))
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("king\tqueen\t8\nman\twoman\t7\nking\twoman\t2\nqueen\tman\t3\n")
    code, out, err = in_process(capsys, "eval", str(path), "--pairs", str(pairs))
    assert code == 0 and "spearman nan, pearson nan" in out, out + err          # 1.000 before
    assert "non-finite cosine" in err
    assert "broken.txt line 4: the vector of word 'man' holds a value that is not finite" in err    # on loading
    code, out, _ = in_process(capsys, "eval", str(path), "--pairs", str(pairs), "--json")
    assert json.loads(out)["pairs"]["pearson"] is None                          # JSON has no NaN
    empty = tmp_path / "questions.txt"
    empty.write_text(": capitals\nnot a question\n")
    code, out, err = in_process(capsys, "eval", str(path), "--analogies", str(empty))
    assert code == 1 and out == ""                                              # 0.00% (0/0) and 0 before
    assert err.strip().splitlines()[-1] == f"nsw2v: error: {empty}: no analogy question in the file (the format: ': section' " \
                          "lines, each followed by questions 'a b c expected', four words a line)"


def test_map_draws_the_words_and_their_neighbours(vectors, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the map needs matplotlib")
    _, out = vectors
    png = tmp_path / "map.png"
    code, _, err = in_process(capsys, "map", str(out), "king", "dog", "-o", str(png), "--topn", "3")
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = in_process(capsys, "map", str(out), "king", "unicorn", "-o", str(tmp_path / "other.png"))
    assert code == 1 and err.strip() == "nsw2v: error: word 'unicorn' not in vocabulary"
    assert not (tmp_path / "other.png").exists()
