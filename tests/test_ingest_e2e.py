"""End to end on a real Dagster instance: inbox -> sensor tick -> runs -> Parquet partitions."""

import shutil
from datetime import UTC, datetime

import dagster as dg
import pyarrow.parquet as pq
import pytest
from landing_helpers import CODEX, copy_into, fixture, sensor_resources

from assets.normalize import normalized_steps
from checks import normalize as normalize_checks
from tracelab_pipeline.definitions import build_definitions
from tracelab_pipeline.landing.registry import Registry
from tracelab_pipeline.normalize import normalize_files
from tracelab_pipeline.orchestration import schedules
from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME, contributor_month
from tracelab_pipeline.orchestration.schedules import build_nightly_schedule
from tracelab_pipeline.orchestration.sensors import INBOX_SENSOR, partition_range_tags
from tracelab_pipeline.partitioned.store import manifest_path

OUR_CHECKS = [
    normalize_checks.nothing_lost,
    normalize_checks.unique_step_ids,
    normalize_checks.input_tokens_add_up,
    normalize_checks.no_session_before_month,
]
ALICE = [
    fixture("ccviewer__1af7fc5e.jsonl"),
    fixture("ccviewer__5c0375b4.jsonl"),
    fixture("bastion__claude-session.jsonl"),
]
BOB = CODEX


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def setup(tmp_path):
    copy_into(tmp_path / "inbox" / "alice", *ALICE)
    copy_into(tmp_path / "inbox" / "bob", *BOB)
    defs = build_definitions(data_dir=tmp_path)
    return tmp_path, defs


def tick(defs, instance, cursor=None):
    sensor = defs.resolve_sensor_def(INBOX_SENSOR)
    ctx = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        resources=sensor_resources(defs),
    )
    result = sensor(ctx)
    if isinstance(result, dg.SkipReason):
        return result
    for req in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def run_all(defs, instance, requests):
    """Execute what the sensor asked for: normalized_steps and our own checks (other stages'
    checks on it, e.g. GX, are exercised by their own tests)."""
    results = {}
    for req in requests:
        results[req.partition_key] = dg.materialize(
            [normalized_steps, *OUR_CHECKS],
            partition_key=req.partition_key,
            instance=instance,
            tags=req.tags,
            resources={"tracelab": defs.resources["tracelab"]},
        )
    return results


def build_all(defs, instance):
    """Build every registered partition in one ranged run: for tests of what comes after (the
    per-request runs the sensor asks for are tested above)."""
    keys = instance.get_dynamic_partitions(PARTITIONS_NAME)
    out = dg.materialize(
        [normalized_steps, *OUR_CHECKS],
        instance=instance,
        tags=partition_range_tags(keys[0], keys[-1]),
        resources={"tracelab": defs.resources["tracelab"]},
    )
    assert out.success
    assert len(instance.get_materialized_partitions(dg.AssetKey("normalized_steps"))) == len(keys)


def steps_of(data, key):
    contributor, month = key.split("|")
    path = (
        data
        / "private"
        / "steps"
        / f"contributor={contributor}"
        / f"month={month}"
        / "part.parquet"
    )
    return pq.read_table(path)


