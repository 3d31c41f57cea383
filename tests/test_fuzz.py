"""Fuzzing the readers (issue 14): random bytes, truncations, insertions and bit flips of valid files.

Every reader of a file the user gives — the vector files (word2vec text and
binary, GloVe's text, gzip or not, the ``word count`` file, nsw2v's own ``.kv``), the corpus readers
(``LineSentence``, ``Vocab.build_encoded``, the parallel reader, the array
reader of ``nsw2v.ingest``) and the model loader — must end each case with a
result or an :class:`~nsw2v.errors.Nsw2vError`: never another exception, a hang
(each case runs under an alarm) or a large allocation (each test runs with its
address space capped a little above what the process already holds: an
allocation of gigabytes fails with MemoryError, which is not an Nsw2vError).

``derandomize=True`` and a fixed number of examples keep the runs the same on
every machine (CI included); the counts are chosen to keep the module near 10 s
on 2 cores (``NSW2V_FUZZ_SCALE=100`` multiplies them, for a deep run).
"""
import collections
import gzip
import os
import resource
import signal

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from nsw2v import Word2Vec, WordVectors, cli, ingest  # noqa: E402
from nsw2v.corpus import LineSentence, text_blocks  # noqa: E402
from nsw2v.errors import Nsw2vError  # noqa: E402
from nsw2v.formats import read_counts  # noqa: E402
from nsw2v.parallel_read import count_and_encode_file  # noqa: E402
from nsw2v.vocab import Vocab  # noqa: E402

#: Address space a test may add to what the process holds: the readers of these small files need a few MB.
HEADROOM = 512 << 20
#: Seconds one case may take before it counts as a hang.
ALARM = 10
#: NSW2V_FUZZ_SCALE=100 runs a hundred times the cases (a deep run, minutes; still derandomized).
SCALE = int(os.environ.get("NSW2V_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    return settings(max_examples=examples * SCALE, derandomize=True, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


class Hang(Exception):
    """A case ran past the alarm."""


@pytest.fixture
def guarded():
    """The address-space cap and the alarm, for one test."""
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm + HEADROOM if hard == resource.RLIM_INFINITY else min(vm + HEADROOM, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

    def hang(signum, frame):
        raise Hang(f"a case ran past {ALARM} s")
    previous = signal.signal(signal.SIGALRM, hang)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


#: what the calls of :func:`clean` ended in since the last reset: "result" or "refused" (an Nsw2vError)
OUTCOMES: collections.Counter = collections.Counter()


def clean(call, *allowed):
    """Run ``call()`` under the alarm: its result, or None when it raised an Nsw2vError (or one of ``allowed``);
    any other exception fails the test."""
    signal.alarm(ALARM)
    try:
        result = call()
        OUTCOMES["result"] += 1
        return result
    except (Nsw2vError, *allowed):
        OUTCOMES["refused"] += 1
        return None
    finally:
        signal.alarm(0)


def outcomes_of(case) -> dict:
    """Run the fuzz ``case``: how many of its examples ended in a result and in the library's own refusal."""
    OUTCOMES.clear()
    case()
    return {"refused": OUTCOMES["refused"], "result": OUTCOMES["result"]}


def mutated(seed: bytes):
    """Random bytes, or ``seed`` cut short, with bytes inserted, or with bits flipped."""
    n = len(seed)
    flip = st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 7)), min_size=1, max_size=6)
    return st.one_of(
        st.binary(max_size=300),
        st.integers(0, n - 1).map(lambda cut: seed[:cut]),
        st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=12)).map(lambda t: seed[:t[0]] + t[1] + seed[t[0]:]),
        flip.map(lambda flips: _flipped(seed, flips)),
    )


def _flipped(seed: bytes, flips) -> bytes:
    data = bytearray(seed)
    for at, bit in flips:
        data[at] ^= 1 << bit
    return bytes(data)


# ------------------------------------------------------------------------------------------ the seeds

