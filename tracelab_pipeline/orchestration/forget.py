"""The Dagster side of erasing a contributor: everything of the instance that names her handle
(partition keys, runs and their logs, check results, sensor and schedule ticks)."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from tracelab_pipeline.orchestration.jobs import LANDED
from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME, split_partition_key

if TYPE_CHECKING:
    from tracelab_pipeline.release.provenance import Staleness

T = TypeVar("T")


def instance_at(home: str) -> dg.DagsterInstance:
    """The instance under `home`, opened as `dagster dev` opens it (through $DAGSTER_HOME, set
    for the rest of the process); use it as a context manager."""
    os.environ["DAGSTER_HOME"] = home
    return dg.DagsterInstance.get()


CODE_LOCATION = "tracelab_pipeline.definitions"  # what workspace.yaml loads


class InstanceLocked(RuntimeError):
    """The instance's SQLite files stayed locked by another process for as long as asked."""

    def __init__(self, home: str, locked: list[str], tries: int, elapsed: float):
        held = (
            f"holds {', '.join(locked)}"
            if locked
            else "held it (none of its files is locked now: it let go meanwhile)"
        )
        super().__init__(
            f"the Dagster instance at {home} stayed locked ('database is locked') for "
            f"{elapsed:.0f} s over {tries} attempt(s): another process (a running `dagster dev` "
            f"or `dagster-daemon`) {held}"
        )


def retry_while_locked(call: Callable[[], T], home: str, wait: float) -> T:
    """`call()`, called again while another process holds a SQLite file of the instance at
    `home` for longer than Dagster's own busy timeout (5 s for runs and ticks, 30 s for the
    event log), until `wait` seconds have passed; then InstanceLocked, naming the files still
    held. `call` must be safe to repeat: `forget_in_instance` finds again what is left."""
    import backoff

    gave_up: dict = {}
    start = time.monotonic()
    retrying = backoff.on_exception(
        backoff.expo,
        Exception,
        giveup=lambda exc: not is_locked(exc),
        max_time=wait,
        max_value=10,
        on_giveup=gave_up.update,
        logger=None,
    )(call)
    try:
        return retrying()
    except Exception as exc:
        if not is_locked(exc):
            raise
        elapsed = time.monotonic() - start
        raise InstanceLocked(home, locked_files(home), gave_up.get("tries", 1), elapsed) from exc


