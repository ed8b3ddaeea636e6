"""Layout of the public layer and its publication.

Public files: `<public>/<table>/month=<YYYY-MM>/contributor=<pseudonym>/part.parquet` (the raw
handle never appears, not even in a directory name). A partition is checked in memory, on the
very tables that are then written, and written only if every blocking check passed, so readers
of the public root never see a partition that has not passed them.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa

from tracelab_pipeline.partitioned.store import write_parquet

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
            "re-materialize every partition (the nightly sweep then does; or restore the "
            "previous key)"
        )


def public_partition_dir(public_root: str | Path, table: str, month: str, pseudonym: str) -> Path:
    return Path(public_root) / table / f"month={month}" / f"contributor={pseudonym}"


def publish(
    tables: dict[str, pa.Table],
    public_root: str | Path,
    month: str,
    pseudonym: str,
    fingerprint: str,
) -> dict[str, Path]:
    """Write a partition that passed every check into the public root.

    Each file is written under a hidden temporary name in its final directory and renamed
    into place (atomic per file; readers glob `*.parquet`, never the temporary name).
    """
    check_key(public_root, fingerprint)
    published = {}
    for name, table in tables.items():
        final = public_partition_dir(public_root, name, month, pseudonym) / PART_FILE
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{PART_FILE}.{uuid.uuid4().hex}.tmp")
        try:
            write_parquet(table, tmp)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        published[name] = final
    return published
