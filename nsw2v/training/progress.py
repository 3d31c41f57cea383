"""Progress of counting and training: a line on stderr and the same figures as ``logging`` records.

A terminal gets one line rewritten in place about once a second (the C tool's
progress line), unless ``verbose=False`` (``--quiet``). A script that configured
logging, as gensim's users do (``logging.basicConfig(level=logging.INFO)``), gets
the same figures as INFO records of the loggers ``nsw2v.vocab`` (counting, the
vocabulary) and ``nsw2v.training`` (progress, the final "trained on" line), once
a second too, whatever ``verbose`` says. Never twice on one stream: when the
logging configuration already writes those records to stderr, the in-place line
is not drawn as well.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any, Optional

vocab_logger = logging.getLogger("nsw2v.vocab")
training_logger = logging.getLogger("nsw2v.training")


def logged_to_stderr(logger: logging.Logger) -> bool:
    """Whether ``logger``'s INFO records already reach stderr through a handler of the logging configuration."""
    if not logger.isEnabledFor(logging.INFO):
        return False
    current: Optional[logging.Logger] = logger
    while current is not None:
        for handler in current.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.level <= logging.INFO \
                    and getattr(handler, "stream", None) in (sys.stderr, sys.__stderr__):
                return True
        current = current.parent if current.propagate else None
    return False


class Meter:
    """A line drawn in place on stderr (``echo``, unless logging writes there) and an INFO record, at most
    once a second; ``active`` is false when neither would be seen."""

    def __init__(self, logger: logging.Logger, echo: bool):
        self.logger = logger
        self.log = logger.isEnabledFor(logging.INFO)
        self.draw = echo and not logged_to_stderr(logger)
        self.active = self.log or self.draw
        self.start = self.last = time.monotonic()
        self.width = 0                          # of the line drawn last, to blank it out

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            return True
        return False

    def elapsed(self) -> float:
        return max(time.monotonic() - self.start, 1e-9)

    def emit(self, line: str, end: bool = False) -> None:
        """Draw ``line`` over the last one (and end it with a newline when ``end``); log it."""
        if self.draw:
            pad = " " * max(0, self.width - len(line))
            sys.stderr.write(f"\r{line}{pad}" + ("\n" if end else ""))
            sys.stderr.flush()
            self.width = 0 if end else len(line)
        if self.log:
            self.logger.info("%s", line)

    def end_line(self) -> None:
        """End a line left drawn (training stopped by an error or Ctrl-C)."""
        if self.draw and self.width:
            sys.stderr.write("\n")
            self.width = 0


class Counting(Meter):
    """Progress while the vocabulary is counted: call it with the share of the file read, the words counted,
    or both, as often as is cheap; it shows ``counting words: 40%, 7.0M words`` about once a second."""

    def __init__(self, source: str, echo: bool):
        super().__init__(vocab_logger, echo)
        self.source, self.fraction, self.words = source, None, 0

    def __call__(self, fraction: Optional[float] = None, words: Optional[int] = None) -> None:
        if fraction is not None:
            self.fraction = fraction
        if words is not None:
            self.words = words
        if self.due():
            share = "" if self.fraction is None else f"{100 * min(self.fraction, 1.0):.0f}%, "
            self.emit(f"counting words of {self.source}: {share}{_millions(self.words)} words")

    def done(self, vocab: Any, min_count: int) -> None:
        """The vocabulary's summary, which ends the line."""
        raw = vocab.raw_words or vocab.total_words
        self.emit(f"vocabulary of {self.source}: {len(vocab):,} words with count >= {min_count} "
                  f"({vocab.total_words:,} of its {raw:,} words), counted in {self.elapsed():.1f} s", end=True)


class Progress(Meter):
    """The C tool's progress line while training, about once a second; ``words`` must not go back."""

    def __init__(self, total: float, echo: bool = True):
        super().__init__(training_logger, echo)
        self.total = max(total, 1)

    def show(self, words: float, lr: float, loss: float) -> None:
        rate = words / self.elapsed()
        left = (self.total - words) / rate if rate > 0 else float("inf")
        self.emit(f"Alpha: {lr:.6f}  Progress: {100 * words / self.total:5.1f}%  Words/sec: {rate / 1000:.1f}k  "
                  f"Loss: {loss:.4f}  Time left: {_fmt(left)}")

    def finish(self, words: int, seconds: float) -> None:
        self.emit(f"Trained on {words:,} words in {seconds:.1f} s ({words / max(seconds, 1e-9) / 1000:.1f}k words/s)",
                  end=True)


def _millions(words: int) -> str:
    return f"{words / 1e6:.1f}M" if words >= 100_000 else f"{words:,}"


def _fmt(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"