WORDS = ["the", "king", "queen", "caf\u00e9", "man", "woman"]


def _vectors_seeds(tmp):
    wv = WordVectors(WORDS, np.random.default_rng(0).normal(size=(len(WORDS), 3)).astype(np.float32),
                     counts=np.arange(len(WORDS), 0, -1))
    seeds = {}
    for name, kwargs in (("text", {}), ("binary", {"binary": True}), ("glove", {"write_header": False})):
        wv.save_word2vec_format(tmp / name, **kwargs)
        seeds[name] = (tmp / name).read_bytes()
    seeds["text.gz"] = gzip.compress(seeds["text"], mtime=0)
    seeds["binary.gz"] = gzip.compress(seeds["binary"], mtime=0)
    wv.save_word2vec_format(tmp / "with-counts", fvocab=tmp / "counts")
    seeds["counts"] = (tmp / "counts").read_bytes()
    wv.save(tmp / "native.kv")                      # nsw2v's own vectors file (WordVectors.save)
    seeds["native"] = (tmp / "native.kv").read_bytes()
    return seeds


CORPUS = "the king rules the land\nand the queen rules the land\n a man \u00e9t\u00e9 walks\n\n the cat .\n".encode()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seeds")
    found = _vectors_seeds(tmp)
    found["corpus"] = CORPUS
    found["corpus.gz"] = gzip.compress(CORPUS, mtime=0)
    sentences = [line.split() for line in CORPUS.decode().splitlines() if line.split()] * 5
    Word2Vec(sentences, vector_size=3, window=2, min_count=1, epochs=1, negative=2, xp="numpy",
             verbose=False).save(str(tmp / "model.npz"))
    found["model"] = (tmp / "model.npz").read_bytes()
    return found


@pytest.fixture(scope="module")
def case_path(tmp_path_factory):
    return tmp_path_factory.mktemp("case") / "case"


# ------------------------------------------------------------------------------------------- vector files


def _read_vectors_every_way(path):
    for binary in (False, True):
        clean(lambda: WordVectors.load_word2vec_format(path, binary=binary))
    clean(lambda: WordVectors.load_word2vec_format(path, no_header=True))
    clean(lambda: WordVectors.load_word2vec_format(path, binary=True, limit=2))
    clean(lambda: cli._load_vectors(str(path), None))           # the format told from the content, as the CLI does
    clean(lambda: read_counts(path, WORDS))


def headed(seed: bytes):
    """``seed`` under another ``vocab_size vector_size`` header, up to 10**12 each (what a header may claim)."""
    body = seed[seed.index(b"\n") + 1:]
    sizes = st.integers(0, 10 ** 12) | st.integers(0, 64)
    return st.tuples(sizes, sizes).map(lambda vh: f"{vh[0]} {vh[1]}\n".encode() + body)


@pytest.mark.parametrize("seed", ["text", "binary", "glove", "text.gz", "binary.gz", "counts"])
def test_vector_readers_end_in_a_result_or_their_own_error(seeds, case_path, guarded, seed):
    data = mutated(seeds[seed]) | headed(seeds[seed]) if seed in ("text", "binary") else mutated(seeds[seed])

    @fuzz(50)
    @given(data=data)
    def case(data):
        case_path.write_bytes(data)
        _read_vectors_every_way(case_path)
    outcomes = outcomes_of(case)
    assert outcomes["refused"] > 0 and outcomes["result"] > 0, outcomes      # both ends reached


def test_a_valid_vector_file_reads_back(seeds, case_path):
    """The seeds themselves read: the fuzzing starts from files the readers accept."""
    for name, binary in (("text", False), ("binary", True), ("text.gz", False), ("binary.gz", True)):
        case_path.write_bytes(seeds[name])
        assert WordVectors.load_word2vec_format(case_path, binary=binary).index_to_key == WORDS


