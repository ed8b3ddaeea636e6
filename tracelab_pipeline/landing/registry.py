"""The landing registry: a small SQLite file under `<data>/landed/` recording every drop,
every landed file (content-addressed), which version of a session is current, and which
contributor-month partition each file feeds.

A monotonically increasing `generation` is bumped by every landing that changed something;
each partition remembers the generation at which its set of input files last changed, which is
what the inbox sensor compares its cursor against.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from tracelab_pipeline.landing.handles import PARTITION_SEPARATOR

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
    inbox_path TEXT NOT NULL, fingerprint TEXT NOT NULL, drop_id INTEGER,
    PRIMARY KEY (inbox_path, fingerprint));
CREATE TABLE IF NOT EXISTS drops (
    drop_id INTEGER PRIMARY KEY AUTOINCREMENT, contributor TEXT, inbox_path TEXT NOT NULL,
    kind TEXT, sha256 TEXT, size INTEGER, outcome TEXT NOT NULL, reason TEXT,
    files_landed INTEGER NOT NULL DEFAULT 0, files_skipped INTEGER NOT NULL DEFAULT 0,
    generation INTEGER NOT NULL, landed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS drop_members (
    drop_id INTEGER NOT NULL, member TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT,
    sha256 TEXT);
CREATE TABLE IF NOT EXISTS files (
    contributor TEXT NOT NULL, sha256 TEXT NOT NULL, object_path TEXT NOT NULL,
    member TEXT NOT NULL, drop_id INTEGER NOT NULL, size INTEGER NOT NULL,
    lines INTEGER NOT NULL, stream_key TEXT, root_session TEXT, first_ts TEXT,
    status TEXT NOT NULL, status_reason TEXT, superseded_by TEXT, month TEXT,
    generation INTEGER NOT NULL, sessions TEXT, long_line TEXT,
    PRIMARY KEY (contributor, sha256));
CREATE TABLE IF NOT EXISTS kept_handles (contributor TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS partitions (
    key TEXT PRIMARY KEY, contributor TEXT NOT NULL, month TEXT NOT NULL, digest TEXT NOT NULL,
    files INTEGER NOT NULL, changed_generation INTEGER NOT NULL);
"""

REGISTRY_NAME = "registry.sqlite"
# files.object_path is relative to the data dir: landed/objects/<sha[:2]>/<name>. The meta key
# marks a registry whose older, absolute rows were rewritten so (once).
LANDED = PurePosixPath("landed")
OBJECTS = "objects"
RELATIVE_PATHS = "object_paths_relative"
KEPT_HANDLES = "kept_handles_taken"
ROUND_EXPORT = (
    "a TraceLab round export, which holds sessions of many months, is imported with"
    " `tracelab normalize`"
)
NO_MONTH = (
    "no timestamp in the log: no month to file it under (not a Claude Code or Codex session"
    f" log: {ROUND_EXPORT}; anything else is not a log)"
)


@dataclass(frozen=True)
class LandedFile:
    contributor: str
    sha256: str
    object_path: str
    member: str
    lines: int
    root_session: str | None
    first_ts: str | None
    month: str | None


@dataclass(frozen=True)
class PartitionState:
    key: str
    contributor: str
    month: str
    digest: str
    files: int
    changed_generation: int


