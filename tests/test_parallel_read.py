"""The multi-process reader gives exactly what LineSentence + Vocab.build_encoded give."""
import gzip

import numpy as np
import pytest

from nsw2v import Word2Vec
from nsw2v.corpus import LineSentence
from nsw2v.parallel_read import _pieces, count_and_encode_file
from nsw2v.vocab import Vocab
from conftest import data_file
from test_ingest import TRICKY


def assert_same(path, min_count=2, max_sentence_length=10000, workers=2, block_chars=1 << 20,
                chunk_words=(1, 7, 10 ** 6), max_tokens=50_000_000):
    want_vocab, want = Vocab.build_encoded(LineSentence(path, max_sentence_length), min_count=min_count,
                                           max_tokens=max_tokens)
    got_vocab, got = count_and_encode_file(path, min_count, max_sentence_length, workers=workers,
                                           block_chars=block_chars, max_tokens=max_tokens)
    assert got_vocab.index_to_key == want_vocab.index_to_key
    np.testing.assert_array_equal(got_vocab.counts, want_vocab.counts)
    assert (got_vocab.raw_words, got_vocab.sentences_seen) == (want_vocab.raw_words, want_vocab.sentences_seen)
    assert (got is None) == (want is None)
    for size in chunk_words if want is not None else ():
        a = [(i.tolist(), s.tolist()) for i, s in got.iter_chunks(size)]
        b = [(i.tolist(), s.tolist()) for i, s in want.iter_chunks(size)]
        assert a == b, size


@pytest.mark.parametrize("block_chars", [1, 5, 64, 1 << 20])        # blocks that cut tokens, lines, \r\n
@pytest.mark.parametrize("max_sentence_length", [3, 10000])
def test_tricky_text_plain_and_gzip(tmp_path, block_chars, max_sentence_length):
    plain = tmp_path / "tricky.txt"
    plain.write_bytes(TRICKY.encode("utf-8") + "\u2028x y\u3000z \x85w\n\n".encode("utf-8"))
    packed = tmp_path / "tricky.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        for min_count in (1, 2):
            assert_same(path, min_count, max_sentence_length, block_chars=block_chars)


@pytest.mark.parametrize("workers", [1, 3])
def test_random_corpus_with_long_lines(tmp_path, workers):
    rng = np.random.default_rng(4)
    words = np.array([f"w{i}" for i in range(300)])
    lines = [" ".join(words[rng.zipf(1.4, rng.integers(0, 60)) % 300]) for _ in range(300)]
    lines += [" ".join(words[rng.integers(0, 300, 2500)])] * 2        # lines cut into pieces
    path = tmp_path / "random.txt"
    path.write_text("\n".join(lines) + "\n")
    assert_same(path, 3, 1000, workers=workers, block_chars=997, chunk_words=(50, 1000, 10 ** 6))
    assert_same(path, 3, 1000, workers=workers, block_chars=997, max_tokens=100)   # counted, not kept


def test_lee_corpus():
    assert_same(data_file("corpora/lee_background.cor"), min_count=5, block_chars=4096)


def test_errors_as_vocab_build(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\n\t")
    with pytest.raises(ValueError, match="empty.txt: the corpus has no tokens"):
        count_and_encode_file(empty)
    rare = tmp_path / "rare.txt"
    rare.write_text("a b c")
    with pytest.raises(ValueError, match="rare.txt: no tokens left after min_count=5"):
        count_and_encode_file(rare, min_count=5)
    with pytest.raises(ValueError, match="workers=0"):
        count_and_encode_file(rare, workers=0)


def test_lines_cut_into_pieces():
    assert _pieces(np.array([0, 7, 3, 6, 0]), 3).tolist() == [3, 3, 1, 3, 3, 3]


def test_two_workers_read_the_file_with_both_processes(tmp_path, monkeypatch, xp):
    """Word2Vec(workers=2) reads corpus_file with the pool (on CuPy too, where the device then trains
    alone); the vocabulary and kept encoding are the one-process reader's."""
    import nsw2v.word2vec as w2v
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 30)
    calls = []
    real = w2v.count_and_encode_file
    monkeypatch.setattr(w2v, "count_and_encode_file", lambda *a, **k: calls.append(k) or real(*a, **k))
    monkeypatch.setenv("NSW2V_FAST_GPU", "0")
    model = Word2Vec(vector_size=4, min_count=1, workers=2, negative=2, xp=xp, verbose=False)
    model.build_vocab(corpus_file=str(path))
    assert calls and calls[0]["workers"] == 2
    vocab, encoded = Vocab.build_encoded(LineSentence(path), min_count=1)
    assert model.vocab.index_to_key == vocab.index_to_key
    got = [(i.tolist(), s.tolist()) for i, s in model._encoded[1].iter_chunks(10)]
    assert got == [(i.tolist(), s.tolist()) for i, s in encoded.iter_chunks(10)]
    model.train(corpus_file=str(path))
    assert model.words_trained == model.epochs * model.vocab.total_words


def test_several_workers_need_fork(monkeypatch):
    import multiprocessing
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    with pytest.raises(ValueError, match="workers=2: several processes are started by fork"):
        Word2Vec(workers=2, xp="numpy", engine="array")
    Word2Vec(workers=1, xp="numpy", engine="array")


def test_batches_cut_from_blocks_of_any_size(monkeypatch):
    """Batches of whole sentences cut across blocks of any size (empty ones too) hold what one block gives,
    every in-vocabulary id once and in order, and use up the blocks (each freed as it is cut)."""
    import nsw2v.parallel_read as pr
    monkeypatch.setattr(pr, "_BATCH_TOKENS", 50)
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 30, 60)
    ids = rng.integers(-1, 100, int(lengths.sum())).astype(np.int32)      # -1: out of the vocabulary

    def batches(blocks):
        return [(i.tolist(), s.tolist()) for i, s in pr._batches(blocks, lengths)]

    want = batches([ids.copy()])
    assert len(want) > 10 and all(sum(s) <= 50 or len(s) == 1 for _, s in want)
    assert sum((i for i, _ in want), []) == ids[ids >= 0].tolist()
    known = [int((piece >= 0).sum()) for piece in np.split(ids, np.cumsum(lengths)[:-1])]
    assert sum((s for _, s in want), []) == [n for n in known if n]
    blocks = [block.copy() for block in np.split(ids, np.sort(rng.integers(0, ids.size, 40)))]
    assert any(block.size == 0 for block in blocks)
    assert batches(blocks) == want
    assert blocks == []
