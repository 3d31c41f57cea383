"""The CUDA engine's kernels (nsw2v/cuda/walk.cu) against the walk's sequential reference, on the CPU.

The kernels' own source runs through ``tests/cuda_emulator.py``: warps of 32 coroutine lanes that meet
at every shuffle, ballot and ``__syncwarp``, launched by the engine's own launch code
(``cuda_engine.Walk``) with NumPy arrays, every argument checked against the kernel's parameters. One
stream must give ``walk.reference``'s tables, loss and examples to float tolerance; streams one after
another (or interleaved, over rows no two streams share) the tables of the reference run stream after
stream. ``nvcc``, where installed, builds the source for the A100 and H100 (sm_80, sm_90) without spills.
On a GPU the same comparisons run through CuPy.
"""
import re
import shutil
import subprocess

import numpy as np
import pytest

import cuda_emulator
from cuda_emulator import CpuModule
from nsw2v import Word2Vec, backend
from nsw2v.errors import ParameterError
from nsw2v.training import cuda_engine, engines, walk
from nsw2v.vocab import Vocab
from conftest import chi2_critical, chi2_statistic

NVCC = shutil.which("nvcc")


@pytest.fixture(scope="session")
def emulator_folder(tmp_path_factory):
    if cuda_emulator.CXX is None:
        pytest.skip("no C++ compiler to run the CUDA source on the CPU")
    CpuModule.folder = str(tmp_path_factory.mktemp("emulated-kernels"))
    return CpuModule.folder


@pytest.fixture(params=["emulated", pytest.param("cupy", marks=pytest.mark.gpu)])
def device(request, monkeypatch, emulator_folder):
    """``(xp, interleave)``: NumPy with the kernels emulated (``backend.raw_module`` builds
    :class:`CpuModule`), or CuPy on a GPU. ``interleave(True)`` makes the emulated warps take turns."""
    monkeypatch.setattr(cuda_engine, "_modules", {})
    if request.param == "cupy":
        if not backend.gpu_available():
            pytest.skip("CuPy or a usable CUDA device is absent")
        return backend.resolve_xp("cupy"), lambda on: None

    def interleave(on):
        monkeypatch.setattr(backend, "raw_module", cuda_emulator.cpu_modules(on))
        monkeypatch.setattr(cuda_engine, "_modules", {})
    interleave(False)
    return np, interleave


def case(seed, V=12, m=60, H=8, sentences=8):
    """A small vocabulary (so that negatives hit their center and windows repeat words), a chunk of ``m``
    kept positions in about ``sentences`` sentences, random tables."""
    rng = np.random.default_rng(seed)
    vocab = Vocab([f"w{i}" for i in range(V)], np.sort(rng.integers(1, 200, V))[::-1])
    tables = walk.Tables.of(vocab, 0.75, 0.0)
    ids = rng.integers(0, V, m).astype(np.int32)
    sid = np.sort(rng.integers(0, sentences, m)).astype(np.int32)
    W_in = (rng.random((V, H)) - 0.5).astype(np.float32)
    W_out = ((rng.random((V, H)) - 0.5) * 0.3).astype(np.float32)
    return tables, ids, sid, W_in, W_out


def run_kernel(xp, sg, tables, ids, sid, W_in, W_out, key, streams, window, negative, lr0, lr1, aligned=True):
    """The tables after one launch of the kernel, and its ``(loss, examples)``."""
    a, b = xp.array(W_in), xp.array(W_out)                      # copies: NumPy would update the inputs
    run = cuda_engine.Walk(xp, sg, W_in.shape[1], window, negative, aligned)
    sums = run(a, b, xp.asarray(ids), xp.asarray(sid), key, xp.asarray(cuda_engine.packed_alias(tables)), streams,
               lr0, lr1)
    return backend.to_numpy(a), backend.to_numpy(b), [float(x) for x in backend.to_numpy(sums)]


