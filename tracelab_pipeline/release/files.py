"""Writing and hashing release files so that their bytes depend on the data only."""

from __future__ import annotations

import gzip
import hashlib
import queue
import threading
from pathlib import Path
from typing import BinaryIO

# Measured at the paper's scale (benchmarks/release.py --levels; docs/release.md): level 4, where
# zlib's lazy matching starts, makes the Mooncake trace 35 % smaller than level 1 for a third more
# time; level 6 saves another 10 % for 1.6 times the time.
GZIP_LEVEL = 4
# Pieces waiting for the compressing thread: bounds the memory when serializing outruns zlib
# (a Mooncake chunk is tens of MB: 16 pieces took the builder from 635 to 930 MB peak RSS).
_QUEUE_PIECES = 2


class BackgroundGzip:
    """A gzip file whose compression runs in its own thread, overlapping the caller's work.

    zlib and crc32 release the GIL, and compression was a third of the release's time. The
    thread makes the same GzipFile.write calls with the same pieces in the same order, so the
    bytes are those of writing directly."""

    def __init__(self, raw: BinaryIO, level: int = GZIP_LEVEL) -> None:
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level
        )
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_PIECES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gzip-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (piece := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._gzip.write(piece)
                except BaseException as exc:  # raised in the caller's thread at its next call
                    self._error = exc

    def write(self, data: bytes) -> int:
        if self._error is not None:
            raise self._error
        if not isinstance(data, bytes):  # a mutable buffer could change before it is compressed
            data = bytes(data)
        self._queue.put(data)
        return len(data)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._gzip.close()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundGzip:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def gzip_writer(raw: BinaryIO, level: int = GZIP_LEVEL) -> BackgroundGzip:
    """gzip into `raw` with no file name and no time in its header."""
    return BackgroundGzip(raw, level)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
