"""The release stage: built by the real pipeline (normalize -> anonymized_steps -> release) on
real logs, re-readable, deterministic, and blocked when a check fails."""

import gzip
import hashlib
import io
import itertools
import json
import math
import random
import shutil
from datetime import UTC, datetime, timedelta

import dagster as dg
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from anonymize_helpers import CONTRIBUTOR, released, replace_first
from weka_model import WekaSubagent, validate_weka_line

from assets.anonymize import anonymized_steps
from assets.release import release
from tracelab_pipeline import schema
from tracelab_pipeline.formats.tracelab_rounds import read_tracelab_rounds
from tracelab_pipeline.orchestration.partitions import contributor_month, partition_key
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig
from tracelab_pipeline.release import build
from tracelab_pipeline.release.build import write_release
from tracelab_pipeline.release.checks import (
    _SAFE,
    _json_names,
    _json_strings,
    listed_names,
    matches_public,
    no_private_values,
)
from tracelab_pipeline.release.mooncake import MooncakeTrace, block_chain
from tracelab_pipeline.release.public_tables import (
    RELEASE_TABLES,
    partitions,
    public_row_counts,
    read_partition,
)

MONTHS = ("2025-09", "2026-04")  # the second holds a Codex session
KEYS = [partition_key(CONTRIBUTOR, m) for m in MONTHS]
RELEASE = dg.AssetKey("release")
CHECKS = {"release_matches_public", "no_private_values_in_release", "only_listed_names_in_release"}


def _resources(data):
    return {
        "tracelab": TraceLabConfig(data_dir=str(data)),
        "anonymization": AnonymizationConfig(pseudonym_key="release-test-key-0123456789abcdef"),
    }