def test_sensor_lands_registers_and_runs_only_changed_partitions(setup, instance):
    data, defs = setup
    first = tick(defs, instance)
    keys = sorted(r.partition_key for r in first.run_requests)
    # one key per contributor-month that has sessions (fixture start dates)
    assert keys == ["alice|2025-09", "alice|2026-05", "bob|2025-12", "bob|2026-03", "bob|2026-04"]
    assert sorted(instance.get_dynamic_partitions(PARTITIONS_NAME)) == keys
    assert len({r.run_key for r in first.run_requests}) == len(keys)
    (landed_event,) = first.asset_events
    assert landed_event.metadata["files_active"].value == len(ALICE) + len(BOB)

    results = run_all(defs, instance, first.run_requests)
    for key, out in results.items():
        assert out.success
        checks = {e.check_name: e.passed for e in out.get_asset_check_evaluations()}
        assert checks == dict.fromkeys(
            ["nothing_lost", "unique_step_ids", "input_tokens_add_up", "no_session_before_month"],
            True,
        ), key
        meta = out.asset_materializations_for_node("normalized_steps")[0].metadata
        assert meta["steps"].value == steps_of(data, key).num_rows
    # the partitions together hold exactly what the readers produce for each contributor
    alice_steps = sum(steps_of(data, k).num_rows for k in keys if k.startswith("alice"))
    assert alice_steps == normalize_files(ALICE, "alice").steps.num_rows > 0
    steps = steps_of(data, "alice|2025-09")
    assert set(steps.column("contributor").to_pylist()) == {"alice"}
    starts = steps.column("session_started_at").to_pylist()
    assert all(
        datetime(2025, 9, 1, tzinfo=UTC) <= s < datetime(2025, 10, 1, tzinfo=UTC) for s in starts
    )

    # nothing changed: nothing requested
    second = tick(defs, instance, cursor=first.cursor)
    assert isinstance(second, dg.SkipReason)

    # one new file for bob in a month he already has -> exactly that partition
    copy_into(data / "inbox" / "bob" / "later", fixture("agentic-wallet__claude-session.jsonl"))
    third = tick(defs, instance, cursor=first.cursor)
    assert [r.partition_key for r in third.run_requests] == ["bob|2026-04"]
    before = steps_of(data, "bob|2026-04").num_rows
    run_all(defs, instance, third.run_requests)
    assert steps_of(data, "bob|2026-04").num_rows > before
    assert isinstance(tick(defs, instance, cursor=third.cursor), dg.SkipReason)


def test_sensor_is_restart_safe(setup, instance):
    """If the cursor was never saved (crash after landing), the next tick asks for the same
    runs with the same run keys, which Dagster then de-duplicates."""
    _, defs = setup
    first = tick(defs, instance)
    # with the saved cursor, the same drops are not asked for again (none has run yet)
    assert isinstance(tick(defs, instance, cursor=first.cursor), dg.SkipReason)
    replay = tick(defs, instance, cursor=None)
    assert sorted((r.partition_key, r.run_key) for r in replay.run_requests) == sorted(
        (r.partition_key, r.run_key) for r in first.run_requests
    )


def test_sensor_without_a_cursor_skips_partitions_already_built(setup, instance):
    """`tracelab demo` builds through the instance without moving the sensor's cursor: the
    first tick of `dagster dev` after it rebuilt every partition the demo had just built."""
    data, defs = setup
    first = tick(defs, instance)
    run_all(defs, instance, first.run_requests[:1])  # as if a run built only this one
    built = first.run_requests[0].partition_key
    fresh = tick(defs, instance, cursor=None)
    assert sorted(r.partition_key for r in fresh.run_requests) == sorted(
        r.partition_key for r in first.run_requests[1:]
    )
    assert built not in {r.partition_key for r in fresh.run_requests}
    run_all(defs, instance, fresh.run_requests)
    assert isinstance(tick(defs, instance, cursor=None), dg.SkipReason)


def test_grown_session_reruns_its_partition_only(setup, instance):
    data, defs = setup
    first = tick(defs, instance)
    build_all(defs, instance)
    src = fixture("ccviewer__5c0375b4.jsonl")
    grown = data / "inbox" / "alice" / "v2" / src.name
    grown.parent.mkdir()
    shutil.copy(src, grown)
    with grown.open("ab") as f:
        f.write(b'{"type":"summary","summary":"x","leafUuid":"y"}\n')
    second = tick(defs, instance, cursor=first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["alice|2025-09"]
    run_all(defs, instance, second.run_requests)
    out = steps_of(data, "alice|2025-09")
    assert out.num_rows == normalize_files(ALICE[:2], "alice").steps.num_rows


def test_a_session_resumed_in_a_later_month_is_built_with_the_one_it_resumed(tmp_path, instance):
    """Claude Code writes a resumed session to a new file that first repeats the resumed
    session's records under that session's id: the file lands in the month of that first
    session, its own (later) session with it, nothing is counted twice and no check blocks."""
    june = fixture("sniffly__ba79134d.jsonl")  # 2025-06
    september = fixture("ccviewer__1af7fc5e.jsonl")  # 2025-09, another session
    inbox = tmp_path / "inbox" / "alice"
    copy_into(inbox, june)
    (inbox / september.name).write_bytes(june.read_bytes() + september.read_bytes())
    defs = build_definitions(data_dir=tmp_path)
    first = tick(defs, instance)
    assert [r.partition_key for r in first.run_requests] == ["alice|2025-06"]
    (out,) = run_all(defs, instance, first.run_requests).values()
    assert out.success
    (check,) = [
        e for e in out.get_asset_check_evaluations() if e.check_name == "no_session_before_month"
    ]
    later = normalize_files([september], "alice").steps.num_rows
    assert check.passed and check.metadata["started_later"].value == later > 0
    steps = steps_of(tmp_path, "alice|2025-06")
    assert steps.num_rows == normalize_files([june, september], "alice").steps.num_rows
    assert steps.num_rows == len(set(steps.column("step_id").to_pylist()))


def nightly_tick(defs, instance, downstream, ranged_runs=False):
    """Evaluate the nightly schedule as definitions build it, for normalized_steps (other
    stages have their own tests) and the given downstream keys."""
    schedule = build_nightly_schedule(
        [dg.AssetKey("normalized_steps")], downstream, ranged_runs=ranged_runs
    )
    # As a context manager: the context opens its own instance from the ref, and left open it
    # leaves that instance's state storage current after it is gone, failing later
    # Definitions loads in the same worker ("undefined DagsterInstance weakref").
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2026, 7, 1, 2, tzinfo=UTC),
        resources=sensor_resources(defs),
        repository_def=dg.Definitions(
            assets=[normalized_steps], schedules=[schedule], resources=defs.resources
        ).get_repository_def(),
    ) as ctx:
        return schedule.evaluate_tick(ctx).run_requests


