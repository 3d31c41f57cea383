"""WordVectors: queries on hand-made vectors, word2vec formats, and gensim interoperability."""
from __future__ import annotations

import gzip
import math
import struct

import numpy as np
import pytest

import nsw2v.formats as vectors_module
from nsw2v.vectors import WordVectors

# man : king :: woman : queen holds exactly: king - man + woman == queen.
# "prince" is a worse answer than queen but comes before it in the vocabulary.
WORDS = ["man", "woman", "king", "prince", "apple", "queen"]
VECS = np.array(
    [
        [1.0, 0.0, 0.0],  # man
        [1.0, 1.0, 0.0],  # woman
        [1.0, 0.0, 1.0],  # king
        [1.0, 0.3, 1.2],  # prince
        [0.0, 0.0, -1.0],  # apple
        [1.0, 1.0, 1.0],  # queen
    ],
    dtype=np.float64,
)


@pytest.fixture
def wv() -> WordVectors:
    return WordVectors(WORDS, VECS, counts=np.arange(6, 0, -1))


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def reference_most_similar(pos: list[str], neg: list[str], topn: int, limit: int = len(WORDS)):
    """The definition, written as a loop in float64."""
    index = {w: i for i, w in enumerate(WORDS)}
    query = sum(unit(VECS[index[w]]) for w in pos) - sum((unit(VECS[index[w]]) for w in neg), np.zeros(3))
    query = unit(query)
    scored = [
        (w, float(np.dot(unit(VECS[i]), query)))
        for i, w in enumerate(WORDS[:limit])
        if w not in pos and w not in neg
    ]
    return sorted(scored, key=lambda ws: -ws[1])[:topn]


def assert_pairs_close(got, want, rtol=1e-6):
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=rtol, atol=1e-7)


# ---------------------------------------------------------------- construction


def test_constructor_stores_float32_and_int64(wv):
    assert wv.vectors.dtype == np.float32 and wv.vectors.shape == (6, 3)
    assert wv.vectors.flags.c_contiguous
    assert wv.vector_size == 3 and len(wv) == 6
    assert wv.key_to_index == {w: i for i, w in enumerate(WORDS)}
    assert wv.counts.dtype == np.int64 and wv.counts.tolist() == [6, 5, 4, 3, 2, 1]
    assert WordVectors(WORDS, VECS).counts is None


@pytest.mark.parametrize(
    "words, vecs, counts, fragment",
    [
        (["a", "b"], np.zeros((3, 2)), None, "vectors has 3 rows but index_to_key has 2 words"),
        (["a", "b"], np.zeros(2), None, "must be 2-D"),
        (["a", "b"], np.zeros((2, 2)), np.ones(3), "counts has shape (3,)"),
        (["a", "a"], np.zeros((2, 2)), None, "word 'a' appears twice"),
    ],
)
def test_constructor_rejects_mismatches(words, vecs, counts, fragment):
    with pytest.raises(ValueError) as exc:
        WordVectors(words, vecs, counts)
    assert fragment in str(exc.value)


def test_lookup(wv):
    np.testing.assert_array_equal(wv["queen"], np.array([1, 1, 1], dtype=np.float32))
    assert wv["queen"].dtype == np.float32
    np.testing.assert_array_equal(wv[["man", "apple"]], VECS[[0, 4]].astype(np.float32))
    assert "king" in wv and "unicorn" not in wv
    assert 3 in wv and 6 not in wv and -1 not in wv       # row numbers count as keys, as in gensim
    assert wv.get_index("apple") == 4


@pytest.mark.parametrize("call", [
    lambda wv: wv["unicorn"],
    lambda wv: wv[["man", "unicorn"]],
    lambda wv: wv.get_index("unicorn"),
    lambda wv: wv.most_similar("unicorn"),
    lambda wv: wv.most_similar(positive=["king"], negative=["unicorn"]),
    lambda wv: wv.most_similar_cosmul("unicorn"),
    lambda wv: wv.similarity("king", "unicorn"),
    lambda wv: wv.analogy("man", "king", "unicorn"),
    lambda wv: wv.doesnt_match(["man", "unicorn"]),
])
def test_unknown_word_raises_keyerror_naming_it(wv, call):
    with pytest.raises(KeyError) as exc:
        call(wv)
    assert exc.value.args[0] == "word 'unicorn' not in vocabulary"


