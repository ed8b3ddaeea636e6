"""`tracelab demo`: fill an empty inbox, then materialize the whole asset graph through a
persistent Dagster instance at <data>/dagster_home, doing only the work that is new."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from tracelab_pipeline.orchestration.jobs import (
    DOWNSTREAM_JOB,
    LAND_JOB,
    LANDED,
    PARTITIONS_JOB,
    single_run_backfills,
)
from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME
from tracelab_pipeline.orchestration.release_verdict import NOTHING_TO_RELEASE, WITHDRAWN
from tracelab_pipeline.orchestration.resources import TraceLabConfig
from tracelab_pipeline.orchestration.sensors import (
    TRIGGER_TAG,
    contiguous_ranges,
    partition_range_tags,
)
from tracelab_pipeline.orchestration.sweep import partitions_needing_work
from tracelab_pipeline.paths import DATA_DIR_ENV, resolve_data_dir, resolve_inbox
from tracelab_pipeline.release import MANIFEST_FILE, RELEASE_DIR_NAME
from tracelab_pipeline.release.public_tables import partitions

TEMPLATE = Path(__file__).with_name("dagster.yaml")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
# Like the sensor's and schedule's runs, so the UI's run list tells what started each run.
DEMO_TAGS = {TRIGGER_TAG: "demo"}


@dataclass
class DemoResult:
    data_dir: Path
    dagster_home: Path
    filled_inbox: str | None = None
    partitions_run: list[str] = field(default_factory=list)
    partition_runs: int = 0
    downstream_ran: bool = False
    # No public partition (nothing landed, or every upload held): the downstream assets would
    # be built from nothing, and the release refuses to publish nothing.
    no_public: bool = False
    # With no public partition, the release published before was withdrawn (it held data
    # the public layer no longer has: the last contributor forgotten).
    release_withdrawn: bool = False
    # The landing run refused to start (production without a pseudonym key): nothing after it
    # ran, as every later run would refuse or build from nothing.
    stopped: bool = False
    failures: list[str] = field(default_factory=list)
    # Uploads per handle not on the consent list (when one is configured): left in the inbox.
    held: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def prepare_home(data: Path) -> Path:
    """DAGSTER_HOME under the data dir, with our dagster.yaml unless one is there already."""
    home = data / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(TEMPLATE, home / "dagster.yaml")
    return home


def fill_inbox(inbox: Path, truth: Path) -> str:
    """The generator's demo preset (its ground truth to `truth`); says what filled the inbox."""
    from tracelab_pipeline.synth import generate

    generate(preset="demo", seed=0, inbox_dir=inbox, truth_dir=truth)
    return "synthetic demo preset (seed 0)"


def run_demo(data_dir: str | None = None, echo: Callable[[str], None] = print) -> DemoResult:
    data = resolve_data_dir(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    # The code location and any process Dagster starts resolve the data dir from the env.
    os.environ[DATA_DIR_ENV] = str(data)
    home = prepare_home(data)
    os.environ["DAGSTER_HOME"] = str(home)
    result = DemoResult(data, home)

    t0 = time.perf_counter()
    inbox = resolve_inbox(None, data)
    if "://" not in inbox and not _has_files(Path(inbox)):
        echo(f"inbox {inbox} is empty: filling it")
        result.filled_inbox = fill_inbox(Path(inbox), data / "truth")
    result.seconds["fill_inbox"] = time.perf_counter() - t0

    from tracelab_pipeline.definitions import build_definitions

    defs = build_definitions(data_dir=data)
    config: TraceLabConfig = defs.resources["tracelab"]
    with dg.DagsterInstance.get() as instance:
        _limit_pool(instance)
        t = time.perf_counter()
        echo("landing the inbox ...")
        land = defs.resolve_job_def(LAND_JOB).execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False, tags=DEMO_TAGS
        )
        if not land.success:
            # The whole message: production without a consent list or key says what to set.
            result.failures.extend(_failed_steps(land))
        if _refused_to_start(land):
            result.stopped = True
            result.seconds["total"] = time.perf_counter() - t0
            return result
        for event in land.asset_materializations_for_node("landed_files"):
            result.held = dict(event.metadata["held_by_contributor"].value)
        result.seconds["land"] = time.perf_counter() - t

        t = time.perf_counter()
        todo = partitions_needing_work(instance, config, _partitioned_keys(defs))
        result.partitions_run = todo
        echo(f"{len(todo)} contributor-month partition(s) to build")
        if todo:
            _run_partitions(defs, instance, todo, result, echo)
        result.seconds["partitions"] = time.perf_counter() - t

        t = time.perf_counter()
        downstream = _downstream_keys(defs)
        if not partitions(config.public_dir):
            result.no_public = True
            if (config.data_path / RELEASE_DIR_NAME / MANIFEST_FILE).is_file():
                _withdraw_release(defs, instance, result, echo)
        elif downstream and (todo or _missing(instance, downstream)):
            echo(f"building {len(downstream)} downstream asset(s) ...")
            out = defs.resolve_job_def(DOWNSTREAM_JOB).execute_in_process(
                instance=instance, run_config=QUIET, raise_on_error=False, tags=DEMO_TAGS
            )
            result.downstream_ran = True
            if not out.success:
                result.failures.extend(_failed_steps(out))
        result.seconds["downstream"] = time.perf_counter() - t
    result.seconds["total"] = time.perf_counter() - t0
    return result


