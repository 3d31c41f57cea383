"""The C tool's progress line on stderr, about once a second."""
from __future__ import annotations

import math
import sys
import time


class Progress:
    """The C tool's progress line on stderr, about once a second."""

    def __init__(self, total: int):
        self.total = max(total, 1)
        self.start = self.last = time.time()

    def due(self) -> bool:
        now = time.time()
        if now - self.last >= 1.0:
            self.last = now
            return True
        return False

    def show(self, words: float, lr: float, loss: float) -> None:
        elapsed = max(time.time() - self.start, 1e-9)
        rate = words / elapsed
        left = (self.total - words) / rate if rate > 0 else float("inf")
        sys.stderr.write(f"\rAlpha: {lr:.6f}  Progress: {100 * words / self.total:5.1f}%  "
                         f"Words/sec: {rate / 1000:.1f}k  Loss: {loss:.4f}  "
                         f"Time left: {_fmt(left)}   ")
        sys.stderr.flush()

    def finish(self, words: int, seconds: float) -> None:
        sys.stderr.write(f"\rTrained on {words} words in {seconds:.1f} s "
                         f"({words / max(seconds, 1e-9) / 1000:.1f}k words/s)" + " " * 30 + "\n")


def _fmt(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"
