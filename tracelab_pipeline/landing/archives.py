"""Safe reading of `.tar.gz`/`.tgz`/`.zip` drops.

Nothing is ever extracted by the archive library itself: members are checked first (absolute
paths, `..`, links, devices, count and declared size) and then streamed one by one, counting the
bytes really produced, so a lying header cannot get past the size cap either.
"""

from __future__ import annotations

import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO

from tracelab_pipeline.landing.limits import Limits


class RefusedArchive(Exception):
    """The whole archive is refused; the message is the reason recorded for the drop."""


# What damaged archive data raises besides the archive modules' own errors: the decompressors
# (tarfile's r:* also opens xz and bz2) and zipfile decoding a name flagged as UTF-8.
_DATA_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    OSError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    UnicodeDecodeError,
)


# Pax and GNU long-name headers are read into memory whole by tarfile; real ones hold a path
# or a few attributes.
MAX_EXTENDED_HEADER = 1 << 20
_EXTENDED = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


class _CappedTarInfo(tarfile.TarInfo):
    def _proc_member(self, tarfile_):
        if self.type in _EXTENDED and self.size > MAX_EXTENDED_HEADER:
            raise RefusedArchive(
                f"extended header of {self.size} bytes in archive "
                f"(cap {MAX_EXTENDED_HEADER}): refused unread"
            )
        return super()._proc_member(tarfile_)


def member_path_problem(name: str) -> str | None:
    """Why a member name is unsafe, or None."""
    if not name:
        return "empty member name"
    if "\x00" in name:
        return f"member name with NUL byte: {name!r}"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return f"absolute path in archive: {name!r}"
    if ".." in PurePosixPath(norm).parts:
        return f"path traversal ('..') in archive: {name!r}"
    return None


def iter_archive(path: str, limits: Limits) -> Iterator[tuple[str, IO[bytes]]]:
    """Yield (member name, readable stream) for every regular file; raise RefusedArchive."""
    lower = path.lower()
    if lower.endswith(".zip"):
        yield from _iter_zip(path, limits)
    else:
        yield from _iter_tar(path, limits)


def _check_totals(count: int, declared: int, limits: Limits) -> None:
    if count > limits.max_members:
        raise RefusedArchive(f"too many files in archive: {count} > {limits.max_members}")
    if declared > limits.max_expanded_bytes:
        raise RefusedArchive(
            f"archive expands to {declared} bytes, over the cap of {limits.max_expanded_bytes}"
        )


def _iter_tar(path: str, limits: Limits) -> Iterator[tuple[str, IO[bytes]]]:
    try:
        tar = tarfile.open(path, mode="r:*", tarinfo=_CappedTarInfo)  # noqa: SIM115 - closed below
    except _DATA_ERRORS as exc:
        raise RefusedArchive(f"not a readable tar archive: {exc}") from exc
    with tar:
        members = []
        try:
            # One header at a time, every kind counted: directory headers compress to almost
            # nothing, and listing millions of them would exhaust memory before any cap.
            for m in tar:
                members.append(m)
                if len(members) > limits.max_entries:
                    raise RefusedArchive(
                        f"too many members in archive (directories included): more than "
                        f"{limits.max_entries}"
                    )
        except _DATA_ERRORS as exc:
            raise RefusedArchive(f"corrupt tar archive: {exc}") from exc
        files = []
        for m in members:
            problem = member_path_problem(m.name)
            if problem:
                raise RefusedArchive(problem)
            if m.issym() or m.islnk():
                raise RefusedArchive(f"link in archive: {m.name!r} -> {m.linkname!r}")
            if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
                raise RefusedArchive(f"device or fifo in archive: {m.name!r}")
            if m.isfile():
                files.append(m)
            elif not m.isdir():
                raise RefusedArchive(f"unsupported member type in archive: {m.name!r}")
        _check_totals(len(files), sum(m.size for m in files), limits)
        budget = _Budget(limits.max_expanded_bytes)
        for m in files:
            stream = tar.extractfile(m)
            if stream is None:
                raise RefusedArchive(f"cannot read member {m.name!r}")
            yield m.name, budget.wrap(stream)


def _iter_zip(path: str, limits: Limits) -> Iterator[tuple[str, IO[bytes]]]:
    try:
        zf = zipfile.ZipFile(path)
    except _DATA_ERRORS as exc:
        raise RefusedArchive(f"not a readable zip archive: {exc}") from exc
    with zf:
        files = []
        for info in zf.infolist():
            problem = member_path_problem(info.filename)
            if problem:
                raise RefusedArchive(problem)
            mode = info.external_attr >> 16
            file_type = mode & 0o170000
            if file_type == 0o120000:
                raise RefusedArchive(f"link in archive: {info.filename!r}")
            if file_type not in (0, 0o100000, 0o040000):
                raise RefusedArchive(f"device or special file in archive: {info.filename!r}")
            if not info.is_dir():
                files.append(info)
        _check_totals(len(files), sum(i.file_size for i in files), limits)
        budget = _Budget(limits.max_expanded_bytes)
        for info in files:
            # zipfile raises NotImplementedError for a compression method it lacks and
            # RuntimeError for an encrypted member: refused, like damaged data.
            try:
                stream = zf.open(info)
            except (*_DATA_ERRORS, NotImplementedError, RuntimeError) as exc:
                raise RefusedArchive(f"cannot read member {info.filename!r}: {exc}") from exc
            yield info.filename, budget.wrap(stream)


class _Budget:
    """Counts bytes actually produced across members; headers may lie about sizes."""

    def __init__(self, cap: int) -> None:
        self.left = cap
        self.cap = cap

    def wrap(self, stream: IO[bytes]) -> IO[bytes]:
        return _Counted(stream, self)


class _Counted:
    def __init__(self, stream: IO[bytes], budget: _Budget) -> None:
        self._stream = stream
        self._budget = budget

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._stream.read(n)
        except _DATA_ERRORS as exc:
            raise RefusedArchive(f"corrupt archive data: {exc}") from exc
        self._budget.left -= len(data)
        if self._budget.left < 0:
            raise RefusedArchive(
                f"archive expands past the cap of {self._budget.cap} bytes (zip bomb?)"
            )
        return data

    def close(self) -> None:
        self._stream.close()
