"""The array-level reader (nsw2v.ingest) gives exactly what LineSentence + Vocab.build_encoded give."""
import gzip

import numpy as np
import pytest

import nsw2v.ingest as ingest
from nsw2v import backend
from nsw2v.corpus import LineSentence
from nsw2v.errors import ReadError
from nsw2v.ingest import Unsupported, count_and_encode, read_bytes
from nsw2v.vocab import Vocab
from conftest import data_file


def expected(path, min_count, max_sentence_length):
    return Vocab.build_encoded(LineSentence(path, max_sentence_length), min_count=min_count)


def assert_same(path, xp, min_count=2, max_sentence_length=10000, chunk_words=(1, 7, 10 ** 6), piece_bytes=None):
    want_vocab, want = expected(path, min_count, max_sentence_length)
    text = read_bytes(path) if piece_bytes is None else ingest.read_pieces(path, piece_bytes)
    got_vocab, got = count_and_encode(xp, text, min_count, max_sentence_length, source=str(path))
    assert got_vocab.index_to_key == want_vocab.index_to_key
    np.testing.assert_array_equal(got_vocab.counts, want_vocab.counts)
    assert (got_vocab.raw_words, got_vocab.sentences_seen) == (want_vocab.raw_words, want_vocab.sentences_seen)
    for size in chunk_words:
        a = [sentences(i, s) for i, s in got.iter_chunks(size)]
        b = [sentences(i, s) for i, s in want.iter_chunks(size)]
        assert a == b, size


def sentences(ids, sid):
    """A chunk's sentences as lists of ids (engines compare sentence numbers only for equality: the device
    reader's chunks number them over the corpus, the host's from 0 in each chunk)."""
    ids, sid = backend.to_numpy(ids).tolist(), backend.to_numpy(sid)
    cuts = (np.flatnonzero(np.diff(sid)) + 1).tolist()
    return [ids[a:b] for a, b in zip([0] + cuts, cuts + [len(ids)])]


# Lines, tabs, \r\n and lone \r, the ASCII separators str.split() splits on (\x0b \x0c \x1c..\x1f),
# leading and trailing whitespace, empty lines, a line of one word, non-ASCII letters, no final newline.
TRICKY = ("the cat sat on the mat\n\n  the dog\tsat\r\non the log\rthe end\x0bcat\x0cdog\x1cthe\x1dmat"
          "\x1ecat\x1fdog \n café naïve café 日本 日本 the\n cat \n" + "the cat " * 30 + "dog")


@pytest.mark.parametrize("max_sentence_length", [3, 10000])
@pytest.mark.parametrize("piece_bytes", [None, 1, 16, 64])
def test_tricky_text_plain_and_gzip(tmp_path, xp, max_sentence_length, piece_bytes):
    """The whole text at once, or in pieces (down to a token a piece: lines, \r\n and sentences cut into
    pieces of max_sentence_length go on across them)."""
    plain = tmp_path / "tricky.txt"
    plain.write_bytes(TRICKY.encode("utf-8"))
    packed = tmp_path / "tricky.gz"                                  # told by its magic, not its name
    packed.write_bytes(gzip.compress(TRICKY.encode("utf-8")))
    for path in (plain, packed):
        assert_same(path, xp, min_count=2, max_sentence_length=max_sentence_length, piece_bytes=piece_bytes)
        assert_same(path, xp, min_count=1, max_sentence_length=max_sentence_length, piece_bytes=piece_bytes)


def test_random_corpus_with_long_lines(tmp_path, xp):
    rng = np.random.default_rng(4)
    words = np.array([f"w{i}" for i in range(300)])
    lines = [" ".join(words[rng.zipf(1.4, rng.integers(0, 60)) % 300]) for _ in range(300)]
    lines += [" ".join(words[rng.integers(0, 300, 2500)])]             # a line cut into pieces
    path = tmp_path / "random.txt"
    path.write_text("\n".join(lines))
    assert_same(path, xp, min_count=3, max_sentence_length=1000, chunk_words=(50, 1000, 10 ** 6))
    assert_same(path, xp, min_count=3, max_sentence_length=1000, chunk_words=(50, 10 ** 6), piece_bytes=3000)


