"""The model file that ``Word2Vec.save`` writes and ``Word2Vec.load`` reads: a NumPy ``.npz``, no pickle.

    >>> from nsw2v import modelfile
    >>> modelfile.write("model.npz", state, vocab.to_arrays(), W_in, W_out)     # doctest: +SKIP
    >>> state, vocab, W_in, W_out = modelfile.read("model.npz")                 # doctest: +SKIP

Members: ``state`` (a JSON string: the settings and the training's history),
the vocabulary's ``vocab_*`` arrays (:meth:`~nsw2v.vocab.Vocab.to_arrays`), and
the two float32 tables ``W_in`` and ``W_out`` (vocabulary size x vector size).
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Any, Tuple

import numpy as np

from .formats import atomic_write
from .vocab import Vocab

__all__ = ["read", "write"]


def write(path: str, state: dict, vocab_arrays: dict, W_in: np.ndarray, W_out: np.ndarray) -> None:
    """Write a model file atomically."""
    arrays = dict(vocab_arrays, W_in=W_in, W_out=W_out, state=np.array(json.dumps(state)))
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def read(path: str) -> Tuple[dict, Vocab, np.ndarray, np.ndarray]:
    """``(state, vocabulary, W_in, W_out)`` of a model file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        data: Any = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):    # a pickle (gensim's), a cut file, not NumPy's
        data = None
    if not (isinstance(data, np.lib.npyio.NpzFile) and "state" in data.files):
        if isinstance(data, np.lib.npyio.NpzFile):
            data.close()
        raise ValueError(f"{path}: not an nsw2v model (the .npz that Word2Vec.save writes); vectors from "
                         "gensim or the C tool load with WordVectors.load_word2vec_format")
    with data:
        state = json.loads(str(data["state"]))
        vocab = Vocab.from_arrays({k: data[k] for k in data.files if k not in ("W_in", "W_out", "state")})
        W_in, W_out = data["W_in"], data["W_out"]
    return state, vocab, W_in, W_out
