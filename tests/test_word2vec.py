"""The Word2Vec facade: batches, windows, subsampling, learning rate, loss, persistence, errors."""
import json

import numpy as np
import pytest

from nsw2v import Word2Vec, backend, word2vec
from nsw2v.training.plan import plan_chunk as _plan_chunk
from conftest import chi2_critical, chi2_statistic, data_file

SENTENCES = [["a", "b", "c", "d", "e", "f", "g"], ["h", "i", "j"], ["k", "l", "m", "n", "o", "p", "q", "r", "s"]] * 20


def plan(ids, sid, window, batch_size, seed=0, keep_p=None):
    xp = np
    return _plan_chunk(xp, backend.make_rng(xp, seed), np.asarray(ids, np.int32), np.asarray(sid, np.int32),
                       keep_p, window, batch_size)


def test_steps_take_one_position_from_each_stream():
    ids = np.arange(10)
    p = plan(ids, np.zeros(10), window=1, batch_size=3)
    # 10 positions in 3 streams of 4 (the last holds 2): steps take [0,4,8], [1,5,9], [2,6], [3,7]
    steps = [p.centers[p.bounds[j]:p.bounds[j + 1]].tolist() for j in range(len(p.bounds) - 1)]
    assert steps == [[0, 4, 8], [1, 5, 9], [2, 6], [3, 7]]


def test_windows_never_cross_a_sentence_and_respect_the_shrunk_window():
    ids = np.arange(12)
    sid = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    window = 3
    p = plan(ids, sid, window, batch_size=4, seed=1)
    offsets = np.array([-3, -2, -1, 1, 2, 3])
    for center, valid, ctx in zip(p.centers, p.valid, p.ctx):
        chosen = ctx[valid]
        assert all(sid[c] == sid[center] for c in chosen)
        assert center not in chosen
        # the valid offsets are exactly those within some effective window 1..3 and inside the sentence
        dist = np.abs(offsets[valid])
        w_eff = dist.max() if dist.size else None
        if w_eff is not None:
            expected = [center + o for o in offsets if abs(o) <= w_eff and 0 <= center + o < 12
                        and sid[center + o] == sid[center]]
            assert sorted(chosen.tolist()) == sorted(expected)


def test_window_shrink_is_uniform_over_1_to_window():
    n, window = 30000, 4
    p = plan(np.arange(n) % 50, np.zeros(n), window, batch_size=1000, seed=2)
    offsets = np.array([o for o in range(-window, window + 1) if o])
    # the farthest valid offset is the effective window (except at the corpus ends: 8 of 30000)
    w_eff = np.abs(np.where(p.valid, offsets[None, :], 0)).max(axis=1)
    observed = np.bincount(w_eff, minlength=window + 1)[1:]
    expected = np.full(window, len(w_eff) / window)
    assert chi2_statistic(observed, expected) < chi2_critical(window - 1)


def test_subsampling_keeps_each_word_with_its_probability():
    n = 200000
    ids = np.arange(n) % 4
    keep_p = np.array([0.1, 0.5, 0.9, 1.0], np.float32)
    p = plan(ids, np.zeros(n), 2, batch_size=512, seed=3, keep_p=keep_p)
    kept = np.bincount(p.centers, minlength=4)
    expected = keep_p * (n / 4)
    # binomial: within 5 standard deviations
    sd = np.sqrt((n / 4) * keep_p * (1 - keep_p))
    assert np.all(np.abs(kept - expected) <= 5 * sd + 1e-9)


def test_untrained_loss_is_exactly_1_plus_k_times_ln2_per_example():
    # W_out starts at zero, so every score is 0 and each example costs (1 + negative) ln 2;
    # a learning rate of ~0 keeps it there: this checks the per-example averaging of the loss.
    model = Word2Vec(SENTENCES, vector_size=8, window=2, min_count=1, negative=3, epochs=2, alpha=1e-12,
                     min_alpha=0.0, sample=0, xp="numpy", verbose=False)
    assert model.epoch_losses == pytest.approx([4 * np.log(2)] * 2, rel=1e-6)
    history = model.loss_history
    total = sum(h["examples"] for h in history)
    assert total == 2 * model.vocab.total_words                       # CBOW: one example per word
    assert all(h["loss"] == pytest.approx(4 * np.log(2), rel=1e-6) for h in history)