def _release(instance, data):
    return dg.materialize(
        [release], instance=instance, resources=_resources(data), raise_on_error=False
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A data directory after normalize (private partitions of real logs), anonymized_steps and
    release, each a real Dagster materialization."""
    data = tmp_path_factory.mktemp("data")
    result = released(data, CONTRIBUTOR, MONTHS, _resources(data))
    return data, result


def _lines(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return [orjson.loads(line) for line in f]


def test_release_holds_the_public_layer_in_every_format(built):
    data, result = built
    assert result.success
    assert {e.check_name: e.passed for e in result.get_asset_check_evaluations()} == dict.fromkeys(
        CHECKS, True
    )
    rel = data / "release"
    public = public_row_counts(data / "public")
    assert public["steps"] > 50 and public["tool_calls"] > 10
    for table in ("steps", "tool_calls", "timing_events"):
        t = pq.read_table(rel / "parquet" / f"{table}.parquet")
        assert t.num_rows == public[table]
        assert t.schema.equals(schema.public_schema(table))
    steps = pq.read_table(rel / "parquet" / "steps.parquet")
    assert set(steps.column("provider").to_pylist()) == {"claude", "codex"}

    rounds = read_tracelab_rounds(rel / "tracelab_rounds.jsonl.gz", "x")
    assert rounds.error is None and not rounds.accounting.rejected_by_reason
    assert len(rounds.steps) == public["steps"]
    assert (
        sum(len(r["tools"]) for r in _lines(rel / "tracelab_rounds.jsonl.gz"))
        == public["tool_calls"]
    )

    manifest = json.loads((rel / "MANIFEST.json").read_text())
    moon = _lines(rel / "mooncake.jsonl.gz")
    assert len(moon) == public["steps"] - manifest["mooncake"]["steps_without_time"]
    assert manifest["counts"]["steps"] == public["steps"]
    assert manifest["counts"]["contributors"] == 1
    assert manifest["counts"]["months"] == {"first": MONTHS[0], "last": MONTHS[-1]}
    assert sorted(manifest["files"]) == sorted(
        p.relative_to(rel).as_posix()
        for p in rel.rglob("*")
        if p.is_file() and p.name != "MANIFEST.json"
    )
    readme = (rel / "README.md").read_text()
    assert f"- steps (LLM calls): {public['steps']}" in readme
    assert "| `prefix_tokens` | int64 | served from the prefix cache" in readme
    meta = result.asset_materializations_for_node("release")[0].metadata
    assert meta["dagster/row_count"].value == public["steps"]
    assert meta["release_dir"].value == str(rel)
    assert not list(data.glob(".release*"))  # no staging or old directory left behind


def test_mooncake_invariants_on_real_data(built):
    data, _ = built
    moon = _lines(data / "release" / "mooncake.jsonl.gz")
    manifest = json.loads((data / "release" / "MANIFEST.json").read_text())
    assert moon[0]["timestamp"] == 0
    stamps = [row["timestamp"] for row in moon]
    assert all(type(t) is int for t in stamps) and stamps == sorted(stamps)
    seen, last_new = set(), {}
    for row, thread in zip(moon, _threads(data / "release"), strict=True):
        # no session_id: AIPerf 0.13.0 mooncake_trace would make a thread's lines one
        # accumulating conversation (MooncakeTraceDatasetLoader._group_traces)
        assert list(row) == ["timestamp", "input_length", "output_length", "hash_ids", "step_id"]
        assert row["step_id"].startswith("stp_")
        assert len(row["hash_ids"]) == math.ceil(row["input_length"] / 512)
        assert thread.startswith("ses_")
        new = [i for i in row["hash_ids"] if i not in seen]
        # a thread's fresh ids come from one counter in step order, so they only grow
        assert new == sorted(new) and min(new, default=math.inf) > last_new.get(thread, -1)
        last_new[thread] = max(new, default=last_new.get(thread, -1))
        seen.update(new)
    # dense: every id up to the largest appears, as no step lacks a time here
    assert manifest["mooncake"]["steps_without_time"] == 0
    assert seen == set(range(len(seen)))
    # real agent sessions reuse their prefix: most blocks are not new
    assert len(seen) < sum(len(r["hash_ids"]) for r in moon) / 2


def test_mooncake_lines_join_their_steps_as_the_datasheet_says(built):
    """A replay researcher has no step id on a line: the datasheet's join (n-th line of a
    session_id = n-th step of the thread by (submit time, step_index)) must find each line's
    step, and with it the prefix tokens that fix how many ids a call keeps."""
    data, _ = built
    rel = data / "release"
    assert (
        "n-th step of that thread ordered by (submit time, `step_index`)"
        in (rel / "README.md").read_text()
    )
    steps = pq.read_table(rel / "parquet" / "steps.parquet").to_pylist()
    threads = {}
    for step in steps:
        submit = step["input_ready_at"] or step["first_output_at"]
        threads.setdefault(step["session_id"], []).append((submit, step["step_index"], step))
    lines = {}
    for row, thread in zip(_lines(rel / "mooncake.jsonl.gz"), _threads(rel), strict=True):
        lines.setdefault(thread, []).append(row)
    assert lines.keys() == threads.keys()
    first = min(submit for thread in threads.values() for submit, _, _ in thread)
    reused = 0
    for session, thread in threads.items():
        thread.sort(key=lambda t: (t[0], t[1]))
        joined = list(zip(lines[session], (step for _, _, step in thread), strict=True))
        for row, step in joined:
            assert row["step_id"] == step["step_id"]  # the direct join finds the same step
            submit = step["input_ready_at"] or step["first_output_at"]
            assert row["timestamp"] == (submit - first) // timedelta(milliseconds=1)
            assert row["input_length"] == step["input_tokens_total"]
            assert row["output_length"] == step["output_tokens"]
        by_index = sorted(joined, key=lambda pair: pair[1]["step_index"])
        for (prev, _), (row, step) in itertools.pairwise(by_index):
            keep = min(step["prefix_tokens"] // 512, prev["input_length"] // 512)
            assert row["hash_ids"][:keep] == prev["hash_ids"][:keep]
            assert not set(row["hash_ids"][keep:]) & set(prev["hash_ids"])
            reused += keep
    assert reused > 0


T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def s(**delta) -> datetime:
    return T0 + timedelta(**delta)


def _step(session, index, total, prefix, ready=None, first_output=None, output=10):
    return schema.blank_row(
        "steps",
        step_id=f"claude:{session}:{index}",
        contributor="usr_a",
        provider="claude",
        session_id=session,
        step_index=index,
        input_tokens_total=total,
        prefix_tokens=prefix,
        append_tokens=total - prefix,
        output_tokens=output,
        input_ready_at=ready,
        first_output_at=first_output,
    )


def test_block_chain_keeps_the_reusable_prefix_of_the_previous_call_of_the_thread(tmp_path):
    steps = pa.Table.from_pylist(
        [
            _step("main", 0, 1300, 0, ready=T0),  # 3 blocks, all new
            # prefix 1100 -> 2 whole blocks reused; the 3rd (276-token tail) is not
            _step("main", 1, 1700, 1100, ready=s(seconds=2, microseconds=500)),
            # prefix beyond the previous call: only its 3 whole blocks can be kept
            _step("main", 2, 4000, 3900, first_output=s(seconds=3)),  # no input time: fallback
            _step("sub", 0, 600, 512, ready=s(seconds=1)),  # another thread: nothing shared
            _step("main", 3, 100, 0),  # no time at all: left out, still part of the chain
            _step("main", 4, 1024, 1024, ready=s(seconds=9)),  # step 3 has no whole block
        ],
        schema=schema.STEPS,
    )
    trace = MooncakeTrace()
    trace.add(steps)
    written = trace.write(tmp_path / "mooncake.jsonl.gz", tmp_path / "mooncake.sessions.jsonl.gz")
    assert (written["rows"], written["steps_without_time"]) == (5, 1)
    rows = _lines(tmp_path / "mooncake.jsonl.gz")
    assert [(r["timestamp"], t) for r, t in zip(rows, _threads(tmp_path), strict=True)] == [
        (0, "main"),
        (1000, "sub"),
        (2000, "main"),  # 2000.5 ms, truncated
        (3000, "main"),
        (9000, "main"),
    ]
    main0, sub0, main1, main2, main4 = (r["hash_ids"] for r in rows)
    # one counter, thread after thread ("main" then "sub"), step after step
    assert main0 == [0, 1, 2]
    assert main1 == [0, 1, 3, 4]  # id 2 (the partial block) is never reused
    # id 4 is step 1's partial block (164 tokens): not kept though the prefix covers it, as
    # AIPerf 0.13.0 refuses an id asked for at two sizes (PromptGenerator._build_token_sequence)
    assert main2 == [0, 1, 3, 5, 6, 7, 8, 9]
    # step 3 (untimed, 100 tokens) got [10], a partial block: step 4 keeps nothing of it
    assert main4 == [11, 12]
    assert sub0 == [13, 14]
    assert [r["input_length"] for r in rows] == [1300, 600, 1700, 4000, 1024]


def test_block_chain_runs():
    # everything kept plus fresh ids right after it: one run
    assert block_chain([(0, 3)], 1536, 2048, 1536, 3) == ([(0, 4)], 4)
    # the partial last block dropped: the fresh ids start a second run
    assert block_chain([(0, 3)], 1300, 2048, 1100, 3) == ([(0, 2), (3, 2)], 5)
    # the prefix covers the previous call's partial last block: still dropped
    assert block_chain([(0, 3)], 1300, 2048, 2000, 3) == ([(0, 2), (3, 2)], 5)
    # a cut inside the second run
    assert block_chain([(0, 2), (7, 5)], 3584, 2048, 1600, 12) == ([(0, 2), (7, 1), (12, 1)], 13)
    assert block_chain([(0, 2)], 1024, 0, 0, 5) == ([], 5)


def test_release_is_deterministic(built, tmp_path):
    data, _ = built
    write_release(data / "public", tmp_path / "a")
    write_release(data / "public", tmp_path / "b")
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert len(files) == 9
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
        assert (tmp_path / "a" / f).read_bytes() == (data / "release" / f).read_bytes(), f


def _copy_release(data, tmp_path):
    rel = tmp_path / "release"
    shutil.copytree(data / "release", rel)
    return rel


def test_leaked_private_values_fail_the_check(built, tmp_path):
    data, _ = built
    rel = _copy_release(data, tmp_path)
    assert no_private_values(rel, data / "private").passed
    raw = pq.read_table(
        data / "private" / "steps" / f"contributor={CONTRIBUTOR}" / f"month={MONTHS[0]}"
    )
    raw_session = raw.column("session_id")[0].as_py()
    raw_cwd = raw.column("cwd")[0].as_py()
    path = rel / "parquet" / "steps.parquet"
    pq.write_table(replace_first(pq.read_table(path), "session_id", raw_session), path)
    with open(rel / "README.md", "a") as f:
        f.write(f"\nbuilt in {raw_cwd}\n")
    outcome = no_private_values(rel, data / "private")
    assert not outcome.passed
    leaks = outcome.metadata["leaks"]
    assert leaks.get("parquet/steps.parquet.session_id:identifier") == 1
    assert any(k.startswith("README.md.text:") for k in leaks)
    assert outcome.metadata["ids_not_pseudonyms"] == {"steps.session_id": 1}
    assert raw_session not in json.dumps(outcome.metadata)


def test_lost_rows_and_a_stale_manifest_fail_the_check(built, tmp_path):
    data, _ = built
    rel = _copy_release(data, tmp_path)
    assert matches_public(rel, data / "public").passed
    path = rel / "parquet" / "tool_calls.parquet"
    pq.write_table(pq.read_table(path).slice(1), path)
    (rel / "stray.txt").write_text("x")
    outcome = matches_public(rel, data / "public")
    assert not outcome.passed
    assert outcome.metadata["mismatched"] == ["parquet/tool_calls.parquet"]
    assert set(outcome.metadata["manifest_problems"]) == {
        "stray.txt: not in the manifest",
        "parquet/tool_calls.parquet: size differs from the manifest",
        "parquet/tool_calls.parquet: sha256 differs from the manifest",
        "parquet/tool_calls.parquet: rows differ from the manifest",
    }


def test_a_leak_in_the_public_layer_blocks_the_release(built, tmp_path):
    """A raw id that reached the public layer (as if its checks had a hole): the release check
    fails and the published release stays the previous one."""
    data, _ = built
    work = tmp_path / "data"
    shutil.copytree(data, work)
    before = (work / "release" / "MANIFEST.json").read_bytes()
    raw = pq.read_table(
        work / "private" / "tool_calls" / f"contributor={CONTRIBUTOR}" / f"month={MONTHS[0]}"
    )
    (public_part,) = (work / "public" / "tool_calls").glob(
        f"month={MONTHS[0]}/contributor=*/part.parquet"
    )
    leaked = replace_first(pq.read_table(public_part), "call_id", raw.column("call_id")[0].as_py())
    pq.write_table(leaked, public_part)
    with dg.instance_for_test() as instance:
        result = _release(instance, work)
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "release_matches_public": True,
        "no_private_values_in_release": False,
        "only_listed_names_in_release": True,
    }
    assert not result.asset_materializations_for_node("release")
    assert (work / "release" / "MANIFEST.json").read_bytes() == before
    assert not list(work.glob(".release*"))


def test_asset_follows_the_contracts():
    key = dg.AssetKey("release")
    assert release.group_names_by_key[key] == "release"
    assert dg.AssetKey("anonymized_steps") in release.dependency_keys
    spec = release.specs_by_key[key]
    assert spec.automation_condition is None  # a publication: built on demand, never refreshed
    assert {"dagster/kind/parquet", "dagster/kind/json"} <= set(spec.tags)
    assert {c.name for c in release.check_specs} == CHECKS
    assert all(c.blocking for c in release.check_specs)


def test_an_empty_public_layer_writes_empty_files_that_pass(tmp_path):
    from tracelab_pipeline.release.checks import release_checks

    manifest = write_release(tmp_path / "public", tmp_path / "staged")
    assert all(c.passed for c in release_checks(tmp_path / "staged", *_layers(tmp_path)))
    assert manifest["counts"]["steps"] == 0 and manifest["counts"]["months"] is None
    for name in ("mooncake.jsonl.gz", "tracelab_rounds.jsonl.gz"):
        assert gzip.decompress((tmp_path / "staged" / name).read_bytes()) == b""
    assert pq.read_table(tmp_path / "staged" / "parquet" / "steps.parquet").num_rows == 0
    assert (
        "months (a conversation's partition: the month it began): none (empty release)"
        in (tmp_path / "staged" / "README.md").read_text()
    )


def _layers(root):
    return root / "public", root / "private"


def test_nothing_is_published_from_an_empty_public_layer(built, tmp_path):
    """No public partition (production without a key anonymizes nothing): the release asset
    fails with a message that says so, publishing nothing; it was published "current, built
    from all 0 public partitions". A release published before is withdrawn: the public layer
    is empty after `tracelab forget` of the last contributor, whose data it still holds."""
    from tracelab_pipeline.orchestration.forget import release_staleness
    from tracelab_pipeline.release.provenance import RELEASE_IS_CURRENT

    data, _ = built
    work = tmp_path / "data"
    work.mkdir()
    with dg.instance_for_test() as instance:
        result = _release(instance, work)
        assert not result.success
        assert not result.asset_materializations_for_node("release")
        (failure,) = [e for e in result.all_events if e.is_step_failure]
        message = failure.event_specific_data.error.message
        assert f"nothing to release: the public layer {work / 'public'} has no partition" in message
        assert sorted(p.name for p in work.iterdir()) == []  # no release, no staging left
        # none withdrawn: the flags say so on the Failure and on the observation recorded
        flags = {
            k: v.value for k, v in failure.event_specific_data.user_failure_data.metadata.items()
        }
        assert flags == {"nothing_to_release": True, "withdrawn": False}
        (observed,) = instance.fetch_observations(RELEASE, limit=1).records
        assert observed.asset_observation.description.startswith("none published: nothing to")
        assert {k: v.value for k, v in observed.asset_observation.metadata.items()} == flags

        shutil.copytree(data / "release", work / "release")
        # As `tracelab forget` of the last contributor records it, asking for the rebuild.
        assert "rebuilding withdraws it" in release_staleness(work, instance).line()
        again = _release(instance, work)
        assert not again.success
        assert sorted(p.name for p in work.iterdir()) == []  # withdrawn, no copy left aside
        # The failed run leaves no materialization: the verdict is recorded by the asset (it
        # went on saying STALE, rebuild it, until the check next ran).
        check = dg.AssetCheckKey(dg.AssetKey("release"), RELEASE_IS_CURRENT)
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])
        verdict = latest[check].event.dagster_event.event_specific_data
    assert verdict.passed and verdict.description == "release: none published"
    failure = next(e for e in again.all_events if e.is_step_failure)
    assert "the one published before was withdrawn" in failure.event_specific_data.error.message


def test_dagster_records_the_withdrawal_after_the_release_it_withdrew(built, tmp_path):
    """A failed run leaves no materialization: in Dagster (UI, the asset's events) the
    release's latest event went on describing the release withdrawn, its rows and files. The
    failed run now records an observation saying it was withdrawn and why, and the Failure
    says so in its metadata (what `tracelab demo` reads, not the message's text)."""
    data, _ = built
    work = tmp_path / "data"
    for layer in _layers(data):
        shutil.copytree(layer, work / layer.name)
    with dg.instance_for_test() as instance:
        assert _release(instance, work).success
        shutil.rmtree(work / "public")  # as `tracelab forget` of the last contributor leaves it
        failed = _release(instance, work)
        assert not failed.success and not (work / "release").exists()
        (materialized,) = instance.fetch_materializations(RELEASE, limit=1).records
        (observed,) = instance.fetch_observations(RELEASE, limit=1).records
    assert observed.storage_id > materialized.storage_id and observed.run_id == failed.run_id
    observation = observed.asset_observation
    assert observation.description.startswith("withdrawn: nothing to release: the public layer")
    assert {k: v.value for k, v in observation.metadata.items()} == {
        "withdrawn": True,
        "nothing_to_release": True,
    }
    (failure,) = [e for e in failed.all_events if e.is_step_failure]
    metadata = failure.event_specific_data.user_failure_data.metadata
    assert metadata["withdrawn"].value is True and metadata["nothing_to_release"].value is True


def test_the_demo_reports_a_withdrawal_that_left_the_release_aside(built, tmp_path, monkeypatch):
    """`tracelab demo` took a failure for the expected withdrawal when its text held
    "nothing to release:": a data dir whose path held it hid a release left aside (the
    forgotten contributor's data still on disk) as a clean withdrawal. It reads the Failure's
    metadata now. A leftover that cannot be removed no longer keeps a release published."""
    from landing_helpers import copy_into, fixture

    from tracelab_pipeline.orchestration.demo import run_demo

    for name in ("TRACELAB_ENV", "TRACELAB_CONTRIBUTORS_FILE", "TRACELAB_INBOX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TRACELAB_PSEUDONYM_KEY", raising=False)  # the demo makes its own
    # run_demo exports these for Dagster; monkeypatch restores them after the test
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("TRACELAB_DATA_DIR", str(tmp_path / "unused"))
    data, _ = built
    work = tmp_path / "nothing to release: here"
    shutil.copytree(data / "release", work / "release")
    # One upload, held (not on the list): the public layer stays empty, the inbox is not.
    copy_into(work / "inbox" / "bob", fixture("ccviewer__1af7fc5e.jsonl"))
    monkeypatch.setenv("TRACELAB_CONTRIBUTORS", "alice")
    with monkeypatch.context() as patched:
        _rmtree_failing_on(".release.old-", patched)
        result = run_demo(str(work), echo=lambda line: None)
    (left,) = work.glob(".release.old-*")
    assert result.no_public and not result.release_withdrawn
    (failure,) = result.failures
    assert f"set aside at {left}, could not be removed" in failure

    # A release published again while that leftover still cannot be removed: it is taken
    # down all the same (it was kept published when the leftovers were removed first).
    shutil.copytree(data / "release", work / "release")
    with monkeypatch.context() as patched:
        _rmtree_failing_on(".release.old-", patched)
        again = run_demo(str(work), echo=lambda line: None)
    assert not (work / "release").exists()
    assert not again.release_withdrawn and len(again.failures) == 1
    assert "could not be removed" in again.failures[0]  # this one or the one before


def _rmtree_failing_on(marker, monkeypatch):
    """shutil.rmtree as on a file the OS will not delete (tests run as root), for the
    directories whose path holds `marker` only."""
    real_rmtree = shutil.rmtree

    def rmtree(path, ignore_errors=False, **kwargs):
        if marker not in str(path):
            return real_rmtree(path, ignore_errors=ignore_errors, **kwargs)
        if not ignore_errors:  # rmtree swallows the error when told to
            raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(build.shutil, "rmtree", rmtree)


def test_a_withdrawal_that_cannot_remove_the_release_names_what_is_left(
    built, tmp_path, monkeypatch
):
    """Withdrawing renames the release aside, then removes it: a removal that fails (a file
    the OS will not delete) left it in a hidden directory, unsaid, while the message said
    'withdrawn'. It now fails naming that directory."""
    data, _ = built
    work = tmp_path / "data"
    shutil.copytree(data / "release", work / "release")
    _rmtree_failing_on(".release.old-", monkeypatch)
    with pytest.raises(build.LeftAside) as failed:
        build.build_release(work / "public", work / "release")
    (left,) = work.iterdir()
    assert left.name.startswith(".release.old-") and (left / "MANIFEST.json").is_file()
    assert f"set aside at {left}, could not be removed" in str(failed.value)


def test_every_failed_withdrawal_records_the_verdict(built, tmp_path, monkeypatch):
    """The verdict was recorded only after a withdrawal that removed the release: one left
    aside (LeftAside) or a release removed by hand kept release_is_current's 'STALE' about a
    release no longer served."""
    from tracelab_pipeline.orchestration.forget import release_staleness
    from tracelab_pipeline.release.provenance import RELEASE_IS_CURRENT

    data, _ = built
    work = tmp_path / "data"
    check = dg.AssetCheckKey(dg.AssetKey("release"), RELEASE_IS_CURRENT)

    def verdict(instance):
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])
        return latest[check].event.dagster_event.event_specific_data

    with dg.instance_for_test() as instance:
        shutil.copytree(data / "release", work / "release")
        assert "rebuilding withdraws it" in release_staleness(work, instance).line()
        shutil.rmtree(work / "release")  # by hand
        assert not _release(instance, work).success
        assert verdict(instance).passed
        assert verdict(instance).description == "release: none published"

        shutil.copytree(data / "release", work / "release")
        assert "rebuilding withdraws it" in release_staleness(work, instance).line()
        with monkeypatch.context() as patched:
            _rmtree_failing_on(".release.old-", patched)
            failed = _release(instance, work)
        assert not failed.success
        assert verdict(instance).description == "release: none published"
    (left,) = work.glob(".release.old-*")
    failure = next(e for e in failed.all_events if e.is_step_failure)
    assert f"set aside at {left}, could not be removed" in failure.event_specific_data.error.message


