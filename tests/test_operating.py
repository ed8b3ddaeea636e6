"""The operator's side: what a production deployment refuses, and how it recovers."""

import dagster as dg
import pytest
from landing_helpers import copy_into, fixture, sensor_resources

from tracelab_pipeline.definitions import build_definitions
from tracelab_pipeline.orchestration.sensors import INBOX_SENSOR


def _tick(defs, instance):
    ctx = dg.build_sensor_context(
        instance=instance, definitions=defs, resources=sensor_resources(defs)
    )
    return defs.resolve_sensor_def(INBOX_SENSOR)(ctx)


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
    monkeypatch.delenv("TRACELAB_PSEUDONYM_KEY", raising=False)
    if key:
        monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", key)
    defs = build_definitions(data_dir=tmp_path)
    with dg.instance_for_test() as instance:
        with pytest.raises(Exception) as failed:
            _tick(defs, instance)
        chain, exc = [], failed.value
        while exc is not None:
            chain.append(str(exc))
            exc = exc.__cause__
        assert any(message in m for m in chain), chain
        assert not (tmp_path / "landed").exists()

        monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", "k" * 32)
        result = _tick(defs, instance)
    assert [r.partition_key for r in result.run_requests] == ["alice|2025-09"]


def test_a_drop_that_cannot_be_read_is_named_in_the_sensor_tick(tmp_path, monkeypatch):
    # Such a drop is recorded nowhere (it is tried again next tick): a tick saying only
    # "nothing new" hid it for as long as it failed.
    from tracelab_pipeline.landing.land import _Lander

    def network_blip(self, obj, work):
        raise OSError("connection reset by peer")

    copy_into(tmp_path / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    monkeypatch.setattr(_Lander, "_fetch", network_blip)
    defs = build_definitions(data_dir=tmp_path)
    with dg.instance_for_test() as instance:
        skipped = _tick(defs, instance)
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
        (event,) = _tick(defs, instance).asset_events
    assert event.metadata["files_unplaced"].value == 1
    table = event.metadata["files_unplaced_list"].value
    (row,) = [line for line in table.splitlines() if "junk.jsonl" in line]
    assert row.startswith("| alice | junk.jsonl |")
    assert "no timestamp in the log" in row and "anything else is not a log" in row
