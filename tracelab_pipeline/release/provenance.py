"""What a release was built from, and how far the public layer has moved since.

`MANIFEST.json` → `built_from` records the public partitions the release read, each with a
digest of the bytes it read, and the fingerprint of the pseudonym key that built them. Comparing
that record with the public layer as it is now tells whether the published release is stale:
partitions added (new logs), changed (re-anonymized, rebuilt with new rules) or removed
(`tracelab forget`, a deleted public layer), and whether the key changed (a rotation: every
pseudonym differs). Nothing here rebuilds the release: that stays a decision.

The key fingerprint is the one the public layer already records (`public_store.KEY_MARKER`):
HMAC-SHA256 under the key of a fixed message, truncated to 48 bits. For a key with the entropy
it should have (a random 32-byte key, as the demo key is) it says nothing about the key. For a
guessable key it lets anyone test guesses offline, but so does any release pseudonym whose raw
id can be guessed (a contributor handle), so it adds no exposure: the key's entropy is what
protects the pseudonyms (docs/release.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from tracelab_pipeline.anonymize.public_store import KEY_MARKER, PART_FILE, public_partition_dir
from tracelab_pipeline.release.files import sha256_file
from tracelab_pipeline.release.public_tables import RELEASE_TABLES, partitions

BUILT_FROM = "built_from"
RELEASE_IS_CURRENT = "release_is_current"  # the name of the check that reports staleness
LISTED_MAX = 20  # partitions named in a check's metadata; the counts are always complete


def partition_digest(file_digests: dict[str, str]) -> str:
    """One digest of a partition: SHA-256 over `<table> <SHA-256 of its part.parquet>` lines of
    the release tables it has, so a partition changes when any of its files does."""
    lines = "".join(f"{t} {file_digests[t]}\n" for t in RELEASE_TABLES if t in file_digests)
    return hashlib.sha256(lines.encode()).hexdigest()


def key_fingerprint(public_root: str | Path) -> str | None:
    """The fingerprint of the key that built the public layer; None before its first
    publication (or once it was deleted)."""
    try:
        return (Path(public_root) / KEY_MARKER).read_text().strip() or None
    except FileNotFoundError:
        return None


def built_from(digests: dict[tuple[str, str], str], key: str | None) -> dict:
    """The manifest's record of its inputs, from {(contributor pseudonym, month): digest}."""
    return {
        "pseudonym_key_fingerprint": key,
        "partitions": [
            {"contributor": c, "month": m, "sha256": d} for (c, m), d in sorted(digests.items())
        ],
    }


def public_state(public_root: str | Path) -> dict[tuple[str, str], str]:
    """{(contributor pseudonym, month): digest} of the public layer as it is now (reads and
    hashes every part file of the release tables: about 1 s per GB)."""
    state = {}
    for contributor, month in partitions(public_root):
        files = {}
        for table in RELEASE_TABLES:
            path = public_partition_dir(public_root, table, month, contributor) / PART_FILE
            try:
                files[table] = sha256_file(path)
            except FileNotFoundError:
                continue
        state[(contributor, month)] = partition_digest(files)
    return state


@dataclass
class Staleness:
    """The published release against the public layer now."""

    published: bool = False
    recorded: bool = False  # the manifest has `built_from` (releases before it had not)
    partitions: int = 0  # in the public layer now
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    release_key: str | None = None
    public_key: str | None = None

    @property
    def key_changed(self) -> bool | None:
        if self.release_key is None or self.public_key is None:
            return None
        return self.release_key != self.public_key

    @property
    def stale(self) -> bool:
        if not self.published:
            return False  # nothing published: nothing out of date
        return not self.recorded or bool(
            self.added or self.changed or self.removed or self.key_changed
        )

    def line(self) -> str:
        if not self.published:
            return "release: none published"
        if not self.recorded:
            return (
                "release: stale? its MANIFEST.json predates `built_from` (what it was built "
                f"from); {self._rebuild('rebuild it to track staleness')}"
            )
        if not self.stale:
            return f"release: current (built from all {self.partitions} public partitions)"
        key = {True: "changed", False: "unchanged", None: "unknown"}[self.key_changed]
        return (
            f"release: STALE: since it was built, {len(self.added)} public partition(s) added, "
            f"{len(self.changed)} changed, {len(self.removed)} removed; pseudonym key {key}; "
            f"{self._rebuild('rebuild it (docs/release.md)')}"
        )

    def _rebuild(self, advice: str) -> str:
        if self.partitions:
            return advice
        # After forgetting the last contributor, or a key rotation's deleted public layer.
        return (
            "the public layer has no partition: rebuilding withdraws it (the run fails, "
            "publishing nothing)"
        )

    def metadata(self) -> dict:
        return {
            "release_published": self.published,
            "provenance_recorded": self.recorded,
            "public_partitions": self.partitions,
            "partitions_added": len(self.added),
            "partitions_changed": len(self.changed),
            "partitions_removed": len(self.removed),
            "pseudonym_key_changed": "unknown" if self.key_changed is None else self.key_changed,
            "release_key_fingerprint": self.release_key or "",
            "public_key_fingerprint": self.public_key or "",
            "added": self.added[:LISTED_MAX],
            "changed": self.changed[:LISTED_MAX],
            "removed": self.removed[:LISTED_MAX],
        }


def staleness(release_dir: str | Path, public_root: str | Path) -> Staleness:
    """Compare the release's `built_from` with the public layer now. Partitions are named
    `<month>/<contributor pseudonym>` (never a raw handle)."""
    from tracelab_pipeline.release.build import MANIFEST_FILE

    result = Staleness(public_key=key_fingerprint(public_root))
    now = public_state(public_root)
    result.partitions = len(now)
    try:
        manifest = json.loads((Path(release_dir) / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        return result
    result.published = True
    record = manifest.get(BUILT_FROM)
    if record is None:
        return result
    result.recorded = True
    result.release_key = record.get("pseudonym_key_fingerprint")
    then = {(p["contributor"], p["month"]): p["sha256"] for p in record.get("partitions", [])}

    def name(key: tuple[str, str]) -> str:
        return f"{key[1]}/{key[0]}"

    result.added = sorted(name(k) for k in now.keys() - then.keys())
    result.removed = sorted(name(k) for k in then.keys() - now.keys())
    result.changed = sorted(name(k) for k in now.keys() & then.keys() if now[k] != then[k])
    return result