def test_a_publish_that_cannot_remove_the_old_release_reports_the_new_one(
    built, tmp_path, monkeypatch
):
    """The new release is live once swapped in: when the old one cannot be removed, the run
    still records the materialization and the check results (it raised before them, so a
    served release had no materialization), then fails naming the directory left."""
    data, _ = built
    work = tmp_path / "data"
    shutil.copytree(data, work)
    _rmtree_failing_on(".release.old-", monkeypatch)
    with dg.instance_for_test() as instance:
        result = _release(instance, work)
    assert not result.success
    assert result.asset_materializations_for_node("release")
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert set(checks) >= CHECKS and all(checks.values())
    (left,) = work.glob(".release.old-*")
    assert (work / "release" / "MANIFEST.json").is_file()
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert f"set aside at {left}, could not be removed" in failure.event_specific_data.error.message


def _leave_behind(root):
    for name in (".release.old-0a", ".release.staging-0b"):
        (root / name).mkdir(parents=True)
        (root / name / "MANIFEST.json").write_text("{}")


def test_a_build_removes_what_earlier_builds_left(built, tmp_path):
    """A release a failed removal left aside, a staging of a killed build: both may hold a
    forgotten contributor's data and stayed for ever. Building, or withdrawing, removes them."""
    data, _ = built
    _leave_behind(tmp_path / "a")
    assert build.build_release(data / "public", tmp_path / "a" / "release").published
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["release"]
    _leave_behind(tmp_path / "b")
    with pytest.raises(build.NothingToRelease):
        build.build_release(tmp_path / "b" / "public", tmp_path / "b" / "release")
    assert sorted((tmp_path / "b").iterdir()) == []