@pytest.mark.parametrize("sg", [0, 1])
def test_learning_rate_falls_linearly_and_loss_falls(xp, sg):
    model = Word2Vec(SENTENCES * 10, vector_size=10, window=2, min_count=1, negative=2, epochs=3, alpha=0.05,
                     min_alpha=0.001, sample=0, batch_size=16, xp=xp, sg=sg, verbose=False, chunk_words=300)
    alphas = [h["alpha"] for h in model.loss_history]
    words = np.array([h["words"] for h in model.loss_history], dtype=float)
    assert all(a >= b for a, b in zip(alphas, alphas[1:]))
    assert alphas[0] <= 0.05 and alphas[-1] >= 0.001
    total = 3 * model.vocab.total_words
    # each record's alpha is the linear schedule at the record's progress (within one chunk)
    assert np.allclose(alphas, 0.05 - (0.05 - 0.001) * words / total, atol=0.05 * 300 / total + 1e-9)
    assert model.epoch_losses[-1] < model.epoch_losses[0]


def test_every_word_of_a_one_line_file_is_trained(tmp_path):
    path = tmp_path / "one_line.txt"
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.integers(0, 30, 25000)]
    path.write_text(" ".join(words))                                  # one line, no final newline
    model = Word2Vec(corpus_file=str(path), vector_size=8, min_count=1, epochs=1, sample=0, xp="numpy",
                     verbose=False, chunk_words=4000)
    assert model.words_trained == 25000
    assert sum(h["examples"] for h in model.loss_history) == 25000    # no sentence of 1 word here


def test_corpus_kept_encoded_trains_exactly_as_reading_it_again(tmp_path):
    """build_vocab(corpus_file=...) keeps the corpus encoded; training on it equals re-reading the file."""
    path = tmp_path / "corpus.txt"
    rng = np.random.default_rng(3)
    path.write_text("\n".join(" ".join(f"w{i}" for i in rng.zipf(1.3, rng.integers(1, 40)) % 200)
                              for _ in range(400)))
    kw = dict(corpus_file=str(path), vector_size=8, min_count=2, epochs=2, xp="numpy", verbose=False,
              chunk_words=700)
    kept = Word2Vec(**kw)
    assert kept._encoded is not None
    reread = Word2Vec(max_vocab_size=10 ** 9, **kw)        # a (never reached) bound: counted, not kept
    assert reread._encoded is None
    assert kept.vocab.index_to_key == reread.vocab.index_to_key
    np.testing.assert_array_equal(kept.wv.vectors, reread.wv.vectors)
    assert kept.loss_history == reread.loss_history
    # a file changed after build_vocab is read again, not taken from the kept copy
    path.write_text(" ".join(["w1"] * 50 + ["w2"] * 50))
    kept.train(corpus_file=str(path), epochs=1)
    assert kept.words_trained == 2 * kept.vocab.total_words + 100


def test_array_reader_trains_as_the_token_reader(tmp_path, xp, monkeypatch):
    """corpus_file read by nsw2v.ingest (CuPy's default) or token by token gives the same model."""
    import nsw2v.word2vec as w2v
    path = tmp_path / "corpus.txt"
    rng = np.random.default_rng(5)
    path.write_text("\n".join(" ".join(f"w{i}" for i in rng.zipf(1.3, rng.integers(1, 30)) % 150)
                              for _ in range(300)))
    # the array engine: the CUDA engine's streams (NSW2V_FAST_GPU=1 on CuPy) land in no fixed order
    kw = dict(corpus_file=str(path), vector_size=8, min_count=2, epochs=1, xp=xp, verbose=False, engine="array")
    monkeypatch.setattr(w2v, "_array_reader", lambda xp: True)
    calls = []
    real = w2v.ingest.count_and_encode
    monkeypatch.setattr(w2v.ingest, "count_and_encode", lambda *a, **k: calls.append(1) or real(*a, **k))
    arrays = Word2Vec(**kw)
    monkeypatch.setattr(w2v, "_array_reader", lambda xp: False)
    tokens = Word2Vec(**kw)
    assert calls == [1]
    assert arrays.vocab.index_to_key == tokens.vocab.index_to_key
    np.testing.assert_array_equal(arrays.wv.vectors, tokens.wv.vectors)