def test_normed_vectors_are_unit_cached_and_zero_safe():
    wv = WordVectors(["a", "zero", "b"], np.array([[3, 4], [0, 0], [0, -2]], dtype=np.float32))
    normed = wv.get_normed_vectors()
    np.testing.assert_allclose(normed, [[0.6, 0.8], [0, 0], [0, -1]], rtol=1e-6)
    assert normed.dtype == np.float32 and not np.isnan(normed).any()
    assert wv.get_normed_vectors() is normed
    assert wv.similarity("a", "zero") == 0.0
    wv.vectors = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)  # assignment drops the cache
    np.testing.assert_allclose(wv.get_normed_vectors()[1], [0, 1])


# --------------------------------------------------------------------- queries


def test_most_similar_analogy_matches_reference(wv):
    got = wv.most_similar(positive=["king", "woman"], negative=["man"], topn=3)
    want = reference_most_similar(["king", "woman"], ["man"], 3)
    assert [w for w, _ in got] == [w for w, _ in want]
    assert got[0][0] == "queen"
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-6)
    assert all(type(w) is str and type(s) is float for w, s in got)
    # by hand: unit(king) + unit(woman) - unit(man) = (sqrt2 - 1, 1/sqrt2, 1/sqrt2)
    q = np.array([math.sqrt(2) - 1, 1 / math.sqrt(2), 1 / math.sqrt(2)])
    assert got[0][1] == pytest.approx(q.sum() / (np.linalg.norm(q) * math.sqrt(3)), rel=1e-6)


def test_most_similar_excludes_inputs_and_sorts(wv):
    got = wv.most_similar("king", topn=10)
    assert "king" not in [w for w, _ in got]
    assert len(got) == 5
    scores = [s for _, s in got]
    assert scores == sorted(scores, reverse=True)
    assert_pairs_close(got, reference_most_similar(["king"], [], 10))
    assert wv.most_similar("king", topn=0) == []


def test_most_similar_with_a_vector_does_not_exclude_its_word(wv):
    got = wv.most_similar(positive=wv["king"] * 7.0, topn=1)
    assert got[0][0] == "king" and got[0][1] == pytest.approx(1.0, abs=1e-6)
    # a vector and a word in one query: the vector is made unit length, like the word
    mixed = wv.most_similar(positive=[wv["king"] * 100.0, "woman"], negative=["man"], topn=1)
    assert mixed[0][0] == "queen"
    assert mixed[0][1] == pytest.approx(wv.most_similar(positive=["king", "woman"], negative="man")[0][1])


def test_most_similar_negative_only_and_no_input(wv):
    assert wv.most_similar(negative="apple", topn=1)[0][0] == "prince"
    assert_pairs_close(wv.most_similar(negative=["apple"], topn=2), reference_most_similar([], ["apple"], 2))
    with pytest.raises(ValueError, match="no input"):
        wv.most_similar()


def test_most_similar_topn_none_returns_all_cosines(wv):
    all_scores = wv.most_similar("man", topn=None)
    assert isinstance(all_scores, np.ndarray) and all_scores.shape == (6,)
    assert all_scores[0] == pytest.approx(1.0)
    assert all_scores[1] == pytest.approx(1 / math.sqrt(2))


def test_restrict_vocab_searches_only_the_first_words(wv):
    assert wv.analogy("man", "king", "woman")[0][0] == "queen"
    # queen is word 6: with the first 5 words only, prince is the best left
    assert wv.analogy("man", "king", "woman", restrict_vocab=5)[0][0] == "prince"
    got = wv.most_similar("king", topn=10, restrict_vocab=3)
    assert [w for w, _ in got] == [w for w, _ in reference_most_similar(["king"], [], 10, limit=3)]
    assert {w for w, _ in got} == {"man", "woman"}
    assert wv.most_similar_cosmul("king", topn=10, restrict_vocab=2)[0][0] in {"man", "woman"}
    with pytest.raises(ValueError, match="restrict_vocab=0"):
        wv.most_similar("king", restrict_vocab=0)


