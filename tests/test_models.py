"""CBOW and skip-gram: gradients against central differences, and learning on the chapter's example."""
import numpy as np
import pytest

from nsw2v.layers import SparseGrad
from nsw2v.models import CBOW, SkipGram
from nsw2v.optimizers import SGD, Adam
from nsw2v.trainer import Trainer
from nsw2v.util import create_contexts_target, preprocess
from conftest import numerical_gradient
from test_layers import FixedSampler

TEXT = "You say goodbye and I say hello."


@pytest.mark.parametrize("Model", [CBOW, SkipGram])
def test_model_gradients_match_central_differences(Model):
    corpus, w2i, _ = preprocess(TEXT)
    contexts, target = create_contexts_target(corpus, window_size=1)
    contexts, target = contexts[:4], target[:4]
    model = Model(len(w2i), 3, 1, corpus, sample_size=2, seed=0, xp="numpy")
    model.params[0][...] = np.random.default_rng(1).standard_normal(model.params[0].shape)
    model.params[1][...] = np.random.default_rng(2).standard_normal(model.params[1].shape)
    # float64 copies of the tables so central differences are accurate
    W_in, W_out = (p.astype(np.float64) for p in model.params)
    model.in_layer.params[0] = W_in
    model.ns_loss.embed_dot.embed.params[0] = W_out
    rows = len(target) * (contexts.shape[1] if Model is SkipGram else 1)
    negatives = np.random.default_rng(3).integers(0, len(w2i), (rows, 2)).astype(np.int32)
    model.ns_loss.sampler = FixedSampler(model.ns_loss.sampler, negatives)
    model.forward(contexts, target)
    model.backward()
    grads = [g.to_dense() for g in (model.in_layer.grads[0], model.ns_loss.grads[0])]
    f = lambda: float(model.forward(contexts, target))
    np.testing.assert_allclose(grads[0], numerical_gradient(f, W_in), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(grads[1], numerical_gradient(f, W_out), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("Model,threshold", [(CBOW, 2.5), (SkipGram, 5.5)])
def test_chapter_example_learns(xp, Model, threshold):
    """The book's ``You say goodbye and I say hello.`` with Adam, as in the chapter.

    CBOW starts at 6 ln 2 = 4.16 (one positive and five negatives at score 0) and
    skip-gram at twice that (two context words). With 5 negatives drawn from the
    6 other words, the context words themselves are mostly among the negatives,
    so the loss cannot approach 0. Over seeds 0-5 the mean of the last 20 logged
    losses after 1000 epochs was 1.50-1.96 for CBOW and 3.73-4.74 for skip-gram;
    the thresholds (2.5, 5.5) leave a margin of about 0.5-0.8 above the worst seed
    and stay far below the start.
    """
    corpus, w2i, _ = preprocess(TEXT)
    contexts, target = create_contexts_target(corpus, window_size=1)
    model = Model(len(w2i), 5, 1, corpus, seed=0, xp=xp)
    trainer = Trainer(model, Adam()).fit(contexts, target, max_epoch=1000, batch_size=3, verbose=False, seed=0)
    start = 6 * np.log(2) * (2 if Model is SkipGram else 1)
    assert trainer.loss_list[0] == pytest.approx(start, rel=0.02)
    assert np.mean(trainer.loss_list[-20:]) < threshold


def test_sgd_applies_sparse_rows_with_duplicates():
    W = np.zeros((4, 2), np.float32)
    g = SparseGrad(W.shape)
    g.set(np.array([1, 1, 3]), np.array([[1, 2], [3, 4], [5, 6]], np.float32))
    SGD(lr=0.5).update([W], [g])
    np.testing.assert_allclose(W, [[0, 0], [-2, -3], [0, 0], [-2.5, -3]])


def test_lazy_adam_matches_dense_adam_on_touched_rows():
    rng = np.random.default_rng(0)
    W_sparse = rng.standard_normal((6, 3)).astype(np.float64)
    W_dense = W_sparse.copy()
    sparse, dense = Adam(lr=0.1), Adam(lr=0.1)
    g = SparseGrad(W_sparse.shape)
    for _ in range(3):
        ids = np.array([2, 4, 2])                  # the same rows every step, one of them twice
        vals = rng.standard_normal((3, 3))
        g.set(ids, vals)
        sparse.update([W_sparse], [g])
        dense.update([W_dense], [g.to_dense()])
    np.testing.assert_allclose(W_sparse, W_dense, rtol=1e-12)


def test_word_vecs_is_the_input_table():
    corpus, w2i, _ = preprocess(TEXT)
    model = CBOW(len(w2i), 4, 1, corpus, seed=0, xp="numpy")
    assert model.word_vecs is model.params[0]
    assert model.word_vecs.dtype == np.float32


def test_model_rejects_bad_ids_and_sizes():
    corpus, w2i, _ = preprocess(TEXT)
    model = CBOW(len(w2i), 4, 1, corpus, seed=0, xp="numpy")
    with pytest.raises(ValueError, match="contexts holds word id 99"):
        model.forward(np.array([[0, 99]]), np.array([1]))
    with pytest.raises(ValueError, match="hidden_size=0 must be an integer >= 1"):
        CBOW(len(w2i), 0, 1, corpus)


@pytest.mark.parametrize("args, message", [
    ((8, 100.0, 1), "hidden_size=100.0 must be an integer >= 1"),
    ((8, "100", 1), "hidden_size='100' must be an integer >= 1"),
    ((8.0, 4, 1), "vocab_size=8.0 must be an integer >= 1"),
    ((8, 4, True), "window_size=True must be an integer >= 1"),
    ((8, 4, 0), "window_size=0 must be an integer >= 1"),
])
def test_model_sizes_must_be_integers(args, message):
    corpus, _, _ = preprocess(TEXT)
    with pytest.raises(ValueError, match=message):
        CBOW(*args, corpus)
    assert CBOW(np.int64(8), np.int32(4), 1, corpus, xp="numpy").word_vecs.shape == (8, 4)


def test_create_contexts_target_takes_a_list_and_checks_the_window():
    corpus, _, _ = preprocess(TEXT)
    from_list = create_contexts_target(corpus.tolist(), window_size=1)
    from_array = create_contexts_target(corpus, window_size=1)
    assert all(np.array_equal(a, b) for a, b in zip(from_list, from_array))
    with pytest.raises(ValueError, match="window_size=1.5 must be an integer >= 1"):
        create_contexts_target(corpus, 1.5)
    with pytest.raises(ValueError, match=r"1-D sequence of word ids, got shape \(2, 4\)"):
        create_contexts_target(corpus.reshape(2, 4), 1)


@pytest.mark.parametrize("Optimizer", [SGD, Adam])
def test_optimizers_refuse_what_would_learn_nothing(Optimizer):
    """The chapter's learner code handed Adam two empty dicts: nothing moved, and nothing said so."""
    corpus, w2i, _ = preprocess(TEXT)
    model = CBOW(len(w2i), 4, 1, corpus, seed=0, xp="numpy")
    with pytest.raises(TypeError, match=rf"{Optimizer.__name__}.update\(params, grads\) takes the lists "
                                        r"model.params and model.grads; params is a dict"):
        Optimizer().update({}, {})
    with pytest.raises(ValueError, match="got no params: nothing would learn"):
        Optimizer().update([], [])
    with pytest.raises(ValueError, match="got 2 params but 1 grads"):
        Optimizer().update(model.params, model.grads[:1])


def test_one_adam_per_model():
    corpus, w2i, _ = preprocess(TEXT)
    contexts, target = create_contexts_target(corpus, window_size=1)
    first, second = (CBOW(len(w2i), 4, 1, corpus, seed=seed, xp="numpy") for seed in (0, 1))   # same shapes
    optimizer = Adam()
    first.forward(contexts, target)
    first.backward()
    optimizer.update(first.params, first.grads)
    with pytest.raises(ValueError, match="one Adam per model"):
        optimizer.update(second.params, second.grads)
    optimizer.update(first.params, first.grads)                     # its own model's tables, again
    assert optimizer.iter == 2


def test_trainer_checks_rows_and_batch_size():
    corpus, w2i, _ = preprocess(TEXT)
    contexts, target = create_contexts_target(corpus, window_size=1)
    trainer = Trainer(CBOW(len(w2i), 4, 1, corpus, seed=0, xp="numpy"), Adam())
    with pytest.raises(ValueError, match="x has 2 rows but t has 6"):
        trainer.fit(contexts.T, target, max_epoch=1, batch_size=3, verbose=False)
    with pytest.raises(ValueError, match="batch_size=0 must be an integer >= 1"):
        trainer.fit(contexts, target, max_epoch=1, batch_size=0, verbose=False)
    assert trainer.loss_list == []
    trainer.fit(contexts, target, max_epoch=3, batch_size=3, eval_interval=None, verbose=False)   # as in the book
    assert len(trainer.loss_list) == 3                                                          # one per epoch


def test_to_cpu_and_to_gpu_as_in_the_book(xp):
    from nsw2v.backend import BackendUnavailableError, gpu_available
    from nsw2v.util import to_cpu, to_gpu
    x = xp.arange(6, dtype=xp.float32).reshape(2, 3)
    host = to_cpu(x)
    assert type(host) is np.ndarray and host.tolist() == [[0, 1, 2], [3, 4, 5]]
    if gpu_available():
        assert to_cpu(to_gpu(host)).tolist() == host.tolist() and type(to_gpu(host)) is not np.ndarray
    else:
        with pytest.raises(BackendUnavailableError, match=r"to_gpu\(\) asks for CuPy.*keep NumPy arrays"):
            to_gpu(host)