def test_a_text_too_long_for_device_memory_is_read_token_by_token(tmp_path, monkeypatch, capsys):
    import nsw2v.word2vec as w2v
    path = tmp_path / "corpus.txt"
    path.write_text("a b c a b a d e f g\n" * 12)                 # 240 bytes
    monkeypatch.setattr(w2v, "_array_reader", lambda xp: True)
    monkeypatch.setattr(w2v.backend, "device_free_bytes", lambda xp: 100 * w2v.ingest.DEVICE_BYTES_PER_TEXT_BYTE)
    model = Word2Vec(corpus_file=str(path), vector_size=4, min_count=1, negative=2, epochs=1, xp="numpy")
    assert model.vocab.index_to_key == ["a", "b", "c", "d", "e", "f", "g"]
    err = capsys.readouterr().err
    assert "token by token" in err and "longer than 100 bytes of text" in err


@pytest.mark.parametrize("fast", ["0", "1"])
def test_same_seed_same_vectors_and_other_seed_differs(xp, fast, monkeypatch):
    monkeypatch.setenv("NSW2V_FAST_GPU", fast)                     # CuPy: array code, or the CUDA engine
    kw = dict(vector_size=8, window=2, min_count=1, epochs=2, xp=xp, verbose=False)
    a = Word2Vec(SENTENCES, seed=5, **kw).wv.vectors
    b = Word2Vec(SENTENCES, seed=5, **kw).wv.vectors
    c = Word2Vec(SENTENCES, seed=6, **kw).wv.vectors
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_save_load_continue(tmp_path):
    kw = dict(vector_size=8, window=2, min_count=1, epochs=1, xp="numpy", verbose=False, seed=3)
    model = Word2Vec(SENTENCES, **kw)
    model.save(str(tmp_path / "m.npz"))
    loaded = Word2Vec.load(str(tmp_path / "m.npz"), xp="numpy")
    np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)
    assert loaded.vocab.index_to_key == model.vocab.index_to_key
    assert loaded.epochs_trained == 1 and loaded.epoch_losses == model.epoch_losses
    model.train(SENTENCES, epochs=1)
    loaded.train(SENTENCES, epochs=1)
    np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)   # continuing is deterministic too
    assert loaded.epochs_trained == 2
    assert loaded.epoch_losses == pytest.approx(model.epoch_losses)   # the loaded history is not counted twice


def test_the_default_batch_is_at_most_a_256th_of_the_corpus(monkeypatch):
    monkeypatch.setitem(word2vec.DEFAULT_BATCH, "numpy", 16384)     # CuPy's default, on NumPy
    kw = dict(vector_size=4, min_count=1, epochs=1, xp="numpy", verbose=False)
    big = [s for s in SENTENCES for _ in range(1000)]                 # 380,000 words
    assert Word2Vec(big, **kw).batch_size == 380_000 // 256 == 1484
    assert Word2Vec(SENTENCES, **kw).batch_size == 256                # never below 256
    assert Word2Vec(big, batch_size=16384, **kw).batch_size == 16384  # an explicit batch stands


def test_max_final_vocab_trains_as_the_min_count_it_stands_for(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in SENTENCES) + "\n" + "rare words here once\n")
    kw = dict(vector_size=8, window=2, epochs=1, xp="numpy", verbose=False, seed=4, sampler="batched")
    # 19 words counted 20 times and 4 once: the bound at 19 keeps the 19, as min_count=2 does
    same = Word2Vec(corpus_file=str(path), min_count=2, **kw)
    kept = Word2Vec(corpus_file=str(path), min_count=1, max_final_vocab=19, **kw)
    assert kept.vocab.index_to_key == same.vocab.index_to_key
    np.testing.assert_array_equal(kept.wv.vectors, same.wv.vectors)     # the kept encoding drops the rare ids
    with pytest.raises(ValueError, match="max_final_vocab=10: no word is counted more often than the word at "
                                         "position 11"):
        Word2Vec(corpus_file=str(path), min_count=1, max_final_vocab=10, **kw)      # a tie of 19 at the bound


def test_max_final_vocab_keeps_gensims_words():
    gensim_models = pytest.importorskip("gensim.models")
    path = str(data_file("corpora/lee_background.cor"))
    theirs = gensim_models.Word2Vec(min_count=2, max_final_vocab=1000)
    theirs.build_vocab(gensim_models.word2vec.LineSentence(path))
    ours = Word2Vec(min_count=2, max_final_vocab=1000, xp="numpy", verbose=False)
    ours.build_vocab(corpus_file=path)
    assert 900 < len(ours.vocab) <= 1000
    # the same words (gensim orders ties by a reversed argsort, nsw2v by first occurrence)
    assert set(ours.vocab.index_to_key) == set(theirs.wv.index_to_key)