def test_most_similar_cosmul_matches_definition(wv):
    got = wv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=3)
    assert got[0][0] == "queen"

    def shifted(w, x):
        return (1 + float(np.dot(unit(VECS[WORDS.index(w)]), unit(VECS[WORDS.index(x)])))) / 2

    want = sorted(
        (
            (w, shifted(w, "king") * shifted(w, "woman") / (shifted(w, "man") + 1e-6))
            for w in WORDS
            if w not in ("king", "woman", "man")
        ),
        key=lambda ws: -ws[1],
    )[:3]
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5)
    # queen by hand: cos(queen, king) = cos(queen, woman) = sqrt(2/3), cos(queen, man) = sqrt(1/3)
    c2, c1 = math.sqrt(2 / 3), math.sqrt(1 / 3)
    assert got[0][1] == pytest.approx(((1 + c2) / 2) ** 2 / ((1 + c1) / 2 + 1e-6), rel=1e-5)
    with pytest.raises(ValueError, match="no positive input"):
        wv.most_similar_cosmul(negative=["man"])


def test_analogy_methods(wv):
    add = wv.analogy("man", "king", "woman", topn=2)
    assert add == wv.most_similar(positive=["king", "woman"], negative=["man"], topn=2)
    mul = wv.analogy("man", "king", "woman", method="3cosmul")
    assert len(mul) == 1 and mul[0][0] == "queen"
    assert mul == wv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=1)
    with pytest.raises(ValueError, match="'3cosdiv'"):
        wv.analogy("man", "king", "woman", method="3cosdiv")


def test_similarity_and_doesnt_match(wv):
    assert wv.similarity("king", "queen") == pytest.approx(2 / math.sqrt(6), rel=1e-6)
    assert wv.similarity("man", "apple") == pytest.approx(0.0, abs=1e-7)
    assert type(wv.similarity("man", "woman")) is float
    assert wv.doesnt_match(["man", "woman", "king", "apple"]) == "apple"
    assert wv.doesnt_match(("queen", "king", "woman", "man")) == "man"
    with pytest.raises(ValueError, match="at least one word"):
        wv.doesnt_match([])


def test_gensims_other_query_names(wv):
    np.testing.assert_array_equal(wv.get_vector("king"), VECS[2].astype(np.float32))
    np.testing.assert_allclose(wv.get_vector("king", norm=True), unit(VECS[2]), rtol=1e-6)
    assert wv.similar_by_word("king", topn=3) == wv.most_similar("king", topn=3)
    # a vector query leaves no word out: king's own vector finds king first
    assert wv.similar_by_vector(VECS[2], topn=1)[0][0] == "king"
    assert wv.distance("king", "queen") == pytest.approx(1 - 2 / math.sqrt(6), rel=1e-6)
    pair = unit(VECS[2] + VECS[5]), unit(VECS[0] + VECS[1])       # king + queen, man + woman
    assert wv.n_similarity(["king", "queen"], ["man", "woman"]) == pytest.approx(float(np.dot(*pair)), rel=1e-6)
    with pytest.raises(ValueError, match="at least one word on each side"):
        wv.n_similarity([], ["man"])
    with pytest.raises(KeyError, match="'nope' not in vocabulary"):
        wv.n_similarity(["nope"], ["man"])


# ------------------------------------------------------------------ file formats

UNICODE_WORDS = ["café", "naïve", "Ζεύς", "日本語", "ascii", "emoji😀"]


@pytest.fixture
def awkward() -> WordVectors:
    """Non-ASCII words and float32 values that a short format would not round-trip."""
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((6, 5)).astype(np.float32)
    vecs[0] = [np.float32(1) / 3, 1e-30, -3.4e38, -0.0, 1.0000001]
    vecs[1] = [np.nextafter(np.float32(1), np.float32(2)), 1e-45, 123456.789, -7e-8, 0]
    return WordVectors(UNICODE_WORDS, vecs)


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip_is_exact(tmp_path, awkward, binary):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    awkward.save_word2vec_format(path, binary=binary)
    back = WordVectors.load_word2vec_format(path, binary=binary)
    assert back.index_to_key == UNICODE_WORDS
    assert back.vectors.dtype == np.float32
    np.testing.assert_array_equal(back.vectors, awkward.vectors)
    assert np.signbit(back.vectors[0, 3])  # -0.0 survives
    assert back.counts is None
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_text_layout(tmp_path):
    wv = WordVectors(["a", "é"], np.array([[0.5, -2.0], [0.1, 3.0]], dtype=np.float32))
    path = tmp_path / "v.txt"
    wv.save_word2vec_format(path)
    assert path.read_bytes().decode("utf8") == "2 2\na 0.5 -2\né 0.100000001 3\n"


