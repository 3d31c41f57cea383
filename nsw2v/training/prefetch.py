"""A reader thread that prepares the next chunks while one trains."""
from __future__ import annotations

import contextlib
import queue
import threading
from typing import Callable, ContextManager, Iterable, Optional


def prefetch(chunks: Iterable, depth: int = 2, context: Optional[Callable[[], ContextManager]] = None):
    """Yield from ``chunks`` while a background thread reads, encodes and plans the next ones.

    Reading and encoding the corpus is host-side Python, planning a chunk mostly
    NumPy kernels; in their own thread they overlap the training steps (NumPy
    releases the GIL inside its kernels, and CuPy runs them on the device). The
    order of chunks is unchanged, so results stay deterministic. ``context``: entered by the thread around its
    work (:func:`nsw2v.backend.this_threads_device`: the caller's GPU).
    """
    items: "queue.Queue" = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def produce():
        try:
            with context() if context is not None else contextlib.nullcontext():
                for item in chunks:
                    if not put(item):
                        return                # the consumer stopped early
            put(done)
        except BaseException as exc:          # handed to the consumer, raised there
            put(exc)

    threading.Thread(target=produce, name="nsw2v-reader", daemon=True).start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