def test_nightly_schedule_rebuilds_stale_and_missing_partitions(setup, instance):
    data, defs = setup
    tick(defs, instance)
    build_all(defs, instance)

    def requested():
        return [r.partition_key for r in nightly_tick(defs, instance, [])]

    assert requested() == []
    manifest_path(data / "private", "bob", "2026-03").unlink()
    assert requested() == ["bob|2026-03"]
    # a key whose run never happened (e.g. it failed) is swept up too
    copy_into(data / "inbox" / "zoe", fixture("sniffly__fed8ce56.jsonl"))
    assert requested() == ["bob|2026-03", "zoe|2025-06"]


def test_nightly_refreshes_downstream_only_when_no_partition_is_rebuilt(setup, instance):
    # A downstream run beside partition runs reads the public layer before they publish and,
    # finishing after them, keeps the automation sensor from refreshing it afterwards.
    data, defs = setup
    tick(defs, instance)
    build_all(defs, instance)
    downstream = [dg.AssetKey("warehouse")]
    (refresh,) = nightly_tick(defs, instance, downstream)
    assert refresh.partition_key is None and list(refresh.asset_selection) == downstream
    assert refresh.tags["tracelab/trigger"] == "nightly"
    manifest_path(data / "private", "bob", "2026-03").unlink()
    requests = nightly_tick(defs, instance, downstream)
    assert [r.partition_key for r in requests] == ["bob|2026-03"]


def test_nightly_refreshes_downstream_beside_retries_of_failed_partitions(setup, instance):
    # A partition whose blocking check keeps failing is retried every night; counted as work
    # to rebuild, it held the downstream refresh back for good.
    data, defs = setup
    tick(defs, instance)
    build_all(defs, instance)

    @dg.asset(partitions_def=contributor_month, name="normalized_steps")
    def failing():
        raise dg.Failure("blocking checks failed")

    dg.materialize([failing], partition_key="bob|2026-03", instance=instance, raise_on_error=False)
    downstream = [dg.AssetKey("warehouse")]
    requests = nightly_tick(defs, instance, downstream)
    assert [r.partition_key for r in requests] == ["bob|2026-03", None]
    assert list(requests[1].asset_selection) == downstream
    # real work still comes first: with a stale partition, no downstream refresh
    manifest_path(data / "private", "alice", "2025-09").unlink()
    requests = nightly_tick(defs, instance, downstream)
    assert sorted(r.partition_key for r in requests) == ["alice|2025-09", "bob|2026-03"]


def test_nightly_lands_within_the_tick_deadline_and_leaves_the_rest(setup, instance, monkeypatch):
    data, defs = setup
    monkeypatch.setattr(schedules, "SENSOR_LANDING_BUDGET_S", 1e-9)
    nightly_tick(defs, instance, [])
    with Registry(data / "landed") as reg:
        assert len(reg.drops()) == 1  # the first drop, then the budget was spent
    tick(defs, instance)
    with Registry(data / "landed") as reg:
        assert len(reg.drops()) == len(ALICE) + len(BOB)