def test_gensims_build_vocab_then_train_idiom():
    kw = dict(vector_size=8, window=2, min_count=1, epochs=2, xp="numpy", verbose=False, seed=3)
    direct = Word2Vec(SENTENCES, **kw)
    model = Word2Vec(hs=0, cbow_mean=1, **kw)
    model.build_vocab(corpus_iterable=SENTENCES)
    assert model.corpus_count == len(SENTENCES) == 60
    assert model.corpus_total_words == sum(map(len, SENTENCES)) == 380
    model.train(corpus_iterable=SENTENCES, total_examples=model.corpus_count, epochs=model.epochs)
    np.testing.assert_array_equal(model.wv.vectors, direct.wv.vectors)


@pytest.mark.parametrize("size", [dict(total_examples=120), dict(total_words=760)])
def test_a_pass_declared_twice_as_long_stops_the_learning_rate_halfway(size):
    """total_examples / total_words scale the learning rate's fall, as in gensim."""
    kw = dict(vector_size=8, window=2, min_count=1, epochs=1, xp="numpy", verbose=False, chunk_words=50)
    model = Word2Vec(alpha=0.04, min_alpha=0.0, **kw)
    model.build_vocab(SENTENCES)
    model.train(SENTENCES, start_alpha=0.02, end_alpha=0.0, **size)
    last = model.loss_history[-1]["alpha"]
    # the words of one pass are half of what was declared: alpha ends near 0.02 / 2, not near 0
    assert 0.0095 < last < 0.0125
    with pytest.raises(ValueError, match="total_words=0 must be an integer >= 1"):
        model.train(SENTENCES, total_words=0)


def test_total_examples_wins_over_total_words_as_in_gensim():
    kw = dict(vector_size=8, window=2, min_count=1, epochs=1, xp="numpy", verbose=False, chunk_words=50)
    alphas = []
    for size in (dict(total_examples=60), dict(total_examples=60, total_words=760)):
        model = Word2Vec(alpha=0.02, min_alpha=0.0, **kw)
        model.build_vocab(SENTENCES)
        model.train(SENTENCES, **size)
        alphas.append(model.loss_history[-1]["alpha"])
    assert alphas[0] == alphas[1] < 0.005


def test_a_model_saved_before_a_setting_existed_loads(tmp_path):
    path = tmp_path / "m.npz"
    Word2Vec(SENTENCES, vector_size=4, min_count=1, epochs=1, xp="numpy", verbose=False).save(str(path))
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    state = json.loads(str(arrays["state"]))
    del state["max_final_vocab"]                                   # as written before it was a setting
    arrays["state"] = np.array(json.dumps(state))
    np.savez(path, **arrays)
    assert Word2Vec.load(str(path), xp="numpy").max_final_vocab is None


def test_callbacks_run_at_each_epoch_end():
    seen = []

    class Recorder:
        def on_epoch_end(self, model):
            seen.append(model.epochs_trained)

    Word2Vec(SENTENCES, vector_size=4, min_count=1, epochs=3, xp="numpy", verbose=False,
             callbacks=[Recorder(), lambda m: seen.append(-m.epochs_trained)])
    assert seen == [1, -1, 2, -2, 3, -3]


def test_gensims_four_callback_hooks_run_in_order():
    seen = []

    class Hooks:            # the shape of a gensim CallbackAny2Vec
        def on_train_begin(self, model):
            seen.append("train")

        def on_epoch_begin(self, model):
            seen.append(f"begin {model.epochs_trained}")

        def on_epoch_end(self, model):
            seen.append(f"end {model.epochs_trained}")

        def on_train_end(self, model):
            seen.append("done")

    class OnlyTrainEnd:
        def on_train_end(self, model):
            seen.append("only")

    model = Word2Vec(SENTENCES, vector_size=4, min_count=1, epochs=2, xp="numpy", verbose=False,
                     callbacks=[Hooks(), OnlyTrainEnd()])
    assert seen == ["train", "begin 0", "end 1", "begin 1", "end 2", "done", "only"]
    seen.clear()
    model.train(SENTENCES, epochs=1, callbacks=[OnlyTrainEnd()])      # as in gensim: this call's callbacks only
    assert seen == ["only"]
    model.train(SENTENCES, epochs=1)
    assert seen == ["only"]
    with pytest.raises(TypeError, match=r"callbacks\[1\]=3 is neither callable nor has any of the methods"):
        Word2Vec(vector_size=4, xp="numpy", callbacks=[OnlyTrainEnd(), 3])


