"""Reading zstd-compressed logs: Codex (since rust-v0.137.0) rewrites a rollout idle for seven
days as `rollout-*.jsonl.zst` (codex-rs/rollout/src/compression.rs, openai/codex#25089).

A raw stream under the caller's io.BufferedReader, so lines are iterated as fast as for gzip.
python-zstandard's own stream_reader ends quietly when the file is cut inside a frame; this
one raises EOFError then, like gzip does, so the readers count the lost rest of the file.
"""

from __future__ import annotations

import io
from typing import IO

import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 128 * 1024
# Compressed bytes fed per call. A zstd block can expand about 32,000 times (an RLE block: 4
# bytes for 128 KiB), so this bounds the memory one call takes to ~32 MiB on a hostile drop;
# on real logs (~10x) it is a few thousand calls per 50 MiB, which costs nothing measurable.
FEED = 1024


class ZstdReader(io.RawIOBase):
    """Decompresses every frame of `source` in turn (a file may hold several)."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._dctx = zstandard.ZstdDecompressor()
        self._frame = self._dctx.decompressobj()
        self._in_frame = False
        self._in = b""
        self._in_pos = 0
        self._out = b""
        self._pos = 0
        self._error: OSError | None = None  # met after output not yet read: raised after it

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._pos >= len(self._out):
            if self._error is not None:
                raise self._error
            if self._in_pos >= len(self._in):
                self._in, self._in_pos = self._source.read(CHUNK), 0
                if not self._in:
                    if self._in_frame:
                        raise EOFError("zstd file ended before the end of its frame (cut short)")
                    return 0
            piece = self._in[self._in_pos : self._in_pos + FEED]
            self._in_pos += FEED
            try:
                self._out, self._pos = self._decompress(piece), 0
            except zstandard.ZstdError as exc:
                raise _corrupt(exc) from exc
        n = min(len(buffer), len(self._out) - self._pos)
        buffer[:n] = self._out[self._pos : self._pos + n]
        self._pos += n
        return n

    def _decompress(self, chunk: bytes) -> bytes:
        parts = []
        while chunk:
            try:
                parts.append(self._frame.decompress(chunk))
            except zstandard.ZstdError as exc:
                if not parts:
                    raise
                # Garbage after a frame ended in this chunk: that frame's last lines are
                # good and read first, as gzip returns a member before its bad successor.
                self._error = _corrupt(exc)
                break
            self._in_frame = not self._frame.eof
            if self._in_frame:
                break
            # A frame ended inside this chunk: the rest starts the next frame.
            chunk = self._frame.unused_data
            self._frame = self._dctx.decompressobj()
        return b"".join(parts)

    def close(self) -> None:
        self._source.close()
        super().close()


def _corrupt(exc: zstandard.ZstdError) -> OSError:
    # An OSError like gzip's BadGzipFile, so every reader's handler catches it.
    return OSError(f"corrupt zstd data: {exc}")


def open_zstd(source: IO[bytes], buffer_size: int) -> IO[bytes]:
    return io.BufferedReader(ZstdReader(source), buffer_size)
