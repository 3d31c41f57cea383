"""Tests for nsw2v.corpus: open_text and the streaming LineSentence."""
from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import List

import pytest

from nsw2v.corpus import BLOCK_CHARS, MAX_SENTENCE_LENGTH, LineSentence, open_text


def reference_sentences(text: str, max_sentence_length: int) -> List[List[str]]:
    """The definition, on text held whole: str.split per line, cut into pieces."""
    out = []
    for line in text.splitlines():
        tokens = line.split()
        out.extend(tokens[i:i + max_sentence_length] for i in range(0, len(tokens), max_sentence_length))
    return out


def write(path: Path, text: str, compress: bool = False) -> Path:
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_defaults():
    assert MAX_SENTENCE_LENGTH == 10000
    assert LineSentence("unused.txt").max_sentence_length == 10000
    assert LineSentence("unused.txt").block_chars == BLOCK_CHARS


@pytest.mark.parametrize("compress", [False, True])
def test_open_text_detects_gzip_by_magic_not_name(tmp_path, compress):
    # The names lie on purpose: a gzip file without .gz and a plain file with .gz.
    path = write(tmp_path / ("data.txt" if compress else "data.gz"), "héllo wörld\n", compress)
    with open_text(path) as f:
        assert f.read() == "héllo wörld\n"


def test_open_text_replaces_invalid_utf8(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok \xff\xfe fine\n")
    with open_text(path) as f:
        assert f.read() == "ok \ufffd\ufffd fine\n"


def test_other_compressions_are_refused_by_every_reader(tmp_path):
    """bzip2 and xz files (stdlib-made) are named, not read as text; text that merely starts "BZh" is text."""
    import bz2
    import lzma
    from nsw2v import WordVectors
    from nsw2v.ingest import read_bytes
    for name, data, kind in (("c.txt.bz2", bz2.compress(b"a b c\n"), "bzip2"),
                             ("c.xz", lzma.compress(b"a b c\n"), "xz")):
        path = tmp_path / name
        path.write_bytes(data)
        for read in (lambda p: list(LineSentence(p)), read_bytes, WordVectors.load_word2vec_format):
            with pytest.raises(ValueError, match=f"{name}: a {kind}-compressed file"):
                read(str(path))
    plain = tmp_path / "plain.txt"
    plain.write_text("BZh9 is a token\n")                  # bzip2's first four bytes, then no block magic
    assert list(LineSentence(plain)) == [["BZh9", "is", "a", "token"]]


def test_open_text_missing_file_names_path(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        open_text(missing)


def test_line_sentence_missing_file_raises_on_iteration(tmp_path):
    sentences = LineSentence(tmp_path / "nope.txt.gz")
    with pytest.raises(FileNotFoundError, match="nope.txt.gz"):
        list(sentences)


@pytest.mark.parametrize("compress", [False, True])
def test_lines_tokens_and_empty_lines(tmp_path, compress):
    text = "the quick  brown\tfox\n\n   \n jumps over\n\nthe lazy dog\n"
    path = write(tmp_path / "c.txt", text, compress)
    assert list(LineSentence(path)) == [
        ["the", "quick", "brown", "fox"],
        ["jumps", "over"],
        ["the", "lazy", "dog"],
    ]


@pytest.mark.parametrize("compress", [False, True])
def test_final_newline_makes_no_difference(tmp_path, compress):
    body = "a b c\nd e\nf"
    with_nl = list(LineSentence(write(tmp_path / "with.txt", body + "\n", compress)))
    without = list(LineSentence(write(tmp_path / "without.txt", body, compress)))
    assert with_nl == without == [["a", "b", "c"], ["d", "e"], ["f"]]


def test_windows_and_old_mac_line_endings(tmp_path):
    path = write(tmp_path / "crlf.txt", "a b\r\nc\rd e\r\n")
    assert list(LineSentence(path)) == [["a", "b"], ["c"], ["d", "e"]]


def test_long_line_is_cut_into_pieces(tmp_path):
    words = [f"w{i}" for i in range(25)]
    path = write(tmp_path / "long.txt", " ".join(words) + "\nshort line\n")
    got = list(LineSentence(path, max_sentence_length=10))
    assert [len(s) for s in got] == [10, 10, 5, 2]
    assert got[0] == words[:10] and got[1] == words[10:20] and got[2] == words[20:]
    assert got[3] == ["short", "line"]


def test_line_of_exact_multiple_gives_no_empty_piece(tmp_path):
    path = write(tmp_path / "exact.txt", " ".join(map(str, range(20))))
    assert [len(s) for s in LineSentence(path, max_sentence_length=10)] == [10, 10]


def test_pieces_are_cut_across_block_boundaries(tmp_path):
    # One line much longer than a block: pieces must be cut while streaming.
    words = [f"tok{i}" for i in range(1000)]
    path = write(tmp_path / "one_line.txt.gz", " ".join(words), compress=True)
    got = list(LineSentence(path, max_sentence_length=64, block_chars=37))
    assert [len(s) for s in got] == [64] * 15 + [40]
    assert [t for s in got for t in s] == words


def test_token_straddling_block_boundary(tmp_path):
    # With 4-character blocks "abcdefgh" arrives as "abcd" + "efgh": it must stay one token.
    path = write(tmp_path / "straddle.txt", "abcdefgh ij\nklmnopqrstu v")
    for block_chars in (1, 2, 3, 4, 5, 1000):
        got = list(LineSentence(path, block_chars=block_chars))
        assert got == [["abcdefgh", "ij"], ["klmnopqrstu", "v"]], block_chars


def test_matches_reference_on_random_text(tmp_path):
    rng = random.Random(0)
    pieces = ["a", "bb", "ccc", "dddd", "é", "𝔘x", " ", "  ", "\t", "\n", "\n\n", " \n "]
    weights = [5, 5, 5, 5, 2, 2, 10, 2, 2, 3, 1, 1]
    for trial in range(20):
        text = "".join(rng.choices(pieces, weights, k=rng.randrange(0, 400)))
        for compress in (False, True):
            path = write(tmp_path / f"r{trial}_{compress}.txt", text, compress)
            for max_len in (1, 2, 3, 7, 10000):
                expected = reference_sentences(text, max_len)
                for block_chars in (1, 2, 5, 16, 64, BLOCK_CHARS):
                    got = list(LineSentence(path, max_len, block_chars=block_chars))
                    assert got == expected, (trial, compress, max_len, block_chars)


def test_re_iterable(tmp_path):
    path = write(tmp_path / "again.txt.gz", "x y\nz\n", compress=True)
    sentences = LineSentence(path)
    first = list(sentences)
    assert first == [["x", "y"], ["z"]]
    assert list(sentences) == first
    # Two iterators at once read independently.
    it1, it2 = iter(sentences), iter(sentences)
    assert next(it1) == ["x", "y"]
    assert next(it2) == ["x", "y"]
    assert next(it1) == ["z"]


def test_empty_file_yields_nothing(tmp_path):
    assert list(LineSentence(write(tmp_path / "empty.txt", ""))) == []
    assert list(LineSentence(write(tmp_path / "empty.gz", "", compress=True))) == []
    assert list(LineSentence(write(tmp_path / "blank.txt", "\n \n\t\n"))) == []


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_max_sentence_length_is_validated(bad):
    with pytest.raises(ValueError, match="max_sentence_length"):
        LineSentence("unused.txt", max_sentence_length=bad)


def test_block_chars_is_validated():
    with pytest.raises(ValueError, match="block_chars"):
        LineSentence("unused.txt", block_chars=0)
