"""The book's training loop: ``Trainer(model, optimizer).fit(x, t, ...)``.

    >>> from nsw2v.trainer import Trainer
    >>> trainer = Trainer(model, Adam())                     # doctest: +SKIP
    >>> trainer.fit(contexts, target, max_epoch=1000, batch_size=3)   # doctest: +SKIP
    >>> trainer.loss_list[-1] < trainer.loss_list[0]         # doctest: +SKIP
    True
    >>> trainer.plot("loss.png")                             # doctest: +SKIP
"""
from __future__ import annotations

import sys
import time
from typing import Any, Optional

import numpy as np

from . import backend
from .util import positive_int


class Trainer:
    """Mini-batch training with the loss averaged every ``eval_interval`` iterations."""

    def __init__(self, model: Any, optimizer: Any):
        self.model = model
        self.optimizer = optimizer
        self.loss_list: list = []
        self.loss_iters: list = []          # iterations done at each entry of loss_list: the x of plot()
        self.eval_interval: Optional[int] = None
        self.current_epoch = 0

    def fit(self, x: Any, t: Any, max_epoch: int = 10, batch_size: int = 32,
            max_grad: Optional[float] = None, eval_interval: Optional[int] = 20, seed: Optional[int] = None,
            verbose: bool = True) -> "Trainer":
        """Train on ``x`` (contexts) and ``t`` (targets), shuffled every epoch.

        ``loss_list`` receives the mean loss of every ``eval_interval``
        iterations (and of the last, shorter stretch of each epoch), and
        ``loss_iters`` the iterations done by then.
        """
        if max_grad is not None:
            raise NotImplementedError("gradient clipping is not supported with sparse gradients")
        batch_size = positive_int("batch_size", batch_size)
        eval_interval = positive_int("eval_interval", eval_interval, optional=True)   # None: a loss per epoch
        xp = getattr(self.model, "xp", np)
        x, t = xp.asarray(x), xp.asarray(t)
        data_size = len(x)
        if data_size == 0:
            raise ValueError("x is empty: nothing to train on")
        if len(t) != data_size:
            raise ValueError(f"x has {data_size} rows but t has {len(t)}: one target per row of contexts")
        max_iters = max(1, data_size // batch_size)
        self.eval_interval = eval_interval
        rng = backend.make_rng(xp, seed)
        model, optimizer = self.model, self.optimizer
        total_loss, loss_count = 0.0, 0
        start = time.time()
        for _ in range(max_epoch):
            idx = xp.argsort(rng.random(data_size))          # a permutation (CuPy's Generator has no permutation())
            x, t = x[idx], t[idx]
            for iters in range(max_iters):
                batch_x = x[iters * batch_size:(iters + 1) * batch_size]
                batch_t = t[iters * batch_size:(iters + 1) * batch_size]
                loss = model.forward(batch_x, batch_t)
                model.backward()
                optimizer.update(model.params, model.grads)
                total_loss += backend.to_float(loss)
                loss_count += 1
                if loss_count == eval_interval or iters == max_iters - 1:
                    avg_loss = total_loss / loss_count
                    self.loss_list.append(avg_loss)
                    self.loss_iters.append((self.loss_iters[-1] if self.loss_iters else 0) + loss_count)
                    if verbose:
                        print(f"| epoch {self.current_epoch + 1} | iter {iters + 1} / {max_iters} "
                              f"| time {time.time() - start:.0f}[s] | loss {avg_loss:.2f}", file=sys.stderr)
                    total_loss, loss_count = 0.0, 0
            self.current_epoch += 1
        return self

    def plot(self, path: Optional[str] = None, ylim: Optional[tuple] = None) -> Any:
        """The loss curve, against the iterations done (needs matplotlib: ``pip install 'nsw2v[plot]'``).

        With ``path``, the figure is written there as a PNG. Without it, it is shown
        in a window where matplotlib has an interactive backend; where it has none
        (a machine without a display), a warning says so instead of showing nothing.
        Returns the :class:`matplotlib.figure.Figure` (Jupyter displays it).
        """
        from . import plots
        if isinstance(path, tuple) and ylim is None:        # the book's plot(ylim=...) given by position
            path, ylim = None, path
        fig = plots.loss_curve(self.loss_iters, self.loss_list, "iterations (mini-batches)", "Trainer", ylim)
        if path is not None:
            plots.save(fig, path)
        else:
            plots.show(fig)
        return fig
