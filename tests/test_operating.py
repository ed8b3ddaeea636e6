"""The operator's side: what a production deployment refuses, and how it recovers."""

from pathlib import Path

import dagster as dg
import pytest
from anonymize_helpers import CONTRIBUTOR, PLANTED_EMAIL, plant_pii, real_partition
from landing_helpers import copy_into, fixture, inbox_tick

import tracelab_pipeline.anonymize.anonymize as anonymize_module
import tracelab_pipeline.anonymize.public_checks as public_checks
from assets.anonymize import anonymized_steps
from tracelab_pipeline.definitions import build_definitions
from tracelab_pipeline.orchestration.partitions import contributor_month, partition_key
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig
from tracelab_pipeline.orchestration.sweep import partitions_needing_work
from tracelab_pipeline.partitioned.store import write_partition


@pytest.mark.parametrize(
    ("key", "message"),
    [(None, "no pseudonym key configured"), ("short", "at least 16 are required")],
)
def test_production_sensor_without_a_usable_key_fails_before_landing(
    tmp_path, monkeypatch, key, message
):
    # Every run it requested would fail at start while its cursor moved past the drops:
    # the tick fails instead, naming the cause, and lands nothing.
    copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    monkeypatch.setenv("TRACELAB_ENV", "production")
    monkeypatch.setenv("TRACELAB_CONTRIBUTORS", "alice")
    monkeypatch.delenv("TRACELAB_PSEUDONYM_KEY", raising=False)
    if key:
        monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", key)
    defs = build_definitions(data_dir=tmp_path)
    with dg.instance_for_test() as instance:
        with pytest.raises(Exception) as failed:
            inbox_tick(defs, instance)
        chain, exc = [], failed.value
        while exc is not None:
            chain.append(str(exc))
            exc = exc.__cause__
        assert any(message in m for m in chain), chain
        assert not (tmp_path / "landed").exists()

        monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", "k" * 32)
        result = inbox_tick(defs, instance)
    assert [r.partition_key for r in result.run_requests] == ["alice|2025-09"]


def test_a_drop_that_cannot_be_read_is_named_in_the_sensorinbox_tick(tmp_path, monkeypatch):
    # Such a drop is recorded nowhere (it is tried again next tick): a tick saying only
    # "nothing new" hid it for as long as it failed.
    from tracelab_pipeline.landing.land import _Lander

    def network_blip(self, obj, work):
        raise OSError("connection reset by peer")

    copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    monkeypatch.setattr(_Lander, "_fetch", network_blip)
    defs = build_definitions(data_dir=tmp_path)
    with dg.instance_for_test() as instance:
        skipped = inbox_tick(defs, instance)
    assert isinstance(skipped, dg.SkipReason)
    assert "1 drop(s) could not be read, retried next tick" in skipped.skip_message
    assert "alice/ccviewer__1af7fc5e.jsonl: cannot read" in skipped.skip_message


def test_a_landed_file_in_no_partition_is_listed_with_its_reason(tmp_path):
    # Random bytes named .jsonl land (kept, never deleted) but have no month: only a count
    # showed it, and the reason spoke of TraceLab round exports alone.
    copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    (tmp_path / "inbox" / "alice" / "junk.jsonl").write_bytes(bytes(range(256)) * 8)
    defs = build_definitions(data_dir=tmp_path)
    with dg.instance_for_test() as instance:
        (event,) = inbox_tick(defs, instance).asset_events
    assert event.metadata["files_unplaced"].value == 1
    table = event.metadata["files_unplaced_list"].value
    (row,) = [line for line in table.splitlines() if "junk.jsonl" in line]
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer, resolve_key

    alice = Pseudonymizer(resolve_key(tmp_path, create=False)[0]).contributor("alice")
    assert row.startswith(f"| {alice} | junk.jsonl |")  # by pseudonym: forget cannot erase it
    assert "no timestamp in the log" in row and "anything else is not a log" in row