@pytest.mark.parametrize("kwargs,message", [
    (dict(window=0), "window=0 must be an integer >= 1"),
    (dict(window=True), "window=True must be an integer >= 1"),
    (dict(max_row_updates=1.5), "max_row_updates=1.5 must be None or an integer >= 1"),
    (dict(max_final_vocab=True), "max_final_vocab=True must be None or an integer >= 1"),
    (dict(vector_size=0), "vector_size=0 must be an integer >= 1"),
    (dict(sample=-1), "sample=-1 must be >= 0"),
    (dict(sg=2), "sg=2 must be 0"),
    (dict(sampler="fast"), "sampler='fast'"),
    (dict(negative=19), "negative=19 must be less than the vocabulary size"),
    (dict(min_count=100), "no tokens left after min_count=100 (largest count is 20)"),
    (dict(hs=1), "hs=1: hierarchical softmax is not implemented"),
    (dict(cbow_mean=0), "cbow_mean=0: only the mean"),
])
def test_bad_parameters_are_clear_errors(kwargs, message):
    params = dict(vector_size=4, min_count=1, xp="numpy", verbose=False, sampler="exclusion")
    params.update(kwargs)
    with pytest.raises(ValueError) as info:
        Word2Vec(SENTENCES, **params)
    assert message in str(info.value)


@pytest.mark.parametrize("kwargs,message", [
    (dict(seed=None), "seed=None must be an integer >= 0"),
    (dict(seed=-1), "seed=-1 must be an integer >= 0"),
    (dict(seed=True), "seed=True must be an integer >= 0"),
    (dict(alpha="0.1"), "alpha='0.1' must be a number"),
    (dict(sample=None), "sample=None must be a number"),
])
def test_parameters_of_the_wrong_type_are_named(kwargs, message):
    with pytest.raises((TypeError, ValueError)) as info:
        Word2Vec(SENTENCES, vector_size=4, min_count=1, xp="numpy", verbose=False, **kwargs)
    assert message in str(info.value)


