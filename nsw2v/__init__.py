"""nsw2v: word2vec with negative sampling (CBOW and skip-gram) over NumPy or CuPy.

    >>> from nsw2v import Word2Vec
    >>> model = Word2Vec(corpus_file="corpus.txt", vector_size=100, epochs=5)   # doctest: +SKIP
    >>> model.wv.most_similar("king")                                          # doctest: +SKIP

gensim's names work as written: ``KeyedVectors`` (the class ``WordVectors``),
``CallbackAny2Vec`` and the ``trim_rule`` answers ``RULE_DEFAULT``, ``RULE_DISCARD``, ``RULE_KEEP``.
"""
from .backend import BackendUnavailableError
from .vectors import KeyedVectors, WordVectors
from .vocab import RULE_DEFAULT, RULE_DISCARD, RULE_KEEP
from .word2vec import CallbackAny2Vec, Word2Vec

__version__ = "0.1.0"
__all__ = ["BackendUnavailableError", "CallbackAny2Vec", "KeyedVectors", "RULE_DEFAULT", "RULE_DISCARD", "RULE_KEEP", "Word2Vec",
           "WordVectors", "__version__"]