def test_a_log_of_one_line_longer_than_landing_reads_is_listed_with_line_and_limit(tmp_path):
    """A real log whose single line is longer than the 64 MiB landing reads of one line (a
    pasted image, a huge tool result): it was listed as "no timestamp in the log ... not a
    Claude Code or Codex session log". Now its reason names the line and the limit; it is
    kept, counted as bad input, and the other log lands in its partition."""
    from tracelab_pipeline.landing.scan import MAX_LINE
    from tracelab_pipeline.orchestration.demo_summary import registry_counts

    copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    head = b'{"type":"user","sessionId":"s1","timestamp":"2026-02-03T04:05:06Z","message":"'
    line = head + b"a" * MAX_LINE + b'"}\n'
    (tmp_path / "inbox" / "alice" / "pasted.jsonl").write_bytes(line)
    defs = build_definitions(data_dir=tmp_path)
    with dg.instance_for_test() as instance:
        result = inbox_tick(defs, instance)
    assert [r.partition_key for r in result.run_requests] == ["alice|2025-09"]
    (event,) = result.asset_events
    assert event.metadata["files_unplaced"].value == 1
    table = event.metadata["files_unplaced_list"].value
    (row,) = [row for row in table.splitlines() if "pasted.jsonl" in row]
    assert (
        f"| pasted.jsonl | 1 | line 1 is {len(line) - 1:,} bytes long, longer than the "
        f"{MAX_LINE:,} bytes landing reads of one line: not read, and it may have held its "
        "timestamp: no other line has one, so there is no month to file the log under" in row
    )
    assert "not a log" not in row
    assert registry_counts(tmp_path)["files_unplaced"] == 1  # the demo's bad input


def test_a_column_the_anonymizer_forgets_to_scrub_is_still_rescanned(tmp_path, monkeypatch):
    # The re-scan used to take its columns from the anonymizer's own list: a column left out
    # there (here: all of them) skipped scrubbing and re-scan alike, and the planted e-mail
    # was published with every blocking check passing (seen on a live instance).
    write_partition(
        tmp_path / "private", CONTRIBUTOR, "2025-09", plant_pii(real_partition("2025-09")), {}
    )
    for module in (anonymize_module, public_checks):
        monkeypatch.setattr(module, "scrubbed_columns", lambda name: (), raising=False)
    key = partition_key(CONTRIBUTOR, "2025-09")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, [key])
        result = dg.materialize(
            [anonymized_steps],
            partition_key=key,
            instance=instance,
            resources={
                "tracelab": TraceLabConfig(data_dir=str(tmp_path)),
                "anonymization": AnonymizationConfig(pseudonym_key="k" * 32),
            },
            raise_on_error=False,
        )
    verdicts = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not verdicts["presidio_rescan_clean"].passed
    findings = verdicts["presidio_rescan_clean"].metadata["findings"].value
    assert findings.get("tool_calls.tool_name:EMAIL_ADDRESS", 0) >= 1
    assert not (tmp_path / "public" / "tool_calls").exists()
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = str(failure.event_specific_data.error)
    assert f"in 1 partition(s) ({key})" in message and "re-execute this run" in message
    assert PLANTED_EMAIL not in repr(verdicts["presidio_rescan_clean"].metadata)


def test_nightly_retries_a_partition_whose_latest_attempt_failed(tmp_path):
    # A partition published once, then blocked by a check, kept its old public version and
    # was never retried: its private Parquet is current and it had been materialized once.
    fail = {"now": False}

    @dg.asset(partitions_def=contributor_month, name="anonymized_steps")
    def stand_in():
        if fail["now"]:
            raise dg.Failure("blocking checks failed")

    config = TraceLabConfig(data_dir=str(tmp_path))
    keys = ["alice|2026-03", "bob|2026-03"]
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "_pseudonym_key_fingerprint").write_text("fingerprint\n")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, keys)
        for key in keys:
            assert dg.materialize([stand_in], partition_key=key, instance=instance).success
        asset = [dg.AssetKey("anonymized_steps")]
        assert partitions_needing_work(instance, config, asset) == []
        fail["now"] = True
        dg.materialize(
            [stand_in], partition_key="bob|2026-03", instance=instance, raise_on_error=False
        )
        assert partitions_needing_work(instance, config, asset) == ["bob|2026-03"]
        fail["now"] = False
        assert dg.materialize([stand_in], partition_key="bob|2026-03", instance=instance).success
        assert partitions_needing_work(instance, config, asset) == []