def test_a_staging_that_cannot_be_removed_is_named(built, tmp_path, monkeypatch):
    """A release not published (a check failed) is removed from its staging: a removal that
    fails was ignored, leaving its data unsaid."""
    data, _ = built
    _rmtree_failing_on(".release.staging-", monkeypatch)
    with pytest.raises(build.LeftAside) as failed:
        build.build_release(
            data / "public",
            tmp_path / "release",
            verify=lambda staged: [type("Outcome", (), {"passed": False})()],
        )
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(".release.staging-")
    assert f"set aside at {left}, could not be removed" in str(failed.value)


def test_a_withdrawal_finding_the_release_gone_meanwhile_is_no_error(built, tmp_path, monkeypatch):
    """Another build withdrew the release between this one seeing it and renaming it: it
    failed with a bare FileNotFoundError."""
    data, _ = built
    shutil.copytree(data / "release", tmp_path / "release")
    real_set_aside = build.set_aside

    def after_another_withdrawal(release_dir):
        build.remove_old(real_set_aside(release_dir))
        return real_set_aside(release_dir)

    monkeypatch.setattr(build, "set_aside", after_another_withdrawal)
    with pytest.raises(build.NothingToRelease):
        build.build_release(tmp_path / "public", tmp_path / "release")
    assert sorted(tmp_path.iterdir()) == []