def run_reference(sg, tables, ids, sid, W_in, W_out, key, streams, window, negative, lr0, lr1):
    a, b = W_in.copy(), W_out.copy()
    loss, examples = walk.reference(a, b, ids, sid, key, tables, streams, window, negative, sg, False, lr0, lr1)
    return a, b, [loss, examples]


def assert_same_training(got, want):
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=2e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=2e-6)
    assert got[2][0] == pytest.approx(want[2][0], rel=1e-5)
    assert got[2][1] == want[2][1]


# vector sizes: float4 in one chunk (100), floats (7, 130: not multiples of 4; 130 spans five chunks of 32),
# float4 over two chunks (200, past 128); windows and negatives past a warp's 32 lanes (20 -> 40 slots, 40)
SIZES = [(100, 5, 5), (7, 2, 1), (200, 3, 4), (130, 20, 40)]


@pytest.mark.parametrize("sg", [0, 1])
@pytest.mark.parametrize("H, window, negative", SIZES)
def test_one_stream_walks_as_the_reference(device, sg, H, window, negative):
    xp, _ = device
    tables, ids, sid, W_in, W_out = case(H + window, H=H, m=40 if negative > 30 else 60)
    key = walk.chunk_key(3, 1, 2)
    args = (tables, ids, sid, W_in, W_out, key, 1, window, negative, 0.05, 0.03)
    got, want = run_kernel(xp, sg, *args), run_reference(sg, *args)
    assert_same_training(got, want)
    assert not np.allclose(got[0], W_in) and not np.allclose(got[1], W_out)
    # the case holds what the kernel must get right: negatives that hit their center (skipped), words twice
    # in a window (skip-gram trains them once, counted twice), sentence ends
    hits = sum(walk.negatives(walk.center_key(key, q), int(ids[q]), negative, False, tables).count(int(ids[q]))
               for q in range(len(ids)))
    assert hits > 0


def test_rows_not_on_16_bytes_are_read_as_floats(device):
    """Tables whose rows do not start on 16 bytes (a view one float in) take the float layout."""
    xp, _ = device
    tables, ids, sid, W_in, W_out = case(5, H=100)
    key = walk.chunk_key(1, 0, 0)
    args = (tables, ids, sid, W_in, W_out, key, 1, 5, 5, 0.05, 0.05)
    assert cuda_engine.layout(100, aligned=False) == (1, 4)
    assert_same_training(run_kernel(xp, 0, *args, aligned=False), run_reference(0, *args))


@pytest.mark.parametrize("sg", [0, 1])
def test_streams_one_after_another_are_the_reference(device, sg):
    """Seven streams of 9 positions (63 > 61 kept: the last one shorter), each from the chunk's first rate to
    its last; warps run one after another, as the reference walks the streams."""
    xp, _ = device
    if backend.is_cupy(xp):
        pytest.skip("on a GPU the warps run at once: see the disjoint rows below")
    tables, ids, sid, W_in, W_out = case(7, m=61, H=12)
    key = walk.chunk_key(5, 0, 3)
    args = (tables, ids, sid, W_in, W_out, key, 7, 4, 3, 0.05, 0.01)
    assert_same_training(run_kernel(xp, sg, *args), run_reference(sg, *args))