def _stored_paths(landed: Path) -> list[str]:
    import sqlite3

    db = sqlite3.connect(landed / "registry.sqlite")
    try:
        return [r[0] for r in db.execute("SELECT object_path FROM files ORDER BY sha256")]
    finally:
        db.close()


def test_a_moved_data_directory_still_builds_its_partitions(tmp_path):
    # The registry recorded landed objects by absolute path: after `mv data elsewhere` every
    # rebuild read files that were no longer there. They are stored relative to the data dir.
    import shutil

    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.partitioned.build import build_partitions

    old, new = tmp_path / "old", tmp_path / "new"
    copy_into(old / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    (key,) = land_inbox(str(old / "inbox"), old / "landed").changed_partitions
    (stored,) = _stored_paths(old / "landed")
    assert stored.startswith("landed/objects/") and (old / stored).is_file()
    (before,) = build_partitions(old / "landed", old / "private", [key])
    shutil.move(old, new)
    (after,) = build_partitions(new / "landed", new / "private", [key])
    assert after["steps"] == before["steps"] > 0
    assert after["unreadable_files"] == 0 and after["rejected_records"] == 0
    # a later drop lands beside it, relative too, and both feed the partition
    copy_into(new / "inbox" / "alice", fixture("ccviewer__5c0375b4.jsonl"))
    land_inbox(str(new / "inbox"), new / "landed")
    assert all(p.startswith("landed/objects/") for p in _stored_paths(new / "landed"))
    assert all((new / p).is_file() for p in _stored_paths(new / "landed"))


def test_a_registry_with_absolute_paths_is_migrated_once(tmp_path):
    """A registry written before paths were relative (absolute rows, no marker), then the data
    dir moved: opening it rewrites the rows once, and the partition builds from them."""
    import shutil
    import sqlite3

    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.landing.registry import RELATIVE_PATHS, Registry
    from tracelab_pipeline.partitioned.build import build_partitions

    old, new = tmp_path / "old", tmp_path / "new"
    copy_into(old / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    (key,) = land_inbox(str(old / "inbox"), old / "landed").changed_partitions
    (before,) = build_partitions(old / "landed", old / "private", [key])
    db = sqlite3.connect(old / "landed" / "registry.sqlite")  # as the old code left it
    db.execute("UPDATE files SET object_path = ? || '/' || object_path", (str(old),))
    db.execute("DELETE FROM meta WHERE k = ?", (RELATIVE_PATHS,))
    db.commit()
    db.close()
    (absolute,) = _stored_paths(old / "landed")
    assert absolute.startswith(str(old)) and Path(absolute).is_file()
    shutil.move(old, new)
    with Registry(new / "landed") as reg:
        (row,) = reg.files()
    (stored,) = _stored_paths(new / "landed")
    assert stored == absolute.removeprefix(f"{old}/")
    assert row["object_path"] == str(new / stored) and Path(row["object_path"]).is_file()
    (after,) = build_partitions(new / "landed", new / "private", [key])
    assert after["steps"] == before["steps"] > 0 and after["unreadable_files"] == 0


def test_forget_erases_one_contributor_and_nothing_else(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
    from tracelab_pipeline.anonymize.public_store import KEY_MARKER
    from tracelab_pipeline.cli import main as cli
    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.landing.registry import Registry
    from tracelab_pipeline.partitioned.build import build_partitions

    key = "f" * 32
    monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", key)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    shared = fixture("ccviewer__1af7fc5e.jsonl")
    copy_into(tmp_path / "inbox" / "alice", shared, fixture("ccviewer__5c0375b4.jsonl"))
    copy_into(tmp_path / "inbox" / "bob", shared)  # the same bytes: bob keeps the object
    keys = land_inbox(str(tmp_path / "inbox"), tmp_path / "landed").changed_partitions
    list(build_partitions(tmp_path / "landed", tmp_path / "private", keys))
    pseudonymizer = Pseudonymizer(key.encode())
    public = tmp_path / "public"
    for handle in ("alice", "bob"):  # stands in for anonymized partitions
        name = f"contributor={pseudonymizer.contributor(handle)}"
        part = public / "steps" / "month=2025-09" / name
        part.mkdir(parents=True)
        (part / "part.parquet").write_bytes(b"x")
    (public / KEY_MARKER).write_text(pseudonymizer.fingerprint + "\n")
    _publish_release(tmp_path)
    (tmp_path / ".release.old-0a").mkdir()  # a removal that failed: may hold her data

    run = CliRunner().invoke
    args = ["forget", "alice", "--data-dir", str(tmp_path)]
    dry = run(cli, args)
    assert dry.exit_code == 0, dry.output
    assert f"which may hold her data: {tmp_path / '.release.old-0a'}; the next" in dry.output
    assert "nothing deleted" in dry.output and (tmp_path / "inbox" / "alice").exists()
    assert "Dagster instance: none found" in dry.output
    monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", "g" * 32)  # not the key of the public layer
    wrong = run(cli, [*args, "--yes"])
    assert wrong.exit_code != 0 and "give the key it was built with" in wrong.output
    monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", key)
    done = run(cli, [*args, "--yes"])
    assert done.exit_code == 0, done.output
    assert (
        "release: STALE: since it was built, 0 public partition(s) added, 0 changed, 1 removed"
        in (done.output)
    )
    assert "(`... --select release`)." in done.output  # bob's partition is left

    assert not (tmp_path / "inbox" / "alice").exists() and (tmp_path / "inbox" / "bob").exists()
    with Registry(tmp_path / "landed") as reg:
        assert {f["contributor"] for f in reg.files()} == {"bob"}
        assert {d["contributor"] for d in reg.drops()} == {"bob"}
        assert [p.key.split("|")[0] for p in reg.partitions()] == ["bob"]
        (bob_file,) = reg.files_for_partition(reg.partitions()[0].key)
    assert Path(bob_file.object_path).exists()  # shared bytes kept for bob
    assert len(list((tmp_path / "landed" / "objects").rglob("*.jsonl"))) == 1
    assert not list((tmp_path / "private").rglob("contributor=alice"))
    assert list((tmp_path / "private").rglob("contributor=bob"))
    left = [p.name for p in public.rglob("contributor=*")]
    assert left == [f"contributor={pseudonymizer.contributor('bob')}"]
    # an identical re-drop of alice's would land again: nothing of hers is remembered
    copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__5c0375b4.jsonl"))
    assert land_inbox(str(tmp_path / "inbox"), tmp_path / "landed").files_landed == 1

    # The last one forgotten: the rebuild asked for withdraws the release (it said "rebuild").
    last = run(cli, ["forget", "bob", "--data-dir", str(tmp_path), "--yes"])
    assert last.exit_code == 0, last.output
    assert (
        "2 removed; pseudonym key unchanged; the public layer has no partition: rebuilding "
        "withdraws it (the run fails, publishing nothing)" in last.output
    )
    assert "no public partition is left: `... --select release` withdraws it" in last.output


def test_forget_says_when_the_consent_list_still_takes_her(tmp_path, monkeypatch):
    # Forgetting erased her data but left her on the list: her next upload (a contribute
    # cron job) landed and was published again, and nothing told the operator.
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main as cli

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("TRACELAB_CONTRIBUTORS", raising=False)
    monkeypatch.setenv("TRACELAB_ENV", "production")
    listed = tmp_path / "contributors.txt"
    listed.write_text("alice\nbob\n")
    monkeypatch.setenv("TRACELAB_CONTRIBUTORS_FILE", str(listed))
    copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    args = ["forget", "alice", "--data-dir", str(tmp_path)]

    dry = CliRunner().invoke(cli, args)
    assert dry.exit_code == 0, dry.output
    assert f"consent: the list of consenting contributors (file {listed}) still names alice" in (
        dry.output
    )
    listed.write_text("bob\n")
    done = CliRunner().invoke(cli, [*args, "--yes"])
    assert done.exit_code == 0, done.output
    assert "consent:" not in done.output and not (tmp_path / "inbox" / "alice").exists()
    # No release was ever published: the closing line asked to rebuild or withdraw one.
    assert "the release" not in done.output
    assert "or the next quiet night)." in done.output


def _publish_release(data: Path) -> None:
    """A release MANIFEST.json recording the public layer as it is now (its files: not needed)."""
    import json

    from tracelab_pipeline.release.provenance import built_from, key_fingerprint, public_state

    record = built_from(public_state(data / "public"), key_fingerprint(data / "public"))
    (data / "release").mkdir()
    (data / "release" / "MANIFEST.json").write_text(json.dumps({"built_from": record}))


def test_after_forget_release_is_current_warns_at_once(tmp_path):
    # Erasing leaves no materialization: release_is_current kept saying "current" (its last
    # verdict) until its nightly run, while the published release still held her.
    from checks.release_current import RELEASE_IS_CURRENT
    from tracelab_pipeline.orchestration.forget import release_staleness

    part = tmp_path / "public" / "steps" / "month=2026-03" / "contributor=usr_0123456789abcdef0123"
    part.mkdir(parents=True)
    (part / "part.parquet").write_bytes(b"x")
    (tmp_path / "public" / "_pseudonym_key_fingerprint").write_text("c37e8f3cb24e\n")
    _publish_release(tmp_path)
    check = dg.AssetCheckKey(dg.AssetKey("release"), RELEASE_IS_CURRENT)
    with dg.instance_for_test() as instance:
        assert release_staleness(tmp_path, instance).line().startswith("release: current")
        import shutil

        shutil.rmtree(part.parent)  # as `tracelab forget` deletes her public partition
        line = release_staleness(tmp_path, instance).line()
        assert line.startswith("release: STALE") and "1 removed" in line
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])
        evaluation = latest[check].event.dagster_event.event_specific_data
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description == line
    assert evaluation.metadata["partitions_removed"].value == 1
    assert release_staleness(tmp_path / "none", instance) is None  # nothing published


def test_forget_in_the_dagster_instance_deletes_her_keys_and_runs():
    from tracelab_pipeline.orchestration.forget import forget_in_instance

    @dg.asset(partitions_def=contributor_month, name="normalized_steps")
    def stand_in():
        return None

    keys = ["alice|2026-03", "alice|2026-04", "bob|2026-03"]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, keys)
        for key in keys:
            dg.materialize([stand_in], partition_key=key, instance=instance)
        seen = forget_in_instance(instance, "alice", apply=False)
        assert seen == {
            "partition_keys": keys[:2],
            "runs": 2,
            "runs_in_progress": 0,
            "ranged_runs_with_others": 0,
            "others_rebuilt": 0,
            "ticks": 0,
            "cached": 0,
            "landed_events_left": 0,
            "check_rows": 0,
        }
        forget_in_instance(instance, "alice", apply=True)
        assert instance.get_dynamic_partitions(contributor_month.name) == ["bob|2026-03"]
        left = {r.tags.get("dagster/partition") for r in instance.get_runs()}
    assert left == {"bob|2026-03"}