def is_locked(exc: BaseException | None) -> bool:
    """SQLITE_BUSY, raised as it is or wrapped by SQLAlchemy (`.orig`) or by Dagster."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc):
            return True
        seen.add(id(exc))
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


def locked_files(home: str) -> list[str]:
    """The SQLite files under `home` another connection is writing now: those a write
    transaction cannot begin on at once."""
    locked = []
    for path in _sqlite_files(home):
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError:
            locked.append(str(path))
        finally:
            conn.close()
    return locked


def _sqlite_files(home: str) -> list[Path]:
    found = []
    for path in sorted(Path(home).rglob("*.db")):
        with path.open("rb") as f:
            if f.read(16) == b"SQLite format 3\x00":
                found.append(path)
    return found


def pipeline_anonymization(module: str = CODE_LOCATION):
    """The anonymization resource of the code location `module`, loaded as `dagster dev -m`
    loads it (the current directory importable): production mode, the consent list and the
    pseudonym key as the running pipeline has them, code included (`production=True` set there
    is in no environment variable). A code location without one runs with the default, which
    reads the environment only; so does this."""
    import importlib
    import sys

    from tracelab_pipeline.orchestration.resources import AnonymizationConfig

    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        loaded = importlib.import_module(module)
    finally:
        if added:
            sys.path.remove(cwd)
    for value in vars(loaded).values():
        if isinstance(value, dg.Definitions):
            resource = (value.resources or {}).get("anonymization")
            if isinstance(resource, AnonymizationConfig):
                # A field given as dg.EnvVar reads as the variable's name until Dagster
                # initializes the resource (which a production resource without a key
                # refuses): its value, read here.
                fields = {n: getattr(resource, n) for n in AnonymizationConfig.model_fields}
                return AnonymizationConfig(
                    **{
                        n: v.get_value() if isinstance(v, dg.EnvVar) else v
                        for n, v in fields.items()
                    }
                )
    return AnonymizationConfig()


def forget_in_instance(instance: dg.DagsterInstance, handle: str, apply: bool) -> dict:
    """What of `handle` the instance holds, erased when `apply`: her partition keys; every run
    that covered one of her partitions (a ranged run that also covered others included: its
    tags, logs and events name her keys) with its captured logs and its asset check rows; the
    sensor and schedule ticks that name her. SQLite files are then vacuumed, as a deleted
    row's bytes otherwise stay in the file's free pages.

    Others' partitions built by a deleted ranged run lose that run's history: they show as
    never materialized, and the nightly sweep rebuilds them (counted in `others_rebuilt`)."""
    order = instance.get_dynamic_partitions(PARTITIONS_NAME)
    keys = [k for k in order if _owner(k) == handle]
    # Her runs by the keys their tags name, not only her keys still defined: a run kept in
    # progress by an earlier forget outlives her keys, and the forget run again deletes it.
    tagged = [
        v
        for _, values in instance.get_run_tags([PARTITION_NAME_TAG])
        for v in values
        if _owner(v) == handle
    ]
    found_runs = (
        instance.get_runs(dg.RunsFilter(tags={PARTITION_NAME_TAG: tagged})) if tagged else []
    )
    runs = {r.run_id: r for r in found_runs}
    position = {k: i for i, k in enumerate(order)}
    ranged, others = 0, set()
    for run in _ranged_runs(instance):
        covered = _covered(order, position, run.tags)
        owners = {_owner(k) for k in covered}
        if handle in owners:
            runs[run.run_id] = run
            if owners != {handle}:
                ranged += 1
                others |= {k for k in covered if _owner(k) != handle and k in position}
    # A run still going would write events (naming her keys) under a deleted run: it is kept,
    # said, and deleted by running forget again once it is finished.
    in_progress = {i for i, r in runs.items() if not r.is_finished}
    ticks = _ticks_naming(instance, handle)
    finished = set(runs) - in_progress
    sensors = _sensor_states_naming(instance, handle)
    evaluations = _evaluations_naming(instance, handle)
    cached = _asset_rows_naming(instance, handle, finished)
    found = {
        "partition_keys": keys,
        "runs": len(runs),
        "runs_in_progress": len(in_progress),
        "ranged_runs_with_others": ranged,
        "others_rebuilt": len(others),
        "ticks": sum(len(t) for _, t in ticks),
        "cached": len(sensors) + len(evaluations) + len(cached),
    }
    check_keys = sorted({*keys, *tagged})
    if not apply:
        return {
            **found,
            "landed_events_left": _landed_events_naming(instance, handle),
            "check_rows": _check_rows(instance, finished, check_keys, delete=False),
        }
    checks = _check_rows(instance, finished, check_keys, delete=True)
    for run_id in finished:
        # The run's row goes last: it is how a retry after "database is locked" finds the run
        # again (instance.delete_run drops the row before the events, and leaves the captured
        # logs).
        instance.compute_log_manager.delete_logs(prefix=[run_id])
        instance.event_log_storage.delete_events(run_id)
        instance.run_storage.delete_run(run_id)
    for key in keys:
        instance.delete_dynamic_partition(PARTITIONS_NAME, key)
    for state, purged in ticks:
        for tick in purged:
            if tick.log_key:  # purge_ticks leaves a tick's captured log
                instance.compute_log_manager.delete_logs(log_key=tick.log_key)
        instance.purge_ticks(
            state.instigator_origin_id,
            state.selector_id,
            before=max(t.timestamp for t in purged) + 1e-3,
        )
    _clear_sensor_states(instance, sensors, handle)
    _delete_evaluations(instance, evaluations)
    _forget_asset_rows(instance, cached)
    return {
        **found,
        "check_rows": checks,
        "landed_events_left": _landed_events_naming(instance, handle),
        "not_vacuumed": _vacuum_sqlite(instance.root_directory),
    }


def _ticks_naming(instance: dg.DagsterInstance, handle: str) -> list:
    """(instigator state, ticks to purge) for every sensor and schedule with a tick naming her:
    run keys and added partitions name her keys; the inbox sensor's skip reasons and captured
    logs name held handles. No call deletes one tick, only every tick before a time: so each
    goes up to her latest, older ones of others included (tick history is diagnostics)."""
    # Anywhere, in any case (`alice-notes.txt`): a short handle purges more, never less.
    named = re.compile(re.escape(handle), re.IGNORECASE)
    logs = instance.compute_log_manager

    def names_her(tick) -> bool:
        if named.search(repr(tick.tick_data)):
            return True
        if not tick.log_key:
            return False
        captured = logs.get_log_data(tick.log_key)
        text = (captured.stdout or b"") + (captured.stderr or b"")
        return bool(named.search(text.decode("utf-8", "replace")))

    found = []
    for state in instance.all_instigator_state():
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
        latest = max((t.timestamp for t in ticks if names_her(t)), default=None)
        if latest is not None:
            found.append((state, [t for t in ticks if t.timestamp <= latest]))
    return found


def _her_keys(handle: str) -> re.Pattern:
    """One of her partition keys, however serialized (in JSON inside JSON too)."""
    return re.compile(rf"(?<![a-z0-9._-]){re.escape(handle)}\|\d{{4}}-\d{{2}}")


def _sensor_states_naming(instance: dg.DagsterInstance, handle: str) -> list:
    """Sensor states that name one of her keys: in the last run key (the daemon keeps the inbox
    sensor's latest, `<partition>@<digest>`, beside its cursor until the next run request) or
    in the automation sensor's cursor (zlib and base64 of the partitions each condition saw:
    `"start": "alice|2026-03"` after a tick that saw hers; no byte scan finds it)."""
    from dagster._core.scheduler.instigation import SensorInstigatorData

    keys = _her_keys(handle)
    return [
        state
        for state in instance.all_instigator_state()
        if isinstance(state.instigator_data, SensorInstigatorData)
        and (
            keys.search(state.instigator_data.last_run_key or "")
            or keys.search(_automation_cursor_text(state))
        )
    ]


def _automation_cursor_text(state) -> str:
    """An automation sensor's cursor, decoded as Dagster's daemon reads it ('' for others)."""
    from dagster._core.definitions.sensor_definition import SensorType
    from dagster._daemon.asset_daemon import asset_daemon_cursor_from_instigator_serialized_cursor
    from dagster_shared.serdes import serialize_value

    data = state.instigator_data
    if not data.cursor or data.sensor_type not in (
        SensorType.AUTOMATION,
        SensorType.AUTO_MATERIALIZE,
    ):
        return ""
    return serialize_value(asset_daemon_cursor_from_instigator_serialized_cursor(data.cursor, None))


def _clear_sensor_states(instance: dg.DagsterInstance, states: list, handle: str) -> None:
    """Clears what names her in each of these sensor states: the last run key, or an
    automation sensor's whole cursor (its next tick starts afresh, as on a new instance: it
    requests nothing until the next upstream change, so a refresh it still had pending is
    dropped, which the rebuild forget asks for covers).
    Each is read again just before: the copy found at the start of forget is seconds old
    (minutes with lock retries), and writing it back would undo what the running daemon wrote
    since (its cursor, others' run keys). A write by the daemon between this read and the
    write is still lost: Dagster's state has no compare-and-set."""
    from dagster._core.scheduler.instigation import SensorInstigatorData

    keys = _her_keys(handle)
    for found in states:
        state = instance.get_instigator_state(found.instigator_origin_id, found.selector_id)
        if state is None or not isinstance(state.instigator_data, SensorInstigatorData):
            continue
        data = state.instigator_data
        if keys.search(data.last_run_key or ""):
            data = data._replace(last_run_key=None)
        if keys.search(_automation_cursor_text(state)):
            data = data._replace(cursor=None)
        if data != state.instigator_data:
            instance.update_instigator_state(state.with_data(data))


def _evaluations_naming(instance: dg.DagsterInstance, handle: str) -> list[int]:
    """The ids of the automation sensor's stored evaluations that name her keys (their subsets
    list the upstream partitions that updated; Dagster keeps them for weeks). Dagster has no
    call that lists them all, nor one that deletes one (`purge_asset_evaluations` deletes all
    before a time, stored to the second): the schedule storage's own table is read."""
    import sqlalchemy as db
    from dagster._core.storage.schedules.schema import AssetDaemonAssetEvaluationsTable as table

    storage = instance.schedule_storage
    if storage is None or not storage.supports_auto_materialize_asset_evaluations:
        return []
    keys = _her_keys(handle)
    query = db.select(table.c.id, table.c.asset_evaluation_body).where(
        table.c.asset_evaluation_body.contains(f"{handle}|", autoescape=True)
    )
    with storage.connect() as conn:
        rows = conn.execute(query).fetchall()
    return [row_id for row_id, body in rows if keys.search(body)]


def _delete_evaluations(instance: dg.DagsterInstance, ids: list[int]) -> None:
    """Deletes those rows, and only those. (After a cleared cursor, Dagster stores the next
    tick under the previous tick's evaluation id, replacing that one tick's rows.)"""
    from dagster._core.storage.schedules.schema import AssetDaemonAssetEvaluationsTable as table

    if ids:
        with instance.schedule_storage.connect() as conn:
            conn.execute(table.delete().where(table.c.id.in_(ids)))


def _asset_rows_naming(instance: dg.DagsterInstance, handle: str, run_ids: set[str]) -> list:
    """The rows of the event log's asset table that name her: (asset key, the run id of its
    cached latest materialization, whether that cache is of a run being deleted or names her
    keys, whether its cached partition status names them). Dagster keeps both caches beside
    the events and `delete_run` updates neither. A storage that is not SQL has no such table
    (nothing is cleared there); a SQL one without the columns read here is an upgrade that
    moved them, and stops forget with an error rather than leave her in them unsaid."""
    import sqlalchemy as db
    from dagster._core.storage.event_log.schema import AssetKeyTable as table
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        return []
    needed = ("asset_key", "last_run_id", "last_materialization")
    if not all(storage.has_asset_key_col(c) for c in needed):
        raise RuntimeError(
            f"the Dagster event log ({type(storage).__name__}) has no "
            f"{', '.join(needed)} column in its {table.name} table, where forget clears an "
            "asset's cached latest materialization: a Dagster upgrade moved them; "
            "tracelab_pipeline/orchestration/forget.py needs updating"
        )
    keys = _her_keys(handle)
    columns = [table.c.asset_key, table.c.last_run_id, table.c.last_materialization]
    has_cache = storage.can_read_asset_status_cache()
    if has_cache:
        columns.append(table.c.cached_status_data)
    with storage.index_connection() as conn:
        rows = conn.execute(db.select(*columns)).fetchall()
    found = []
    for row in rows:
        # Or naming her: a forget before this one deleted the run but left the record.
        stale = row[1] in run_ids or bool(keys.search(row[2] or ""))
        status = bool(has_cache and keys.search(row[3] or ""))
        if stale or status:
            found.append((row[0], row[1], stale, status))
    return found


def _forget_asset_rows(instance: dg.DagsterInstance, rows: list) -> None:
    """Drops the cached latest materialization of a deleted run (readers then take the latest
    left in the event log) and the cached partition status naming her (recomputed when read)."""
    from dagster._core.storage.event_log.schema import AssetKeyTable as table

    stale = [(key, run_id) for key, run_id, was_deleted, _ in rows if was_deleted]
    if stale:
        with instance.event_log_storage.index_connection() as conn:
            for key, run_id in stale:
                # Only if still the one read: a run (of others) that materialized the asset
                # since wrote its own, which is kept.
                same = (
                    table.c.last_run_id.is_(None)
                    if run_id is None
                    else table.c.last_run_id == run_id
                )
                conn.execute(
                    table.update()
                    .where(table.c.asset_key == key, same)
                    .values(last_materialization=None, last_run_id=None)
                )
    status = [dg.AssetKey.from_db_string(key) for key, _, _, named in rows if named]
    if status:
        instance.wipe_asset_cached_status(status)


def _landed_events_naming(instance: dg.DagsterInstance, handle: str) -> int:
    """`landed_files` materializations naming her, written before they named contributors by
    pseudonym (in runs, or sensor ticks, that landed others' drops too). Dagster 1.13 has no
    call that deletes one event (`wipe_asset` only hides them): they are counted, not erased.
    The handle whole (`alice/x`, `"alice"`), not inside a longer one (a handle takes `._-`
    too: `alice-x`, `alice.x` are others'), nor inside a word: a short handle is in
    'materialized' or a pseudonym's hex, and the count told of events that do not name her."""
    named = re.compile(rf"(?<![a-z0-9._-]){re.escape(handle)}(?![a-z0-9._-])", re.IGNORECASE)
    count, cursor = 0, None
    while True:
        page = instance.fetch_materializations(LANDED, limit=500, cursor=cursor)
        count += sum(1 for r in page.records if named.search(repr(r.event_log_entry)))
        if not page.has_more:
            return count
        cursor = page.cursor


def _check_rows(
    instance: dg.DagsterInstance, run_ids: set[str], keys: list[str], delete: bool
) -> int:
    """Asset check executions of her partitions and of the runs being deleted: their number,
    and deleted when `delete`. `delete_run`
    keeps them (the UI then shows a check result of a run that no longer exists, dagster
    issue #18236) and Dagster 1.13 has no call that deletes one (`wipe_asset` deletes every
    contributor's and hides their materializations). So the event log's own table is used, a
    private API: `test_forget_leaves_no_trace_in_the_dagster_instance` fails if an upgrade
    moves it. A storage without that table has none to delete."""
    import sqlalchemy as db
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable as checks

    storage = instance.event_log_storage
    has_table = getattr(storage, "has_table", None)
    if not (run_ids or keys) or has_table is None or not has_table("asset_check_executions"):
        return 0
    hers = db.or_(checks.c.run_id.in_(sorted(run_ids)), checks.c.partition.in_(keys))
    with storage.index_connection() as conn:
        if delete:
            return conn.execute(checks.delete().where(hers)).rowcount
        return conn.execute(db.select(db.func.count()).select_from(checks).where(hers)).scalar_one()


def _vacuum_sqlite(home: str) -> list[str]:
    """Rewrites every SQLite file of the instance and empties its write-ahead log: a deleted
    row stays readable in a file's free pages, and in old log frames, until then. Waits a
    minute for a running `dagster dev` to let go of a file, then gives up on it; returns those
    (a PostgreSQL storage is no file here: its autovacuum reclaims deleted rows)."""
    busy = []
    for path in _sqlite_files(home):
        conn = sqlite3.connect(path, timeout=60)
        try:
            conn.execute("VACUUM")
            # In WAL mode (Dagster's event logs) VACUUM writes the new pages to the -wal file:
            # the old ones stay in the main file, and the frames that wrote her rows in the
            # -wal file, while another connection (dagster dev) keeps it. A TRUNCATE
            # checkpoint copies the pages back and empties the log; it is busy while a reader
            # still needs an old frame. (A file in another journal mode: nothing to do.)
            (blocked, _, _) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if blocked:
                busy.append(str(path))
        except sqlite3.OperationalError:
            busy.append(str(path))
        finally:
            conn.close()
    return busy


def _ranged_runs(instance: dg.DagsterInstance) -> list:
    starts = [
        v for _, values in instance.get_run_tags([ASSET_PARTITION_RANGE_START_TAG]) for v in values
    ]
    if not starts:
        return []
    return instance.get_runs(dg.RunsFilter(tags={ASSET_PARTITION_RANGE_START_TAG: starts}))


def _covered(order: list[str], position: dict[str, int], tags: dict) -> list[str]:
    """The keys a ranged run covers: start..end in the partitions' order (the sensor's
    contiguous ranges may hold several contributors); only its bounds when one is gone."""
    start, end = tags[ASSET_PARTITION_RANGE_START_TAG], tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start in position and end in position:
        return order[position[start] : position[end] + 1]
    return [start, end]


def _owner(key: str | None) -> str | None:
    try:
        return split_partition_key(key or "")[0]
    except ValueError:
        return None


def release_staleness(data_dir, instance: dg.DagsterInstance | None) -> Staleness | None:
    """The published release against the public layer after erasing, also recorded in the
    instance as a `release_is_current` verdict. Erasing leaves no
    materialization, so that check would otherwise show its last verdict ("current", while the
    release still holds her) until it runs at night. None when no release was published."""
    from tracelab_pipeline.orchestration.release_verdict import record_release_verdict
    from tracelab_pipeline.paths import resolve_data_dir
    from tracelab_pipeline.release import RELEASE_DIR_NAME
    from tracelab_pipeline.release.provenance import staleness

    data = resolve_data_dir(data_dir)
    release_dir = data / RELEASE_DIR_NAME
    if not (release_dir / "MANIFEST.json").is_file():
        return None
    state = staleness(release_dir, data / "public")
    if instance is not None:
        record_release_verdict(instance, state)
    return state
