"""The Dagster side of erasing a contributor: their partition keys and the runs of those
partitions (run tags and logs name the handle). A ranged run that also covers another
contributor's partitions is kept and counted."""

from __future__ import annotations

import os

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME, split_partition_key


def instance_at(home: str) -> dg.DagsterInstance:
    """The instance under `home`, opened as `dagster dev` opens it (through $DAGSTER_HOME, set
    for the rest of the process); use it as a context manager."""
    os.environ["DAGSTER_HOME"] = home
    return dg.DagsterInstance.get()


CODE_LOCATION = "tracelab_pipeline.definitions"  # what workspace.yaml loads


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
    """Partition keys and runs of `handle` in the instance; deleted when `apply`."""
    order = instance.get_dynamic_partitions(PARTITIONS_NAME)
    keys = [k for k in order if _owner(k) == handle]
    runs = [
        r.run_id
        for key in keys
        for r in instance.get_runs(dg.RunsFilter(tags={PARTITION_NAME_TAG: key}))
    ]
    position = {k: i for i, k in enumerate(order)}
    ranged_kept = 0
    for run in _ranged_runs(instance):
        owners = {_owner(k) for k in _covered(order, position, run.tags)}
        if owners == {handle}:
            runs.append(run.run_id)
        elif handle in owners:
            ranged_kept += 1
    if apply:
        for run_id in runs:
            instance.delete_run(run_id)
        for key in keys:
            instance.delete_dynamic_partition(PARTITIONS_NAME, key)
    return {"partition_keys": keys, "runs": len(runs), "ranged_runs_kept": ranged_kept}


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


def release_staleness(data_dir, instance: dg.DagsterInstance | None) -> str | None:
    """The published release against the public layer after erasing: its staleness line, also
    recorded in the instance as a `release_is_current` verdict. Erasing leaves no
    materialization, so that check would otherwise show its last verdict ("current", while the
    release still holds her) until it runs at night. None when no release was published."""
    from tracelab_pipeline.orchestration.release_verdict import release_verdict
    from tracelab_pipeline.paths import resolve_data_dir
    from tracelab_pipeline.release import RELEASE_DIR_NAME
    from tracelab_pipeline.release.provenance import RELEASE_IS_CURRENT, staleness

    data = resolve_data_dir(data_dir)
    release_dir = data / RELEASE_DIR_NAME
    if not (release_dir / "MANIFEST.json").is_file():
        return None
    state = staleness(release_dir, data / "public")
    if instance is not None:
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("release"),
                check_name=RELEASE_IS_CURRENT,
                **release_verdict(state),
            )
        )
    return state.line()