def test_forget_in_the_dagster_instance_judges_ranged_runs_by_the_keys_they_cover():
    # Ranged runs (sensor, nightly, demo: all of a demo's runs) were matched on their start
    # and end tags only: one of hers alone was kept as "also covering others" and counted
    # twice, one covering hers between two others' was not counted at all. Every run that
    # covered one of hers goes (its events name her keys); others' keys in it are counted.
    from tracelab_pipeline.orchestration.forget import forget_in_instance
    from tracelab_pipeline.orchestration.sensors import partition_range_tags

    @dg.asset(
        partitions_def=contributor_month,
        name="normalized_steps",
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def stand_in() -> None:
        return None

    keys = ["alice|2026-03", "bob|2026-03", "alice|2026-04", "alice|2026-05", "carol|2026-03"]
    ranges = {
        "hers": ("alice|2026-04", "alice|2026-05"),
        "one_of_hers": ("alice|2026-03", "alice|2026-03"),
        "with_bob": ("alice|2026-03", "alice|2026-04"),
        "hers_inside": ("bob|2026-03", "carol|2026-03"),
        "not_hers": ("carol|2026-03", "carol|2026-03"),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, keys)
        for name, (start, end) in ranges.items():
            tags = {**partition_range_tags(start, end), "case": name}
            assert dg.materialize([stand_in], instance=instance, tags=tags).success
        seen = forget_in_instance(instance, "alice", apply=True)
        hers = ["alice|2026-03", "alice|2026-04", "alice|2026-05"]
        assert seen == {
            "partition_keys": hers,
            "runs": 4,
            "runs_in_progress": 0,
            "ranged_runs_with_others": 2,
            "others_rebuilt": 2,  # bob|2026-03 (in two of them), carol|2026-03
            "ticks": 0,
            "cached": 0,
            "landed_events_left": 0,
            "check_rows": 0,
            "not_vacuumed": [],
        }
        left = sorted(r.tags["case"] for r in instance.get_runs())
    assert left == ["not_hers"]


def test_nightly_republishes_every_partition_once_the_public_layer_is_deleted(tmp_path):
    # After a key rotation the documented step is to delete <data>/public: nothing then
    # published it again (every partition was materialized and its private Parquet current).
    from tracelab_pipeline.anonymize.public_store import KEY_MARKER

    @dg.asset(partitions_def=contributor_month, name="anonymized_steps")
    def stand_in():
        return None

    config = TraceLabConfig(data_dir=str(tmp_path))
    keys = ["alice|2026-03", "bob|2026-03"]
    asset = [dg.AssetKey("anonymized_steps")]
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / KEY_MARKER).write_text("fingerprint\n")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, keys)
        for key in keys:
            assert dg.materialize([stand_in], partition_key=key, instance=instance).success
        assert partitions_needing_work(instance, config, asset) == []
        (tmp_path / "public" / KEY_MARKER).unlink()
        assert partitions_needing_work(instance, config, asset) == keys
        # a code location without the public layer's asset is not concerned
        assert partitions_needing_work(instance, config, []) == []


