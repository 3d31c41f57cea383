"""Which engine trains, chosen once per ``train()``, and what every engine shares.

An engine turns chunks of the encoded corpus into updates of ``model.W_in`` and
``model.W_out``. It has two methods:

``prepare(epoch, number, ids, sid)``
    Whatever can be done ahead for chunk ``number`` of ``epoch`` (``ids`` and
    ``sid``: the chunk's in-vocabulary ids and sentence numbers, int32, on the
    host, or on the device for a corpus the device reader keeps there,
    :class:`nsw2v.ingest.ResidentCorpus`); the driver may call it in a reader
    thread while the previous chunk trains.
``train(prepared, raw_words, words_before, acc, report) -> lr``
    Train on it: ``raw_words`` is ``len(ids)``, ``words_before`` the words of this
    ``train()`` call before the chunk (the learning rate's position); add the
    loss and the examples to ``acc`` (:class:`Accumulator`), call
    ``report(words, lr)`` now and then if it is given, and return the last rate.
"""
from __future__ import annotations

import importlib.util
from typing import Any

from .. import backend
from ..errors import ParameterError
from .plan import LearningRate

#: The engines by name: the array code over ``xp`` (the reference), the compiled CPU loop (Numba), the CUDA
#: kernels. The compiled ones walk the corpus in order (:mod:`.walk`).
ENGINES = ("array", "numba", "cuda")


class Accumulator:
    """Loss and example counts summed on the device between reports (one host sync per report, not per step)."""

    def __init__(self):
        self.loss, self.examples = 0.0, 0

    def add(self, loss: Any, examples: int) -> None:
        self.loss = self.loss + loss
        self.examples += examples

    def take(self) -> "Accumulator":
        """What was accumulated, as an Accumulator of its own; this one starts again from zero."""
        taken = Accumulator()
        taken.loss, taken.examples = self.loss, self.examples
        self.loss, self.examples = 0.0, 0
        return taken


def numba_available() -> bool:
    """Whether the compiled CPU engine can run: numba installed and the engine's module present (no import)."""
    return importlib.util.find_spec("numba") is not None \
        and importlib.util.find_spec(f"{__package__}.numba_engine") is not None


def choose(model: Any) -> str:
    """The engine ``model`` trains with: its ``engine`` setting, or the backend's default (on NumPy the compiled
    loop when numba is installed, else the array code; on CuPy the CUDA kernels with ``NSW2V_FAST_GPU=1``
    unless ``sampler='exclusion'``, else the array code)."""
    name = getattr(model, "engine", None)
    cupy = backend.is_cupy(model.xp)
    if name is None:
        if cupy:   # the CUDA engine draws negatives on the batched path only
            return "cuda" if backend.fast_gpu() and model.sampler != "exclusion" else "array"
        return "numba" if numba_available() else "array"
    if name not in ENGINES:
        raise ParameterError(f"engine={name!r} must be one of {', '.join(map(repr, ENGINES))} or None")
    if name == "numba" and cupy or name == "cuda" and not cupy:
        raise ParameterError(f"engine={name!r} runs on {'NumPy' if name == 'numba' else 'CuPy'}, "
                             f"not on {model.xp.__name__}: choose xp to match, or engine=None")
    if name == "cuda" and model.sampler == "exclusion":
        raise ParameterError("engine='cuda' draws negatives on the batched path: use sampler='batched' (or None), "
                             "or engine='array' for sampler='exclusion'")
    if name == "numba" and not numba_available():
        raise ParameterError("engine='numba' needs numba: pip install numba (or engine='array')")
    return name


def load(model: Any) -> None:
    """Load now what the engine of :func:`choose` will need: the compiled loop (:func:`.numba_engine.load`).
    ``build_vocab`` calls it before it allocates the tables, which keeps the process's peak lower. Settings
    :func:`choose` refuses are left for ``train()`` to report."""
    try:
        name = choose(model)
    except ParameterError:
        return
    if name == "numba":
        from .numba_engine import load as load_loop
        load_loop(model.verbose)


def make(model: Any, schedule: LearningRate) -> Any:
    """The engine of :func:`choose` for one ``train()`` call, following ``schedule``."""
    name = choose(model)
    if name == "numba":
        from .numba_engine import NumbaEngine
        return NumbaEngine(model, schedule)
    if name == "cuda":
        from .cuda_engine import CudaEngine
        return CudaEngine(model, schedule)
    from .array_engine import ArrayEngine
    processes = 1 if backend.is_cupy(model.xp) else model.workers     # the device trains alone
    return ArrayEngine(model, schedule, processes)