def test_lee_corpus(xp):
    assert_same(data_file("corpora/lee_background.cor"), xp, min_count=5)


def test_read_bytes_reads_gzip_as_gzip_does(tmp_path):
    """Several members with zero padding between them, as gzip.open reads them; a limit; a cut file."""
    import gzip
    text = [b"the cat sat\n" * 300, b"on the mat\n", b"", b"a dog\n" * 5000]
    path = tmp_path / "members.txt.gz"
    path.write_bytes(gzip.compress(text[0]) + gzip.compress(text[1]) + b"\0" * 7 + gzip.compress(text[2])
                     + gzip.compress(text[3]))
    with gzip.open(path, "rb") as fh:
        want = fh.read()
    assert want == b"".join(text)
    assert read_bytes(path).tobytes() == want
    assert read_bytes(path, limit=len(want)).tobytes() == want
    with pytest.raises(Unsupported, match=f"longer than {len(want) - 1} bytes"):
        read_bytes(path, limit=len(want) - 1)
    with pytest.raises(Unsupported, match="longer than 100 bytes"):
        read_bytes(path, limit=100)
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ReadError, match="cut.txt.gz: truncated gzip data"):
        read_bytes(cut)
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(gzip.compress(b"fine") + b"not gzip")
    with pytest.raises(ReadError, match="bad.txt.gz: corrupt gzip data"):
        read_bytes(bad)


def test_python_whitespace_outside_ascii_is_refused(tmp_path, xp):
    """str.split() splits on these, bytes do not: such text goes to LineSentence instead."""
    spaces = [chr(c) for c in range(0x80, 0x110000) if chr(c).isspace()]
    assert len(spaces) == 19                                          # the list in ingest._non_ascii_space
    for space in spaces:
        path = tmp_path / "space.txt"
        path.write_bytes(f"the cat{space}sat the cat".encode("utf-8"))
        with pytest.raises(Unsupported, match="whitespace outside ASCII"):
            count_and_encode(xp, read_bytes(path), 1)
    ascii_spaces = [chr(c) for c in range(0x80) if chr(c).isspace()]
    assert np.flatnonzero(ingest._SPACE).tolist() == [ord(c) for c in ascii_spaces]


def test_invalid_utf8_is_refused(tmp_path, xp):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"the cat \xff\xfe sat the cat")
    with pytest.raises(Unsupported, match="not valid UTF-8 at byte 8"):
        count_and_encode(xp, read_bytes(path), 1)


def test_a_hash_collision_is_detected(tmp_path, xp, monkeypatch):
    monkeypatch.setattr(ingest, "_MODULI", ((7, 3), (5, 2)))          # 35 keys: words must collide
    path = tmp_path / "words.txt"
    path.write_text(" ".join(f"w{i}" for i in range(100)))
    with pytest.raises(Unsupported, match="two words share a hash"):
        count_and_encode(xp, read_bytes(path), 1)


def test_errors_as_vocab_build(tmp_path, xp):
    path = tmp_path / "empty.txt"
    path.write_bytes(b" \n\t\n")
    with pytest.raises(ValueError, match="e.txt: the corpus has no tokens"):
        count_and_encode(xp, read_bytes(path), 1, source="e.txt")
    path.write_bytes(b"a b c a b a")
    with pytest.raises(ValueError, match=r"no tokens left after min_count=4 \(largest count is 3\)"):
        count_and_encode(xp, read_bytes(path), 4)


def test_read_bytes_limit(tmp_path):
    path = tmp_path / "ten.txt"
    path.write_bytes(b"0123456789")
    assert read_bytes(path, limit=10).tobytes() == b"0123456789"
    with pytest.raises(Unsupported, match="longer than 9 bytes"):
        read_bytes(path, limit=9)