def test_the_demo_limits_release_builds_to_one_at_a_time():
    from tracelab_pipeline.orchestration.demo import _limit_pool

    with dg.instance_for_test() as instance:
        _limit_pool(instance)
        for pool in ("duckdb_writer", "release"):
            assert instance.event_log_storage.get_concurrency_info(pool).slot_count == 1


def test_a_rebuild_replaces_every_file_and_leaves_no_staging(built, tmp_path):
    from tracelab_pipeline.release import build_release

    data, _ = built
    shutil.copytree(data / "release", tmp_path / "release")
    (tmp_path / "release" / "stale.txt").write_text("from an older release")
    again = build_release(data / "public", tmp_path / "release")
    assert again.published and not (tmp_path / "release" / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]  # no staging, no old copy


def test_rounds_from_the_selected_columns_equal_those_of_the_whole_tables(built):
    """write_rounds hands iter_rounds only ROUND_COLUMNS: nothing it reads may be missing."""
    from tracelab_pipeline.formats.tracelab_rounds import iter_rounds

    data, _ = built
    for partition in partitions(data / "public"):
        tables = read_partition(data / "public", *partition)
        buffer = io.BytesIO()
        n = build.write_rounds(tables, buffer)
        whole = [orjson.dumps(r) + b"\n" for r in iter_rounds(*(tables[t] for t in RELEASE_TABLES))]
        assert n == len(whole) > 0 and buffer.getvalue() == b"".join(whole)


def test_small_row_groups_hold_the_same_rows(built, tmp_path, monkeypatch):
    data, _ = built
    monkeypatch.setattr(build, "ROW_GROUP_ROWS", 50)
    write_release(data / "public", tmp_path / "small")
    for table in RELEASE_TABLES:
        name = f"parquet/{table}.parquet"
        small = pq.ParquetFile(tmp_path / "small" / name)
        assert small.metadata.num_row_groups > 1
        assert small.read().equals(pq.read_table(data / "release" / name))


_LABELS = {"model": "steps.model", "tool_name": "tool_calls.tool_name"}


def _strings_of(value):
    """Every key and string value of a parsed JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings_of(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings_of(v)


def _names_of(lines) -> dict[str, set[str]]:
    """The values of the name fields a full parse finds, by vocabulary label."""

    def walk(value, found):
        if isinstance(value, dict):
            for key, v in value.items():
                if key in _LABELS and isinstance(v, str):
                    found.setdefault(_LABELS[key], set()).add(v)
                elif key == "models":
                    found.setdefault("steps.model", set()).update(v)
                walk(v, found)
        elif isinstance(value, list):
            for v in value:
                walk(v, found)

    found: dict[str, set[str]] = {}
    for line in lines:
        walk(line, found)
    return found


def test_json_strings_are_every_key_and_string_value(built, tmp_path):
    """The check's block scan finds what a full parse finds (minus pseudonyms and times)."""
    data, _ = built
    odd = tmp_path / "odd.jsonl"
    odd.write_bytes(
        orjson.dumps({'a"b': ["c:\\d", "\u00fc\n", 1, {"k": None, "": True}], "n": -1.5e3})
        + b"\n"
        + orjson.dumps(["ses_" + "0" * 20, "2026-01-05T10:00:00.000Z", "x"])
        + b"\n"
    )
    for path in (odd, data / "release" / "tracelab_rounds.jsonl.gz"):
        found = {s for line in _lines(path) for s in _strings_of(line)}
        assert _json_strings(path) == {v for v in found if not _SAFE.match(v)}


def test_json_strings_of_long_lines_in_small_blocks(built, tmp_path, monkeypatch):
    """A Weka line holds a whole session: the scan cuts blocks between literals, not only at
    line ends, and still finds every key and string value."""
    from tracelab_pipeline.release import checks

    data, _ = built
    odd = tmp_path / "long.jsonl"
    tricky = ['a\\"b', "c\\", '"', "\\\\", "x" * 50, "y,z", "[1, 2]"]
    odd.write_bytes(
        orjson.dumps({"hash_ids": list(range(3000)), "s": tricky, "t": [{"k": v} for v in tricky]})
        + b"\n"
    )
    monkeypatch.setattr(checks, "_BLOCK", 97)  # a prime: cuts land everywhere
    for path in (odd, data / "release" / "weka.jsonl.gz"):
        found = {s for line in _lines(path) for s in _strings_of(line) if not _SAFE.match(s)}
        assert _json_strings(path) == found and found


def test_name_fields_around_a_literal_longer_than_a_block(tmp_path, monkeypatch):
    """A literal longer than a block makes an empty block, and the line goes on: a name field
    cut before its value, or a `models` list over several blocks, is still found."""
    from tracelab_pipeline.release import checks

    lines = [
        {"a": "b", "model": "m" * 300, "c": "d"},
        {"models": ["x" * 60, "y" * 60, "z" * 60, "w" * 60], "tool_name": "t" * 200},
    ]
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    monkeypatch.setattr(checks, "_BLOCK", 97)
    assert _json_names(path) == _names_of(lines)


