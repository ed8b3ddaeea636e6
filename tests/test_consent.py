"""Only contributors who consented land: the rest is held in the inbox, counted by pseudonym."""

import dagster as dg
import pytest
from click.testing import CliRunner
from landing_helpers import copy_into, fixture, inbox_tick

from assets.ingest import landed_files
from tracelab_pipeline.cli import main
from tracelab_pipeline.definitions import build_definitions
from tracelab_pipeline.landing.consent import ConsentError, resolve_consent
from tracelab_pipeline.landing.land import land_inbox
from tracelab_pipeline.landing.registry import Registry
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig

ALICE = fixture("ccviewer__1af7fc5e.jsonl")  # alice|2025-09
MALLORY = fixture("tracelab__codex-example-segment.jsonl")
MALLORY_2 = fixture("sniffly__fed8ce56.jsonl")


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv("TRACELAB_ENV", "production")
    monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", "k" * 32)
    for name in ("TRACELAB_CONTRIBUTORS", "TRACELAB_CONTRIBUTORS_FILE", "TRACELAB_INBOX"):
        monkeypatch.delenv(name, raising=False)


def _pseudonym(handle: str, key: bytes = b"k" * 32) -> str:
    """How `landed_files` names a contributor: never by handle (forget cannot erase it)."""
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer

    return Pseudonymizer(key).contributor(handle)


def _error_chain(exc) -> list[str]:
    chain = []
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__
    return chain


def test_production_without_a_list_refuses_to_land_and_star_takes_everyone(
    tmp_path, monkeypatch, production
):
    copy_into(tmp_path / "inbox" / "alice", ALICE)
    copy_into(tmp_path / "inbox" / "mallory", MALLORY)
    defs = build_definitions(data_dir=tmp_path)
    with dg.instance_for_test() as instance:
        with pytest.raises(Exception) as failed:
            inbox_tick(defs, instance)
        chain = _error_chain(failed.value)
        assert any(
            "no list of consenting contributors configured: set env TRACELAB_CONTRIBUTORS" in m
            for m in chain
        ), chain
        assert not (tmp_path / "landed").exists()

        monkeypatch.setenv("TRACELAB_CONTRIBUTORS", "*")
        result = inbox_tick(defs, instance)
    assert len(result.run_requests) == 2
    (event,) = result.asset_events
    assert event.metadata["drops_held"].value == 0
    assert event.metadata["consent"].value == "everyone ('*' in env TRACELAB_CONTRIBUTORS)"


def test_a_held_upload_is_counted_not_recorded_and_lands_once_the_handle_is_added(
    tmp_path, monkeypatch, production
):
    consented = tmp_path / "contributors.txt"
    consented.write_text("# handle, date of consent\nalice  # 2026-11-02\n")
    monkeypatch.setenv("TRACELAB_CONTRIBUTORS_FILE", str(consented))
    copy_into(tmp_path / "inbox" / "alice", ALICE)
    copy_into(tmp_path / "inbox" / "mallory" / "secret-project", MALLORY, MALLORY_2)
    defs = build_definitions(data_dir=tmp_path)
    with dg.instance_for_test() as instance:
        first = inbox_tick(defs, instance)
        assert [r.partition_key for r in first.run_requests] == ["alice|2025-09"]
        (event,) = first.asset_events
        assert event.metadata["drops_held"].value == 2
        assert event.metadata["held_by_contributor"].value == {_pseudonym("mallory"): 2}
        assert "mallory" not in repr(event.metadata)
        assert "tracelab forget HANDLE" in event.metadata["held_why"].value
        # By handle and count only: not the inbox path, not a file name.
        assert "secret-project" not in repr(event.metadata)
        assert MALLORY.name not in repr(event.metadata)
        with Registry(tmp_path / "landed") as reg:
            assert {d["contributor"] for d in reg.drops()} == {"alice"}
            assert {f["contributor"] for f in reg.files()} == {"alice"}
            seen = [r[0] for r in reg.db.execute("SELECT inbox_path FROM seen")]
        assert seen == ["alice/" + ALICE.name]
        assert len(list((tmp_path / "landed" / "objects").rglob("*.jsonl*"))) == 1
        assert sorted(p.name for p in (tmp_path / "inbox" / "mallory").rglob("*")) == sorted(
            ["secret-project", MALLORY.name, MALLORY_2.name]
        )

        # Held again on every tick (nothing recorded), and the tick says so.
        again = inbox_tick(defs, instance, first.cursor)
        assert isinstance(again, dg.SkipReason)
        assert "2 upload(s) held" in again.skip_message
        assert "mallory (2)" in again.skip_message
        assert "TRACELAB_CONTRIBUTORS" in again.skip_message

        # Consent given: the file is read again on the next tick, no restart.
        consented.write_text("alice\nmallory\n")
        landed = inbox_tick(defs, instance, first.cursor)
        keys = sorted(r.partition_key for r in landed.run_requests)
        assert keys and all(k.startswith("mallory|") for k in keys)
        (event,) = landed.asset_events
        assert event.metadata["new_files_landed"].value == 2
        assert event.metadata["drops_held"].value == 0

        # Consent withdrawn: what landed stays (until `tracelab forget`), new uploads wait.
        consented.write_text("mallory\n")
        copy_into(tmp_path / "inbox" / "alice", fixture("sniffly__ba79134d.jsonl"))
        withdrawn = inbox_tick(defs, instance, landed.cursor)
    assert isinstance(withdrawn, dg.SkipReason)
    assert "alice (1)" in withdrawn.skip_message
    with Registry(tmp_path / "landed") as reg:
        alice = [f for f in reg.files() if f["contributor"] == "alice"]
    assert [(f["member"], f["status"]) for f in alice] == [(ALICE.name, "active")]


