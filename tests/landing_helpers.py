"""Builders for inboxes and hostile archives used by the landing and ingest tests."""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
CLAUDE = sorted((REAL / "claude").glob("*.jsonl"))
CODEX = sorted((REAL / "codex").glob("*.jsonl"))


def fixture(name: str) -> Path:
    return next(p for p in CLAUDE + CODEX if p.name == name)


def claude_home_with(tmp_path: Path, monkeypatch, log: str = "ccviewer__fe5e1c67.jsonl") -> Path:
    """A Claude Code home of one real log, and no Codex home, as a contributor's machine."""
    claude_home = tmp_path / "home" / ".claude"
    (claude_home / "projects" / "p").mkdir(parents=True)
    shutil.copy(fixture(log), claude_home / "projects" / "p" / "s.jsonl")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_home))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "none"))
    return claude_home


def copy_into(dest: Path, *files: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, dest / f.name)


def tar_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def file_info(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def link_info(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def device_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info


def zip_with(path: Path, members: list[tuple[str, bytes]], symlink: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
    return path


def sensor_resources(defs) -> dict:
    """What the inbox sensor and the nightly sweep read: the data dir and inbox, and the
    anonymization config (a production run without a pseudonym key lands nothing)."""
    return {name: defs.resources[name] for name in ("tracelab", "anonymization")}


def inbox_tick(defs, instance, cursor: str | None = None):
    """One tick of the inbox sensor, its new partition keys added as the daemon does once the
    tick is saved."""
    import dagster as dg

    from tracelab_pipeline.orchestration.sensors import INBOX_SENSOR

    ctx = dg.build_sensor_context(
        instance=instance, definitions=defs, resources=sensor_resources(defs), cursor=cursor
    )
    result = defs.resolve_sensor_def(INBOX_SENSOR)(ctx)
    for add in getattr(result, "dynamic_partitions_requests", None) or []:
        instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
    return result