def test_powers_by_doubling():
    for n in (1, 2, 3, 17, 64, 1000):
        assert ingest._powers(1_000_003, 2_147_483_647, n).tolist() == \
            [pow(1_000_003, i, 2_147_483_647) for i in range(n)]


@pytest.mark.parametrize("chunk_words", [1, 5, 37, 10 ** 6])
def test_resident_chunks_are_the_host_chunks_as_views(xp, chunk_words):
    """A ResidentCorpus cuts the chunks EncodedCorpus cuts from the same sentences, as slices of its arrays
    (nothing copied per epoch), and gives a host copy as batches."""
    from nsw2v.vocab import EncodedCorpus
    rng = np.random.default_rng(chunk_words)
    lengths = rng.integers(1, 20, 60)
    ids = rng.integers(0, 50, int(lengths.sum())).astype(np.int32)
    sid = np.repeat(np.arange(60) * 3, lengths).astype(np.int32)      # numbered with gaps, as ingest numbers them
    resident = ingest.ResidentCorpus(xp.asarray(ids), xp.asarray(sid), lengths)
    got = list(resident.iter_chunks(chunk_words))
    assert [sentences(i, s) for i, s in got] == \
        [sentences(i, s) for i, s in EncodedCorpus([(ids, lengths)]).iter_chunks(chunk_words)]
    assert all(i.base is resident.ids and s.base is resident.sid for i, s in got)
    assert resident.batches[0][0].tolist() == ids.tolist() and resident.batches[0][1] is resident.lengths
    with pytest.raises(ValueError, match="chunk_words=0 must be >= 1"):
        ingest.chunk_bounds(lengths, 0)


def test_a_file_in_pieces_read_while_the_device_scans(tmp_path, xp):
    """count_and_encode_file: pieces cut after whitespace, gunzipped in a thread; a token longer than a piece
    makes its piece longer; the limit is checked as the text comes."""
    text = ("alpha beta\ngamma " * 40 + "x" * 300 + " beta\n").encode()
    path = tmp_path / "corpus.gz"
    path.write_bytes(gzip.compress(text))
    pieces = list(ingest.read_pieces(str(path), 64))
    assert b"".join(p.tobytes() for p in pieces) == text
    assert all(p[-1] in b" \n" for p in pieces) and max(p.size for p in pieces) > 300 > 64
    vocab, encoded = ingest.count_and_encode_file(xp, str(path), min_count=1, piece_bytes=64)
    want_vocab, want = expected(path, 1, 10000)
    assert vocab.index_to_key == want_vocab.index_to_key and vocab.counts.tolist() == want_vocab.counts.tolist()
    assert [sentences(i, s) for i, s in encoded.iter_chunks(30)] == [sentences(i, s) for i, s in want.iter_chunks(30)]
    with pytest.raises(Unsupported, match="longer than 100 bytes of text"):
        ingest.count_and_encode_file(xp, str(path), piece_bytes=64, limit=100)


def test_a_hash_shared_by_words_in_two_pieces_is_found(tmp_path, xp, monkeypatch):
    """With tiny moduli many words share a hash: two such words, each alone in its piece, pass each piece's
    own check and must be caught across the pieces."""
    monkeypatch.setattr(ingest, "_MODULI", ((7, 3), (5, 2)))
    spelled = {}
    for word in (f"{a}{b}" for a in "abcdefgh" for b in "abcdefgh"):
        scan = ingest._scan(np, np.frombuffer(word.encode(), np.uint8), "w", 0, 0)
        clash = spelled.setdefault(int(scan.key[0]), word)
        if clash != word:
            break
    assert clash != word
    path = tmp_path / "clash.txt"
    path.write_text(f"{clash} {clash}\n{word}\n")
    with pytest.raises(Unsupported, match="two words share a hash"):
        count_and_encode(xp, ingest.read_pieces(str(path), 4), min_count=1)
    with pytest.raises(Unsupported, match="two words share a hash"):
        count_and_encode(xp, read_bytes(str(path)), min_count=1)     # in one piece: the piece's own check
