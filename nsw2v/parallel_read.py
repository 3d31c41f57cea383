"""Count and encode a corpus file with several processes: what ``Vocab.build_encoded`` does in one.

    >>> vocab, encoded = count_and_encode_file("text8.gz", min_count=5, workers=2)   # doctest: +SKIP

This process reads the file in blocks of text cut after whitespace (the blocks
``LineSentence`` reads, :func:`~nsw2v.corpus.text_blocks`); the worker processes
split each block into lines and tokens and number its words as each worker first
sees them, sending back only the words new to it; this process numbers those in
the corpus, block after block (so a word's corpus number is still its order of
first appearance: a word new to the corpus is new to the worker too, and comes
in the block's order), maps each worker's numbers to the corpus's and stitches
the lines that cross blocks. Splitting and looking up tokens, nearly all the
time of a count, thus run on every core. The result is exactly
``Vocab.build_encoded(LineSentence(path))``: the same vocabulary, sentences and
ids (``tests/test_parallel_read.py``).
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np

from .corpus import MAX_SENTENCE_LENGTH, PathLike, text_blocks
from .util import positive_int, quiet_worker
from .vocab import EncodedCorpus, Vocab, _final_ids, _FirstSeen, _keep_known, _provisional_counts

__all__ = ["count_and_encode_file"]

#: Characters of text per block handed to a worker (LineSentence reads 64 Ki at a time; larger blocks
#: here mean fewer messages between processes).
WORKER_BLOCK_CHARS = 1 << 20
# Sentences of about this many tokens make one batch of the encoded corpus.
_BATCH_TOKENS = 1 << 20


def count_and_encode_file(path: PathLike, min_count: int = 5, max_sentence_length: int = MAX_SENTENCE_LENGTH,
                          workers: int = 2, source: Optional[str] = None, max_tokens: int = 50_000_000,
                          block_chars: int = WORKER_BLOCK_CHARS, progress: Optional[Callable[..., None]] = None
                          ) -> Tuple[Vocab, Optional[EncodedCorpus]]:
    """``Vocab.build_encoded(LineSentence(path, max_sentence_length), min_count, source, max_tokens)``
    with ``workers`` processes splitting and numbering the tokens (see the module's docstring).
    ``progress`` is called with ``fraction=`` (of the file read) and ``words=`` (tokens counted) as blocks come."""
    positive_int("min_count", min_count)
    positive_int("workers", workers)
    source = str(path) if source is None else source
    index = _FirstSeen()                        # word -> corpus number, as first seen
    to_corpus: dict = {}                        # worker -> its numbers' corpus numbers
    kept: List[np.ndarray] = []                 # corpus numbers of the tokens not yet counted
    counts = np.zeros(0, dtype=np.int64)
    keep = True                                 # whether the corpus is kept encoded (under max_tokens)
    line_lengths: List[np.ndarray] = []         # tokens of the complete lines, while kept
    open_line = raw_words = sentences = 0       # sentences: of the lines no longer kept
    context = mp.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                             initargs=(os.getpid(),)) as pool:
        blocks = text_blocks(path, block_chars, progress and (lambda fraction: progress(fraction=fraction)))
        for worker, new_words, ids, segments in _in_order(pool, blocks, 2 * workers):
            numbers = np.fromiter(map(index.__getitem__, new_words), dtype=np.int32, count=len(new_words))
            to_corpus[worker] = np.concatenate([to_corpus.get(worker, numbers[:0]), numbers])
            kept.append(to_corpus[worker][ids])
            raw_words += ids.size
            if progress is not None:
                progress(words=raw_words)
            # segments[0] continues the open line; every later segment starts a new one
            open_line += int(segments[0])
            if segments.size > 1:
                line_lengths.append(np.concatenate([[open_line], segments[1:-1]]))
                open_line = int(segments[-1])
            if raw_words > max_tokens:          # too large to keep: count as it comes, keep nothing
                keep = False
                counts = _add_counts(counts, kept, index)
                sentences += _pieces(np.concatenate(line_lengths or [counts[:0]]), max_sentence_length).size
                kept, line_lengths = [], []
    line_lengths.append(np.array([open_line], dtype=np.int64))
    lengths = _pieces(np.concatenate(line_lengths), max_sentence_length)
    counts = _add_counts(counts, kept, index)
    vocab = Vocab._from_counts(zip(index, counts.tolist()), min_count, raw_words, sentences + int(lengths.size),
                               source)
    if not keep:
        return vocab, None
    remap = _final_ids(index, vocab)
    for block in kept:
        np.take(remap, block, out=block)        # provisional ids to final ones, in place
    return vocab, EncodedCorpus(_batches(kept, lengths))


def _add_counts(counts: np.ndarray, kept: List[np.ndarray], index: dict) -> np.ndarray:
    """``counts`` (of the first ``counts.size`` words of ``index``) plus the occurrences in ``kept``."""
    total = _provisional_counts(index, kept)
    total[:counts.size] += counts
    return total


class _Numbering(_FirstSeen):
    """A worker's numbering of words as it first sees them; ``new`` lists the words numbered since it was emptied."""

    def __init__(self):
        super().__init__()
        self.new: List[str] = []

    def __missing__(self, word: str) -> int:
        self.new.append(word)
        return super().__missing__(word)


_numbering: Optional[_Numbering] = None         # in a worker process: its numbering, over all its blocks


def _start_worker(parent: int) -> None:
    global _numbering
    quiet_worker(parent)
    _numbering = _Numbering()


def _encode_block(text: str) -> Tuple[int, List[str], np.ndarray, np.ndarray]:
    """``(worker, words new to it, the block's tokens in its numbers, the tokens of each line of the block)``."""
    lines = [line.split() for line in text.split("\n")]
    segments = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    index = _numbering
    index.new = []
    tokens = itertools.chain.from_iterable(lines)
    ids = np.fromiter(map(index.__getitem__, tokens), dtype=np.int32, count=int(segments.sum()))
    return os.getpid(), index.new, ids, segments


def _in_order(pool: ProcessPoolExecutor, blocks: Iterator[str], ahead: int):
    """``pool.map(_encode_block, blocks)`` with at most ``ahead`` blocks in flight (bounded memory)."""
    pending: deque = deque()
    for block in blocks:
        pending.append(pool.submit(_encode_block, block))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _pieces(line_lengths: np.ndarray, limit: int) -> np.ndarray:
    """Sentence lengths: each line cut into pieces of ``limit`` tokens, the last one shorter (empty lines: none)."""
    whole, rest = np.divmod(line_lengths, limit)
    per_line = whole + (rest > 0)
    lengths = np.full(int(per_line.sum()), limit, dtype=np.int64)
    last = np.cumsum(per_line) - 1
    lengths[last[rest > 0]] = rest[rest > 0]
    return lengths


def _batches(blocks: List[np.ndarray], lengths: np.ndarray) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """``(ids, sentence lengths)`` in batches of whole sentences of about ``_BATCH_TOKENS`` tokens, out-of-vocabulary
    tokens and the sentences they empty dropped. ``blocks``: the corpus's ids in consecutive pieces of any size,
    emptied as they are used, each freed once its tokens are batched: no copy of the whole corpus is made (one
    would add 4 bytes a token to the reader's peak: 64 MiB on enwiki)."""
    ends = np.cumsum(lengths)
    blocks.reverse()                            # popped in order
    rest = np.zeros(0, dtype=np.int32)          # what is left of the block being cut
    start = first = 0
    while first < lengths.size:
        last = max(first + 1, int(np.searchsorted(ends, start + _BATCH_TOKENS, side="right")))
        stop = int(ends[last - 1])
        pieces, need = [], stop - start
        while need:
            if not rest.size:
                rest = blocks.pop()
            pieces.append(rest[:need])
            rest = rest[need:]
            need -= pieces[-1].size
        ids = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        del pieces
        kept_ids, kept_lengths = _keep_known(ids, lengths[first:last])
        if kept_lengths.size:
            yield kept_ids, kept_lengths
        start, first = stop, last
