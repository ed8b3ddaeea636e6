"""Build the release directory from the public layer, check it, and only then publish it.

The release is staged in a hidden directory beside its final place, checked there, and
swapped in by renames: readers see the previous release or the new one, never a half-written
or unchecked one. Every file is a function of the public layer alone (sorted tables, gzip
without a time stamp, no build time anywhere), so rebuilding an unchanged layer gives the same
bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tracelab_pipeline import schema
from tracelab_pipeline.anonymize.public_store import DICTIONARY_COLUMNS
from tracelab_pipeline.formats.tracelab_rounds import iter_rounds
from tracelab_pipeline.release.datasheet import (
    MOONCAKE_FILE,
    ROUNDS_FILE,
    dataset_counts,
    render_readme,
)
from tracelab_pipeline.release.mooncake import BLOCK_TOKENS, SUBMIT_TIME, write_mooncake
from tracelab_pipeline.release.public_tables import RELEASE_TABLES, months, read_public_table

MANIFEST_FILE = "MANIFEST.json"
README_FILE = "README.md"


def parquet_file(table: str) -> str:
    return f"parquet/{table}.parquet"


@dataclass
class Release:
    path: Path
    manifest: dict
    published: bool = False
    checks: list = field(default_factory=list)


def build_release(
    public_root: str | Path,
    release_dir: str | Path,
    verify: Callable[[Path], list] | None = None,
) -> Release:
    """Stage the release from `public_root`, run `verify(staged_dir)` (check outcomes with a
    `passed` attribute), and publish it at `release_dir` only if every outcome passed."""
    release_dir = Path(release_dir)
    staging = release_dir.with_name(f".{release_dir.name}.staging-{uuid.uuid4().hex}")
    try:
        manifest = write_release(public_root, staging)
        checks = verify(staging) if verify else []
        published = all(c.passed for c in checks)
        if published:
            publish(staging, release_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Release(release_dir, manifest, published, checks)


def write_release(public_root: str | Path, out: Path) -> dict:
    """Write every release file into `out` (a new directory); returns the manifest."""
    (out / "parquet").mkdir(parents=True)
    tables = {name: read_public_table(public_root, name) for name in RELEASE_TABLES}
    rows: dict[str, int] = {}
    for name, table in tables.items():
        present = set(table.column_names)
        pq.write_table(
            table,
            out / parquet_file(name),
            compression="zstd",
            use_dictionary=[c for c in DICTIONARY_COLUMNS if c in present],
        )
        rows[parquet_file(name)] = table.num_rows
    rows[ROUNDS_FILE] = _write_rounds(tables, out / ROUNDS_FILE)
    mooncake = write_mooncake(tables["steps"], out / MOONCAKE_FILE)
    rows[MOONCAKE_FILE] = mooncake["rows"]
    counts = dataset_counts(tables, months(public_root))
    files = {name: {"rows": n} for name, n in rows.items()}
    (out / README_FILE).write_text(render_readme(counts, files))
    files[README_FILE] = {"rows": None}
    for name, entry in files.items():
        entry.update(bytes=(out / name).stat().st_size, sha256=sha256_file(out / name))
    manifest = {
        "schema_version": schema.SCHEMA_VERSION,
        "counts": counts,
        "files": dict(sorted(files.items())),
        "mooncake": {
            "block_tokens": BLOCK_TOKENS,
            "submit_time": list(SUBMIT_TIME),
            "steps_without_time": mooncake["steps_without_time"],
        },
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _write_rounds(tables: dict[str, pa.Table], path: Path) -> int:
    """TraceLab rounds through the round writer's own conversion (iter_rounds), gzip with no
    file name or time in its header so the bytes depend on the data only."""
    n = 0
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for round_row in iter_rounds(
            tables["steps"], tables["tool_calls"], tables["timing_events"]
        ):
            gz.write(orjson.dumps(round_row) + b"\n")
            n += 1
    return n


def publish(staging: Path, release_dir: Path) -> None:
    """Swap the staged directory in; the previous release is removed only once replaced."""
    old = release_dir.with_name(f".{release_dir.name}.old-{uuid.uuid4().hex}")
    had_old = release_dir.exists()
    if had_old:
        os.replace(release_dir, old)
    try:
        os.replace(staging, release_dir)
    except BaseException:
        if had_old:
            os.replace(old, release_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
