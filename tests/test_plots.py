"""Pictures: the word map (labels, projection), the loss curves, and the Trainer's plot on a machine without a
display."""
import importlib.util
import warnings

import numpy as np
import pytest

from nsw2v import WordVectors
from nsw2v.errors import ParameterError

pytest.importorskip("matplotlib", reason="the pictures need matplotlib (the test extra installs it)")

from nsw2v import plots  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def clusters():
    """Three tight clusters of five words in 16 dimensions, far apart: each word's neighbours are its cluster."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((3, 16)) * 3
    words, rows = [], []
    for c, name in enumerate(("fruit", "metal", "bird")):
        for k in range(5):
            words.append(f"{name}{k}")
            rows.append(centres[c] + 0.1 * rng.standard_normal(16))
    return WordVectors(words, np.array(rows, dtype=np.float32))


def labels(fig):
    return {t.get_text(): t for t in fig.axes[0].texts}


def test_word_map_labels_every_word_and_its_neighbours(clusters, tmp_path):
    fig = plots.word_map(clusters, ["fruit0", "bird0"], topn=4)
    texts = labels(fig)
    assert set(texts) == {f"fruit{k}" for k in range(5)} | {f"bird{k}" for k in range(5)}
    assert texts["fruit0"].get_fontweight() == "bold" and texts["fruit1"].get_fontweight() == "normal"
    assert texts["fruit0"].get_color() != texts["bird0"].get_color()       # a colour per word asked about
    assert "PCA" in fig.axes[0].get_title() and "4 nearest neighbours" in fig.axes[0].get_title()
    # the clusters stay apart in the picture: each point is nearer its own word than the other
    where = {w: np.array(t.xy) for w, t in texts.items()}
    for w in texts:
        own, other = ("fruit0", "bird0") if w.startswith("fruit") else ("bird0", "fruit0")
        assert np.linalg.norm(where[w] - where[own]) < np.linalg.norm(where[w] - where[other])
    out = tmp_path / "map.png"
    plots.save(fig, out)
    data = out.read_bytes()
    assert data[:8] == PNG and len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["map.png"]             # written atomically


def test_pca_is_the_projection_on_the_two_largest_directions():
    """Points on a plane (after making them unit length): PCA keeps their distances exactly, and says 100%."""
    rng = np.random.default_rng(0)
    plane = rng.standard_normal((30, 2)) @ np.linalg.qr(rng.standard_normal((8, 2)))[0].T     # (30, 8) rank 2
    unit = plane / np.linalg.norm(plane, axis=1, keepdims=True)
    coords, note = plots.project(plane, "pca")
    distances = lambda a: np.linalg.norm(a[:, None] - a[None], axis=-1)   # noqa: E731
    np.testing.assert_allclose(distances(coords), distances(unit), atol=1e-9)
    assert note == "PCA: the two components hold 100% of the variance"
    with pytest.raises(ParameterError, match="method='umap' must be 'pca' or 'tsne'"):
        plots.project(plane, "umap")


@pytest.mark.skipif(not importlib.util.find_spec("sklearn"), reason="t-SNE needs scikit-learn, not installed")
def test_tsne_map_where_scikit_learn_is_installed(clusters):
    fig = plots.word_map(clusters, ["metal0"], topn=4, method="tsne")
    assert set(labels(fig)) == {f"metal{k}" for k in range(5)} and "t-SNE" in fig.axes[0].get_title()


def test_word_map_errors(clusters):
    with pytest.raises(KeyError, match="'gold' not in vocabulary"):
        plots.word_map(clusters, ["fruit0", "gold"])
    with pytest.raises(ParameterError, match="at least 3 words to place, got 2"):
        plots.word_map(clusters, ["fruit0", "bird0"], topn=0)
    with pytest.raises(ParameterError, match="needs at least one word"):
        plots.word_map(clusters, [])


def test_loss_curve_refuses_an_x_that_goes_back():
    fig = plots.loss_curve([1, 2, 3], [3.0, 2.0, 1.0], "words trained")
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [1, 2, 3] and fig.axes[0].get_xlabel() == "words trained"
    with pytest.raises(ParameterError, match="must not go back"):
        plots.loss_curve([1, 3, 2], [3.0, 2.0, 1.0], "words trained")


def test_trainer_plot_counts_iterations_and_says_when_nothing_can_be_shown(tmp_path, monkeypatch):
    from nsw2v.models import CBOW
    from nsw2v.optimizers import Adam
    from nsw2v.trainer import Trainer
    from nsw2v.util import create_contexts_target, preprocess
    corpus, word_to_id, _ = preprocess("You say goodbye and I say hello.")
    contexts, target = create_contexts_target(corpus, window_size=1)
    model = CBOW(len(word_to_id), hidden_size=5, window_size=1, corpus=corpus)
    # 6 rows in batches of 3: 2 iterations an epoch, fewer than eval_interval=20, so one point per epoch
    trainer = Trainer(model, Adam()).fit(contexts, target, max_epoch=7, batch_size=3, verbose=False)
    assert trainer.loss_iters == [2, 4, 6, 8, 10, 12, 14] and len(trainer.loss_list) == 7
    fig = trainer.plot(str(tmp_path / "loss.png"))
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG
    assert list(fig.axes[0].lines[0].get_xdata()) == trainer.loss_iters
    assert fig.axes[0].get_xlabel() == "iterations (mini-batches)"
    import matplotlib
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")          # as on a machine without a display
    with pytest.warns(UserWarning, match="no display here .* the figure is not shown; save it instead"):
        assert trainer.plot() is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer.plot(str(tmp_path / "again.png"))                          # a path: saved, no warning
