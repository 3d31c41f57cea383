"""The book's training loop: ``Trainer(model, optimizer).fit(x, t, ...)``.

    >>> from nsw2v.trainer import Trainer
    >>> trainer = Trainer(model, Adam())                     # doctest: +SKIP
    >>> trainer.fit(contexts, target, max_epoch=1000, batch_size=3)   # doctest: +SKIP
    >>> trainer.loss_list[-1] < trainer.loss_list[0]         # doctest: +SKIP
    True
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
        self.eval_interval: Optional[int] = None
        self.current_epoch = 0

    def fit(self, x: Any, t: Any, max_epoch: int = 10, batch_size: int = 32,
            max_grad: Optional[float] = None, eval_interval: Optional[int] = 20, seed: Optional[int] = None,
            verbose: bool = True) -> "Trainer":
        """Train on ``x`` (contexts) and ``t`` (targets), shuffled every epoch.

        ``loss_list`` receives the mean loss of every ``eval_interval``
        iterations (and of the last, shorter stretch of each epoch).
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
                    if verbose:
                        print(f"| epoch {self.current_epoch + 1} | iter {iters + 1} / {max_iters} "
                              f"| time {time.time() - start:.0f}[s] | loss {avg_loss:.2f}", file=sys.stderr)
                    total_loss, loss_count = 0.0, 0
            self.current_epoch += 1
        return self

    def plot(self, ylim: Optional[tuple] = None, path: Optional[str] = None) -> None:
        """Plot ``loss_list`` (needs matplotlib: ``pip install 'nsw2v[plot]'``)."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("plot() needs matplotlib: pip install 'nsw2v[plot]'") from None
        x = np.arange(len(self.loss_list))
        if ylim is not None:
            plt.ylim(*ylim)
        plt.plot(x, self.loss_list, label="train")
        plt.xlabel("epochs" if self.eval_interval is None else f"iterations (x{self.eval_interval})")
        plt.ylabel("loss")
        if path is None:
            plt.show()
        else:
            plt.savefig(path)
            plt.close()
