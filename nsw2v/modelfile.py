"""The model file that ``Word2Vec.save`` writes and ``Word2Vec.load`` reads: a NumPy ``.npz``, no pickle.

    >>> from nsw2v import modelfile
    >>> modelfile.write("model.npz", state, vocab.to_arrays(), W_in, W_out)     # doctest: +SKIP
    >>> state, vocab, W_in, W_out = modelfile.read("model.npz")                 # doctest: +SKIP

Members: ``state`` (a JSON string: the settings and the training's history),
the vocabulary's ``vocab_*`` arrays (:meth:`~nsw2v.vocab.Vocab.to_arrays`), and
the two float32 tables ``W_in`` and ``W_out`` (vocabulary size x vector size).

A model file is not trusted as it is: :func:`read` takes each member's size from
the zip directory and its shape from its ``.npy`` header, and checks them against
each other, against the file's size and against the other members *before*
allocating anything; then that the tables are finite float arrays of the
vocabulary's size by ``vector_size``, that the vocabulary is well formed and that
the state holds what loading needs. Each failure is one
:class:`~nsw2v.errors.ReadError` naming the file and the member.
"""
from __future__ import annotations

import json
import numbers
import os
from typing import Any, Dict, Tuple

import numpy as np

from .errors import ReadError
from .formats import NpzArchive, atomic_write
from .vocab import Vocab

__all__ = ["read", "write"]

_VOCAB = {"vocab_words_utf8": (1, "u"), "vocab_word_offsets": (1, "iu"), "vocab_counts": (1, "iu"),
          "vocab_raw_words": (0, "iu"), "vocab_sentences_seen": (0, "iu")}
_OPTIONAL = {"vocab_corpus_words": (0, "iu")}      # absent from files written before build_vocab(update=True)
# state keys that loading needs, and what they hold (settings are checked by Word2Vec itself)
_HISTORY = ("epochs_trained", "words_trained", "epoch_losses", "loss_history")
_ENTRY = ("epoch", "words", "alpha", "loss", "examples")


def write(path: str, state: dict, vocab_arrays: dict, W_in: np.ndarray, W_out: np.ndarray) -> None:
    """Write a model file atomically."""
    arrays = dict(vocab_arrays, W_in=W_in, W_out=W_out, state=np.array(json.dumps(state)))
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def read(path: str) -> Tuple[dict, Vocab, np.ndarray, np.ndarray]:
    """``(state, vocabulary, W_in, W_out)`` of a model file, each checked (see the module's docstring)."""
    path = os.fspath(path)
    not_ours = (f"{path}: not an nsw2v model (the .npz that Word2Vec.save writes); vectors from "
                "gensim or the C tool load with WordVectors.load_word2vec_format")
    with NpzArchive(path, not_ours) as archive:
        if "state" not in archive.names:
            raise ReadError(not_ours)
        missing = [name for name in ("W_in", "W_out", *_VOCAB) if name not in archive.names]
        if missing:
            raise ReadError(f"{path}: an nsw2v model without the member(s) {', '.join(missing)}: the file is "
                            "damaged or was not written by Word2Vec.save")
        arrays = {name: archive.read(name) for name in ("state", *_VOCAB, *_OPTIONAL, "W_in", "W_out")
                  if name in archive.names}
    state = _state(path, arrays["state"])
    vocab = _vocab(path, arrays)
    shape = (len(vocab), state["vector_size"])
    for name in ("W_in", "W_out"):
        table = arrays[name]
        if table.dtype.kind != "f" or table.shape != shape:
            raise ReadError(f"{path}: member {name} is {table.dtype} of shape {table.shape}; the vocabulary and "
                            f"vector_size say float32 of shape {shape}")
        if not np.isfinite(table).all():
            row = int(np.flatnonzero(~np.isfinite(table).all(axis=1))[0])
            raise ReadError(f"{path}: member {name} holds values that are not finite (first in row {row}, "
                            f"word {vocab.index_to_key[row]!r})")
    return state, vocab, arrays["W_in"].astype(np.float32, copy=False), arrays["W_out"].astype(np.float32, copy=False)


def _state(path: str, member: np.ndarray) -> Dict[str, Any]:
    """The JSON state, with what loading needs checked."""
    if member.dtype.kind != "U" or member.shape != ():
        raise ReadError(f"{path}: member state is {member.dtype} of shape {member.shape}, not one string")
    try:
        state = json.loads(str(member))
    except ValueError as exc:
        raise ReadError(f"{path}: member state is not JSON ({exc})") from None
    if not isinstance(state, dict):
        raise ReadError(f"{path}: member state is a JSON {type(state).__name__}, not an object")
    missing = [key for key in ("vector_size", *_HISTORY) if key not in state]
    if missing:
        raise ReadError(f"{path}: member state lacks {', '.join(map(repr, missing))}")
    for key in ("vector_size", "epochs_trained", "words_trained"):
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < (key == "vector_size"):
            raise ReadError(f"{path}: member state: {key}={value!r} must be an integer >= {int(key == 'vector_size')}")
    if not isinstance(state["epoch_losses"], list) or not all(_number(x) for x in state["epoch_losses"]):
        raise ReadError(f"{path}: member state: epoch_losses must be a list of numbers")
    history = state["loss_history"]
    if not isinstance(history, list) or not all(isinstance(h, dict) and all(_number(h.get(k)) for k in _ENTRY)
                                                for h in history):
        raise ReadError(f"{path}: member state: loss_history must be a list of objects with the numbers "
                        f"{', '.join(_ENTRY)}")
    start = state.get("loss_start", 0)
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= len(history):
        raise ReadError(f"{path}: member state: loss_start={start!r} must be an integer in [0, {len(history)}]")
    return state


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _vocab(path: str, arrays: Dict[str, np.ndarray]) -> Vocab:
    """The vocabulary of the ``vocab_*`` members, their shapes and offsets checked first."""
    for name, (ndim, kinds) in {**_VOCAB, **_OPTIONAL}.items():
        if name not in arrays:
            continue
        array = arrays[name]
        if array.ndim != ndim or array.dtype.kind not in kinds:
            raise ReadError(f"{path}: member {name} is {array.dtype} of shape {array.shape}; expected "
                            f"{'a scalar' if ndim == 0 else 'a 1-D array'} of integers")
    data, offsets, counts = arrays["vocab_words_utf8"], arrays["vocab_word_offsets"], arrays["vocab_counts"]
    if offsets.shape != (counts.size + 1,) or offsets[0] != 0 or offsets[-1] != data.size \
            or bool((np.diff(offsets.astype(np.int64)) < 0).any()):
        raise ReadError(f"{path}: members vocab_word_offsets ({offsets.size}), vocab_counts ({counts.size}) and "
                        f"vocab_words_utf8 ({data.size} bytes) disagree: the file is damaged")
    try:
        return Vocab.from_arrays(arrays)
    except (ValueError, KeyError, OverflowError) as exc:      # UnicodeDecodeError is a ValueError
        raise ReadError(f"{path}: the vocabulary is damaged ({exc})") from None