def test_binary_layout_is_the_c_tools(tmp_path):
    wv = WordVectors(["a", "é"], np.array([[0.5, -2.0], [0.1, 3.0]], dtype=np.float32))
    path = tmp_path / "v.bin"
    wv.save_word2vec_format(path, binary=True)
    want = (
        b"2 2\n"
        + b"a " + struct.pack("<2f", 0.5, -2.0) + b"\n"
        + "é ".encode("utf8") + struct.pack("<2f", 0.1, 3.0) + b"\n"
    )
    assert path.read_bytes() == want


def test_binary_without_newlines_loads(tmp_path):
    """gensim writes no newline after a vector; the C tool writes one. Both load."""
    vecs = np.array([[1, 2], [10, 0x0A0A], [-1, -2]], dtype="<f4")  # 0x0A bytes inside a vector
    body = b"".join(w.encode() + b" " + v.tobytes() for w, v in zip(["x", "y", "z"], vecs))
    path = tmp_path / "gensim.bin"
    path.write_bytes(b"3 2\n" + body)
    back = WordVectors.load_word2vec_format(path, binary=True)
    assert back.index_to_key == ["x", "y", "z"]
    np.testing.assert_array_equal(back.vectors, vecs)


def test_gzip_files_load_and_save(tmp_path, awkward):
    for binary in (False, True):
        plain = tmp_path / f"plain{int(binary)}"
        awkward.save_word2vec_format(plain, binary=binary)
        packed = tmp_path / f"packed{int(binary)}.gz"
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        back = WordVectors.load_word2vec_format(packed, binary=binary)
        np.testing.assert_array_equal(back.vectors, awkward.vectors)
        # saving to .gz compresses
        out = tmp_path / f"out{int(binary)}.gz"
        awkward.save_word2vec_format(out, binary=binary)
        assert gzip.decompress(out.read_bytes()) == plain.read_bytes()


def test_text_tolerates_trailing_spaces_and_crlf(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"2 3 \r\ncat 1 2 3   \r\ndog 4 5 6\t\n\n")
    back = WordVectors.load_word2vec_format(path)
    assert back.index_to_key == ["cat", "dog"]
    np.testing.assert_array_equal(back.vectors, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("binary", [False, True])
def test_limit(tmp_path, awkward, binary):
    path = tmp_path / "v"
    awkward.save_word2vec_format(path, binary=binary)
    back = WordVectors.load_word2vec_format(path, binary=binary, limit=2)
    assert back.index_to_key == UNICODE_WORDS[:2]
    np.testing.assert_array_equal(back.vectors, awkward.vectors[:2])


def test_unicode_errors_option(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"1 1\nab\xff 1.5\n")
    with pytest.raises(ValueError, match=r"v.txt line 2: cannot decode"):
        WordVectors.load_word2vec_format(path)
    back = WordVectors.load_word2vec_format(path, unicode_errors="replace")
    assert back.index_to_key == ["ab\ufffd"]
    latin = WordVectors.load_word2vec_format(path, encoding="latin-1")
    assert latin.index_to_key == ["ab\xff"]


def test_save_rejects_words_with_whitespace(tmp_path):
    wv = WordVectors(["good", "new york"], np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="word 'new york' cannot be written"):
        wv.save_word2vec_format(tmp_path / "v.txt")
    wv = WordVectors(["tab\tbed", "x"], np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"word 'tab\\tbed'"):
        wv.save_word2vec_format(tmp_path / "v.bin", binary=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, OSError])
def test_failed_save_leaves_old_file_and_no_temporary(tmp_path, awkward, monkeypatch, interrupt):
    path = tmp_path / "v.bin"
    path.write_bytes(b"old content")

    def half_write(fh, words, vecs):
        fh.write(b"3 5\npartial")
        raise interrupt("stop")

    monkeypatch.setattr(vectors_module, "_write_binary", half_write)
    with pytest.raises(interrupt):
        awkward.save_word2vec_format(path, binary=True)
    assert path.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["v.bin"]


@pytest.mark.parametrize("binary", [False, True])
def test_the_wrong_format_gets_a_hint(tmp_path, awkward, binary):
    path = tmp_path / "v"
    awkward.save_word2vec_format(path, binary=binary)
    assert vectors_module.file_format(path) == ("binary" if binary else "text")
    latin1 = tmp_path / "latin1.txt"                       # text in another encoding is still text
    latin1.write_bytes("1 2\ncaf\xe9 0.5 -1\n".encode("latin-1"))
    assert vectors_module.file_format(latin1) == "text"