# Lines with no backslash (as orjson writes text without quotes, backslashes or control
# characters): the scan cuts their literals at their quotes in numpy/Arrow, and finds their
# name fields there when a block starts a line.
_PLAIN_LINES = [
    {"José": "/home/jürgen", "日本": "🦀 crab", "": "", "model": "日本-model-🦀"},
    {"models": ["José-1", "model", "", "a:b,c[d", ":", "tool_name"], "tool_name": "models"},
    {"x": [":", ",", "[", "]", "{", "}", ":[", "models"], "model": "", "tool_name": None},
    {"nested": {"model": {"model": "inner-ü"}, "models": []}, "y": ["model", "x"], "z": 1.5},
    {"tool_name": "mcp__ü__日本", "ses_": "2026-01-05T10:00:00.000Z", "n": [1, True, None]},
]


def _plain_text(lines) -> bytes:
    """JSON lines with no backslash, the last without a line end."""
    text = b"\n".join(orjson.dumps(line) for line in lines)
    assert b"\\" not in text
    return text


@pytest.mark.parametrize("block", [None, 97, 13])
def test_json_scan_of_plain_text_equals_a_full_parse(tmp_path, monkeypatch, block):
    """Non-ASCII keys and values, empty ones, values shaped like JSON punctuation or like the
    name fields' keys, a models list of six: the scan's strings and names are a full parse's,
    at the default block size (whole lines: the Arrow path for both) and at tiny ones."""
    from tracelab_pipeline.release import checks

    path = tmp_path / "plain.jsonl"
    path.write_bytes(_plain_text(_PLAIN_LINES))
    if block:
        monkeypatch.setattr(checks, "_BLOCK", block)
    strings = {s for line in _PLAIN_LINES for s in _strings_of(line) if not _SAFE.match(s)}
    assert _json_strings(path) == strings
    assert {"José", "/home/jürgen", "日本", "🦀 crab", ""} <= strings
    assert _json_names(path) == _names_of(_PLAIN_LINES)
    assert _names_of(_PLAIN_LINES)["steps.model"] >= {"José-1", "a:b,c[d", "tool_name"}


def test_plain_blocks_scan_as_the_regular_expressions_do():
    """Blocks with no backslash that start a line: the Arrow path's literals and name fields
    are the regular expressions' (the path taken by blocks with one), on random lines."""
    from tracelab_pipeline.release import checks

    rng = random.Random(80)
    alphabet = "ab:,[]{} éü日🦀"
    words = ["", "model", "models", "tool_name", ":", ",", "claude", "2026-01-05T10:00:00Z"]

    def text():
        if rng.random() < 0.3:
            return rng.choice(words)
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))

    def value(depth):
        kind = rng.randrange(5 if depth < 3 else 3)
        if kind == 0:
            return text()
        if kind == 1:
            return rng.choice([0, -1.5, True, None])
        if kind == 2:
            return [text() for _ in range(rng.randrange(4))]
        if kind == 3:
            return [value(depth + 1) for _ in range(rng.randrange(3))]
        return line(depth + 1)

    def line(depth=0):
        out = {}
        for _ in range(rng.randrange(5)):
            key = rng.choice(["model", "models", "tool_name", text()])
            out[key] = (
                [text() for _ in range(rng.randrange(5))] if key == "models" else value(depth)
            )
        return out

    for _ in range(300):
        block = _plain_text([line() for _ in range(rng.randrange(1, 4))])
        block += b"\n" if rng.random() < 0.5 else b""
        pieces = checks._quoted_pieces(block, checks._quotes(block))
        assert set(checks._unsafe(checks._literals(pieces))) == set(checks._unsafe_literals(block))
        general = checks._name_fields(block)  # (an empty models list gives an empty set)
        assert checks._plain_name_fields(pieces) == {k: v for k, v in general.items() if v}


def test_a_raw_id_in_the_mooncake_trace_fails_the_check(built, tmp_path):
    data, _ = built
    rel = _copy_release(data, tmp_path)
    raw = pq.read_table(data / "private" / "steps" / f"contributor={CONTRIBUTOR}")
    line = {"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": [0]}
    line["session_id"] = raw.column("session_id")[0].as_py()
    with gzip.open(rel / "mooncake.jsonl.gz", "ab") as f:  # a second gzip member
        f.write(orjson.dumps(line) + b"\n")
    leaks = no_private_values(rel, data / "private").metadata["leaks"]
    assert leaks == {"mooncake.jsonl.gz.json:identifier": 1}


def test_weka_and_closed_loop_files_on_real_data(built):
    data, _ = built
    rel = data / "release"
    manifest = json.loads((rel / "MANIFEST.json").read_text())
    steps = pq.read_table(rel / "parquet" / "steps.parquet").to_pylist()
    timed = [s for s in steps if s["input_ready_at"] or s["first_output_at"]]
    sessions = {(s["provider"], s["root_session_id"]) for s in timed}
    # Weka: a line per session, a request per step with a time, all valid for a strict reader
    lines = _lines(rel / "weka.jsonl.gz")
    assert len(lines) == len(sessions) == manifest["files"]["weka.jsonl.gz"]["rows"]
    requests = []
    for line in lines:
        for item in validate_weka_line(line).requests:
            requests += item.requests if isinstance(item, WekaSubagent) else [item]
    assert len(requests) == len(timed) == manifest["weka"]["requests"]
    assert sorted(r.in_ for r in requests) == sorted(s["input_tokens_total"] for s in timed)
    entries = [i for line in lines for i in line["requests"] if i["type"] == "subagent"]
    threads = {
        (s["provider"], s["session_id"]) for s in timed if s["session_id"] != s["root_session_id"]
    }
    assert len(entries) == len(threads) == manifest["weka"]["subagents"]
    assert {r.stop for r in requests} <= {"tool_use", "end_turn", ""}
    assert sum(r.stop == "tool_use" for r in requests) == sum(
        s["tool_call_count"] > 0 or s["stop_reason"] == "tool_use" for s in timed
    )
    # real sessions reuse their prefix at 64-token blocks too: most ids repeat within a line
    ids = [
        (line["id"], i) for line in lines for r in line["requests"] for i in r.get("hash_ids", [])
    ]
    assert len(set(ids)) < len(ids) / 2
    # closed-loop Mooncake: the open file's lines, a thread's first with its timestamp
    open_rows = _lines(rel / "mooncake.jsonl.gz")
    rows = _lines(rel / "mooncake.sessions.jsonl.gz")
    assert len(rows) == len(open_rows) == len(timed)
    seen = set()
    for row, open_row in zip(rows, open_rows, strict=True):
        first_of_thread = row["session_id"] not in seen
        seen.add(row["session_id"])
        key = "timestamp" if first_of_thread else "delay"
        assert list(row) == [key, *list(open_row)[1:], "session_id"]
        assert row[key] >= 0 and (not first_of_thread or row[key] == open_row["timestamp"])
    assert manifest["mooncake_sessions"]["threads"] == len(seen)