def test_bad_drops_show_in_landing_metadata_and_good_ones_run(setup, instance):
    data, defs = setup
    (data / "inbox" / "carol").mkdir()
    (data / "inbox" / "alice" / "notes.txt").write_text("x")
    first = tick(defs, instance)
    (event,) = first.asset_events
    table = event.metadata["drops_not_landed"].value
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer, resolve_key

    # By pseudonym, never by handle: `tracelab forget` cannot erase this event.
    name = Pseudonymizer(resolve_key(data, create=False)[0]).contributor
    assert f"{name('carol')}/" in table and "contributor directory holds no files" in table
    assert f"{name('alice')}/notes.txt" in table and "unsupported file type" in table
    assert "alice" not in table and "carol" not in table
    assert len(first.run_requests) == 5


def twelve_months(tmp_path):
    inbox = tmp_path / "inbox" / "erin"
    inbox.mkdir(parents=True)
    for m in range(1, 13):
        line = (
            f'{{"sessionId":"s{m}","timestamp":"2025-{m:02d}-03T10:00:00Z","type":"user",'
            f'"message":{{"role":"user","content":"hi"}}}}\n'
        )
        (inbox / f"s{m}.jsonl").write_text(line)
    return build_definitions(data_dir=tmp_path)


def test_many_changed_partitions_share_ranged_runs(tmp_path, instance):
    """Twelve new contributor-months -> one ranged run (single-run backfill policy), which
    builds every partition of the range."""
    defs = twelve_months(tmp_path)
    result = tick(defs, instance)
    (request,) = result.run_requests
    assert request.partition_key is None
    assert request.partition_key_range.start == "erin|2025-01"
    assert request.partition_key_range.end == "erin|2025-12"
    out = dg.materialize(
        [normalized_steps, *OUR_CHECKS],
        instance=instance,
        tags=request.tags,
        resources={"tracelab": defs.resources["tracelab"]},
    )
    assert out.success
    done = instance.get_materialized_partitions(dg.AssetKey("normalized_steps"))
    assert len(done) == 12
    assert all(e.passed for e in out.get_asset_check_evaluations())
    assert (tmp_path / "private" / "steps" / "contributor=erin" / "month=2025-07").is_dir()


def test_nightly_rebuilds_many_partitions_in_ranged_runs(tmp_path, instance):
    """Twelve contributor-months to build at night -> one ranged run, not twelve processes."""
    defs = twelve_months(tmp_path)
    (request,) = nightly_tick(defs, instance, [dg.AssetKey("warehouse")], ranged_runs=True)
    assert request.partition_key is None and request.tags["tracelab/trigger"] == "nightly"
    assert request.partition_key_range.start == "erin|2025-01"
    assert request.partition_key_range.end == "erin|2025-12"
    out = dg.materialize(
        [normalized_steps],
        instance=instance,
        tags=request.tags,
        resources={"tracelab": defs.resources["tracelab"]},
    )
    assert out.success
    assert len(instance.get_materialized_partitions(dg.AssetKey("normalized_steps"))) == 12


def test_nightly_without_a_readable_consent_list_skips_landing_and_still_rebuilds(
    setup, instance, monkeypatch, capfd
):
    # An unreadable consent file failed the whole tick: the night's rebuilds, retries and
    # downstream refresh of what had already landed (with consent) were lost with it.
    data, defs = setup
    tick(defs, instance)
    build_all(defs, instance)
    missing = data / "contributors.txt"
    monkeypatch.setenv("TRACELAB_CONTRIBUTORS_FILE", str(missing))
    copy_into(data / "inbox" / "zoe", fixture("sniffly__fed8ce56.jsonl"))
    manifest_path(data / "private", "bob", "2026-03").unlink()
    capfd.readouterr()
    requests = nightly_tick(defs, instance, [])
    assert [r.partition_key for r in requests] == ["bob|2026-03"]
    # the tick's log (shown with the tick in the UI) names the cause
    logged = capfd.readouterr().err
    assert "ERROR - nightly: landing skipped: cannot read the list of consenting" in logged
    with Registry(data / "landed") as reg:
        assert "zoe" not in {f["contributor"] for f in reg.files()}
    missing.write_text("alice bob zoe\n")
    assert [r.partition_key for r in nightly_tick(defs, instance, [])] == [
        "bob|2026-03",
        "zoe|2025-06",
    ]
