"""Progress while counting and training: never going back, and seen through ``logging`` as gensim's is."""
import gzip
import io
import logging
import sys

import pytest

from nsw2v import Word2Vec
from nsw2v.cli import default_corpus
from nsw2v.training import progress


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The first ~120k words of the shipped corpus."""
    path = tmp_path_factory.mktemp("progress") / "novels.txt"
    with gzip.open(default_corpus(), "rt", encoding="utf-8") as f:
        lines, words = [], 0
        for line in f:
            lines.append(line)
            words += len(line.split())
            if words > 120_000:
                break
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


@pytest.fixture
def every_call_due(monkeypatch):
    """Each report is due (not once a second): the tests see every one."""
    monkeypatch.setattr(progress.Meter, "due", lambda self: True)


@pytest.fixture
def info_records(caplog):
    caplog.set_level(logging.INFO, logger="nsw2v")
    return caplog


def messages(caplog, name):
    return [r.getMessage() for r in caplog.records if r.name == name]


def test_two_workers_report_words_in_order(corpus, every_call_due, info_records):
    """Chunks finish out of order; the reports and loss_history must not go back (they did, and ended short)."""
    model = Word2Vec(corpus_file=corpus, vector_size=10, min_count=2, epochs=2, workers=2, chunk_words=6000,
                     xp="numpy", verbose=False)
    words = [h["words"] for h in model.loss_history]
    alphas = [h["alpha"] for h in model.loss_history]
    assert len(words) > 30
    assert all(a < b for a, b in zip(words, words[1:])), words
    assert words[-1] == model.words_trained == 2 * model.vocab.total_words
    assert all(a >= b for a, b in zip(alphas, alphas[1:]))
    shown = [float(m.split("Progress:")[1].split("%")[0]) for m in messages(info_records, "nsw2v.training")
             if "Progress:" in m]
    assert len(shown) > 10 and shown == sorted(shown) and shown[-1] == pytest.approx(100.0)


def test_the_counting_readers_report_the_share_read_and_the_words(corpus):
    from nsw2v.corpus import LineSentence
    from nsw2v.parallel_read import count_and_encode_file
    from nsw2v.vocab import Vocab
    for count in ("one process", "two processes"):
        calls = []

        def record(fraction=None, words=None):
            calls.append((fraction, words))
        if count == "one process":
            vocab, _ = Vocab.build_encoded(LineSentence(corpus, block_chars=20_000, progress=record), min_count=2,
                                           progress=record)
        else:
            vocab, _ = count_and_encode_file(corpus, min_count=2, workers=2, block_chars=20_000, progress=record)
        shares = [f for f, _ in calls if f is not None]
        words = [w for _, w in calls if w is not None]
        assert len(shares) > 20 and shares == sorted(shares) and shares[0] < 0.1 and shares[-1] == 1.0, count
        assert words == sorted(words) and words[-1] == vocab.raw_words > 100_000, count


def test_build_vocab_shows_counting_and_the_vocabulary(corpus, every_call_due, info_records):
    for workers in (1, 2):
        info_records.clear()
        model = Word2Vec(vector_size=10, min_count=2, xp="numpy", workers=workers, verbose=False)
        model.build_vocab(corpus_file=corpus)
        lines = messages(info_records, "nsw2v.vocab")
        assert lines[0].startswith(f"counting words of {corpus}: ")
        assert lines[-1].startswith(f"vocabulary of {corpus}: {len(model.vocab):,} words with count >= 2 "
                                    f"({model.vocab.total_words:,} of its {model.vocab.raw_words:,} words)")


def test_logging_sees_progress_and_the_line_is_not_drawn_twice(corpus, capsys, monkeypatch):
    sentences = [line.split() for line in open(corpus, encoding="utf-8")]
    # no logging configured: the line on stderr only (verbose) or nothing at all
    Word2Vec(sentences, vector_size=10, min_count=2, epochs=1, xp="numpy", verbose=True)
    err = capsys.readouterr().err
    assert "vocabulary of sentences" in err and "Trained on" in err
    Word2Vec(sentences, vector_size=10, min_count=2, epochs=1, xp="numpy", verbose=False)
    assert capsys.readouterr().err == ""
    # logging.basicConfig(level=INFO) writes nsw2v's records to stderr: they come once, as records
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        assert progress.logged_to_stderr(progress.training_logger)
        for verbose in (True, False):               # verbose or not, a script that logs sees the records
            Word2Vec(sentences, vector_size=10, min_count=2, epochs=1, xp="numpy", verbose=verbose)
            text = stream.getvalue()
            stream.seek(0), stream.truncate()
            assert "\r" not in text
            assert text.count("nsw2v.vocab: vocabulary of sentences") == 1
            assert text.count("nsw2v.training: Trained on") == 1
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    # with the handler gone, the line is drawn again
    assert not progress.logged_to_stderr(progress.training_logger)
