"""Packing this machine's logs into one archive and dropping it into an inbox.

The archive is named after a digest of its content (paths + file hashes), and built
reproducibly (sorted members, fixed mtimes), so an unchanged set of logs maps to the same
name and is not uploaded again.
"""

from __future__ import annotations

import gzip
import hashlib
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import fsspec

from tracelab_pipeline.collect import FoundLog, no_logs_found
from tracelab_pipeline.landing.handles import refusal

CHUNK = 1 << 20


@dataclass
class Contribution:
    target: str
    files: int
    bytes: int
    uploaded: bool
    # Logs left out of the drop because they cannot be read (path -> why): a link to nothing,
    # a file without read permission. The others are still dropped.
    unreadable: dict[str, str] = field(default_factory=dict)


def logs_digest(logs: list[FoundLog], shas: dict[Path, str] | None = None) -> str:
    h = hashlib.sha256()
    for log in sorted(logs, key=lambda g: str(g.relative)):
        sha = shas[log.path] if shas else _file_sha(log.path)
        h.update(f"{log.relative.as_posix()}\0{sha}\n".encode())
    return h.hexdigest()


def handle_refusal(handle: str, inbox: str, storage_options: dict | None = None) -> str | None:
    """Why `contribute` refuses `handle` for `inbox`, or None: an invalid handle, or one a new
    contributor may not take (new_handle_problem) unless the inbox already holds drops under
    it. Landing cannot be asked from here (its registry is the operator's); it keeps the
    handles the inbox held when it first ran with the rule (Registry.keep_handles), so a
    contributor who dropped before the rule keeps the handle, landed or not."""

    def in_inbox(h: str) -> bool:
        fs, root = fsspec.core.url_to_fs(inbox, **(storage_options or {}))
        return fs.exists(f"{root.rstrip('/')}/{h}")

    return refusal(handle, in_inbox)


def contribute(
    logs: list[FoundLog],
    handle: str,
    inbox: str,
    storage_options: dict | None = None,
    on_bytes=None,
) -> Contribution:
    """Drop `logs` as `<inbox>/<handle>/tracelab-<digest>.tar.gz` unless it is already there.

    `on_bytes(n)` is called as log bytes are hashed, then again as they are packed (a progress
    bar's total is twice the logs' size when an archive is built)."""
    problem = handle_refusal(handle, inbox, storage_options)
    if problem:
        raise ValueError(problem)
    if not logs:
        raise ValueError(no_logs_found())
    shas: dict[Path, str] = {}
    unreadable: dict[str, str] = {}
    for log in logs:
        try:
            shas[log.path] = _file_sha(log.path, on_bytes)
        except OSError as exc:
            unreadable[str(log.path)] = str(exc)
    logs = [log for log in logs if log.path in shas]
    if not logs:
        raise ValueError(f"none of the {len(unreadable)} log file(s) found can be read")
    fs, root = fsspec.core.url_to_fs(inbox, **(storage_options or {}))
    root = root.rstrip("/")
    name = f"tracelab-{logs_digest(logs, shas)[:24]}.tar.gz"
    target = f"{root}/{handle}/{name}"
    size = sum(log.size for log in logs)
    if fs.exists(target):
        return Contribution(_url(fs, target), len(logs), size, False, unreadable)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / name
        _pack(logs, archive, on_bytes)
        # Only a local inbox needs its directories made: on a bucket store makedirs creates the
        # bucket, so a mistyped bucket name would receive the logs instead of failing.
        if _is_local(fs):
            fs.makedirs(f"{root}/{handle}", exist_ok=True)
        # Hidden name while copying: the lander skips dot-files, so it never sees half an archive.
        partial = f"{root}/{handle}/.{name}.partial"
        fs.put_file(str(archive), partial)
        fs.mv(partial, target)
    return Contribution(_url(fs, target), len(logs), size, True, unreadable)


def _pack(logs: list[FoundLog], archive: Path, on_bytes=None) -> None:
    with (
        open(archive, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for log in sorted(logs, key=lambda g: str(g.relative)):
            info = tarfile.TarInfo(log.relative.as_posix())
            info.size = log.path.stat().st_size
            info.mtime = 0
            info.mode = 0o644
            with open(log.path, "rb") as f:
                tar.addfile(info, f)
            if on_bytes:
                on_bytes(info.size)


def _file_sha(path: Path, on_bytes=None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return h.hexdigest()


def _is_local(fs) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol
    return "file" in protocols or "local" in protocols


def _url(fs, path: str) -> str:
    proto = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return path if proto == "file" else f"{proto}://{path}"
