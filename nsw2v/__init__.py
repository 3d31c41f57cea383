"""nsw2v: word2vec with negative sampling (CBOW and skip-gram) over NumPy or CuPy."""
from .backend import BackendUnavailableError

__version__ = "0.1.0"
__all__ = ["BackendUnavailableError", "__version__"]
