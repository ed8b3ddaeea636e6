"""Writing and hashing release files so that their bytes depend on the data only."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import BinaryIO

# Measured at the paper's scale (benchmarks/release.py --levels; docs/release.md): level 4, where
# zlib's lazy matching starts, makes the Mooncake trace 35 % smaller than level 1 for a third more
# time; level 6 saves another 10 % for 1.6 times the time.
GZIP_LEVEL = 4


def gzip_writer(raw: BinaryIO, level: int = GZIP_LEVEL) -> gzip.GzipFile:
    """gzip into `raw` with no file name and no time in its header."""
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