def test_a_raw_id_in_the_new_replay_files_fails_the_check(built, tmp_path):
    data, _ = built
    rel = _copy_release(data, tmp_path)
    raw = pq.read_table(data / "private" / "steps" / f"contributor={CONTRIBUTOR}")
    raw_session = raw.column("session_id")[0].as_py()
    line = {"delay": 0, "input_length": 1, "output_length": 1, "hash_ids": [0]}
    with gzip.open(rel / "mooncake.sessions.jsonl.gz", "ab") as f:
        f.write(orjson.dumps(line | {"session_id": raw_session}) + b"\n")
    session = _lines(rel / "weka.jsonl.gz")[0]
    session["requests"][-1]["model"] = raw.column("cwd")[0].as_py()  # a path, as a model name
    with gzip.open(rel / "weka.jsonl.gz", "ab") as f:
        f.write(orjson.dumps(session) + b"\n")
    leaks = no_private_values(rel, data / "private").metadata["leaks"]
    assert leaks.get("mooncake.sessions.jsonl.gz.json:identifier") == 1
    assert any(k.startswith("weka.jsonl.gz.json:") for k in leaks)
    counts = matches_public(rel, data / "public")
    assert not counts.passed
    assert counts.metadata["mismatched"] == ["mooncake.sessions.jsonl.gz", "weka.jsonl.gz"]


def test_a_lost_line_in_any_json_lines_file_fails_the_row_check(built, tmp_path):
    # The three checks of a release read each JSON-lines file once between them (a shared
    # scan): a file changed after one check read it is read again, as it is on disk.
    from tracelab_pipeline.release.checks import release_checks

    data, _ = built
    rel = _copy_release(data, tmp_path)
    assert all(c.passed for c in release_checks(rel, data / "public", data / "private"))
    files = ["mooncake.jsonl.gz", "tracelab_rounds.jsonl.gz", "weka.jsonl.gz"]
    for name in files:
        with gzip.open(rel / name, "rb") as f:
            kept = f.read().splitlines(keepends=True)[:-1]
        with gzip.open(rel / name, "wb") as f:
            f.write(b"".join(kept))
    outcome = matches_public(rel, data / "public")
    assert not outcome.passed
    assert outcome.metadata["mismatched"] == files
    for name in files:
        counts = outcome.metadata["counts"][name]
        assert counts["release"] == counts["public"] - 1
        assert f"{name}: rows differ from the manifest" in outcome.metadata["manifest_problems"]


def test_names_a_user_chose_fail_the_release_check(built, tmp_path, monkeypatch):
    """An MCP server or proxy model name in any release file (as if anonymize had let it
    through): the leak test knows only private ids and paths; the name check counts it."""
    from tracelab_pipeline.release import checks

    data, _ = built
    rel = _copy_release(data, tmp_path)
    assert listed_names(rel).metadata == {"unlisted_values": {}}
    path = rel / "parquet" / "tool_calls.parquet"
    pq.write_table(replace_first(pq.read_table(path), "tool_name", "mcp__acme-billing__q"), path)
    session = _lines(rel / "weka.jsonl.gz")[0]
    session["models"].append("acme-gpt-internal")
    session["requests"][-1]["model"] = "arn:aws:bedrock:us-east-1:123456789012:x"
    rounds = _lines(rel / "tracelab_rounds.jsonl.gz")[0] | {"model": "claude-acme"}
    for name, line in (("weka.jsonl.gz", session), ("tracelab_rounds.jsonl.gz", rounds)):
        with gzip.open(rel / name, "ab") as f:
            f.write(orjson.dumps(line) + b"\n")
    # long lines cut between literals: a key and its value may fall in two blocks
    monkeypatch.setattr(checks, "_BLOCK", 97)
    outcome = listed_names(rel)
    assert not outcome.passed
    assert outcome.metadata["unlisted_values"] == {
        "parquet/tool_calls.parquet.tool_name": 1,
        "tracelab_rounds.jsonl.gz.model": 1,
        "weka.jsonl.gz.model": 2,
    }
    assert "acme" not in json.dumps(outcome.metadata)


def test_name_fields_are_those_a_full_parse_finds(built, tmp_path):
    """Whole lines in a block (the default size here) take the Arrow path for name fields
    (_plain_name_fields): it finds what parsing every line finds, and a planted unlisted
    name, a model in a Weka `models` list and a tool name in the rounds, fails the check."""
    data, _ = built
    rel = _copy_release(data, tmp_path)
    session = _lines(rel / "weka.jsonl.gz")[0]
    # in the middle of a list: a reader of only the first model, or only the last, misses it
    planted = ["claude-opus-4-1-20250805", "acme-gpt-internal", "gpt-5-codex"]
    session["models"] = [*session["models"][:1], *planted]
    rounds = _lines(rel / "tracelab_rounds.jsonl.gz")
    tool_round = next(r for r in rounds if r["tools"])
    tool_round["tools"][0]["tool_name"] = "mcp__acme-billing__q"
    for name, line in (("weka.jsonl.gz", session), ("tracelab_rounds.jsonl.gz", tool_round)):
        with gzip.open(rel / name, "ab") as f:
            f.write(orjson.dumps(line) + b"\n")
    for name in ("weka.jsonl.gz", "tracelab_rounds.jsonl.gz", "mooncake.jsonl.gz"):
        assert _json_names(rel / name) == _names_of(_lines(rel / name))
    assert listed_names(rel).metadata["unlisted_values"] == {
        "tracelab_rounds.jsonl.gz.tool_name": 1,
        "weka.jsonl.gz.model": 1,
    }


def test_nightly_sweep_does_not_rebuild_the_release(tmp_path):
    # A quiet night refreshes the unpartitioned assets the automation sensor would: the
    # release, a publication, is not one of them.
    from tracelab_pipeline.definitions import build_definitions
    from tracelab_pipeline.orchestration.schedules import NIGHTLY

    defs = build_definitions(data_dir=tmp_path, inbox=str(tmp_path / "inbox"))
    schedule = defs.resolve_schedule_def(NIGHTLY)
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 7, 1, 2, tzinfo=UTC),
            resources={k: defs.resources[k] for k in ("tracelab", "anonymization")},
            repository_def=defs.get_repository_def(),
        ) as ctx,
    ):
        (refresh,) = schedule.evaluate_tick(ctx).run_requests
    assert dg.AssetKey("warehouse") in refresh.asset_selection
    assert dg.AssetKey("release") not in refresh.asset_selection


