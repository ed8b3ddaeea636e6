"""`tracelab forget` while a partition build runs: a build that read her files before they were
erased writes nothing of hers afterwards, private or public.

The builds run for real; the erasure is run inside the window between a build's read and its
write by wrapping the real reading step (it runs unchanged, then forget runs), which is where a
build of minutes at paper scale meets an operator's `tracelab forget --yes`.
"""

from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from landing_helpers import copy_into, fixture

import tracelab_pipeline.anonymize.partition as partition_module
import tracelab_pipeline.partitioned.build as build_module
from assets.anonymize import anonymized_steps
from tracelab_pipeline.anonymize.pseudonyms import KEY_ENV, Pseudonymizer
from tracelab_pipeline.definitions import build_definitions
from tracelab_pipeline.forget import forget, plan_forget
from tracelab_pipeline.landing.land import land_inbox
from tracelab_pipeline.orchestration.jobs import PARTITIONS_JOB
from tracelab_pipeline.orchestration.partitions import contributor_month
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig
from tracelab_pipeline.partitioned.build import build_partitions

KEY = "k" * 32
ERASED = "not written: its contributor was erased (`tracelab forget`)"


def _landed(data: Path) -> list[str]:
    inbox = data / "inbox"
    copy_into(inbox / "alice", fixture("ccviewer__5c0375b4.jsonl"))
    copy_into(inbox / "bob", fixture("ccviewer__1af7fc5e.jsonl"))
    return land_inbox(str(inbox), data / "landed").changed_partitions


def _erase_alice(data: Path) -> None:
    inbox = str(data / "inbox")
    forget(plan_forget("alice", data, inbox, pseudonym_key=KEY.encode()), data, inbox)


def _erasing_after(monkeypatch, module, name: str, data: Path, when, then=None) -> list:
    """Run the real `module.name`, then erase alice once `when(args)` says the call was hers
    (and run `then()`); the list returned is non-empty once she was."""
    real = getattr(module, name)
    done = []

    def reading_then_erased(*args, **kwargs):
        out = real(*args, **kwargs)
        if not done and when(args, kwargs):
            _erase_alice(data)
            if then is not None:
                then()
            done.append(True)
        return out

    monkeypatch.setattr(module, name, reading_then_erased)
    return done


def _erasing_alice_in_build(monkeypatch, data: Path, then=None) -> list:
    """`_erasing_after` the build's read of alice's files."""
    return _erasing_after(
        monkeypatch, build_module, "normalize_files", data, lambda a, k: a[1] == "alice", then
    )


def test_a_build_that_read_her_files_before_forget_writes_no_private_partition(
    tmp_path, monkeypatch
):
    keys = _landed(tmp_path)
    erased = _erasing_alice_in_build(monkeypatch, tmp_path)
    summaries = {
        s["partition"]: s for s in build_partitions(tmp_path / "landed", tmp_path / "private", keys)
    }
    assert erased
    assert not list((tmp_path / "private").rglob("contributor=alice"))
    assert list((tmp_path / "private").rglob("contributor=bob"))
    (hers,) = [s for k, s in summaries.items() if k.startswith("alice|")]
    assert hers["not_written"].startswith(ERASED) and hers["steps"] == 0


def test_a_build_that_read_her_erased_files_writes_nothing_though_she_landed_anew(
    tmp_path, monkeypatch
):
    # Erased while the build read her files, then her next upload (another log of the same
    # month) landed before the build wrote: the partition is in the registry again, but the
    # files the build read are not, so what they would have built must not be written.
    keys = _landed(tmp_path)
    (key,) = [k for k in keys if k.startswith("alice|")]
    erased = _erasing_alice_in_build(monkeypatch, tmp_path, _lands_anew(tmp_path, key))
    summaries = {
        s["partition"]: s for s in build_partitions(tmp_path / "landed", tmp_path / "private", keys)
    }
    assert erased
    assert summaries[key]["not_written"].startswith(ERASED)
    assert not list((tmp_path / "private").rglob("contributor=alice"))
    # The files landed anew build as usual.
    monkeypatch.undo()
    (rebuilt,) = build_partitions(tmp_path / "landed", tmp_path / "private", [key])
    assert rebuilt["not_written"] is None and rebuilt["files"] == 1


def test_forget_during_a_ranged_run_leaves_none_of_hers_and_publishes_the_others(
    tmp_path, monkeypatch
):
    # The contributor-month job over alice's and bob's partitions, as the sensor launches it:
    # normalized_steps read her files, forget erased them, then the run went on. Her private
    # partition was written after the erasure and anonymize published it; the normalize checks
    # must not fail the run (and so hold bob's publication back) for want of her partition.
    monkeypatch.setenv(KEY_ENV, KEY)
    keys = sorted(_landed(tmp_path))
    erased = _erasing_alice_in_build(monkeypatch, tmp_path)
    result, said = _ranged_run(tmp_path, keys)
    assert erased and result.success
    assert not list(tmp_path.glob("private/*/contributor=alice"))
    published = {p.parent.name for p in (tmp_path / "public").rglob("part.parquet")}
    assert published == {f"contributor={Pseudonymizer(KEY.encode()).contributor('bob')}"}
    notes = [m for m in said if ERASED in m]
    assert len(notes) == 2, said  # one per asset, naming the month, never her
    assert not any("alice" in m for m in notes)