def test_bytes_that_are_not_utf8_are_read_as_u_fffd_with_a_warning(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 au lait\n".encode("latin-1") * 3)
    with pytest.warns(UserWarning, match=r"latin1.txt: 1 of the vocabulary's words hold U\+FFFD"):
        model = Word2Vec(corpus_file=str(path), min_count=1, vector_size=4, epochs=1, negative=2, xp="numpy",
                         sample=0, verbose=False)      # (with subsampling, 9 tokens give no training example)
    assert "caf\ufffd" in model.wv


def test_a_directory_or_a_foreign_file_is_named(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory; give one text file"):
        Word2Vec(corpus_file=str(tmp_path), xp="numpy", verbose=False)
    pickled = tmp_path / "gensim.model"
    pickled.write_bytes(b"\x80\x04\x95" + bytes(40))
    with pytest.raises(ValueError, match="gensim.model: not an nsw2v model"):
        Word2Vec.load(str(pickled))
    with pytest.raises(FileNotFoundError, match="missing.npz: no such file"):
        Word2Vec.load(str(tmp_path / "missing.npz"))
    saved = tmp_path / "m.npz"
    Word2Vec(SENTENCES, vector_size=4, min_count=1, epochs=1, xp="numpy", verbose=False).save(str(saved))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.npz: not an nsw2v model"):
        Word2Vec.load(str(cut))


def test_one_shot_generators_and_strings_are_refused():
    with pytest.raises(TypeError, match="re-iterable"):
        Word2Vec((s for s in SENTENCES), min_count=1, xp="numpy", verbose=False)
    with pytest.raises(TypeError, match="not a str"):
        Word2Vec(["a b c", "d e f"], min_count=1, xp="numpy", verbose=False)
    # tokens that are not str are refused when counted, before any training
    with pytest.raises(TypeError, match="sentences: the token 1 is a int, not a str"):
        Word2Vec([[0, 1, 2], [1, 2, 3]], min_count=1, xp="numpy", verbose=False)


def test_progress_line_on_stderr_and_quiet(capsys):
    Word2Vec(SENTENCES * 50, vector_size=4, min_count=1, epochs=1, xp="numpy", verbose=True)
    assert "words/s" in capsys.readouterr().err
    Word2Vec(SENTENCES, vector_size=4, min_count=1, epochs=1, xp="numpy", verbose=False)
    assert capsys.readouterr().err == ""


def test_prefetch_keeps_order_and_passes_errors_on():
    from nsw2v.training.prefetch import prefetch as _prefetch

    def chunks():
        yield 1
        yield 2
        raise OSError("corpus.txt: disk went away")

    got = []
    with pytest.raises(OSError, match="disk went away"):
        for item in _prefetch(chunks()):
            got.append(item)
    assert got == [1, 2]
    assert list(_prefetch(iter(range(50)))) == list(range(50))


def test_a_worker_draws_new_windows_and_subsampling_each_epoch(monkeypatch):
    """A training process is forked once per train() call: the epoch comes with each chunk."""
    import queue
    import nsw2v.training.array_engine as array_engine
    from nsw2v.training.plan import LearningRate
    from nsw2v.training.pool import _work
    model = Word2Vec(SENTENCES, vector_size=4, window=2, min_count=1, epochs=1, xp="numpy", verbose=False)
    job = array_engine.ArrayEngine(model, LearningRate(0.05, 0.0001, 10 * model.vocab.total_words))
    first_draws = []
    real = array_engine.plan_chunk

    def plan_chunk(xp, rng, *args):
        first_draws.append(rng.bit_generator.state["state"]["state"])      # the chunk's seeded start
        return real(xp, rng, *args)
    monkeypatch.setattr(array_engine, "plan_chunk", plan_chunk)
    ids, sid = next(iter(model.vocab.iter_chunks(SENTENCES)))
    tasks, results = queue.Queue(), queue.Queue()
    for epoch in (1, 2, 2):
        tasks.put((epoch, 0, ids, sid, 0))
    tasks.put(None)
    _work(job, 0, tasks, results)
    assert results.qsize() == 3
    assert first_draws[0] != first_draws[1] and first_draws[1] == first_draws[2]


def test_two_training_processes_train_every_word():
    corpus = SENTENCES * 40
    kw = dict(vector_size=8, window=2, min_count=1, epochs=2, sample=0, xp="numpy", verbose=False, chunk_words=200)
    model = Word2Vec(corpus, workers=2, **kw)
    assert model.words_trained == 2 * model.vocab.total_words
    assert sum(h["examples"] for h in model.loss_history) == 2 * model.vocab.total_words
    assert model.epoch_losses[-1] < model.epoch_losses[0]
    assert isinstance(model.W_in, np.ndarray) and model.W_in.base is None     # copied off the shared memory
    assert np.abs(model.W_out).min(axis=1).max() > 0   # the workers' updates reached us (W_out starts at 0)
    assert np.isfinite(model.wv.vectors).all()


def test_a_chunk_plan_draws_each_center_its_own_negatives():
    """The negatives of a chunk are drawn in one call, row for row with the plan's centers."""
    from nsw2v.training.array_engine import ArrayEngine
    from nsw2v.training.plan import LearningRate
    model = Word2Vec(SENTENCES * 20, vector_size=4, window=2, min_count=1, negative=3, epochs=1, xp="numpy",
                     verbose=False)
    job = ArrayEngine(model, LearningRate(0.05, 0.0001, model.vocab.total_words))
    ids, sid = next(iter(model.vocab.iter_chunks(SENTENCES * 20)))
    plan = job.prepare(0, 0, ids, sid)
    assert plan.negatives.shape == (len(plan.centers), 3)
    assert not (plan.negatives == plan.centers[:, None]).any()           # the exclusion path, row by row
    ordered = np.sort(plan.negatives, axis=1)
    assert not (ordered[:, 1:] == ordered[:, :-1]).any()
    again = job.prepare(0, 0, ids, sid)
    np.testing.assert_array_equal(again.centers, plan.centers)          # the chunk's seed fixes its plan


@pytest.mark.parametrize("epochs", [0, 1.5, True])
def test_train_refuses_epochs_that_are_not_a_count(epochs):
    model = Word2Vec(vector_size=4, min_count=1, xp="numpy", verbose=False)
    model.build_vocab(SENTENCES)
    with pytest.raises(ValueError, match=rf"epochs={epochs!r} must be an integer >= 1"):
        model.train(SENTENCES, epochs=epochs)
    assert model.epochs_trained == 0
