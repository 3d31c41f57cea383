"""The library's own errors: one base class, :class:`Nsw2vError`, and subclasses that keep a builtin base.

    >>> from nsw2v.errors import Nsw2vError
    >>> try:
    ...     WordVectors.load_word2vec_format("broken.bin", binary=True)     # doctest: +SKIP
    ... except Nsw2vError as exc:
    ...     print(exc)                                                   # names the file and where

``except Nsw2vError`` catches everything nsw2v itself raises about its inputs,
settings and training; each subclass also derives from the builtin exception a
caller would have caught before (``ValueError``, ``OSError``, ``RuntimeError``),
so code written against those keeps working.
"""
from __future__ import annotations

__all__ = ["BackendUnavailableError", "DistributedError", "DivergedError", "Nsw2vError", "OutputError",
           "ParameterError", "ReadError"]


class Nsw2vError(Exception):
    """Base class of every error nsw2v raises on purpose. ``rank``: for an error that every rank of a training
    on several processes raises alike, the rank of the process raising it (the command line prints it on rank 0
    only); else 0."""

    rank = 0


class ParameterError(Nsw2vError, ValueError, TypeError):
    """A setting has a wrong value or type; the message names the parameter and what it accepts."""


class ReadError(Nsw2vError, ValueError):
    """A file could not be read as what it should be (corrupt, truncated, inconsistent, too large);
    the message names the file and, where known, the line or byte offset."""


class OutputError(Nsw2vError, OSError):
    """An output path that nsw2v refuses to write (an input, another output, a device, a directory)."""


class DivergedError(Nsw2vError, RuntimeError):
    """Training diverged (a loss not finite or above twice an untrained model's, or tables not finite); the message
    says which setting to change."""


class BackendUnavailableError(Nsw2vError, RuntimeError):
    """The GPU backend was asked for but cannot be used."""


class DistributedError(Nsw2vError, RuntimeError):
    """A rank of a training on several processes (MPI) failed; every rank raises it, naming that rank and the
    cause. Its ``rank`` is the rank of the process raising it (the command line prints it on rank 0 only)."""