class Registry:
    def __init__(self, landed_dir: str | Path) -> None:
        self.landed_dir = Path(landed_dir)
        self.landed_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.landed_dir / REGISTRY_NAME, timeout=120)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(_SCHEMA)
        columns = {r["name"] for r in self.db.execute("PRAGMA table_info(files)")}
        # A registry written before files named their sessions, or their first line too long
        # to read.
        for column in ("sessions", "long_line"):
            if column in columns:
                continue
            try:
                self.db.execute(f"ALTER TABLE files ADD COLUMN {column} TEXT")
            except sqlite3.OperationalError as exc:  # another process added it meanwhile
                if "duplicate column" not in str(exc):
                    raise
        if self._meta(RELATIVE_PATHS) is None:
            self._relativize_object_paths()

    def _meta(self, key: str) -> int | None:
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return row[0] if row else None

    def _relativize_object_paths(self) -> None:
        """Once per registry: rows landed before paths were stored relative to the data dir
        held the absolute path of the day (gone once the data dir moved). Objects live at
        landed/objects/<sha[:2]>/<name>, so the last two parts say where. Idempotent: two
        processes doing it at once write the same values."""
        rows = self.db.execute(
            "SELECT contributor, sha256, object_path FROM files WHERE object_path LIKE '/%'"
        ).fetchall()
        for r in rows:
            p = PurePosixPath(r["object_path"])
            self.db.execute(
                "UPDATE files SET object_path = ? WHERE contributor = ? AND sha256 = ?",
                (str(LANDED / OBJECTS / p.parent.name / p.name), r["contributor"], r["sha256"]),
            )
        self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, 1)", (RELATIVE_PATHS,))
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        row = self.db.execute("SELECT v FROM meta WHERE k = 'generation'").fetchone()
        return row[0] if row else 0

    def partitions(self) -> list[PartitionState]:
        rows = self.db.execute("SELECT * FROM partitions WHERE files > 0 ORDER BY key")
        return [PartitionState(**dict(r)) for r in rows]

    def changed_since(self, generation: int) -> list[PartitionState]:
        """Partitions whose input files changed after `generation` (including emptied ones)."""
        rows = self.db.execute(
            "SELECT * FROM partitions WHERE changed_generation > ? ORDER BY key", (generation,)
        )
        return [PartitionState(**dict(r)) for r in rows]

    def files_for_partition(self, key: str) -> list[LandedFile]:
        contributor, _, month = key.rpartition(PARTITION_SEPARATOR)
        rows = self.db.execute(
            "SELECT contributor, sha256, object_path, member, lines, root_session, first_ts, month"
            " FROM files WHERE contributor = ? AND month = ? AND status = 'active'"
            " ORDER BY sha256",
            (contributor, month),
        )
        return [
            LandedFile(**{**r, "object_path": self.object_file(r["object_path"])}) for r in rows
        ]

    def object_file(self, stored: str) -> str:
        """The absolute path of a landed object: `object_path` is stored relative to the data
        dir (`landed/objects/<sha[:2]>/<name>`), and this registry is `<data>/landed/`, so a
        data directory moved or mounted elsewhere still finds its objects."""
        return str(self.landed_dir / PurePosixPath(stored).relative_to(LANDED))

    def stored_path(self, object_file: str | Path) -> str:
        """What `object_path` stores for an object under this registry's directory."""
        return str(LANDED / PurePosixPath(Path(object_file).relative_to(self.landed_dir)))

    def partition_digest(self, key: str) -> str | None:
        row = self.db.execute("SELECT digest FROM partitions WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def drops(self) -> list[dict]:
        rows = self.db.execute("SELECT * FROM drops ORDER BY drop_id")
        return [dict(r) for r in rows]

    def drop_members(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM drop_members ORDER BY rowid")]

    def files(self) -> list[dict]:
        """Every row, `object_path` resolved to where the object is now."""
        return [
            {**r, "object_path": self.object_file(r["object_path"])}
            for r in self.db.execute("SELECT * FROM files ORDER BY contributor, sha256")
        ]

    def has_seen(self, inbox_path: str, fingerprint: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM seen WHERE inbox_path = ? AND fingerprint = ?", (inbox_path, fingerprint)
        ).fetchone()
        return row is not None

    def drop_already_landed(self, contributor: str, sha256: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM drops WHERE contributor = ? AND sha256 = ?"
            " AND outcome IN ('landed', 'duplicate')",
            (contributor, sha256),
        ).fetchone()
        return row is not None

    def has_landed(self, contributor: str) -> bool:
        """Whether any log of `contributor` has landed (and was not forgotten)."""
        row = self.db.execute(
            "SELECT 1 FROM files WHERE contributor = ? LIMIT 1", (contributor,)
        ).fetchone()
        return row is not None

    def keeps_handle(self, contributor: str) -> bool | None:
        """Whether landing takes `contributor` though a new contributor may not take it
        (handles.new_handle_problem): it has landed, or it had drops in the inbox when landing
        first ran with that rule (keep_handles). None when it is not known yet (no landing
        has run with the rule)."""
        if self.has_landed(contributor):
            return True
        if self._meta(KEPT_HANDLES) is None:
            return None
        row = self.db.execute(
            "SELECT 1 FROM kept_handles WHERE contributor = ?", (contributor,)
        ).fetchone()
        return row is not None

    def has_file(self, contributor: str, sha256: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM files WHERE contributor = ? AND sha256 = ?", (contributor, sha256)
        ).fetchone()
        return row is not None

    # -- writing (callers hold the landing lock and commit) ----------------------------------

    def next_generation(self) -> int:
        gen = self.generation + 1
        self.db.execute(
            "INSERT INTO meta (k, v) VALUES ('generation', ?)"
            " ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            (gen,),
        )
        return gen

    def keep_handles(self, handles: Iterable[str]) -> None:
        """Once per registry, at the first landing with the rule for new handles: `handles`,
        those the inbox then held drops of, keep landing. They were dropped before the rule
        (held for consent, or not landed yet), and contribute and collect keep a handle the
        inbox holds: what they took must land."""
        if self._meta(KEPT_HANDLES) is not None:
            return
        self.db.executemany(
            "INSERT OR IGNORE INTO kept_handles (contributor) VALUES (?)", ((h,) for h in handles)
        )
        self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, 1)", (KEPT_HANDLES,))
        self.db.commit()

    def mark_seen(self, inbox_path: str, fingerprint: str, drop_id: int | None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO seen (inbox_path, fingerprint, drop_id) VALUES (?, ?, ?)",
            (inbox_path, fingerprint, drop_id),
        )

    def add_drop(self, generation: int, **row) -> int:
        row = {"files_landed": 0, "files_skipped": 0, **row}
        cur = self.db.execute(
            "INSERT INTO drops (contributor, inbox_path, kind, sha256, size, outcome, reason,"
            " files_landed, files_skipped, generation, landed_at)"
            " VALUES (:contributor, :inbox_path, :kind, :sha256, :size, :outcome, :reason,"
            " :files_landed, :files_skipped, :generation, :landed_at)",
            {**row, "generation": generation, "landed_at": datetime.now().astimezone().isoformat()},
        )
        return int(cur.lastrowid)

    def add_member(self, drop_id: int, member: str, outcome: str, reason=None, sha256=None):
        self.db.execute(
            "INSERT INTO drop_members (drop_id, member, outcome, reason, sha256)"
            " VALUES (?, ?, ?, ?, ?)",
            (drop_id, member, outcome, reason, sha256),
        )

    def add_file(self, generation: int, **row) -> None:
        """`object_path`: the object's absolute path; stored relative to the data dir."""
        row["object_path"] = self.stored_path(row["object_path"])
        self.db.execute(
            "INSERT INTO files (contributor, sha256, object_path, member, drop_id, size, lines,"
            " stream_key, root_session, first_ts, sessions, long_line, status, generation)"
            " VALUES (:contributor, :sha256, :object_path, :member, :drop_id, :size, :lines,"
            " :stream_key, :root_session, :first_ts, :sessions, :long_line, 'active',"
            " :generation)",
            {**row, "generation": generation},
        )

    def replan(self, contributor: str, generation: int) -> list[str]:
        """Recompute current versions and partition membership of one contributor's files.

        Returns the partition keys whose set of input files changed (stamped `generation`).
        """
        rows = [
            dict(r)
            for r in self.db.execute("SELECT * FROM files WHERE contributor = ?", (contributor,))
        ]
        status: dict[str, tuple[str, str | None, str | None]] = {}
        by_stream: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            if r["stream_key"]:
                by_stream[r["stream_key"]].append(r)
            else:
                status[r["sha256"]] = ("active", None, None)
        for versions in by_stream.values():
            longest = max(versions, key=lambda v: (v["lines"], v["generation"], v["sha256"]))
            for v in versions:
                if v["lines"] < longest["lines"]:
                    reason = f"an older version of this session ({v['lines']} lines)"
                    status[v["sha256"]] = ("superseded", reason, longest["sha256"])
                else:
                    status[v["sha256"]] = ("active", None, None)
        # Month of the conversation's start: the earliest timestamp over all current files that
        # share a main session (a sub-agent file its parent's, a resumed or forked log the
        # session it repeats), so those files land in one partition and are de-duplicated there.
        family = _Families()
        for r in rows:
            # A log without a timestamp (a TraceLab round export naming sessions of many
            # months) links nothing: it would pull unrelated conversations into one month.
            if status[r["sha256"]][0] == "active" and r["first_ts"]:
                family.join([f"file:{r['sha256']}", *_sessions(r)])
        starts: dict[str, str] = {}
        for r in rows:
            if status[r["sha256"]][0] != "active" or not r["first_ts"]:
                continue
            group = family.find(f"file:{r['sha256']}")
            starts[group] = min(starts.get(group, r["first_ts"]), r["first_ts"])
        members: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            state, reason, winner = status[r["sha256"]]
            month = None
            if state == "active":
                start = starts.get(family.find(f"file:{r['sha256']}"))
                if start is None:
                    state, reason = "unplaced", _no_month(r["long_line"])
                else:
                    month = start[:7]
                    members[month].append(r["sha256"])
            self.db.execute(
                "UPDATE files SET status = ?, status_reason = ?, superseded_by = ?, month = ?"
                " WHERE contributor = ? AND sha256 = ?",
                (state, reason, winner, month, contributor, r["sha256"]),
            )
        changed = []
        old = {
            r["month"]: r["digest"]
            for r in self.db.execute(
                "SELECT month, digest FROM partitions WHERE contributor = ?", (contributor,)
            )
        }
        for month in sorted(set(old) | set(members)):
            shas = sorted(members.get(month, []))
            digest = hashlib.sha256("\n".join(shas).encode()).hexdigest()
            if old.get(month) == digest:
                continue
            key = f"{contributor}{PARTITION_SEPARATOR}{month}"
            self.db.execute(
                "INSERT INTO partitions"
                " (key, contributor, month, digest, files, changed_generation)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " digest = excluded.digest, files = excluded.files,"
                " changed_generation = excluded.changed_generation",
                (key, contributor, month, digest, len(shas), generation),
            )
            changed.append(key)
        return changed


def _no_month(long_line: str | None) -> str:
    """Why a file has no month: a line too long to read may have held its timestamp."""
    if long_line:
        return (
            f"{long_line}: not read, and it may have held its timestamp: no other line has one, "
            f"so there is no month to file the log under (kept as landed, never normalized; "
            f"{ROUND_EXPORT})"
        )
    return NO_MONTH


def _sessions(row) -> list[str]:
    """The main sessions a landed file names (only its first, for rows landed before files
    recorded them all)."""
    if row["sessions"]:
        return row["sessions"].split("\n")
    return [row["root_session"]] if row["root_session"] else []


class _Families:
    """Union-find over files ("file:<sha256>") and the session keys they name."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, keys: list[str]) -> None:
        root = self.find(keys[0])
        for key in keys[1:]:
            other = self.find(key)
            if other != root:
                self.parent[other] = root
