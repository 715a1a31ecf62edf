"""Run a chunk producer (read, decompress, hash) in a thread, ahead of the consumer.

hashlib and the decompressors release the GIL on large buffers, so the layer
digest is computed on one core while the tar headers are parsed on the other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator

__all__ = ["prefetched"]

DEPTH = 8
DONE = object()


def prefetched(source: Iterator[bytes]) -> Generator[bytes, None, None]:
    """Yield what ``source`` yields, produced by a worker thread; errors are re-raised here."""
    items: queue.Queue[object] = queue.Queue(DEPTH)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for chunk in source:
                if not put(chunk):
                    return
            put(DONE)
        except BaseException as exc:  # handed to the consumer
            put(exc)

    worker = threading.Thread(target=work, name="layer-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