def _withdraw_release(defs, instance, result: DemoResult, echo) -> None:
    """Runs the release asset alone, which withdraws a release when the public layer has no
    partition: its failure marked `nothing_to_release` is that withdrawal, not an error. Read
    from the Failure's metadata, not its text: a data dir whose path holds the words hid a
    release left aside on disk."""
    echo("no public partition: withdrawing the release ...")
    out = defs.resolve_job_def(DOWNSTREAM_JOB).execute_in_process(
        instance=instance,
        run_config=QUIET,
        raise_on_error=False,
        tags=DEMO_TAGS,
        asset_selection=[dg.AssetKey("release")],
    )
    if out.success:  # a partition was published meanwhile: a release was built
        return
    failed = _failed_steps(
        out, expected=lambda e: bool(_failure_metadata(e).get(NOTHING_TO_RELEASE))
    )
    result.failures.extend(failed)
    result.release_withdrawn = not failed and any(
        _failure_metadata(e).get(WITHDRAWN) for e in out.all_events
    )


def _failure_metadata(event) -> dict:
    """The metadata of a step's dg.Failure, as plain values ({} for any other event)."""
    data = event.event_specific_data if event.is_step_failure else None
    failure = data.user_failure_data if data else None
    return {k: v.value for k, v in failure.metadata.items()} if failure else {}


def _run_partitions(defs, instance, todo: list[str], result: DemoResult, echo) -> None:
    """One run per contiguous range of partition keys (all of them on a first run): the
    partitioned assets use a single-run backfill policy and loop over their keys."""
    job = defs.resolve_job_def(PARTITIONS_JOB)
    keys = instance.get_dynamic_partitions(PARTITIONS_NAME)
    for start, end in (
        contiguous_ranges(keys, set(todo))
        if single_run_backfills(defs.resolve_asset_graph().assets_defs)
        else _singles(todo)
    ):
        label = start if start == end else f"{start} .. {end}"
        echo(f"  partitions {label}")
        out = job.execute_in_process(
            instance=instance,
            run_config=QUIET,
            raise_on_error=False,
            tags={**partition_range_tags(start, end), **DEMO_TAGS},
        )
        result.partition_runs += 1
        if not out.success:
            result.failures.extend(f"{label}: {step}" for step in _failed_steps(out))


def _singles(todo: list[str]) -> list[tuple[str, str]]:
    return [(k, k) for k in todo]


def _partitioned_keys(defs: dg.Definitions) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    return [n.key for n in graph.asset_nodes if n.partitions_def is not None]


def _downstream_keys(defs: dg.Definitions) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    return [
        n.key
        for n in graph.asset_nodes
        if n.partitions_def is None and n.key != LANDED and n.is_materializable
    ]


def _missing(instance, keys: list[dg.AssetKey]) -> bool:
    return any(instance.get_latest_materialization_event(k) is None for k in keys)


def _refused_to_start(out) -> bool:
    return any(e.is_resource_init_failure for e in out.all_events)


def _failed_steps(out, expected: Callable[[dg.DagsterEvent], bool] = lambda e: False) -> list[str]:
    """What failed in `out`, leaving out the `expected` failures."""
    # A resource refusing at setup (production without a pseudonym key) fails the run before
    # any step: its event carries the message that says what to set.
    failed = [
        e
        for e in out.all_events
        if (e.is_step_failure or e.is_resource_init_failure) and e.event_specific_data.error
    ]
    if not failed:
        return ["run failed"]
    return [
        f"{e.step_key}: {_error_text(e.event_specific_data.error)}"
        for e in failed
        if not expected(e)
    ]


def _error_text(error) -> str:
    """The whole message on one line, with its cause's: a failed check says which check only
    after its first line, and an asset's own exception is the cause of Dagster's wrapper."""
    parts = [error.message]
    if error.cause is not None:
        parts.append(error.cause.message)
    return " ".join(" ".join(parts).split())


def _limit_pool(instance) -> None:
    # Same limit as dagster.yaml's default, set explicitly so an older dagster.yaml in an
    # existing DAGSTER_HOME cannot leave the DuckDB writers, or two release builds racing for
    # the swap, unbounded.
    for pool in ("duckdb_writer", "release"):
        instance.event_log_storage.set_concurrency_slots(pool, 1)


def _has_files(path: Path) -> bool:
    return path.is_dir() and any(p.is_file() for p in path.rglob("*"))