def test_the_format_is_told_from_the_first_record(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(200):                                   # small binary files: raw floats, rarely a control byte
        wv = WordVectors(["a", "b", "c"], rng.standard_normal((3, 4)).astype(np.float32))
        for binary in (False, True):
            path = tmp_path / f"v{i}{binary}"
            wv.save_word2vec_format(path, binary=binary)
            assert vectors_module.file_format(path) == ("binary" if binary else "text"), (i, binary)
    odd = WordVectors(["a\x01b", "b"], np.ones((2, 3), dtype=np.float32))   # a control byte in a text word
    odd.save_word2vec_format(tmp_path / "odd.txt")
    assert vectors_module.file_format(tmp_path / "odd.txt") == "text"
    with pytest.raises(ValueError, match=f"the file looks {'binary' if binary else 'text'}: try binary={binary}"):
        WordVectors.load_word2vec_format(path, binary=not binary)


def test_headerless_text_round_trip_and_line_numbers(tmp_path, awkward):
    path = tmp_path / "glove.txt"
    awkward.save_word2vec_format(path, write_header=False)
    assert vectors_module.file_format(path) == "headerless" and path.read_bytes().startswith("café ".encode())
    back = WordVectors.load_word2vec_format(path, no_header=True)
    assert back.index_to_key == UNICODE_WORDS
    np.testing.assert_array_equal(back.vectors, awkward.vectors)
    assert WordVectors.load_word2vec_format(path, no_header=True, limit=2).index_to_key == UNICODE_WORDS[:2]
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2\nb 3 4\nc 5\n")
    with pytest.raises(ValueError, match="bad.txt line 3: expected 2 numbers, found 1"):   # line 1 is a vector
        WordVectors.load_word2vec_format(bad, no_header=True)
    with pytest.raises(ValueError, match="no_header=True is for the text format"):
        WordVectors.load_word2vec_format(bad, no_header=True, binary=True)


@pytest.mark.parametrize("binary", [False, True])
def test_counts_travel_in_an_fvocab_file(tmp_path, awkward, binary):
    counted = WordVectors(UNICODE_WORDS, awkward.vectors, counts=np.arange(60, 0, -10))
    path, vocab = tmp_path / "v", tmp_path / "vocab.txt"
    counted.save_word2vec_format(path, binary=binary, fvocab=vocab)
    assert vocab.read_text(encoding="utf8").splitlines()[:2] == ["café 60", "naïve 50"]
    back = WordVectors.load_word2vec_format(path, binary=binary, fvocab=vocab)
    np.testing.assert_array_equal(back.counts, counted.counts)
    vocab.write_text("café 60\n", encoding="utf8")
    with pytest.raises(ValueError, match="vocab.txt: no count for the word 'naïve'"):
        WordVectors.load_word2vec_format(path, binary=binary, fvocab=vocab)
    with pytest.raises(ValueError, match="these vectors have no counts to write"):
        awkward.save_word2vec_format(tmp_path / "w", fvocab=tmp_path / "w.vocab")
    counted.save_word2vec_format(path, fvocab=tmp_path / "vocab.txt.gz")                 # .gz: compressed
    assert gzip.decompress((tmp_path / "vocab.txt.gz").read_bytes()).startswith("café 60\n".encode())
    (tmp_path / "latin1.vocab").write_bytes("caf\xe9 60\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.vocab line 1: cannot decode as utf8"):
        WordVectors.load_word2vec_format(path, fvocab=tmp_path / "latin1.vocab")
    with pytest.raises(ValueError, match="write_header=False is for the text format"):
        counted.save_word2vec_format(tmp_path / "x.bin", binary=True, write_header=False)


def test_save_into_a_missing_directory_names_the_path(tmp_path, awkward):
    path = tmp_path / "missing" / "v.txt"
    with pytest.raises(FileNotFoundError, match=r"missing[/\\]v\.txt: cannot write there") as caught:
        awkward.save_word2vec_format(path)
    assert ".tmp" not in str(caught.value) and caught.value.errno == 2


def test_save_replaces_existing_file(tmp_path, awkward):
    path = tmp_path / "v.txt"
    path.write_text("stale")
    awkward.save_word2vec_format(str(path))
    assert WordVectors.load_word2vec_format(str(path)).index_to_key == UNICODE_WORDS


# ------------------------------------------------------------------ load errors

C_BIN = b"2 3\ncat " + struct.pack("<3f", 1, 2, 3) + b"\ndog " + struct.pack("<3f", 4, 5, 6) + b"\n"


def test_c_style_binary_loads(tmp_path):
    path = tmp_path / "c.bin"
    path.write_bytes(C_BIN)
    back = WordVectors.load_word2vec_format(path, binary=True)
    assert back.index_to_key == ["cat", "dog"]
    np.testing.assert_array_equal(back.vectors, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize(
    "data, message",
    [
        # header (4) + "cat " (4) + 12 + "\n" = 21; "dog " ends at 25; 5 of 12 bytes follow
        (C_BIN[:30], "c.bin: truncated at byte 30: expected 12 bytes of vector for word 'dog', found 5"),
        (C_BIN[:21], "c.bin: truncated at byte 21: the header announces 2 vectors, found 1"),
        (C_BIN[:23], "c.bin: truncated at byte 23: expected a word and a space at byte 21"),
        (b"2 3 4\n" + C_BIN[4:], "c.bin line 1: bad header b'2 3 4\\n'"),
        (b"two 3\n" + C_BIN[4:], "c.bin line 1: bad header"),
        (b"2 0\n", "vector_size >= 1"),
        (b"", "c.bin line 1: bad header b''"),
        (C_BIN.replace(b"dog", b"cat"), "c.bin: byte 21: duplicate word 'cat'"),
        (C_BIN + b"eel " + bytes(12), "c.bin: unexpected data at byte 38 after the 2 vectors"),
        (C_BIN.replace(b"dog", b"d\xffg"), "c.bin: byte 21: cannot decode word as utf8"),
    ],
)
def test_binary_errors_name_file_and_offset(tmp_path, data, message):
    path = tmp_path / "c.bin"
    path.write_bytes(data)
    with pytest.raises(ValueError) as exc:
        WordVectors.load_word2vec_format(path, binary=True)
    assert message in str(exc.value)
    assert str(path) in str(exc.value)


def test_binary_truncation_offset_in_a_large_file(tmp_path):
    """The offset stays right across the reader's 1 MiB chunks."""
    n, h = 3000, 100
    wv = WordVectors([f"w{i}" for i in range(n)], np.ones((n, h), dtype=np.float32))
    path = tmp_path / "big.bin"
    wv.save_word2vec_format(path, binary=True)
    data = path.read_bytes()
    record = len(b"w2999 ") + 4 * h + 1
    last_start = len(data) - record
    cut = len(data) - 100  # inside the last vector, far beyond the first 1 MiB chunk
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError) as exc:
        WordVectors.load_word2vec_format(path, binary=True)
    assert str(exc.value).endswith(
        f"truncated at byte {cut}: expected {4 * h} bytes of vector for word 'w2999', "
        f"found {cut - last_start - len(b'w2999 ')}"
    )


TEXT = "3 3\ncat 1 2 3\ndog 4 5 6\neel 7 8 9\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (TEXT.replace("dog 4 5 6", "dog 4 5"), "v.txt line 3: expected 3 numbers, found 2 (for word 'dog')"),
        (TEXT.replace("eel 7 8 9", "eel 7 8 9 10"), "v.txt line 4: expected 3 numbers, found 4"),
        (TEXT.replace("5", "five"), "v.txt line 3: 'five' is not a number (in the vector of word 'dog')"),
        (TEXT.replace("eel", "cat"), "v.txt: line 4: duplicate word 'cat' (first seen as vector 1)"),
        (TEXT[: TEXT.index("eel")], "v.txt line 4: truncated: the header announces 3 vectors, found 2"),
        (TEXT.replace("\ndog", "\n\ndog"), "v.txt line 3: empty line"),
        (TEXT + "fox 1 1 1\n", "v.txt line 5: unexpected data after the 3 vectors"),
        ("3\n" + TEXT[4:], "v.txt line 1: bad header"),
        ("3 three\n" + TEXT[4:], "v.txt line 1: bad header"),
        ("-1 3\n", "vocab_size must be >= 0"),
    ],
)
def test_text_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "v.txt"
    path.write_text(text, encoding="utf8")
    with pytest.raises(ValueError) as exc:
        WordVectors.load_word2vec_format(path)
    assert message in str(exc.value)


