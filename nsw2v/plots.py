"""Pictures: the loss curve, and a map of words and their nearest neighbours.

    >>> from nsw2v import WordVectors
    >>> from nsw2v.plots import word_map
    >>> wv = WordVectors.load_word2vec_format("vectors.bin", binary=True)       # doctest: +SKIP
    >>> fig = word_map(wv, ["elizabeth", "holmes", "alice"], topn=5)           # doctest: +SKIP
    >>> fig.savefig("map.png")                                                 # doctest: +SKIP

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot,
so it draws the same with or without a display and touches no global state; save
it with ``fig.savefig(path)``, or :func:`save` it atomically. matplotlib (the
``plot`` extra) is imported here only, when a picture is asked for.

The map is a 2-D projection of the unit vectors of the words asked about and of
their ``topn`` nearest neighbours (as in the figures of Mikolov et al., 2013,
"Distributed Representations of Words and Phrases and their Compositionality"):
principal components (NumPy's SVD) by default, or t-SNE where scikit-learn is
installed (``method="tsne"``). A projection keeps only part of the geometry: the
neighbours are chosen by cosine in all dimensions, and the title says how much
of the variance the two principal components hold.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from .errors import ParameterError

__all__ = ["loss_curve", "project", "save", "show", "training_loss", "word_map"]

PLOT_INSTALL = "pip install 'nsw2v[plot]'"


def _figure(figsize: Tuple[float, float]) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"pictures need matplotlib: {PLOT_INSTALL}") from None
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)                    # drawn off screen, whatever pyplot's backend
    return fig


def save(fig: Any, path: "os.PathLike[str] | str", dpi: int = 120) -> None:
    """Write ``fig`` as a PNG to ``path`` atomically (a temporary file, then renamed)."""
    from .formats import atomic_write
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=dpi))


def show(fig: Any) -> None:
    """Show ``fig`` in a window where matplotlib has an interactive backend; warn where it has none
    (a machine without a display, where showing would silently do nothing)."""
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt         # chooses the backend: a non-interactive one without a display
    backend = matplotlib.get_backend()
    if backend.lower() in _non_interactive():
        warnings.warn(f"matplotlib has no display here (backend {backend!r}): the figure is not shown; save it "
                      "instead (trainer.plot('loss.png'), or fig.savefig(...) on the figure returned)",
                      stacklevel=3)
        return
    manager = plt.figure().canvas.manager   # a pyplot window for a figure made without pyplot
    manager.canvas.figure = fig
    fig.set_canvas(manager.canvas)
    plt.show()


def _non_interactive() -> set:
    try:                                    # matplotlib >= 3.9
        from matplotlib.backends import BackendFilter, backend_registry
        names = backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE)
    except ImportError:
        from matplotlib import rcsetup
        names = rcsetup.non_interactive_bk
    return {name.lower() for name in names}


def loss_curve(x: Sequence[float], loss: Sequence[float], xlabel: str, title: str = "",
               ylim: Optional[Tuple[float, float]] = None) -> Any:
    """A loss curve: ``loss`` against ``x`` (which must not go back), as a Figure."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape != np.shape(loss):
        raise ParameterError(f"x has {x.shape[0]} points but loss has {len(loss)}")
    if np.any(np.diff(x) < 0):
        raise ParameterError("the x values of a loss curve must not go back")
    fig = _figure((6.0, 4.0))
    ax = fig.add_subplot()
    ax.plot(x, loss, marker="." if len(x) <= 50 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean loss per training example")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def training_loss(model: Any) -> Any:
    """The loss curve of a trained :class:`~nsw2v.Word2Vec` (``model.loss_history``), against words trained."""
    history = model.loss_history
    if not history:
        raise ParameterError("the model has no loss history: train it first")
    return loss_curve([h["words"] for h in history], [h["loss"] for h in history], "words trained",
                      f"nsw2v {'skip-gram' if model.sg else 'CBOW'}: training loss")


def project(vectors: np.ndarray, method: str = "pca", seed: int = 1) -> Tuple[np.ndarray, str]:
    """Rows of ``vectors`` in 2-D, and a note for the title.

    ``"pca"``: the rows (made unit length and centred) on their first two
    principal components, from NumPy's SVD; the note gives the share of the
    variance they hold. ``"tsne"``: scikit-learn's t-SNE, initialised by PCA,
    with ``seed``.
    """
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    unit = unit.astype(np.float64)
    if method == "pca":
        centred = unit - unit.mean(axis=0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)      # (n, H) = U S V^T
        coords = centred @ vt[:2].T                                  # (n, 2)
        if coords.shape[1] < 2:
            coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
        share = float((s[:2] ** 2).sum() / max((s ** 2).sum(), 1e-300))
        return coords, f"PCA: the two components hold {100 * share:.0f}% of the variance"
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise ImportError("method='tsne' needs scikit-learn: pip install scikit-learn (or method='pca')") \
                from None
        perplexity = float(min(30, max(2, (unit.shape[0] - 1) // 3)))
        coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                      metric="cosine").fit_transform(unit)
        return coords, f"t-SNE, perplexity {perplexity:g}"
    raise ParameterError(f"method={method!r} must be 'pca' or 'tsne'")


def word_map(wv: Any, words: Sequence[str], topn: int = 5, method: str = "pca", seed: int = 1,
             figsize: Tuple[float, float] = (8.0, 7.0)) -> Any:
    """A labelled 2-D map of ``words`` and their ``topn`` nearest neighbours, as a Figure.

    Parameters
    ----------
    wv : WordVectors
        The vectors (``model.wv``, or read with ``WordVectors.load_word2vec_format``).
    words : sequence of str
        The words asked about; each gets its own colour, shared by its neighbours
        (a word that is a neighbour of two keeps the first one's). Drawn bold.
    topn : int
        Neighbours of each word, by cosine in all dimensions (0: the words alone).
    method : {"pca", "tsne"}
        The projection (see :func:`project`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes; every word placed is labelled with a text artist.

    Raises
    ------
    KeyError
        A word is not in the vocabulary.
    ParameterError
        No word, fewer than three points to place, or a bad ``topn`` or ``method``.
    """
    from .util import positive_int
    words = list(dict.fromkeys(words))
    if not words:
        raise ParameterError("word_map needs at least one word")
    if topn != 0:
        positive_int("topn", topn)
    group: dict = {}
    for g, word in enumerate(words):
        group.setdefault(word, g)
        wv.get_index(word)                  # KeyError naming the word
        for neighbour, _ in (wv.most_similar(word, topn=topn) if topn else []):
            group.setdefault(neighbour, g)
    placed = list(group)
    if len(placed) < 3:
        raise ParameterError(f"a map needs at least 3 words to place, got {len(placed)}: give more words or topn")
    coords, note = project(wv[placed], method=method, seed=seed)
    fig = _figure(figsize)
    ax = fig.add_subplot()
    colours = [f"C{g % 10}" for g in range(len(words))]
    asked = set(words)
    for word, g in group.items():           # a faint line from each word to its neighbours
        if word not in asked:
            a, b = coords[placed.index(words[g])], coords[placed.index(word)]
            ax.plot([a[0], b[0]], [a[1], b[1]], color=colours[g], alpha=0.25, lw=0.8, zorder=1)
    sizes = [40 if w in asked else 14 for w in placed]
    ax.scatter(coords[:, 0], coords[:, 1], s=sizes, c=[colours[group[w]] for w in placed], zorder=3)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.margins(0.12)
    ax.set_title(f"{len(words)} words and their {topn} nearest neighbours ({note})", fontsize=10)
    fontsize = [11 if w in asked else 9 for w in placed]
    offsets = _place_labels(fig, ax, coords, placed, fontsize, first=[placed.index(w) for w in words])
    from matplotlib import patheffects
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for i, word in enumerate(placed):
        ax.annotate(word, coords[i], xytext=offsets[i], textcoords="offset points", fontsize=fontsize[i],
                    fontweight="bold" if word in asked else "normal", ha="left", va="bottom",
                    color=colours[group[word]] if word in asked else "0.15", path_effects=halo, zorder=4)
    return fig


def _place_labels(fig: Any, ax: Any, coords: np.ndarray, labels: list, fontsize: list, first: list) -> list:
    """An offset (in points) for each label, chosen greedily among eight places around its point so that it
    covers the fewest labels already placed and points, inside the frame (the words asked about first). Sizes are estimated
    from the font size (0.6 em a character), which is close enough to keep labels apart."""
    fig.canvas.draw()                       # the final limits and layout, so that data map to points
    scale = 72.0 / fig.dpi
    points = ax.transData.transform(coords) * scale             # (n, 2) in points
    boxes: list = [(x - 3, y - 3, x + 3, y + 3) for x, y in points]   # the markers
    frame = ax.get_window_extent()
    left, bottom, right, top = frame.x0 * scale, frame.y0 * scale, frame.x1 * scale, frame.y1 * scale
    order = first + [i for i in range(len(labels)) if i not in set(first)]
    offsets: list = [None] * len(labels)
    for i in order:
        w, h = 0.6 * fontsize[i] * len(labels[i]), 1.1 * fontsize[i]
        x, y = points[i]
        candidates = [(4, 1), (4, -h - 1), (-w - 4, 1), (-w - 4, -h - 1), (-w / 2, 5), (-w / 2, -h - 5),
                      (6, -h / 2), (-w - 6, -h / 2)]

        def covered(offset: tuple) -> float:
            x0, y0 = x + offset[0], y + offset[1]
            outside = w * h - max(0.0, min(x0 + w, right) - max(x0, left)) * max(0.0, min(y0 + h, top) - max(y0, bottom))
            return 10 * outside + sum(max(0.0, min(x0 + w, bx1) - max(x0, bx0)) * max(0.0, min(y0 + h, by1) - max(y0, by0))
                       for j, (bx0, by0, bx1, by1) in enumerate(boxes) if j != i)
        best = min(candidates, key=lambda c: round(covered(c), 3))   # the first of the least covered: right, up
        offsets[i] = best
        boxes.append((x + best[0], y + best[1], x + best[0] + w, y + best[1] + h))
    return offsets