def test_forget_then_her_next_upload_during_a_ranged_run_still_publishes_the_others(
    tmp_path, monkeypatch
):
    # As above, and her next upload (another log of the same month) landed before the build
    # wrote: her partition is in the registry again but this run built none of it. The checks
    # and anonymize must take it as not built here (her upload's own run builds it), not as a
    # partition that should be there: that failed the run, holding bob's publication back.
    monkeypatch.setenv(KEY_ENV, KEY)
    keys = sorted(_landed(tmp_path))
    (key,) = [k for k in keys if k.startswith("alice|")]
    erased = _erasing_alice_in_build(monkeypatch, tmp_path, _lands_anew(tmp_path, key))
    defs = build_definitions(data_dir=tmp_path)
    result, said = _ranged_run(tmp_path, keys, defs)
    checks = result.get_asset_check_evaluations()
    assert erased and result.success, [m for m in said if "rror" in m or "fail" in m]
    assert checks and all(c.passed for c in checks)
    assert not list(tmp_path.glob("private/*/contributor=alice"))
    published = {p.parent.name for p in (tmp_path / "public").rglob("part.parquet")}
    assert published == {f"contributor={Pseudonymizer(KEY.encode()).contributor('bob')}"}
    notes = [m for m in said if ERASED in m]
    assert len(notes) == 2, said
    assert not any("alice" in m for m in notes)
    # Her upload's own run builds and publishes her partition from the new log.
    monkeypatch.undo()
    monkeypatch.setenv(KEY_ENV, KEY)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, keys)
        again = defs.resolve_job_def(PARTITIONS_JOB).execute_in_process(
            instance=instance, partition_key=key
        )
    assert again.success
    hers = f"contributor={Pseudonymizer(KEY.encode()).contributor('alice')}"
    assert {p.parent.name for p in (tmp_path / "public").rglob("part.parquet")} == {
        *published,
        hers,
    }


def test_an_anonymize_run_that_read_her_partition_before_forget_publishes_nothing(
    tmp_path, monkeypatch
):
    materialization = _anonymize_erasing_her_midway(tmp_path, monkeypatch)
    assert not list((tmp_path / "public").rglob("part.parquet"))
    assert not list(tmp_path.glob("private/*/contributor=alice"))
    assert materialization.metadata["not_written_erased"].value == 1
    assert materialization.metadata["public_partitions"].value == []


def test_an_anonymize_run_publishes_nothing_read_from_her_erased_files_once_rebuilt(
    tmp_path, monkeypatch
):
    # While the step worked on what it read, she was erased, her next upload (another log of
    # the month) landed and another run rebuilt her private partition from it: a private
    # partition is there again, but not the one the step read.
    def lands_and_is_rebuilt(key: str):
        copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
        land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
        (rebuilt,) = build_partitions(tmp_path / "landed", tmp_path / "private", [key])
        assert rebuilt["not_written"] is None

    materialization = _anonymize_erasing_her_midway(tmp_path, monkeypatch, lands_and_is_rebuilt)
    assert not list((tmp_path / "public").rglob("part.parquet"))
    assert materialization.metadata["not_written_erased"].value == 1


def _lands_anew(data: Path, key: str):
    """Her next upload, another log of the same month, landing (for `_erasing_after`)."""

    def land():
        copy_into(data / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
        assert key in land_inbox(str(data / "inbox"), data / "landed").changed_partitions

    return land


def _ranged_run(data: Path, keys: list[str], defs=None):
    """The contributor-month job over `keys` in one run, as the sensor launches it: the result
    and what the run logged."""
    defs = defs or build_definitions(data_dir=data)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, keys)
        result = defs.resolve_job_def(PARTITIONS_JOB).execute_in_process(
            instance=instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: keys[0],
                ASSET_PARTITION_RANGE_END_TAG: keys[-1],
            },
            raise_on_error=False,
        )
        return result, [r.user_message for r in instance.all_logs(result.run_id)]


def _anonymize_erasing_her_midway(tmp_path: Path, monkeypatch, then=None):
    """anonymized_steps for alice's partition, built beforehand, with alice erased (and
    `then(key)` run) between the step's read and its write; its materialization."""
    keys = _landed(tmp_path)
    list(build_partitions(tmp_path / "landed", tmp_path / "private", keys))
    (key,) = [k for k in keys if k.startswith("alice|")]
    erased = _erasing_after(
        monkeypatch,
        partition_module,
        "prepare_partitions",
        tmp_path,
        lambda a, k: any(c == "alice" for c, _ in a[0]),
        then=then and (lambda: then(key)),
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, keys)
        result = dg.materialize(
            [anonymized_steps],
            partition_key=key,
            instance=instance,
            resources=_resources(tmp_path),
        )
        (materialization,) = result.asset_materializations_for_node("anonymized_steps")
    assert erased and result.success
    return materialization


def _resources(data: Path) -> dict:
    return {
        "tracelab": TraceLabConfig(data_dir=str(data), workers=1),
        "anonymization": AnonymizationConfig(pseudonym_key=KEY),
    }