def test_text_error_line_numbers_in_gzip(tmp_path):
    path = tmp_path / "v.txt.gz"
    path.write_bytes(gzip.compress(TEXT.replace("eel 7 8 9", "eel 7 8").encode()))
    with pytest.raises(ValueError, match=r"v.txt.gz line 4: expected 3 numbers, found 2"):
        WordVectors.load_word2vec_format(path)


def test_empty_vocabulary_round_trip(tmp_path):
    wv = WordVectors([], np.zeros((0, 4), dtype=np.float32))
    for binary in (False, True):
        wv.save_word2vec_format(tmp_path / "e", binary=binary)
        back = WordVectors.load_word2vec_format(tmp_path / "e", binary=binary)
        assert len(back) == 0 and back.vector_size == 4


# -------------------------------------------------------------------- gensim


@pytest.fixture
def gensim_kv():
    gensim_models = pytest.importorskip("gensim.models")
    return gensim_models.KeyedVectors


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_our_files(tmp_path, awkward, gensim_kv, binary):
    path = tmp_path / "ours"
    awkward.save_word2vec_format(path, binary=binary)
    kv = gensim_kv.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == UNICODE_WORDS
    np.testing.assert_array_equal(kv.vectors, awkward.vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_we_read_gensims_files(tmp_path, awkward, gensim_kv, binary):
    kv = gensim_kv(vector_size=awkward.vector_size)
    kv.add_vectors(UNICODE_WORDS, awkward.vectors)
    path = tmp_path / "theirs"
    kv.save_word2vec_format(str(path), binary=binary)
    back = WordVectors.load_word2vec_format(path, binary=binary)
    assert back.index_to_key == UNICODE_WORDS
    np.testing.assert_array_equal(back.vectors, awkward.vectors)


def test_gensim_reads_our_headerless_files_and_counts(tmp_path, awkward, gensim_kv):
    counted = WordVectors(UNICODE_WORDS, awkward.vectors, counts=np.arange(60, 0, -10))
    counted.save_word2vec_format(tmp_path / "glove.txt", write_header=False, fvocab=tmp_path / "vocab.txt")
    kv = gensim_kv.load_word2vec_format(str(tmp_path / "glove.txt"), no_header=True,
                                        fvocab=str(tmp_path / "vocab.txt"))
    assert kv.index_to_key == UNICODE_WORDS
    np.testing.assert_array_equal(kv.vectors, awkward.vectors)
    assert [kv.get_vecattr(w, "count") for w in UNICODE_WORDS] == counted.counts.tolist()
    kv.save_word2vec_format(str(tmp_path / "theirs.bin"), binary=True, fvocab=str(tmp_path / "theirs.vocab"))
    back = WordVectors.load_word2vec_format(tmp_path / "theirs.bin", binary=True, fvocab=tmp_path / "theirs.vocab")
    assert back.counts.tolist() == counted.counts.tolist()


def test_queries_agree_with_gensim(gensim_kv):
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(300)]
    vecs = rng.standard_normal((300, 16)).astype(np.float32)
    ours = WordVectors(words, vecs)
    kv = gensim_kv(vector_size=16)
    kv.add_vectors(words, vecs)
    for pos, neg, limit in [(["w1", "w2"], ["w3"], None), ("w5", None, 100), (["w7"], ["w8", "w9"], 50)]:
        got = ours.most_similar(pos, neg, topn=10, restrict_vocab=limit)
        want = kv.most_similar(pos, neg, topn=10, restrict_vocab=limit)
        assert [w for w, _ in got] == [w for w, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-6)
        got = ours.most_similar_cosmul(pos, neg, topn=10)
        want = kv.most_similar_cosmul(pos, neg, topn=10)
        assert [w for w, _ in got] == [w for w, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5)
    assert ours.doesnt_match(words[:9]) == kv.doesnt_match(words[:9])
    assert ours.similarity("w1", "w2") == pytest.approx(float(kv.similarity("w1", "w2")), rel=1e-6)
    assert ours.distance("w1", "w2") == pytest.approx(float(kv.distance("w1", "w2")), rel=1e-5)
    assert ours.n_similarity(["w1", "w4"], ["w2", "w3", "w9"]) == pytest.approx(
        float(kv.n_similarity(["w1", "w4"], ["w2", "w3", "w9"])), rel=1e-5)
    np.testing.assert_allclose(ours.get_vector("w6", norm=True), kv.get_vector("w6", norm=True), rtol=1e-6)
    got, want = ours.similar_by_vector(vecs[10], topn=5), kv.similar_by_vector(vecs[10], topn=5)
    assert [w for w, _ in got] == [w for w, _ in want]
