"""Tests for nsw2v.vocab.Vocab: counting, pruning, subsampling, encoding, saving."""
from __future__ import annotations

import gzip
import random

import numpy as np
import pytest

import nsw2v.vocab as vocab_module
from nsw2v.corpus import LineSentence
from nsw2v.vocab import EncodedCorpus, Vocab

CORPUS = [["b", "a", "c", "a"], ["c", "b", "d"], ["a"]]  # a:3, b:2, c:2, d:1


# ------------------------------------------------------------------ building
def test_counts_and_order_ties_by_first_appearance():
    v = Vocab.build(CORPUS, min_count=1)
    # b and c both have 2: b came first.
    assert v.index_to_key == ["a", "b", "c", "d"]
    assert v.key_to_index == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert v.counts.dtype == np.int64
    assert v.counts.tolist() == [3, 2, 2, 1]
    assert len(v) == 4
    assert v.total_words == 8
    assert v.raw_words == 8
    assert v.sentences_seen == 3
    assert "d" in v and "zz" not in v


def test_all_ties_keep_first_appearance_order():
    v = Vocab.build([["z", "y"], ["x", "w"]], min_count=1)
    assert v.index_to_key == ["z", "y", "x", "w"]


def test_min_count_drops_rare_words_but_raw_words_counts_them():
    v = Vocab.build(CORPUS, min_count=2)
    assert v.index_to_key == ["a", "b", "c"]
    assert v.total_words == 7
    assert v.raw_words == 8


def test_max_vocab_size_prunes_as_the_c_tool():
    corpus = [["a", "a", "b"], ["c"], ["a", "b", "b", "d"], ["e", "a"]]
    # By hand, max_vocab_size=2, checked after each sentence:
    #   after s1 {a:2, b:1}               2 words, no pruning
    #   after s2 {a:2, b:1, c:1}          3 > 2: drop count <= 1 -> {a:2}; min_reduce = 2
    #   after s3 {a:3, b:2, d:1}          3 > 2: drop count <= 2 -> {a:3}; min_reduce = 3
    #   after s4 {a:4, e:1}               2 words, no pruning
    v = Vocab.build(corpus, min_count=1, max_vocab_size=2)
    assert v.index_to_key == ["a", "e"]
    assert v.counts.tolist() == [4, 1]
    assert v.raw_words == 10
    unbounded = Vocab.build(corpus, min_count=1)
    assert unbounded.index_to_key == ["a", "b", "c", "d", "e"]
    assert unbounded.counts.tolist() == [4, 3, 1, 1, 1]
    # A bound that is never exceeded changes nothing.
    same = Vocab.build(corpus, min_count=1, max_vocab_size=5)
    assert same.index_to_key == unbounded.index_to_key


def test_build_from_line_sentence(tmp_path):
    path = tmp_path / "c.txt.gz"
    path.write_bytes(gzip.compress(b"the cat\nthe dog the end\n\n"))
    v = Vocab.build(LineSentence(path), min_count=1)
    assert v.index_to_key == ["the", "cat", "dog", "end"]
    assert v.counts.tolist() == [3, 1, 1, 1]
    assert v.sentences_seen == 2


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize("min_count", [0, -1])
def test_min_count_below_one(min_count):
    with pytest.raises(ValueError) as e:
        Vocab.build(CORPUS, min_count=min_count)
    assert str(e.value) == f"min_count={min_count} must be an integer >= 1"


def test_max_vocab_size_below_one():
    with pytest.raises(ValueError, match=r"max_vocab_size=0 must be None or an integer >= 1"):
        Vocab.build(CORPUS, max_vocab_size=0)


@pytest.mark.parametrize("corpus", [[], [[], []]])
def test_empty_corpus(corpus):
    with pytest.raises(ValueError) as e:
        Vocab.build(corpus)
    assert str(e.value) == "corpus: the corpus has no tokens"
    with pytest.raises(ValueError) as e:
        Vocab.build(corpus, source="wiki.txt")
    assert str(e.value) == "wiki.txt: the corpus has no tokens"


