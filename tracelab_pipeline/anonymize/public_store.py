"""Layout of the public layer and its stage-then-publish protocol.

Public files: `<public>/<table>/month=<YYYY-MM>/contributor=<pseudonym>/part.parquet` (the raw
handle never appears, not even in a directory name). A partition is first written to a staging
directory outside the public root, checked there, and only then renamed into place, so readers
of the public root never see a partition that has not passed its blocking checks.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PART_FILE = "part.parquet"
KEY_MARKER = "_pseudonym_key_fingerprint"


class KeyMismatchError(RuntimeError):
    """The public layer was built with another pseudonym key."""


def check_key(public_root: str | Path, fingerprint: str) -> None:
    """Refuse to mix pseudonym keys in one public layer.

    Partitions built with another key carry other pseudonyms (one contributor would count as two
    and the old partitions would never be replaced), so after a key rotation the public layer is
    rebuilt from scratch. The first publication records the key's fingerprint (never the key).
    """
    marker = Path(public_root) / KEY_MARKER
    try:
        recorded = marker.read_text().strip()
    except FileNotFoundError:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(fingerprint + "\n")
        return
    if recorded != fingerprint:
        raise KeyMismatchError(
            f"the public layer at {public_root} was built with pseudonym key {recorded}, this run "
            f"uses key {fingerprint}; after rotating the key, delete {public_root} and "
            "re-materialize every partition (or restore the previous key)"
        )


def public_partition_dir(public_root: str | Path, table: str, month: str, pseudonym: str) -> Path:
    return Path(public_root) / table / f"month={month}" / f"contributor={pseudonym}"


@dataclass
class StagedPartition:
    """One anonymized partition written to staging, not yet visible in the public root."""

    directory: Path
    files: dict[str, Path]

    def read(self) -> dict[str, pa.Table]:
        """Read back what was written: the checks judge the bytes that would be published.

        One thread per small file: Arrow's thread pool costs more CPU than it saves here.
        """
        return {
            name: pq.ParquetFile(path).read(use_threads=False) for name, path in self.files.items()
        }

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def stage(staging_root: str | Path, tables: dict[str, pa.Table]) -> StagedPartition:
    directory = Path(staging_root) / uuid.uuid4().hex
    files = {}
    for name, table in tables.items():
        path = directory / name / PART_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd")
        files[name] = path
    return StagedPartition(directory, files)


def publish(
    staged: StagedPartition, public_root: str | Path, month: str, pseudonym: str, fingerprint: str
) -> dict[str, Path]:
    """Rename every staged table into the public root (same file system: atomic per file)."""
    check_key(public_root, fingerprint)
    published = {}
    for name, path in staged.files.items():
        final = public_partition_dir(public_root, name, month, pseudonym) / PART_FILE
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, final)
        published[name] = final
    staged.discard()
    return published
