"""Listing an inbox `<inbox>/<contributor>/**` through fsspec (local dir, s3://, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field

import fsspec

from tracelab_pipeline.landing.limits import kind_of


@dataclass(frozen=True)
class InboxObject:
    contributor: str
    path: str  # relative to the inbox root, '/'-separated: "<contributor>/..."
    url: str  # what fs.open() takes
    name: str
    size: int
    fingerprint: str  # size + mtime/ETag: a changed object gets a new one
    kind: str | None  # 'log' | 'archive' | None (unsupported)


@dataclass(frozen=True)
class InboxProblem:
    """Something in the inbox that is not a drop we can take, with why."""

    path: str
    fingerprint: str
    contributor: str | None
    kind: str
    outcome: str
    reason: str


@dataclass
class InboxListing:
    fs: fsspec.AbstractFileSystem
    root: str
    local: bool
    objects: list[InboxObject] = field(default_factory=list)
    problems: list[InboxProblem] = field(default_factory=list)


def text_name(name: str) -> str:
    """A name as text the registry can store: bytes that are not UTF-8 (kept by Python as lone
    surrogates, from a file system or a tar header) are written as \\xNN escapes."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that does not stand for a byte
        raw = name.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def list_inbox(inbox: str, storage_options: dict | None = None) -> InboxListing:
    """All files under the inbox, grouped by contributor directory, plus what is wrong."""
    fs, root = fsspec.core.url_to_fs(inbox, **(storage_options or {}))
    # fsspec reuses one filesystem per URL and options, and a bucket's keeps the directory
    # listings it saw: in a long-lived process (the sensor's code server) a file dropped later
    # into a contributor directory already listed was "not found" when opened, forever.
    fs.invalidate_cache()
    root = root.rstrip("/")
    local = "file" in _protocols(fs)
    listing = InboxListing(fs, root, local)
    if not fs.exists(root):
        return listing
    entries = fs.find(root, withdirs=True, detail=True)
    dirs_with_files: set[str] = set()
    top_dirs: set[str] = set()
    for full, info in sorted(entries.items()):
        rel = full[len(root) :].lstrip("/") if full.startswith(root) else full
        if not rel:
            continue
        url = full if local else _with_protocol(fs, full)
        rel = text_name(rel)
        parts = rel.split("/")
        if parts[-1].startswith("."):
            # Hidden files: uploads in progress (.x.partial), .DS_Store. Hidden directories are
            # kept: a contributor may drop a copy of ~/.claude or ~/.codex as is.
            continue
        if info.get("islink"):
            # Refused as in archives: following it could copy any file the lander can read.
            listing.problems.append(
                InboxProblem(
                    rel,
                    _fingerprint(info, int(info.get("size") or 0)),
                    parts[0] if len(parts) > 1 else None,
                    "link",
                    "refused",
                    "symbolic link (links are not followed: drop a copy of the file instead)",
                )
            )
            if len(parts) > 1:
                top_dirs.add(parts[0])
                dirs_with_files.add(parts[0])
            continue
        if info.get("type") == "directory":
            if len(parts) == 1:
                top_dirs.add(parts[0])
            continue
        size = int(info.get("size") or 0)
        if len(parts) == 1:
            listing.problems.append(
                InboxProblem(
                    rel,
                    _fingerprint(info, size),
                    None,
                    "file",
                    "refused",
                    "not inside a contributor directory (<inbox>/<contributor>/...)",
                )
            )
            continue
        top_dirs.add(parts[0])
        dirs_with_files.add(parts[0])
        listing.objects.append(
            InboxObject(
                parts[0],
                rel,
                url,
                rel.split("/", 1)[1],
                size,
                _fingerprint(info, size),
                kind_of(rel),
            )
        )
    for d in sorted(top_dirs - dirs_with_files):
        listing.problems.append(
            InboxProblem(
                d + "/", "empty-dir", d, "dir", "no_logs", "contributor directory holds no files"
            )
        )
    return listing


def _fingerprint(info: dict, size: int) -> str:
    stamp = info.get("ETag") or info.get("mtime") or info.get("LastModified") or info.get("etag")
    return f"{size}:{stamp}"


def _protocols(fs) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def _with_protocol(fs, path: str) -> str:
    return f"{_protocols(fs)[0]}://{path}"
