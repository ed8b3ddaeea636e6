"""Build the release directory from the public layer, check it, and only then publish it.

The release is staged in a hidden directory beside its final place, checked there, and
swapped in by two renames: readers see the previous release or the new one (none only between
the two renames), never a half-written or unchecked one. Every file is a function of the
public layer alone (sorted tables, gzip without a time stamp, no build time anywhere), so
rebuilding an unchanged layer gives the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tracelab_pipeline import schema
from tracelab_pipeline.formats.tracelab_rounds import EVENT_ATTRIBUTES, SUMMARY_FIELDS, iter_rounds
from tracelab_pipeline.partitioned.store import DICTIONARY_COLUMNS
from tracelab_pipeline.release import weka
from tracelab_pipeline.release.datasheet import (
    MOONCAKE_FILE,
    MOONCAKE_SESSIONS_FILE,
    ROUNDS_FILE,
    WEKA_FILE,
    DatasetCounts,
    render_readme,
)
from tracelab_pipeline.release.files import gzip_writer, sha256_file
from tracelab_pipeline.release.mooncake import BLOCK_TOKENS, SUBMIT_TIME, MooncakeTrace
from tracelab_pipeline.release.mooncake_sessions import DONE_TIME
from tracelab_pipeline.release.provenance import (
    BUILT_FROM,
    built_from,
    key_fingerprint,
    partition_digest,
)
from tracelab_pipeline.release.public_tables import (
    RELEASE_TABLES,
    months,
    partitions,
    read_partition,
)

MANIFEST_FILE = "MANIFEST.json"
README_FILE = "README.md"
# The parameters of each trace format the MANIFEST states whatever the data (the release
# checks take them, and their keys, as the builder's).
FORMAT_PARAMETERS = {
    "mooncake": {"block_tokens": BLOCK_TOKENS, "submit_time": list(SUBMIT_TIME)},
    "mooncake_sessions": {"done_time": DONE_TIME, "delay_unit": "ms"},
    "weka": {
        "block_tokens": weka.BLOCK_TOKENS,
        "hash_id_scope": weka.HASH_ID_SCOPE,
        "submit_time": list(SUBMIT_TIME),
        "done_time": DONE_TIME,
    },
}
ROW_GROUP_ROWS = 1 << 17
# The columns iter_rounds reads (to_round, _tool_to_round, _event_to_round): turning the
# others into Python objects too was a third of its cost. The fields of a private column
# (source_file, cwd, input_json) are absent from the public layer, so from the rounds too.
# tests/test_release.py checks that the rounds equal those of the whole tables.
ROUND_COLUMNS = {
    "steps": (
        "step_id",
        "provider",
        "project",
        "session_id",
        "step_index",
        "round_id",
        "turn_id",
        "model",
        "reported_input_tokens",
        "input_tokens_total",
        "prefix_tokens",
        "append_tokens",
        "uncached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        *SUMMARY_FIELDS,
        "first_input_event_type",
    ),
    "tool_calls": (
        "step_id",
        "tool_index",
        "tool_name",
        "call_id",
        "emitted_at",
        "result_at",
        "input_chars",
        "result_chars",
        "wall_latency_ms",
        "internal_latency_ms",
        "is_error",
    ),
    "timing_events": (
        "step_id",
        "event_index",
        "event_type",
        "timestamp",
        "source",
        *sorted({a for names in EVENT_ATTRIBUTES.values() for a in names}),
    ),
}


def parquet_file(table: str) -> str:
    return f"parquet/{table}.parquet"


class NothingToRelease(ValueError):
    """The public layer has no partition: a release of it would publish nothing (and would be
    reported "current", built from all 0 partitions). `withdrawn`: a release published before
    was taken down by this build."""

    def __init__(self, message: str, withdrawn: bool) -> None:
        super().__init__(message)
        self.withdrawn = withdrawn


@dataclass
class Release:
    path: Path
    manifest: dict
    published: bool = False
    checks: list = field(default_factory=list)
    # Published, but the release it replaced could not be removed: where it still lies.
    left_aside: Path | None = None


def build_release(
    public_root: str | Path,
    release_dir: str | Path,
    verify: Callable[[Path], list] | None = None,
) -> Release:
    """Stage the release from `public_root`, run `verify(staged_dir)` (check outcomes with a
    `passed` attribute), and publish it at `release_dir` only if every outcome passed.
    Raises NothingToRelease when the public layer has no partition, after withdrawing a
    release published before."""
    release_dir = Path(release_dir)
    withdrawn, empty = False, not partitions(public_root)
    if empty:
        # A release published before holds partitions the public layer no longer has: after
        # `tracelab forget` of the last contributor, keeping it would go on publishing her data.
        # Taken down before the leftovers are removed, which may fail.
        try:
            set_aside(release_dir)
            withdrawn = True
        except FileNotFoundError:  # none published, or withdrawn by another build meanwhile
            pass
    # Releases a failed removal left aside (this build's withdrawal too), stagings of a killed
    # build: they may hold a forgotten contributor's data. Builds run one at a time (the
    # `release` pool): none is another build's.
    try:
        for left in leftovers(release_dir):
            remove_old(left)
    except LeftAside as exc:
        exc.withdrawn = withdrawn
        raise
    if empty:
        raise NothingToRelease(
            f"nothing to release: the public layer {public_root} has no partition (no "
            "contributor-month anonymized, all forgotten, or the public layer deleted by a key "
            "rotation and not rebuilt yet): no release was built"
            + ("; the one published before was withdrawn" if withdrawn else ""),
            withdrawn,
        )
    staging = release_dir.with_name(f".{release_dir.name}.staging-{uuid.uuid4().hex}")
    left_aside = None
    try:
        manifest = write_release(public_root, staging)
        checks = verify(staging) if verify else []
        published = all(c.passed for c in checks)
        if published:
            left_aside = publish(staging, release_dir)
    finally:
        if staging.exists():  # not published
            remove_old(staging)
    return Release(release_dir, manifest, published, checks, left_aside)


def write_release(public_root: str | Path, out: Path) -> dict:
    """Write every release file into `out` (a new directory); returns the manifest.

    One public partition at a time: its tables go to the Parquet writers and the rounds file,
    its steps to the Weka session file, to the Mooncake trace's compact arrays and to the
    counts, and are then dropped.
    """
    (out / "parquet").mkdir(parents=True)
    counts = DatasetCounts()
    trace = MooncakeTrace()
    rounds = 0
    # Read before the partitions: a key marker newer than them would only say "key changed"
    # on a release that the rotation already made stale anyway.
    key = key_fingerprint(public_root)
    read: dict[tuple[str, str], str] = {}  # what the release holds, for MANIFEST `built_from`
    with ExitStack() as stack:
        writers = {
            name: stack.enter_context(TableWriter(out / parquet_file(name), name))
            for name in RELEASE_TABLES
        }
        raw = stack.enter_context(open(out / ROUNDS_FILE, "wb"))
        rounds_file = stack.enter_context(gzip_writer(raw))
        sessions = stack.enter_context(weka.WekaProcess(out / WEKA_FILE))
        for contributor, month in partitions(public_root):
            files: dict[str, str] = {}
            tables = read_partition(public_root, contributor, month, files)
            read[(contributor, month)] = partition_digest(files)
            for name, writer in writers.items():
                writer.write(tables[name])
            rounds += write_rounds(tables, rounds_file)
            sessions.add(tables["steps"])
            trace.add(tables["steps"])
            counts.add(tables)
    mooncake = trace.write(out / MOONCAKE_FILE, out / MOONCAKE_SESSIONS_FILE)
    rows = {parquet_file(name): counts.rows[name] for name in RELEASE_TABLES}
    rows |= {
        ROUNDS_FILE: rounds,
        MOONCAKE_FILE: mooncake["rows"],
        MOONCAKE_SESSIONS_FILE: mooncake["rows"],
        WEKA_FILE: sessions.counts["lines"],
    }
    counts = counts.as_dict(months(public_root))
    files = {name: {"rows": n} for name, n in rows.items()}
    (out / README_FILE).write_text(render_readme(counts, files))
    files[README_FILE] = {"rows": None}
    for name, entry in files.items():
        entry.update(bytes=(out / name).stat().st_size, sha256=sha256_file(out / name))
    manifest = {
        "schema_version": schema.SCHEMA_VERSION,
        BUILT_FROM: built_from(read, key),
        "counts": counts,
        "files": dict(sorted(files.items())),
        "mooncake": {
            **FORMAT_PARAMETERS["mooncake"],
            "steps_without_time": mooncake["steps_without_time"],
        },
        "mooncake_sessions": {**FORMAT_PARAMETERS["mooncake_sessions"], **mooncake["sessions"]},
        "weka": {
            **FORMAT_PARAMETERS["weka"],
            **{k: int(v) for k, v in sorted(sessions.counts.items())},
        },
    }
    (out / MANIFEST_FILE).write_text(manifest_text(manifest))
    return manifest


def manifest_text(manifest: dict) -> str:
    """The MANIFEST as written: sorted keys and a two-space indent, so equal manifests are
    equal bytes (and the release checks can tell a MANIFEST the builder wrote)."""
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def write_rounds(tables: dict[str, pa.Table], f: BinaryIO) -> int:
    """The partition's TraceLab rounds through the round writer's own conversion (iter_rounds),
    given only the columns it reads; returns how many."""
    lines = [
        orjson.dumps(round_row, option=orjson.OPT_APPEND_NEWLINE)
        for round_row in iter_rounds(*(_round_columns(tables, name) for name in RELEASE_TABLES))
    ]
    f.write(b"".join(lines))
    return len(lines)


def _round_columns(tables: dict[str, pa.Table], name: str) -> pa.Table:
    return tables[name].select([c for c in ROUND_COLUMNS[name] if c in tables[name].column_names])


class TableWriter:
    """One merged Parquet file, written as partitions arrive, in row groups of about
    ROW_GROUP_ROWS rows (small partitions are gathered, so a reader never meets hundreds of
    tiny row groups). Memory: at most one row group."""

    def __init__(self, path: Path, table: str):
        target = schema.public_schema(table)
        self.writer = pq.ParquetWriter(
            path,
            target,
            compression="zstd",
            use_dictionary=[c for c in DICTIONARY_COLUMNS if c in target.names],
        )
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def __enter__(self) -> TableWriter:
        return self

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            merged = pa.concat_tables(self.pending)
            self.writer.write_table(merged, row_group_size=max(merged.num_rows, 1))
            self.pending, self.pending_rows = [], 0

    def __exit__(self, *exc) -> None:
        self.flush()
        self.writer.close()


def publish(staging: Path, release_dir: Path) -> Path | None:
    """Swap the staged directory in; the previous release is removed only once replaced.
    Returns where the previous release still lies if it could not be removed (the new one is
    published all the same)."""
    old = set_aside(release_dir) if release_dir.exists() else None
    try:
        os.replace(staging, release_dir)
    except BaseException:
        if old is not None:
            os.replace(old, release_dir)
        raise
    if old is not None:
        try:
            remove_old(old)
        except LeftAside:
            return old
    return None


def set_aside(release_dir: Path) -> Path:
    """Renames a published release out of its place (one rename: readers never see part of
    it); returns where it went, a hidden directory beside it."""
    old = release_dir.with_name(f".{release_dir.name}.old-{uuid.uuid4().hex}")
    os.replace(release_dir, old)
    return old


def leftovers(release_dir: Path) -> list[Path]:
    """The hidden directories beside `release_dir` that a release set aside and not removed,
    or a build that never finished, left behind."""
    prefix = f".{release_dir.name}."
    return sorted(
        p for pattern in ("old-*", "staging-*") for p in release_dir.parent.glob(prefix + pattern)
    )


class LeftAside(OSError):
    """Release data set aside or staged could not be removed: it stays under a hidden name.
    `withdrawn`: a release published before was taken down by the build that raised it."""

    withdrawn = False


def remove_old(old: Path) -> None:
    """Removes a release set aside or staged, or fails naming it: it may hold a forgotten
    contributor's data, which must not stay there unsaid."""
    try:
        shutil.rmtree(old)
    except OSError as exc:
        raise LeftAside(
            f"release data set aside at {old}, could not be removed ({exc}): its files are "
            "still there; delete that directory"
        ) from exc