def test_forget_refuses_a_key_it_cannot_check_against_the_public_layer(tmp_path):
    # Without the key marker a wrong key found none of her public partitions, silently.
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
    from tracelab_pipeline.anonymize.public_store import KEY_MARKER
    from tracelab_pipeline.forget import ForgetError, plan_forget

    key, wrong = b"f" * 32, b"g" * 32
    part = tmp_path / "public" / "steps" / "month=2025-09"
    (part / f"contributor={Pseudonymizer(key).contributor('alice')}").mkdir(parents=True)
    inbox = str(tmp_path / "inbox")
    with pytest.raises(ForgetError, match="no record of the pseudonym key"):
        plan_forget("alice", tmp_path, inbox, pseudonym_key=wrong)
    (tmp_path / "public" / KEY_MARKER).write_text(Pseudonymizer(key).fingerprint + "\n")
    with pytest.raises(ForgetError, match="give the key it was built with"):
        plan_forget("alice", tmp_path, inbox, pseudonym_key=wrong)
    assert len(plan_forget("alice", tmp_path, inbox, pseudonym_key=key).public_dirs) == 1


def test_forget_leaves_no_trace_of_her_rows_in_the_registry_file(tmp_path):
    # SQLite keeps a deleted row's bytes in the file's free pages until they are reused:
    # the handle, drop paths and file names stayed readable in registry.sqlite.
    from tracelab_pipeline.forget import forget, plan_forget
    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.landing.registry import REGISTRY_NAME

    copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__5c0375b4.jsonl"))
    copy_into(tmp_path / "inbox" / "bob", fixture("ccviewer__1af7fc5e.jsonl"))
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    registry = tmp_path / "landed" / REGISTRY_NAME
    assert b"alice" in registry.read_bytes()
    plan = plan_forget("alice", tmp_path, str(tmp_path / "inbox"), pseudonym_key=None)
    forget(plan, tmp_path, str(tmp_path / "inbox"))
    assert b"alice" not in registry.read_bytes() and b"5c0375b4" not in registry.read_bytes()
    assert b"bob" in registry.read_bytes()