@pytest.mark.parametrize("sg", [0, 1])
def test_interleaved_streams_over_disjoint_rows_are_the_reference(device, sg):
    """Warps taking turns at every collective (on a GPU: at once) over streams whose windows and rows no two
    streams share (negative=0: no draw from the common table) give the reference's tables."""
    xp, interleave = device
    interleave(True)
    streams, length, words = 6, 20, 5
    rng = np.random.default_rng(sg)
    ids = np.concatenate([s * words + rng.integers(0, words, length) for s in range(streams)]).astype(np.int32)
    sid = np.repeat(np.arange(streams * 4), length // 4).astype(np.int32)     # sentences end at streams' ends
    V = streams * words
    vocab = Vocab([f"w{i}" for i in range(V)], np.full(V, 10))
    tables = walk.Tables.of(vocab, 0.75, 0.0)
    W_in = (rng.random((V, 36)) - 0.5).astype(np.float32)
    W_out = ((rng.random((V, 36)) - 0.5) * 0.3).astype(np.float32)
    args = (tables, ids, sid, W_in, W_out, walk.chunk_key(2, 0, 0), streams, 3, 0, 0.05, 0.02)
    assert_same_training(run_kernel(xp, sg, *args), run_reference(sg, *args))


def test_the_kernels_negatives_follow_counts_to_the_power(device):
    """walk.cu's draw of a center's outputs, called by a small kernel over many centers: walk.negatives's
    draws, whose law is count ** 0.75 (chi-square)."""
    xp, _ = device
    harness = cuda_engine.source() + r"""
extern "C" __global__ void outputs(const u64* table, const int V, const u64 key, const long long centers,
                                   const int negative, int* out) {
    const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    for (long long q = warp; q < centers; q += ((long long)gridDim.x * blockDim.x) >> 5) {
        const u64 key_q = walk_mix(key ^ (u64)q);
        const int drawn = walk_first_draw(key_q, table, V, negative, threadIdx.x & 31);
        walk_outputs(out + q * (negative + 1), drawn, key_q, 3, table, V, negative, threadIdx.x & 31);
    }
}
"""
    vocab = Vocab([f"w{i}" for i in range(9)], np.array([500, 300, 120, 80, 40, 20, 9, 3, 1]))
    tables = walk.Tables.of(vocab, 0.75, 0.0)
    key, n, K = walk.chunk_key(9, 4, 1), 3000, 5
    out = xp.zeros((n, K + 1), dtype=xp.int32)
    module = backend.raw_module(xp, harness, ("-DVEC=4", "-DNCH=1"))
    module.get_function("outputs")((4,), (64,), (xp.asarray(cuda_engine.packed_alias(tables)), np.int32(9),
                                               np.uint64(key), np.int64(n), np.int32(K), out))
    out = backend.to_numpy(out)
    assert (out[:, 0] == 3).all()
    for q in (0, 1, 2, n - 1):
        assert out[q, 1:].tolist() == walk.negatives(walk.center_key(key, q), 3, K, False, tables)
    observed = np.bincount(out[:, 1:].ravel(), minlength=9)
    assert chi2_statistic(observed, tables.p * n * K) < chi2_critical(8)
    assert observed[3] > 0                     # the center is drawn too: the walk kernels skip those


def test_sizes_whose_shared_memory_does_not_fit_are_refused(device):
    xp, _ = device
    with pytest.raises(ParameterError, match="vector_size=4000 with negative=20 and window=5 needs"):
        cuda_engine.Walk(xp, 1, 4000, 5, 20)
    assert cuda_engine.block_shape(20_000) == (2, 40_000)          # fewer warps a block, not a refusal
    assert cuda_engine.block_shape(600) == (cuda_engine.WARPS_PER_BLOCK, 600 * cuda_engine.WARPS_PER_BLOCK)


def test_the_emulator_runs_warps_in_turn_and_refuses_divergent_warps(emulator_folder):
    """What the tests above rely on: interleaved warps see each other's writes mid-way; a warp whose lanes do
    not all reach a collective is an error, not a silent pass."""
    code = r"""
extern "C" __global__ void race(int* board, int* seen, const int rounds) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int r = 0; r < rounds; ++r) {
        if (lane == 0) board[warp] = r + 1;
        __syncwarp();
        if (lane == 0 && board[1 - warp] > seen[warp]) seen[warp] = board[1 - warp];
    }
}
extern "C" __global__ void diverge(int* x) {
    if ((threadIdx.x & 31) != 5) __syncwarp();
    x[0] = 1;
}
"""
    for interleave, seen0 in ((False, 0), (True, 5)):
        board, seen = np.zeros(2, np.int32), np.zeros(2, np.int32)
        CpuModule(code, (), interleave).get_function("race")((1,), (64,), (board, seen, np.int32(5)))
        assert seen.tolist() == [seen0, 5]
    with pytest.raises(RuntimeError, match="divergent warp"):
        CpuModule(code, ()).get_function("diverge")((1,), (32,), (np.zeros(1, np.int32),))
    with pytest.raises(AssertionError, match="rounds must be int32"):
        CpuModule(code, ()).get_function("race")((1,), (64,), (board, seen, 5))


# ---------------------------------------------------------------------------------------------- the engine


def corpus_file(tmp_path, n_sentences=150, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(30)]
    p = 1.0 / np.arange(1, 31)
    lines = [" ".join(rng.choice(words, size=rng.integers(2, 25), p=p / p.sum())) for _ in range(n_sentences)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def cuda_model(monkeypatch, xp, streams, **settings):
    """A Word2Vec whose engine is the CUDA engine, on NumPy through the emulator or on CuPy."""
    monkeypatch.setattr(engines, "choose", lambda model: "cuda")
    model = Word2Vec(xp=xp, verbose=False, **settings)
    model.streams = streams
    return model


@pytest.mark.parametrize("sg", [0, 1])
def test_word2vec_through_the_engine_is_the_reference(device, monkeypatch, tmp_path, sg):
    """Two epochs of Word2Vec(engine="cuda") with one stream, chunks of 250 words, subsampling: what the
    reference gives chunk by chunk with the same keys, rates, subsampling and tables."""
    xp, _ = device
    path = corpus_file(tmp_path)
    settings = dict(vector_size=20, window=3, negative=4, min_count=1, sg=sg, sample=0.02, seed=4,
                    chunk_words=250, epochs=2)
    model = cuda_model(monkeypatch, xp, 1, **settings)
    model.build_vocab(corpus_file=path)
    W_in, W_out = backend.to_numpy(model.W_in).copy(), backend.to_numpy(model.W_out).copy()
    model.train(corpus_file=path)
    tables = walk.Tables.of(model.vocab, model.ns_exponent, model.sample)
    schedule = engines.LearningRate(model.alpha, model.min_alpha, 2 * model.vocab.total_words)
    done, losses, history = 0, [], []
    for epoch in range(2):
        loss = examples = 0
        for number, (ids, sid) in enumerate(model._encoded[1].iter_chunks(model.chunk_words)):
            ids, sid = backend.to_numpy(ids), backend.to_numpy(sid)
            key = walk.chunk_key(model.seed, epoch, number)
            kept_ids, kept_sid = walk.subsample(np, ids, sid, tables.keep, key)
            got = walk.reference(W_in, W_out, kept_ids, kept_sid, key, tables, 1, model.window, model.negative, sg,
                                 False, schedule.at(done), schedule.at(done + len(ids)))
            loss, examples, done = loss + got[0], examples + got[1], done + len(ids)
            history.append((done, got[0] / got[1]))
        losses.append(loss / examples)
    # each chunk's loss, read once the next chunk is queued (the engine's lagged_loss), in the order of the chunks
    assert [(h["words"], h["loss"]) for h in model.loss_history] == \
        [(words, pytest.approx(loss, rel=1e-5)) for words, loss in history]
    assert number >= 3                                               # several chunks an epoch
    np.testing.assert_allclose(backend.to_numpy(model.W_in), W_in, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(model.W_out), W_out, rtol=1e-3, atol=1e-5)
    assert model.epoch_losses == pytest.approx(losses, rel=1e-5)
    assert model.words_trained == done


@pytest.mark.parametrize("sg", [0, 1])
def test_word2vec_with_interleaved_streams_learns(device, monkeypatch, sg):
    """Eight streams in flight at once (warps taking turns): two words that always share contexts end nearer
    each other than words that never do, and the loss falls."""
    xp, interleave = device
    interleave(True)
    rng = np.random.default_rng(sg)
    sentences = [["the", str(rng.choice(["cat", "dog"])), "eats", "the", "food", "and", "the",
                  str(rng.choice(["car", "bus"])), "drives", "fast"] for _ in range(300)]
    model = cuda_model(monkeypatch, xp, 8, vector_size=16, window=2, negative=3, min_count=1, sg=sg, sample=0,
                       epochs=4, alpha=0.05, seed=2)
    model.build_vocab(sentences)
    model.train(sentences)
    losses = model.epoch_losses
    assert losses[-1] < losses[0] - 0.15
    wv = model.wv
    assert wv.similarity("cat", "dog") > wv.similarity("cat", "car") + 0.2
    assert wv.similarity("car", "bus") > wv.similarity("bus", "dog") + 0.2


def test_default_streams_follow_the_corpus():
    assert cuda_engine.default_streams(10 ** 9) == cuda_engine.DEFAULT_STREAMS
    assert cuda_engine.default_streams(60_000) == 60_000 // cuda_engine.MIN_STREAM_WORDS
    assert cuda_engine.default_streams(10) == 1


def test_the_cuda_engine_takes_the_batched_path_only(monkeypatch):
    monkeypatch.setattr(backend, "is_cupy", lambda xp: True)          # as on CuPy, without one
    monkeypatch.setenv("NSW2V_FAST_GPU", "1")
    model = Word2Vec(xp="numpy", verbose=False)
    assert engines.choose(model) == "cuda"
    model.sampler = "exclusion"
    assert engines.choose(model) == "array"
    model.engine = "cuda"
    with pytest.raises(ParameterError, match="engine='cuda' draws negatives on the batched path"):
        engines.choose(model)


# ---------------------------------------------------------------------------------------------- the compiler

# vector_size 100 (float4; float4 atomics on sm_90, float ones on sm_80 as where NVRTC lacks them), 100 in
# floats (unaligned), 300
VARIANTS = [("-DVEC=4", "-DNCH=1", "-DWALK_VEC_ATOMIC=1"), ("-DVEC=1", "-DNCH=4"), ("-DVEC=4", "-DNCH=3")]


@pytest.mark.parametrize("defines", VARIANTS, ids=lambda d: " ".join(d))
def test_kernels_compile_for_the_gpu_without_spills(tmp_path, defines):
    """walk.cu built by nvcc for the A100 and the H100/H200 (sm_80, sm_90), as CuPy's NVRTC builds it: both
    kernels compile, spill nothing to local memory and keep no stack frame (h, the error and rows stay in
    registers), at most 64 registers a thread for rows up to 128 floats (32 warps an SM: the default 4,096
    streams at once on 132 SMs), and read rows four floats at a time where the layout says so."""
    if NVCC is None:
        pytest.skip("no nvcc: the CUDA compiler checks the kernels where it is installed")
    path = tmp_path / "walk.cu"
    path.write_text(cuda_engine.source())
    done = subprocess.run([NVCC, "-c", "-Xptxas", "-v", *defines, "-gencode", "arch=compute_80,code=sm_80",
                           "-gencode", "arch=compute_90,code=sm_90", "-o", str(tmp_path / "walk.o"), str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for arch in ("sm_80", "sm_90"):
        for name in cuda_engine.KERNELS.values():
            found = re.search(rf"Compiling entry function '{name}' for '{arch}'\n.*?Function properties for {name}\n"
                              rf"\s*(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads\n"
                              rf".*?Used (\d+) registers", done.stderr, re.S)
            assert found, f"{name} for {arch} not in the compiler's report:\n{done.stderr}"
            assert found.groups()[:3] == ("0", "0", "0"), f"{name} ({arch}) uses local memory:\n{done.stderr}"
            if "-DNCH=1" in defines or "-DVEC=1" in defines:        # rows up to 128 floats: 32 warps an SM
                assert int(found.group(4)) <= 64, f"{name} ({arch}) needs {found.group(4)} registers"
    if "-DVEC=4" in defines:
        ptx = tmp_path / "walk.ptx"
        subprocess.run([NVCC, "-ptx", *defines, "-arch=sm_90", "-o", str(ptx), str(path)], check=True)
        assert re.search(r"ld\.global(\.nc)?\.v4\.f32", ptx.read_text()), "rows are read as float4"