def _zip_directory_edited(data: bytes, offset: int, value: int) -> bytes:
    """``data`` (a zip file) with the 2-byte field at ``offset`` of every central directory entry set to ``value``
    (8: the flags, bit 0 "encrypted"; 10: the compression method)."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        out[at + offset:at + offset + 2] = value.to_bytes(2, "little")
        at = out.find(b"PK\x01\x02", at + 4)
    return bytes(out)


@pytest.mark.parametrize("seed,load", [("model", lambda p: Word2Vec.load(str(p))), ("native", WordVectors.load)])
@pytest.mark.parametrize("field,value", [(8, 1), (10, 99)])
def test_found_by_fuzzing_an_encrypted_or_unknown_member_is_a_read_error(seeds, case_path, seed, load, field, value):
    """RuntimeError ("encrypted, password required") and NotImplementedError (an unknown compression method)
    came out of zipfile: the fuzzing found both in the native vectors loader (a bit flipped in the directory)."""
    npz = case_path.with_suffix(".npz")
    npz.write_bytes(_zip_directory_edited(seeds[seed], field, value))
    with pytest.raises(Nsw2vError):
        load(npz)


def test_the_native_vectors_loader_ends_in_a_result_or_its_own_error(seeds, case_path, guarded):
    @fuzz(100)
    @given(data=mutated(seeds["native"]))
    def case(data):
        case_path.write_bytes(data)
        wv = clean(lambda: WordVectors.load(case_path))
        if wv is not None:
            assert wv.vectors.shape == (len(wv.index_to_key), 3) and np.isfinite(wv.vectors).all()
    case()


# ------------------------------------------------------------------------------------------------ corpora


def _read_corpus_every_way(path, workers: bool):
    clean(lambda: list(text_blocks(path, block_chars=7)))
    clean(lambda: list(LineSentence(path, max_sentence_length=3)))
    clean(lambda: Vocab.build_encoded(LineSentence(path), min_count=1))
    clean(lambda: ingest.count_and_encode(np, ingest.read_bytes(path), min_count=1), ingest.Unsupported)
    if workers:
        clean(lambda: count_and_encode_file(path, min_count=1, workers=2, block_chars=16))


@pytest.mark.parametrize("seed", ["corpus", "corpus.gz"])
def test_corpus_readers_end_in_a_result_or_their_own_error(seeds, case_path, guarded, seed):
    @fuzz(50)
    @given(data=mutated(seeds[seed]))
    def case(data):
        case_path.write_bytes(data)
        _read_corpus_every_way(case_path, workers=False)
    outcomes = outcomes_of(case)
    assert outcomes["refused"] > 0 and outcomes["result"] > 0, outcomes      # both ends reached


def test_the_parallel_reader_ends_in_a_result_or_its_own_error(seeds, case_path, guarded):
    """Two forked reading processes per case: fewer cases."""
    @fuzz(12)
    @given(data=mutated(seeds["corpus.gz"]))
    def case(data):
        case_path.write_bytes(data)
        _read_corpus_every_way(case_path, workers=True)
    outcomes = outcomes_of(case)
    assert outcomes["refused"] > 0 and outcomes["result"] > 0, outcomes      # both ends reached


# --------------------------------------------------------------------------------------------- model files


def test_the_model_loader_ends_in_a_result_or_its_own_error(seeds, case_path, guarded):
    npz = case_path.with_suffix(".npz")

    @fuzz(150)
    @given(data=mutated(seeds["model"]))
    def case(data):
        npz.write_bytes(data)
        model = clean(lambda: Word2Vec.load(str(npz)))
        if model is not None:           # whatever loads is whole: tables of the vocabulary's size, finite
            assert model.W_in.shape == model.W_out.shape == (len(model.vocab), model.vector_size)
            assert np.isfinite(model.W_in).all() and np.isfinite(model.W_out).all()
            assert clean(lambda: model.wv.most_similar(model.wv.index_to_key[0], topn=2)) is not None
    case()
