"""Land an inbox: every new drop is checked, its logs copied content-addressed into
`<data>/landed/objects/`, and an outcome with a reason recorded per drop.

Idempotent: an inbox object already seen (same path, size and mtime/ETag) is skipped without
reading it; an identical re-drop lands nothing new. One lander at a time (file lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tracelab_pipeline.formats.jsonl import GZIP_MAGIC, LOG_SUFFIXES, log_stem
from tracelab_pipeline.formats.zstd import ZSTD_MAGIC
from tracelab_pipeline.landing.archives import RefusedArchive, iter_archive
from tracelab_pipeline.landing.consent import Consent
from tracelab_pipeline.landing.handles import (
    is_valid_handle,
    new_handle_problem,
    refusal,
)
from tracelab_pipeline.landing.inbox import InboxListing, list_inbox, text_name
from tracelab_pipeline.landing.limits import ARCHIVE_SUFFIXES, Limits, kind_of
from tracelab_pipeline.landing.registry import Registry
from tracelab_pipeline.landing.scan import LogScan, UnreadableLog, scan_log

CHUNK = 1 << 20
ACCEPTED = ".jsonl, .jsonl.gz, .jsonl.zst, .tar.gz, .tgz, .zip"


@dataclass
class LandingReport:
    """What one call to `land_inbox` did."""

    generation: int
    drops: list[dict] = field(default_factory=list)
    files_landed: int = 0
    changed_partitions: list[str] = field(default_factory=list)
    # Inbox objects left for the next call because the time budget ran out.
    pending: int = 0
    # "<inbox path>: <error>" for drops that could not be read this time (a network error, a
    # file being replaced): not recorded as seen, so the next call tries them again.
    retry: list[str] = field(default_factory=list)
    # Inbox objects per handle not on the consent list: left in the inbox, not recorded (not
    # even as seen), so they land on a later call once the handle is added.
    held: dict[str, int] = field(default_factory=dict)


def land_inbox(
    inbox: str,
    landed_dir: str | Path,
    *,
    storage_options: dict | None = None,
    limits: Limits | None = None,
    budget_s: float | None = None,
    consent: Consent | None = None,
) -> LandingReport:
    """Land everything new in `inbox` (local path or fsspec URL) into `landed_dir`.

    With `budget_s`, stop starting new drops after that many seconds (a sensor tick has a
    deadline); what is left is counted in `pending` and landed by the next call. With
    `consent`, drops of handles it does not allow are held (`held`); without, all land.
    """
    limits = limits or Limits()
    landed = Path(landed_dir)
    landed.mkdir(parents=True, exist_ok=True)
    listing = list_inbox(inbox, storage_options)
    with _lock(landed), Registry(landed) as reg:
        reg.keep_handles(
            o.contributor
            for o in listing.objects
            if o.contributor
            and is_valid_handle(o.contributor)
            and new_handle_problem(o.contributor)
        )
        gen = reg.generation + 1
        lander = _Lander(reg, landed, listing, limits, gen, budget_s, consent)
        report = lander.run()
        if report.drops:
            reg.next_generation()
            touched = sorted({d["contributor"] for d in report.drops if d.get("contributor")})
            for contributor in touched:
                _rescan_older_rows(reg, contributor, limits, lander.deadline)
                report.changed_partitions.extend(reg.replan(contributor, gen))
            reg.db.commit()
            report.generation = gen
        else:
            report.generation = reg.generation
        return report


def _rescan_older_rows(
    reg: Registry, contributor: str, limits: Limits, deadline: float | None
) -> None:
    """Files landed before the registry recorded every session a log names (and a Codex
    header's own start) are scanned again, once: placed from their first session only, a
    resumed log's later session did not link that session's sub-agent files. So are unplaced
    files landed before it recorded a line too long to read (few): their reason said the log
    had no timestamp. Within the landing's time budget; the rest keep their first session
    until a later landing."""
    rows = reg.db.execute(
        "SELECT sha256, object_path FROM files WHERE contributor = ? AND (sessions IS NULL"
        " OR (status = 'unplaced' AND long_line IS NULL))",
        (contributor,),
    ).fetchall()
    for sha, path in rows:
        if deadline and time.monotonic() > deadline:
            return
        try:
            scan = scan_log(reg.object_file(path), limits.max_log_bytes, limits.max_line_bytes)
        except UnreadableLog:
            # Placed as before, from what the registry already holds; marked scanned, so it is
            # not read again at every drop.
            reg.db.execute(
                "UPDATE files SET sessions = coalesce(sessions, ''),"
                " long_line = coalesce(long_line, '') WHERE contributor = ? AND sha256 = ?",
                (contributor, sha),
            )
            continue
        reg.db.execute(
            "UPDATE files SET sessions = ?, first_ts = coalesce(?, first_ts), long_line = ?"
            " WHERE contributor = ? AND sha256 = ?",
            ("\n".join(scan.sessions), _first_ts(scan), scan.long_line or "", contributor, sha),
        )


def _first_ts(scan: LogScan) -> str | None:
    return scan.first_ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if scan.first_ts else None


@contextmanager
def _lock(landed: Path):
    with open(landed / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# Other writers of the registry (tracelab forget) take the same lock.
landing_lock = _lock


class _Lander:
    def __init__(
        self, reg, landed: Path, listing: InboxListing, limits, gen, budget_s, consent=None
    ) -> None:
        self.reg = reg
        self.landed = landed
        self.listing = listing
        self.limits = limits
        self.gen = gen
        self.tmp = landed / "tmp"
        # Only the lock holder uses tmp/: anything there is from a lander that was killed.
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(exist_ok=True)
        self.report = LandingReport(generation=gen)
        self.deadline = time.monotonic() + budget_s if budget_s else None
        self.consent = consent

    def _hold(self, contributor: str | None, count: bool = True) -> bool:
        """A drop of a valid handle without consent: counted, nothing else (an invalid
        handle can never be on the list, and is refused with its reason as before)."""
        if self.consent is None or not contributor or not is_valid_handle(contributor):
            return False
        if self.consent.allows(contributor):
            return False
        if count:
            self.report.held[contributor] = self.report.held.get(contributor, 0) + 1
        return True

    def run(self) -> LandingReport:
        for problem in self.listing.problems:
            if self.reg.has_seen(problem.path, problem.fingerprint):
                continue
            # An empty directory holds nothing to count; it is not recorded either.
            if self._hold(problem.contributor, count=problem.kind != "dir"):
                continue
            self._record(
                problem.path,
                problem.fingerprint,
                problem.contributor,
                problem.kind,
                None,
                None,
                problem.outcome,
                problem.reason,
            )
        for obj in self.listing.objects:
            if self.reg.has_seen(obj.path, obj.fingerprint):
                continue
            if self._hold(obj.contributor):
                continue
            # At least one drop per call, so a slow inbox still makes progress.
            if self.deadline and self.report.drops and time.monotonic() > self.deadline:
                self.report.pending += 1
                continue
            self._land_object(obj)
        return self.report

    def _record(
        self,
        path,
        fingerprint,
        contributor,
        kind,
        sha,
        size,
        outcome,
        reason,
        members=(),
        landed=0,
        skipped=0,
    ) -> None:
        drop_id = self.reg.add_drop(
            self.gen,
            contributor=contributor,
            inbox_path=path,
            kind=kind,
            sha256=sha,
            size=size,
            outcome=outcome,
            reason=reason,
            files_landed=landed,
            files_skipped=skipped,
        )
        for m in members:
            self.reg.add_member(drop_id, **m)
        # Files of this drop were staged before the drop row existed.
        self.reg.db.execute("UPDATE files SET drop_id = ? WHERE drop_id = 0", (drop_id,))
        self.reg.mark_seen(path, fingerprint, drop_id)
        self.report.drops.append(
            {
                "drop_id": drop_id,
                "contributor": contributor,
                "inbox_path": path,
                "kind": kind,
                "outcome": outcome,
                "reason": reason,
                "files_landed": landed,
                "files_skipped": skipped,
            }
        )

    def _land_object(self, obj) -> None:
        def record(outcome, reason, **kw):
            self._record(
                obj.path,
                obj.fingerprint,
                obj.contributor,
                obj.kind,
                kw.pop("sha", None),
                obj.size,
                outcome,
                reason,
                **kw,
            )

        # (a handle in use before the rules for new ones keeps landing: Registry.keeps_handle)
        problem = refusal(obj.contributor, self.reg.keeps_handle)
        if problem:
            return record("refused", problem)
        if obj.kind is None:
            return record("unsupported", f"unsupported file type (accepted: {ACCEPTED})")
        if obj.size == 0:
            return record("empty", "empty file")
        work = Path(tempfile.mkdtemp(dir=self.tmp))
        try:
            try:
                local, sha = self._fetch(obj, work)
            except OSError as exc:
                self.report.retry.append(f"{obj.path}: cannot read from the inbox: {exc}")
                return
            if self.reg.drop_already_landed(obj.contributor, sha):
                return record("duplicate", "identical to an earlier drop", sha=sha)
            if obj.kind == "log":
                staged = [self._stage_log(obj.name, local, sha)]
            else:
                try:
                    staged = self._stage_archive(local, work)
                except RefusedArchive as exc:
                    return record("refused", str(exc), sha=sha)
            members, landed, skipped = self._commit(staged, obj.contributor)
            unreadable = [m for m in members if m["outcome"] == "unreadable"]
            not_taken = [m for m in members if m["outcome"] in ("unreadable", "skipped")]
            if landed:
                outcome, reason = "landed", None
                if not_taken:
                    first = not_taken[0]
                    reason = (
                        f"{len(not_taken)} file(s) in it not taken, e.g. "
                        f"{first['member']}: {first['reason']}"
                    )
            elif any(m["outcome"] == "duplicate" for m in members):
                outcome, reason = "duplicate", "every log in it had already landed"
            elif unreadable:
                outcome = "refused"
                reason = f"{unreadable[0]['member']}: {unreadable[0]['reason']}"
            else:
                outcome, reason = "empty", "no .jsonl/.jsonl.gz/.jsonl.zst log in the drop"
            record(outcome, reason, sha=sha, members=members, landed=landed, skipped=skipped)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _fetch(self, obj, work: Path) -> tuple[Path, str]:
        """A copy of the drop in `work` and its sha256, from one read of the inbox object: a
        local file may still be written or replaced while it lands, and its hash, its scan and
        the landed object must all be of the same bytes."""
        local = work / ("drop" + _suffix(obj.name))
        opener = open if self.listing.local else self.listing.fs.open
        with opener(obj.url, "rb") as src, open(local, "wb") as dst:
            sha = _copy_hashing(src, dst)
        return local, sha

    def _stage_log(self, name: str, local: Path, sha: str) -> dict:
        try:
            scan = scan_log(local, self.limits.max_log_bytes, self.limits.max_line_bytes)
        except UnreadableLog as exc:
            return {"member": name, "outcome": "unreadable", "reason": str(exc), "sha256": sha}
        return {"member": name, "path": local, "sha256": sha, "scan": scan, "outcome": "staged"}

    def _stage_archive(self, local: Path, work: Path) -> list[dict]:
        staged = []
        for raw_name, stream in iter_archive(str(local), self.limits):
            name = text_name(raw_name)
            try:
                if kind_of(name) != "log":
                    reason = (
                        "nested archives are not opened"
                        if kind_of(name) == "archive"
                        else "unsupported file type (accepted inside archives: "
                        ".jsonl, .jsonl.gz, .jsonl.zst)"
                    )
                    staged.append({"member": name, "outcome": "skipped", "reason": reason})
                    continue
                target = work / uuid.uuid4().hex
                with open(target, "wb") as dst:
                    sha = _copy_hashing(stream, dst)
                staged.append(self._stage_log(name, target, sha))
            finally:
                stream.close()
        return staged

    def _commit(self, staged: list[dict], contributor: str) -> tuple[list[dict], int, int]:
        members, landed, skipped = [], 0, 0
        seen_here: set[str] = set()
        for s in staged:
            if s["outcome"] != "staged":
                skipped += 1
                members.append({k: s.get(k) for k in ("member", "outcome", "reason", "sha256")})
                continue
            sha = s["sha256"]
            if sha in seen_here or self.reg.has_file(contributor, sha):
                members.append(
                    {
                        "member": s["member"],
                        "outcome": "duplicate",
                        "reason": "identical file already landed",
                        "sha256": sha,
                    }
                )
                continue
            seen_here.add(sha)
            obj_path = self._store(s["path"], sha)
            scan = s["scan"]
            self.reg.add_file(
                self.gen,
                contributor=contributor,
                sha256=sha,
                object_path=str(obj_path),
                member=s["member"],
                drop_id=0,
                size=obj_path.stat().st_size,
                lines=scan.lines,
                stream_key=_stream_key(scan.root_session, s["member"]),
                root_session=scan.root_session,
                first_ts=_first_ts(scan),
                # "" when it names none: NULL marks a row landed before sessions were recorded
                sessions="\n".join(scan.sessions),
                long_line=scan.long_line or "",  # as sessions: NULL is "not scanned for it"
            )
            members.append(
                {"member": s["member"], "outcome": "landed", "reason": None, "sha256": sha}
            )
            landed += 1
        self.report.files_landed += landed
        return members, landed, skipped

    def _store(self, src: Path, sha: str) -> Path:
        """Content-addressed: objects/<sha[:2]>/<sha>.jsonl[.gz|.zst]; written once. `src` is
        a staged file in tmp/, on the same file system, so it is moved, not copied."""
        ext = _landed_suffix(src)
        dest = self.landed / "objects" / sha[:2] / f"{sha}{ext}"
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        return dest


def _stream_key(root_session: str | None, member: str) -> str | None:
    """Versions of the same log share this: its session and its file name."""
    if not root_session:
        return None
    name = member.replace("\\", "/").rsplit("/", 1)[-1]
    return f"{root_session}/{log_stem(name)}"


def _landed_suffix(path: Path) -> str:
    """From the content, as the readers decide, not from the name it was dropped under."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == GZIP_MAGIC:
        return ".jsonl.gz"
    return ".jsonl.zst" if magic == ZSTD_MAGIC else ".jsonl"


def _suffix(name: str) -> str:
    lower = name.lower()
    for s in (*ARCHIVE_SUFFIXES, *LOG_SUFFIXES):
        if lower.endswith(s):
            return s
    return ""


def _copy_hashing(src: IO[bytes], dst: IO[bytes]) -> str:
    h = hashlib.sha256()
    while chunk := src.read(CHUNK):
        h.update(chunk)
        dst.write(chunk)
    return h.hexdigest()