def test_manifest_records_the_public_partitions_and_key_it_was_built_from(built):
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
    from tracelab_pipeline.release.provenance import partition_digest, staleness

    data, _ = built
    record = json.loads((data / "release" / "MANIFEST.json").read_text())["built_from"]
    key = _resources(data)["anonymization"].pseudonym_key
    assert record["pseudonym_key_fingerprint"] == Pseudonymizer(key.encode()).fingerprint
    pseudonym = Pseudonymizer(key.encode()).contributor(CONTRIBUTOR)
    assert [(p["contributor"], p["month"]) for p in record["partitions"]] == [
        (pseudonym, m) for m in MONTHS
    ]
    for p in record["partitions"]:  # the digest of the part files' own SHA-256s
        files = {
            t: hashlib.sha256(
                (data / "public" / t / f"month={p['month']}" / f"contributor={pseudonym}")
                .joinpath("part.parquet")
                .read_bytes()
            ).hexdigest()
            for t in RELEASE_TABLES
        }
        assert p["sha256"] == partition_digest(files)
    assert CONTRIBUTOR not in (data / "release" / "MANIFEST.json").read_text()
    state = staleness(data / "release", data / "public")
    assert (
        not state.stale and state.line() == "release: current (built from all 2 public partitions)"
    )


def test_staleness_names_a_changed_partition_and_an_old_manifest(built, tmp_path):
    from tracelab_pipeline.release.provenance import staleness

    data, _ = built
    public, rel = tmp_path / "public", _copy_release(data, tmp_path)
    shutil.copytree(data / "public", public)
    (part,) = public.glob(f"tool_calls/month={MONTHS[1]}/contributor=*/part.parquet")
    pq.write_table(pq.read_table(part).slice(1), part)  # as a re-anonymized partition would
    state = staleness(rel, public)
    assert state.stale and (len(state.added), len(state.changed), len(state.removed)) == (0, 1, 0)
    assert state.changed == [f"{MONTHS[1]}/{part.parent.name.removeprefix('contributor=')}"]
    assert state.key_changed is False
    manifest = json.loads((rel / "MANIFEST.json").read_text())
    del manifest["built_from"]  # a release built before the manifest recorded it
    (rel / "MANIFEST.json").write_text(json.dumps(manifest))
    assert staleness(rel, public).stale and "predates" in staleness(rel, public).line()
    assert not staleness(tmp_path / "none", public).stale  # nothing published


def _requested(result, key):
    return sum(r.true_subset.size for r in result.results if r.key == key)


def test_release_is_current_runs_without_a_release_build_and_warns(built, tmp_path):
    """The staleness check's automation condition, on a real instance: requested after a
    public partition updated (here a key rotation) and nightly (here after `forget`, which
    leaves no materialization), never rebuilding the release; its run is check-only."""
    from checks.release_current import RELEASE_IS_CURRENT, release_is_current
    from tracelab_pipeline.orchestration.automation import STALENESS_CRON

    data, _ = built
    work = tmp_path / "data"
    shutil.copytree(data, work)
    check = dg.AssetCheckKey(dg.AssetKey("release"), RELEASE_IS_CURRENT)
    resources = _resources(work)
    defs = dg.Definitions(
        assets=[anonymized_steps, release], asset_checks=[release_is_current], resources=resources
    )

    def run_check(instance, expect_passed):
        result = dg.materialize(
            [release, release_is_current],
            selection=dg.AssetSelection.checks(check),
            instance=instance,
            resources=resources,
        )
        assert not result.asset_materializations_for_node("release")  # no rebuild
        (evaluation,) = result.get_asset_check_evaluations()
        assert evaluation.passed is expect_passed
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
        return evaluation

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, KEYS)
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert _requested(tick, check) == 0  # no release yet: nothing can be stale
        build = [release, release_is_current]
        built_now = dg.materialize(build, instance=instance, resources=resources)
        # a job that builds the release runs the check too, after it: it passes
        assert {e.check_name: e.passed for e in built_now.get_asset_check_evaluations()}[
            RELEASE_IS_CURRENT
        ]
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick, check) == 0

        # Key rotation: the public layer deleted, one partition published with the new key.
        shutil.rmtree(work / "public")
        rotated = {**resources, "anonymization": AnonymizationConfig(pseudonym_key="r" * 32)}
        assert dg.materialize(
            [anonymized_steps], partition_key=KEYS[0], instance=instance, resources=rotated
        ).success
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick, check) == 1 and tick.total_requested == 1
        rotated_eval = run_check(instance, expect_passed=False)
        meta = {k: v.value for k, v in rotated_eval.metadata.items()}
        assert meta["partitions_added"] == 1 and meta["partitions_removed"] == 2
        assert meta["partitions_changed"] == 0 and meta["pseudonym_key_changed"] is True
        assert "1 public partition(s) added, 0 changed, 2 removed; pseudonym key changed" in (
            rotated_eval.description
        )
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick, check) == 0  # handled

        # Rebuilt on demand, then the contributor forgotten: no event, so only the night tells.
        assert dg.materialize(build, instance=instance, resources=resources).success
        for d in (work / "public").glob("*/month=*/contributor=*"):
            shutil.rmtree(d)  # its one partition, as `tracelab forget` removes it
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick, check) == 0
        assert STALENESS_CRON == "0 3 * * *"
        night = (datetime.now(UTC) + timedelta(days=1)).replace(hour=3, minute=5)
        tick = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=tick.cursor, evaluation_time=night
        )
        assert _requested(tick, check) == 1
        forgotten = run_check(instance, expect_passed=False)
        assert forgotten.metadata["partitions_removed"].value == 1


def test_mooncake_hash_id_stands_for_one_block_size(built):
    """AIPerf 0.13.0 (PromptGenerator._build_token_sequence) materializes a hash id once and
    refuses the file when a later line asks for it at another size; keeping a call's partial
    last block as a whole block of the next call did exactly that (1,772 ids in the demo
    release). Every id: one size across the file; every line: ceil blocks, input > 0."""
    data, _ = built
    size = {}
    for row in _lines(data / "release" / "mooncake.jsonl.gz"):
        n, ids = row["input_length"], row["hash_ids"]
        assert n > 0 and len(ids) == -(-n // 512)
        for i, h in enumerate(ids):
            assert size.setdefault(h, 512 if i < len(ids) - 1 else n - 512 * i) == (
                512 if i < len(ids) - 1 else n - 512 * i
            ), h
    assert len(size) > 100


def _threads(release_dir):
    """Each open-file line's thread: the closed-loop file has the same lines in the same order."""
    return [row["session_id"] for row in _lines(release_dir / "mooncake.sessions.jsonl.gz")]