def test_forget_removes_an_empty_inbox_directory_too(tmp_path):
    # With no file in it the directory was kept, and the next landing recorded it again as a
    # drop of hers ("contributor directory holds no files").
    from tracelab_pipeline.forget import forget, plan_forget
    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.landing.registry import Registry

    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    copy_into(inbox / "bob", fixture("ccviewer__1af7fc5e.jsonl"))
    land_inbox(str(inbox), tmp_path / "landed")
    forget(plan_forget("alice", tmp_path, str(inbox), pseudonym_key=None), tmp_path, str(inbox))
    land_inbox(str(inbox), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:
        assert {d["contributor"] for d in reg.drops()} == {"bob"}


def test_forget_deletes_objects_landed_after_its_plan(tmp_path):
    # The plan is read without the landing lock: a file of hers that a landing finished in
    # between lost its registry rows but its object stayed in landed/objects.
    from tracelab_pipeline.forget import forget, plan_forget
    from tracelab_pipeline.landing.land import land_inbox

    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", fixture("ccviewer__5c0375b4.jsonl"))
    copy_into(inbox / "bob", fixture("ccviewer__1af7fc5e.jsonl"))
    land_inbox(str(inbox), tmp_path / "landed")
    plan = plan_forget("alice", tmp_path, str(inbox), pseudonym_key=None)
    copy_into(inbox / "alice", fixture("ccviewer__fe5e1c67.jsonl"))
    assert land_inbox(str(inbox), tmp_path / "landed").files_landed == 1
    forget(plan, tmp_path, str(inbox))
    assert len(list((tmp_path / "landed" / "objects").rglob("*.jsonl"))) == 1  # bob's


def test_forget_deletes_partitions_built_after_its_plan(tmp_path):
    # The partition directories were taken from the plan: one built in between survived.
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
    from tracelab_pipeline.anonymize.public_store import KEY_MARKER
    from tracelab_pipeline.forget import forget, plan_forget
    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.partitioned.build import build_partitions

    key = b"f" * 32
    pseudonymizer = Pseudonymizer(key)
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", fixture("ccviewer__5c0375b4.jsonl"))
    copy_into(inbox / "bob", fixture("ccviewer__1af7fc5e.jsonl"))
    keys = land_inbox(str(inbox), tmp_path / "landed").changed_partitions
    public = tmp_path / "public"
    bob = public / "steps" / "month=2025-09" / f"contributor={pseudonymizer.contributor('bob')}"
    bob.mkdir(parents=True)
    (public / KEY_MARKER).write_text(pseudonymizer.fingerprint + "\n")
    plan = plan_forget("alice", tmp_path, str(inbox), pseudonym_key=key)
    assert plan.private_dirs == [] and plan.public_dirs == []
    # built and published after the plan
    list(build_partitions(tmp_path / "landed", tmp_path / "private", keys))
    assert list((tmp_path / "private").rglob("contributor=alice"))
    hers = public / "steps" / "month=2025-10" / f"contributor={pseudonymizer.contributor('alice')}"
    hers.mkdir(parents=True)
    forget(plan, tmp_path, str(inbox))
    assert not list((tmp_path / "private").rglob("contributor=alice"))
    assert list((tmp_path / "private").rglob("contributor=bob"))
    assert not hers.exists() and not hers.parent.exists() and bob.exists()


def test_forget_planned_without_a_key_refuses_a_public_layer_that_appeared_since(tmp_path):
    from tracelab_pipeline.forget import ForgetError, forget, plan_forget

    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", fixture("ccviewer__5c0375b4.jsonl"))
    plan = plan_forget("alice", tmp_path, str(inbox), pseudonym_key=None)
    (tmp_path / "public" / "steps" / "month=2025-09" / "contributor=usr_x").mkdir(parents=True)
    with pytest.raises(ForgetError, match="plan again with the key"):
        forget(plan, tmp_path, str(inbox))
    assert (inbox / "alice").exists()  # refused before deleting anything


def test_forget_names_a_bucket_inbox_by_its_url_and_what_to_set_without_a_list(
    tmp_path, monkeypatch
):
    # It printed the file system's path, `tl-inbox/drops/alice`, without the scheme; and,
    # with no consent list, told the operator to take her off "the list".
    import fsspec
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main as cli

    for name in (
        "DAGSTER_HOME",
        "TRACELAB_ENV",
        "TRACELAB_CONTRIBUTORS",
        "TRACELAB_CONTRIBUTORS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    inbox = f"memory://tl-inbox-{tmp_path.name}/drops"
    fs, root = fsspec.core.url_to_fs(inbox)
    fs.pipe(f"{root}/alice/a.jsonl", fixture("ccviewer__1af7fc5e.jsonl").read_bytes())
    args = ["forget", "alice", "--data-dir", str(tmp_path), "--inbox", inbox]
    dry = CliRunner().invoke(cli, args)
    assert dry.exit_code == 0, dry.output
    assert f"  inbox {inbox}/alice: 1 file(s)\n" in dry.output
    # no list configured: there is none to take her off, so it says what to set
    assert "consent: no list of consenting contributors is configured" in dry.output
    assert "set TRACELAB_CONTRIBUTORS or TRACELAB_CONTRIBUTORS_FILE without alice" in dry.output
    done = CliRunner().invoke(cli, [*args, "--yes"])
    assert done.exit_code == 0, done.output
    assert not fs.exists(f"{root}/alice")


def test_forget_cli_erases_her_keys_in_the_dagster_instance_it_finds(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main as cli

    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(contributor_month.name, ["alice|2026-03", "bob|2026-03"])
    args = ["forget", "alice", "--data-dir", str(tmp_path / "data")]
    dry = CliRunner().invoke(cli, args)
    assert dry.exit_code == 0, dry.output
    assert f"Dagster instance {home}: 1 partition key(s), 0 run(s)" in dry.output
    done = CliRunner().invoke(cli, [*args, "--yes"])
    assert done.exit_code == 0, done.output
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions(contributor_month.name) == ["bob|2026-03"]


def test_forget_reads_production_and_consent_set_in_the_code_location(tmp_path, monkeypatch):
    # `production=True` and a consent list set in the anonymization resource's code are in no
    # environment variable: forget read the environment only, took this for a demo and said
    # that no list was configured, while the pipeline's list still named her.
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main as cli

    for name in ("DAGSTER_HOME", "TRACELAB_ENV", "TRACELAB_CONTRIBUTORS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TRACELAB_CONTRIBUTORS_FILE", raising=False)
    module = f"tl_defs_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(
        "import dagster as dg\n"
        "from tracelab_pipeline.orchestration.resources import AnonymizationConfig\n"
        "defs = dg.Definitions(resources={'anonymization': AnonymizationConfig(\n"
        "    production=True, contributors=['alice', 'bob'],\n"
        "    contributors_file=dg.EnvVar('TL_TEST_LIST'))})\n"
    )
    (tmp_path / "also.txt").write_text("carol\n")
    monkeypatch.setenv("TL_TEST_LIST", str(tmp_path / "also.txt"))
    monkeypatch.chdir(tmp_path)  # as `dagster dev -m` imports it: from the current directory
    copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    args = ["forget", "alice", "--data-dir", str(tmp_path), "-m", module]
    dry = CliRunner().invoke(cli, args)
    assert dry.exit_code == 0, dry.output
    assert f"pipeline settings from the code location {module}: production" in dry.output
    assert (
        "consent: the list of consenting contributors (configuration and file "
        f"{tmp_path / 'also.txt'}) still names alice" in dry.output
    )
    assert "no list of consenting contributors is configured" not in dry.output

    # A code location that does not load must not stop an erasure: the environment decides.
    broken = CliRunner().invoke(cli, [*args[:-1], "no_such_module_here", "--yes"])
    assert broken.exit_code == 0, broken.output
    assert "pipeline settings from the environment only: the code location" in broken.output
    assert "give the pipeline's with --module" in broken.output
    assert not (tmp_path / "inbox" / "alice").exists()