def test_landed_files_asset_holds_what_the_resource_list_leaves_out(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", "k" * 32)
    copy_into(tmp_path / "inbox" / "alice", ALICE)
    copy_into(tmp_path / "inbox" / "mallory", MALLORY)
    (tmp_path / "inbox" / "eve").mkdir()  # empty: nothing held, nothing recorded
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [landed_files],
            instance=instance,
            resources={
                "tracelab": TraceLabConfig(data_dir=str(tmp_path)),
                "anonymization": AnonymizationConfig(contributors=["alice"]),
            },
        )
        assert instance.get_dynamic_partitions("contributor_month") == ["alice|2025-09"]
    (mat,) = result.asset_materializations_for_node("landed_files")
    assert mat.metadata["held_by_contributor"].value == {_pseudonym("mallory"): 1}
    assert mat.metadata["consent"].value == "1 contributor(s) from configuration"
    assert mat.metadata["drops_total"].value == 1


def test_the_consent_list_is_read_as_handles_are_validated(tmp_path):
    env = {"TRACELAB_CONTRIBUTORS": " alice,bob\n carol.d "}
    consent = resolve_consent(env=env, production=True)
    assert consent.handles == {"alice", "bob", "carol.d"}
    assert consent.allows("carol.d") and not consent.allows("Alice")
    assert not consent.allows("alic")
    # Landing refuses upper case: a list entry that could never match is an error, not a no-op.
    with pytest.raises(ConsentError, match=r"env TRACELAB_CONTRIBUTORS: invalid .*'Alice'"):
        resolve_consent(env={"TRACELAB_CONTRIBUTORS": "Alice"}, production=False)
    with pytest.raises(ConsentError, match="cannot read the list of consenting contributors"):
        resolve_consent(
            env={"TRACELAB_CONTRIBUTORS_FILE": str(tmp_path / "missing.txt")}, production=False
        )
    assert resolve_consent(env={"TRACELAB_CONTRIBUTORS": "  "}, production=False).everyone
    listed = tmp_path / "contributors.txt"  # as Windows Notepad saves it: BOM, CRLF, comments
    listed.write_bytes("\ufeffalice # lab\r\n# gone: mallory\r\nbob, carol\r\n".encode())
    from_file = resolve_consent(env={"TRACELAB_CONTRIBUTORS_FILE": str(listed)}, production=True)
    assert from_file.handles == {"alice", "bob", "carol"}
    # a file given in the resource adds to the one in the env, as the lists do
    lab = tmp_path / "lab.txt"
    lab.write_text("dana\n")
    both = resolve_consent(
        file=str(lab), env={"TRACELAB_CONTRIBUTORS_FILE": str(listed)}, production=True
    )
    assert both.handles == {"alice", "bob", "carol", "dana"}
    assert not resolve_consent([], env={}, production=True).allows("alice")  # nobody yet
    everyone = resolve_consent(["alice"], env={"TRACELAB_CONTRIBUTORS": "*"}, production=True)
    assert everyone.everyone and everyone.allows("mallory")


def test_library_landing_without_a_consent_takes_everyone(tmp_path):
    # `land_inbox` callers outside Dagster (tests, tools) pass no consent: nothing is held.
    copy_into(tmp_path / "inbox" / "mallory", MALLORY)
    report = land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    assert report.files_landed == 1 and report.held == {}


def test_demo_without_a_list_takes_everyone_and_says_what_a_list_holds(tmp_path, monkeypatch):
    for name in ("TRACELAB_ENV", "TRACELAB_CONTRIBUTORS", "TRACELAB_CONTRIBUTORS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TRACELAB_INBOX", raising=False)
    monkeypatch.delenv("TRACELAB_PSEUDONYM_KEY", raising=False)  # the demo makes its own
    # run_demo exports these for Dagster; monkeypatch restores them after the test
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("TRACELAB_DATA_DIR", str(tmp_path / "unused"))
    data = tmp_path / "data"
    copy_into(data / "inbox" / "mallory", MALLORY)
    monkeypatch.setenv("TRACELAB_CONTRIBUTORS", "alice")
    held = CliRunner().invoke(main, ["demo", "--data-dir", str(data)])
    assert held.exit_code == 0, held.output
    assert "held: 1 upload(s) of contributor(s) not on the consent list" in held.output
    demo_key = (data / "pseudonym.key").read_bytes().strip()
    assert f"left in the inbox: {_pseudonym('mallory', demo_key)} (1)" in held.output
    assert "contributors: 0" in held.output
    # nothing public to build from: no downstream run, no release (it published an empty one)
    assert "downstream not rebuilt: the public layer has no partition" in held.output
    assert not (data / "release").exists()

    monkeypatch.delenv("TRACELAB_CONTRIBUTORS")
    taken = CliRunner().invoke(main, ["demo", "--data-dir", str(data)])
    assert taken.exit_code == 0, taken.output
    assert "  held:" not in taken.output
    assert "contributors: 1" in taken.output
    assert "release: current (built from all 1 public partitions)" in taken.output

    # The last contributor forgotten, a new upload held: the demo built no downstream run, so
    # the release asset, which withdraws, never ran, and her release stayed published.
    forgot = CliRunner().invoke(main, ["forget", "mallory", "--data-dir", str(data), "--yes"])
    assert forgot.exit_code == 0, forgot.output
    copy_into(data / "inbox" / "bob", MALLORY)
    monkeypatch.setenv("TRACELAB_CONTRIBUTORS", "alice")
    again = CliRunner().invoke(main, ["demo", "--data-dir", str(data)])
    assert again.exit_code == 0, again.output
    assert "the release published before was withdrawn (nothing to release)" in again.output
    assert "FAILED" not in again.output
    assert not (data / "release").exists()
