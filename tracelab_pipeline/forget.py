"""Erase one contributor from the data directory (a withdrawal, a right-to-be-forgotten request).

What holds a contributor's data, and what this removes:
- the inbox: `<inbox>/<handle>/` (their raw drops; left there, they would land again);
- landing: their landed objects (kept when another contributor landed the same bytes) and
  their rows in the registry (drops, archive members, files, seen, partitions);
- the private layer: `<private>/<table>/contributor=<handle>/` and its input manifests;
- the public layer: `<public>/<table>/month=*/contributor=<pseudonym>/`, the pseudonym
  computed with the key that built it.
The warehouse, figures, report and release are built from the public layer: they hold the
contributor until rebuilt (the command says so). The Dagster side (partition keys, runs and
their logs, check results, ticks) is `orchestration/forget.py`.

Builds that write her layers (`normalized_steps`, `anonymized_steps`) read without a lock, for
minutes at paper scale, and write under the landing lock (`publishing`), after checking that
what they read is still there (the landed files; the private partition): erasing, which holds
that lock, happens wholly before or after a build's write, so a build that read her files
before they were erased writes nothing, even once she has landed anew.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tracelab_pipeline.landing.handles import PARTITION_SEPARATOR, is_valid_handle
from tracelab_pipeline.landing.registry import REGISTRY_NAME, Registry

NOT_WRITTEN = (
    "not written: its contributor was erased (`tracelab forget`) after this run had read their data"
)


@contextmanager
def publishing(landed_dir: str | Path) -> Iterator[None]:
    """Held while a build checks that its partition is still there and writes it: the landing
    lock, which `forget` holds while it erases. Only the write is inside (a partition's files
    take well under a second), so landing and erasing wait that long, never for a whole build."""
    from tracelab_pipeline.landing.land import landing_lock

    landed = Path(landed_dir)
    landed.mkdir(parents=True, exist_ok=True)
    with landing_lock(landed):
        yield


def is_forgotten(landed_dir: str | Path, contributor: str, month: str) -> bool:
    """Whether the landing registry no longer holds this partition (`forget` deletes its row;
    landing never does, not even when the partition is emptied). False without a registry:
    the partition was not built from landed files (a test, an import). Asked without the
    landing lock, after a partition was found missing: `forget` commits the deletion of the
    rows before it removes the partition, so a partition it removed is never seen here with
    its row (unless she has landed anew since: False, and the caller asks its run's own record
    of what it built, `PrivateReads.built_here`)."""
    landed = Path(landed_dir)
    if not (landed / REGISTRY_NAME).is_file():
        return False
    with Registry(landed) as reg:
        return reg.partition_digest(f"{contributor}{PARTITION_SEPARATOR}{month}") is None


class ForgetError(RuntimeError):
    """The contributor cannot be erased as asked (no key for the public layer, bad handle)."""


@dataclass
class ForgetPlan:
    handle: str
    inbox_dir: str
    inbox_files: int
    objects: list[Path] = field(default_factory=list)
    objects_shared: int = 0
    registry_rows: dict[str, int] = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)
    private_dirs: list[Path] = field(default_factory=list)
    public_dirs: list[Path] = field(default_factory=list)
    # `contributor=<pseudonym>`: how `forget` finds her public partitions again (None: no key)
    public_name: str | None = None


def plan_forget(
    handle: str,
    data_dir: str | Path,
    inbox: str,
    *,
    pseudonym_key: bytes | None,
    storage_options: dict | None = None,
) -> ForgetPlan:
    """What erasing `handle` removes; nothing is changed."""
    import fsspec

    if not is_valid_handle(handle):
        raise ForgetError(f"not a contributor handle: {handle!r}")
    data = Path(data_dir)
    fs, root = fsspec.core.url_to_fs(inbox, **(storage_options or {}))
    fs.invalidate_cache()
    inbox_dir = f"{root.rstrip('/')}/{handle}"
    inbox_files = len(fs.find(inbox_dir)) if fs.exists(inbox_dir) else 0
    plan = ForgetPlan(handle, inbox_dir, inbox_files)

    landed = data / "landed"
    if (landed / REGISTRY_NAME).exists():
        with Registry(landed) as reg:
            db = reg.db
            plan.objects, plan.objects_shared = _own_objects(reg, handle)
            plan.registry_rows = {
                table: db.execute(sql, params).fetchone()[0]
                for table, sql, params in _registry_queries(handle, "SELECT count(*)")
            }
            plan.partitions = [
                r[0]
                for r in db.execute(
                    "SELECT key FROM partitions WHERE contributor = ? ORDER BY key", (handle,)
                )
            ]

    public = data / "public"
    if _has_public_partitions(public):
        plan.public_name = _public_name(public, handle, pseudonym_key)
    elif pseudonym_key is not None:  # nothing to check it against yet; a partition may appear
        plan.public_name = f"contributor={_pseudonymizer(pseudonym_key).contributor(handle)}"
    plan.private_dirs, plan.public_dirs = _layer_dirs(data, handle, plan.public_name)
    return plan


def _has_public_partitions(public: Path) -> bool:
    return public.is_dir() and any(public.glob("*/month=*/contributor=*"))


def _layer_dirs(data: Path, handle: str, public_name: str | None) -> tuple[list[Path], list[Path]]:
    """Her private partition directories (and input manifests), and her public ones."""
    private, public = data / "private", data / "public"
    private_dirs = sorted(d for d in private.glob(f"*/contributor={handle}") if d.is_dir())
    public_dirs = sorted(public.glob(f"*/month=*/{public_name}")) if public_name else []
    return private_dirs, public_dirs


def _pseudonymizer(key: bytes):
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer, PseudonymKeyError

    try:
        return Pseudonymizer(key)
    except PseudonymKeyError as exc:  # too short: no public layer was built with it
        raise ForgetError(f"not a usable pseudonym key: {exc}") from exc


def _public_name(public: Path, handle: str, key: bytes | None) -> str:
    from tracelab_pipeline.anonymize.public_store import KEY_MARKER

    if key is None:
        raise ForgetError(
            f"the public layer at {public} names contributors by pseudonym: give the "
            "pseudonym key it was built with (env TRACELAB_PSEUDONYM_KEY, or the demo's "
            "<data>/pseudonym.key) to find this contributor's partitions"
        )
    pseudonymizer = _pseudonymizer(key)
    marker = public / KEY_MARKER
    recorded = marker.read_text().strip() if marker.exists() else ""
    if not recorded:
        # Unchecked, a wrong key finds none of her partitions, and they would silently stay.
        raise ForgetError(
            f"the public layer at {public} holds partitions but no record of the pseudonym key "
            f"it was built with ({marker}), so the key given cannot be checked: the next "
            "anonymize run records the key it runs with, or delete the public layer and "
            "rebuild it"
        )
    if recorded != pseudonymizer.fingerprint:
        raise ForgetError(
            f"the public layer at {public} was built with pseudonym key {recorded}, not with "
            f"the key given ({pseudonymizer.fingerprint}): give the key it was built with"
        )
    return f"contributor={pseudonymizer.contributor(handle)}"


def _own_objects(reg: Registry, handle: str) -> tuple[list[Path], int]:
    """The landed objects of `handle` no other contributor landed, and how many others did."""
    # One query: files has no index on sha256 alone, so a lookup per file would scan the
    # whole table once per file of hers.
    rows = reg.db.execute(
        "SELECT object_path, sha256 IN (SELECT sha256 FROM files WHERE contributor != ?)"
        " FROM files WHERE contributor = ?",
        (handle, handle),
    ).fetchall()
    own = [Path(reg.object_file(stored)) for stored, shared in rows if not shared]
    return own, len(rows) - len(own)


def _registry_queries(handle: str, select: str) -> list[tuple[str, str, tuple]]:
    drops = "SELECT drop_id FROM drops WHERE contributor = ?"
    return [
        ("drop_members", f"{select} FROM drop_members WHERE drop_id IN ({drops})", (handle,)),
        # a drop's inbox path starts with the handle; rows without a drop id count too
        (
            "seen",
            f"{select} FROM seen WHERE drop_id IN ({drops}) OR substr(inbox_path, 1, ?) = ?",
            (handle, len(handle) + 1, handle + "/"),
        ),
        ("drops", f"{select} FROM drops WHERE contributor = ?", (handle,)),
        ("files", f"{select} FROM files WHERE contributor = ?", (handle,)),
        ("partitions", f"{select} FROM partitions WHERE contributor = ?", (handle,)),
    ]


def forget(
    plan: ForgetPlan, data_dir: str | Path, inbox: str, storage_options: dict | None = None
) -> None:
    """Carry out `plan`: the inbox first (so nothing lands again), then landing (under the
    landing lock, so a sensor tick does not land in between), the private and public layers
    (listed again under that lock: a partition built since the plan is hers too)."""
    import fsspec

    from tracelab_pipeline.landing.land import landing_lock

    data = Path(data_dir)
    if plan.public_name is None and _has_public_partitions(data / "public"):
        raise ForgetError(
            f"public partitions appeared at {data / 'public'} since the plan, which was made "
            "without a pseudonym key: plan again with the key the public layer was built with"
        )
    fs, _ = fsspec.core.url_to_fs(inbox, **(storage_options or {}))
    if fs.exists(plan.inbox_dir):  # even empty: landing records an empty one as a drop of hers
        fs.rm(plan.inbox_dir, recursive=True)
    landed = data / "landed"
    if not (landed / REGISTRY_NAME).exists():
        _remove_layers(data, plan)
        return
    with landing_lock(landed), Registry(landed) as reg:
        # Read again under the lock: a landing may have finished since the plan was made.
        objects, _ = _own_objects(reg, plan.handle)
        # A deleted row's bytes stay in the file's free pages unless SQLite zeroes them:
        # its default depends on how it was built.
        reg.db.execute("PRAGMA secure_delete = ON")
        for _table, sql, params in _registry_queries(plan.handle, "DELETE"):
            reg.db.execute(sql, params)
        reg.db.commit()
        for obj in objects:
            obj.unlink(missing_ok=True)
        _remove_layers(data, plan)


def _remove_layers(data: Path, plan: ForgetPlan) -> None:
    # Listed again, not taken from the plan: a partition may have been built since.
    private_dirs, public_dirs = _layer_dirs(data, plan.handle, plan.public_name)
    for d in [*private_dirs, *public_dirs]:
        shutil.rmtree(d, ignore_errors=True)
    for d in public_dirs:
        if d.parent.is_dir() and not any(d.parent.iterdir()):
            d.parent.rmdir()  # an emptied month directory