def test_nothing_left_after_min_count():
    with pytest.raises(ValueError) as e:
        Vocab.build(CORPUS)
    assert str(e.value) == "corpus: no tokens left after min_count=5 (largest count is 3)"
    with pytest.raises(ValueError) as e:
        Vocab.build(CORPUS, min_count=4, source="corpus.txt")
    assert str(e.value) == "corpus.txt: no tokens left after min_count=4 (largest count is 3)"


def test_line_sentence_path_is_the_default_source(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("a b a\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"tiny\.txt: no tokens left after min_count=5 \(largest count is 2\)"):
        Vocab.build(LineSentence(path))


def test_strings_instead_of_token_lists_are_rejected():
    with pytest.raises(TypeError, match="lists of tokens"):
        Vocab.build(["a b c", "d e"], min_count=1)
    v = Vocab.build(CORPUS, min_count=1)
    with pytest.raises(TypeError, match="lists of tokens"):
        list(v.iter_chunks(["a b"]))


def test_constructor_validates():
    with pytest.raises(ValueError, match="one count per word"):
        Vocab(["a", "b"], np.array([2], dtype=np.int64))
    with pytest.raises(ValueError, match="descending"):
        Vocab(["a", "b"], np.array([1, 2], dtype=np.int64))
    with pytest.raises(ValueError, match="'a' more than once"):
        Vocab(["a", "a"], np.array([2, 1], dtype=np.int64))
    with pytest.raises(ValueError, match=">= 0"):
        Vocab(["a"], np.array([-1], dtype=np.int64))
    with pytest.raises(ValueError, match="integers"):
        Vocab(["a"], np.array([1.5]))


# --------------------------------------------------------------- subsampling
def test_keep_probabilities_by_hand():
    v = Vocab(["x", "y", "z"], np.array([890, 100, 10], dtype=np.int64))
    assert v.total_words == 1000
    # sample=1e-3 -> t = 1: p = (sqrt(f) + 1) / f
    p = v.keep_probabilities(1e-3)
    assert p.dtype == np.float32 and p.shape == (3,)
    np.testing.assert_allclose(p, [30.8328678 / 890, 0.11, 4.16227766 / 10], rtol=1e-6)
    # sample=0.1 -> t = 100: p = (sqrt(f / 100) + 1) * 100 / f, clipped to 1
    p = v.keep_probabilities(0.1)
    np.testing.assert_allclose(p, [398.328678 / 890, 1.0, 1.0], rtol=1e-6)


def test_keep_probabilities_zero_and_negative():
    v = Vocab.build(CORPUS, min_count=1)
    ones = v.keep_probabilities(0)
    assert ones.dtype == np.float32 and ones.tolist() == [1.0] * 4
    with pytest.raises(ValueError, match="sample=-0.001 must be >= 0"):
        v.keep_probabilities(-1e-3)
    with pytest.raises(ValueError, match="sample"):
        v.keep_probabilities(float("nan"))


# ------------------------------------------------------------------ encoding
def test_encode_drops_oov():
    v = Vocab.build(CORPUS, min_count=2)  # a, b, c
    ids = v.encode(["c", "x", "a", "d", "b", "a"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [2, 0, 1, 0]
    assert v.encode([]).tolist() == []
    assert v.encode(["x"]).dtype == np.int32


def test_iter_chunks_by_hand():
    v = Vocab.build(CORPUS, min_count=2)  # a=0, b=1, c=2
    sentences = [["a", "x", "b"], ["x"], ["c"], [], ["b", "b", "a"], ["c", "d"]]
    chunks = list(v.iter_chunks(sentences, chunk_words=3))
    # In-vocabulary lengths 2, 0 (skipped), 1, 0 (skipped), 3, 1.
    assert [(ids.tolist(), sids.tolist()) for ids, sids in chunks] == [
        ([0, 1, 2], [0, 0, 1]),
        ([1, 1, 0], [0, 0, 0]),
        ([2], [0]),
    ]
    for ids, sids in chunks:
        assert ids.dtype == np.int32 and sids.dtype == np.int32


def test_iter_chunks_one_big_chunk_and_empty_input():
    v = Vocab.build(CORPUS, min_count=1)
    (ids, sids), = list(v.iter_chunks(CORPUS))
    assert ids.tolist() == [1, 0, 2, 0, 2, 1, 3, 0]
    assert sids.tolist() == [0, 0, 0, 0, 1, 1, 1, 2]
    assert list(v.iter_chunks([])) == []
    assert list(v.iter_chunks([["x", "y"], []])) == []


def naive_chunks(vocab, sentences, chunk_words):
    """One sentence at a time, straight from the definition."""
    ids, sids, n_sent = [], [], 0
    for sentence in sentences:
        enc = [vocab.key_to_index[w] for w in sentence if w in vocab.key_to_index]
        if not enc:
            continue
        ids += enc
        sids += [n_sent] * len(enc)
        n_sent += 1
        if len(ids) >= chunk_words:
            yield ids, sids
            ids, sids, n_sent = [], [], 0
    if ids:
        yield ids, sids


@pytest.mark.parametrize("encode_batch", [1, 3, 50, 1 << 13])
def test_iter_chunks_matches_naive(monkeypatch, encode_batch):
    # A tiny encoding batch makes chunk boundaries fall inside and across batches.
    monkeypatch.setattr(vocab_module, "_ENCODE_BATCH", encode_batch)
    rng = random.Random(1)
    words = [f"w{i}" for i in range(30)]
    weights = [1.0 / (i + 1) for i in range(30)]  # Zipf-like, so the tail is rare
    sentences = [rng.choices(words, weights, k=rng.choice([0, 1, 2, 5, 12, 40])) for _ in range(300)]
    v = Vocab.build(sentences, min_count=40)
    assert 0 < len(v) < 30  # some words are out of vocabulary
    for chunk_words in (1, 2, 7, 100, 10 ** 6):
        got = [(a.tolist(), b.tolist()) for a, b in v.iter_chunks(sentences, chunk_words)]
        assert got == list(naive_chunks(v, sentences, chunk_words)), chunk_words
        for ids, sids in got:
            assert sids[0] == 0 and all(0 <= d <= 1 for d in np.diff(sids))


def test_iter_chunks_validates_chunk_words():
    v = Vocab.build(CORPUS, min_count=1)
    with pytest.raises(ValueError, match="chunk_words=0 must be >= 1"):
        list(v.iter_chunks(CORPUS, chunk_words=0))


# ---------------------------------------------------------------- save/load
def test_arrays_round_trip_through_npz(tmp_path):
    corpus = [["é", "𝔘nicode", "a"], ["a", "日本語", "é"], ["a", "x" * 300]]
    v = Vocab.build(corpus, min_count=1)
    path = tmp_path / "v.npz"
    np.savez(path, other=np.zeros(2), **v.to_arrays())
    with np.load(path, allow_pickle=False) as data:
        w = Vocab.from_arrays(data)
    assert w.index_to_key == v.index_to_key == ["a", "é", "𝔘nicode", "日本語", "x" * 300]
    assert w.key_to_index == v.key_to_index
    assert w.counts.dtype == np.int64
    np.testing.assert_array_equal(w.counts, v.counts)
    assert (w.total_words, w.raw_words, w.sentences_seen) == (8, 8, 3)


def test_arrays_round_trip_without_build_statistics():
    v = Vocab(["a", "b"], np.array([3, 1], dtype=np.int64))
    w = Vocab.from_arrays(v.to_arrays())
    assert w.index_to_key == ["a", "b"] and w.raw_words is None and w.sentences_seen is None


def test_from_arrays_missing_key():
    with pytest.raises(KeyError, match="vocab_counts"):
        Vocab.from_arrays({k: v for k, v in Vocab(["a"], [1]).to_arrays().items() if k != "vocab_counts"})


# ---------------------------------------------------------------- build_encoded
@pytest.mark.parametrize("build_batch", [1, 7, 1 << 16])
@pytest.mark.parametrize("max_tokens", [10 ** 9, 500])
def test_build_encoded_matches_build_and_iter_chunks(monkeypatch, build_batch, max_tokens):
    """One pass gives the vocabulary of build() and the chunks of iter_chunks(), or None past max_tokens."""
    monkeypatch.setattr(vocab_module, "_BUILD_BATCH", build_batch)
    rng = random.Random(2)
    words = [f"w{i}" for i in range(40)]
    weights = [1.0 / (i + 1) for i in range(40)]
    sentences = [rng.choices(words, weights, k=rng.choice([0, 1, 3, 9, 30])) for _ in range(200)]
    expected = Vocab.build(sentences, min_count=20)
    got, encoded = Vocab.build_encoded(sentences, min_count=20, max_tokens=max_tokens)
    assert got.index_to_key == expected.index_to_key
    np.testing.assert_array_equal(got.counts, expected.counts)
    assert (got.raw_words, got.sentences_seen) == (expected.raw_words, expected.sentences_seen)
    if max_tokens < sum(map(len, sentences)):
        assert encoded is None
        return
    for chunk_words in (1, 13, 10 ** 6):
        a = [(i.tolist(), s.tolist()) for i, s in encoded.iter_chunks(chunk_words)]
        b = [(i.tolist(), s.tolist()) for i, s in expected.iter_chunks(sentences, chunk_words)]
        assert a == b, chunk_words


def test_build_encoded_errors_as_build():
    with pytest.raises(ValueError, match=r"no tokens left after min_count=5 \(largest count is 3\)"):
        Vocab.build_encoded(CORPUS)
    with pytest.raises(ValueError, match="the corpus has no tokens"):
        Vocab.build_encoded([[], []])
    with pytest.raises(TypeError, match="got a string"):
        Vocab.build_encoded(["a b c"])


def test_max_final_vocab_keeps_the_words_counted_more_than_the_one_at_the_bound():
    vocab = Vocab(["a", "b", "c", "d", "e"], [5, 4, 3, 3, 2], raw_words=20, sentences_seen=4)
    # gensim's rule: a count above the count of the word at position max_final_vocab; a tie there goes whole
    assert vocab.trimmed(3)[0].index_to_key == ["a", "b"]
    assert vocab.trimmed(4)[0].index_to_key == ["a", "b", "c", "d"]
    assert vocab.trimmed(5)[0] is vocab
    trimmed = vocab.trimmed(2)[0]
    assert trimmed.counts.tolist() == [5, 4] and trimmed.total_words == 9 and trimmed.raw_words == 20
    encoded = vocab_module.EncodedCorpus([(np.array([0, 4, 2, 1, 3, 3]), np.array([2, 1, 3]))])
    _, kept = vocab.trimmed(2, encoded)
    ids, lengths = kept.batches[0]
    assert ids.tolist() == [0, 1] and lengths.tolist() == [1, 1]     # the sentence left empty is gone


def test_encoded_corpus_keeps_two_bytes_an_id_and_gives_every_id_back():
    rng = np.random.default_rng(0)
    n = 100_000
    ids = rng.integers(0, 1 << 16, size=n).astype(np.int32)
    far = rng.choice(n, size=n // 100, replace=False)             # 1% of the tokens: words past 2**16
    ids[far] = rng.integers(1 << 16, 1 << 31, size=far.size)
    ids[:6] = [0, 65535, 65536, 65537, 131071, (1 << 31) - 1]      # each side of every boundary
    lengths = np.array([6, n - 6 - 40, 40])
    encoded = EncodedCorpus(iter([(ids, lengths), (ids[:7], np.array([7]))]))
    assert [(b.tolist(), l.tolist()) for b, l in encoded.batches] == \
        [(ids.tolist(), lengths.tolist()), (ids[:7].tolist(), [7])]
    assert encoded.longest_sentence() == n - 46
    chunks = list(encoded.iter_chunks(50))
    assert np.concatenate([c for c, _ in chunks]).tolist() == ids.tolist() + ids[:7].tolist()
    assert all(c.dtype == np.int32 for c, _ in chunks)
    held = sum(a.nbytes for packed, _ in encoded._packed for a in packed)
    assert held <= 2 * (n + 7) + 6 * (far.size + 13)                # 2 bytes an id, 6 more for a far one
    assert EncodedCorpus([]).longest_sentence() == 0 and list(EncodedCorpus([]).iter_chunks()) == []
