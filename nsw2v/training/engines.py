"""Which engine trains, chosen once per ``train()``, and what every engine shares.

An engine turns chunks of the encoded corpus into updates of ``model.W_in`` and
``model.W_out``. It has two methods:

``prepare(epoch, number, ids, sid)``
    Whatever can be done ahead for chunk ``number`` of ``epoch`` (``ids`` and
    ``sid``: the chunk's in-vocabulary ids and sentence numbers, int32 on the
    host); the driver may call it in a reader thread while the previous chunk trains.
``train(prepared, raw_words, words_before, acc, report) -> lr``
    Train on it: ``raw_words`` is ``len(ids)``, ``words_before`` the words of this
    ``train()`` call before the chunk (the learning rate's position); add the
    loss and the examples to ``acc`` (:class:`Accumulator`), call
    ``report(words, lr)`` now and then if it is given, and return the last rate.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..errors import ParameterError
from .plan import LearningRate

#: The engines by name: the array code over ``xp`` (the reference), the compiled CPU loop, the CUDA kernels.
ENGINES = ("array",)


class Accumulator:
    """Loss and example counts summed on the device between reports (one host sync per report, not per step)."""

    def __init__(self):
        self.loss, self.examples = 0.0, 0

    def add(self, loss: Any, examples: int) -> None:
        self.loss = self.loss + loss
        self.examples += examples


def choose(model: Any) -> str:
    """The engine ``model`` trains with: its ``engine`` setting, or the backend's default."""
    name = getattr(model, "engine", None)
    if name is None:
        return "array"
    if name not in ENGINES:
        raise ParameterError(f"engine={name!r} must be one of {', '.join(map(repr, ENGINES))} or None")
    return name


def make(model: Any, schedule: LearningRate) -> Any:
    """The engine of :func:`choose` for one ``train()`` call, following ``schedule``."""
    name = choose(model)
    processes = 1 if backend.is_cupy(model.xp) else model.workers     # the device trains alone
    if name == "array":
        from .array_engine import ArrayEngine
        return ArrayEngine(model, schedule, processes)
    raise AssertionError(name)
