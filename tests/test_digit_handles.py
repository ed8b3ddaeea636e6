"""Handles of digits (`6`, `2024`, `1.5`): a new contributor may not take one (the leak checks
cannot tell it from the counts and months of the public data), a contributor who already has
one keeps it. The release check's side is in test_word_handles.py."""

import shutil

import pytest
from click.testing import CliRunner
from landing_helpers import claude_home_with, copy_into, fixture

from tracelab_pipeline.cli import main
from tracelab_pipeline.collect import find_logs
from tracelab_pipeline.landing import land as land_module
from tracelab_pipeline.landing.consent import Consent
from tracelab_pipeline.landing.contribute import contribute
from tracelab_pipeline.landing.handles import handle_from, is_valid_handle, new_handle_problem
from tracelab_pipeline.landing.land import land_inbox
from tracelab_pipeline.landing.registry import Registry

DIGITS = ("6", "8", "2024", "1.5", "2025-09", "0_1")


@pytest.mark.parametrize("handle", DIGITS)
def test_a_new_handle_needs_a_letter(handle):
    assert is_valid_handle(handle)  # valid as a partition key: existing ones keep working
    problem = new_handle_problem(handle)
    assert f"contributor handle {handle!r} has no letter" in problem
    assert f"e.g. 'c{handle}'" in problem
    suggested = f"c{handle}"
    assert new_handle_problem(suggested) is None


@pytest.mark.parametrize("handle", ("c6", "6a", "x", "root", "jdoe-2024"))
def test_a_handle_with_a_letter_is_fine(handle):
    assert new_handle_problem(handle) is None


def test_an_invalid_handle_is_refused_for_its_shape_first():
    assert "invalid contributor handle" in new_handle_problem("Not Valid")
    assert "invalid contributor handle" in new_handle_problem("6" * 65)


def test_a_user_name_of_digits_collects_as_local_unless_already_collected():
    assert handle_from("1000") == "local"
    assert handle_from("1000", kept={"1000", "alice"}.__contains__) == "1000"
    assert handle_from("alice", kept={"1000"}.__contains__) == "alice"
    assert handle_from("Not Valid", kept={"Not Valid"}.__contains__) == "not-valid"


def test_contribute_refuses_a_new_handle_of_digits_before_looking_for_logs(tmp_path, monkeypatch):
    claude_home_with(tmp_path, monkeypatch)
    inbox = tmp_path / "inbox"
    runner = CliRunner()
    refused = runner.invoke(main, ["contribute", "--as", "6", "--to", str(inbox)])
    assert refused.exit_code == 2, refused.output
    assert "has no letter" in refused.output and "'c6'" in refused.output
    assert "log file(s)" not in refused.output  # refused before the logs were looked for
    assert not inbox.exists()
    with pytest.raises(ValueError, match="has no letter"):
        contribute(find_logs(), "6", str(inbox))
    taken = runner.invoke(main, ["contribute", "--as", "c6", "--to", str(inbox)])
    assert taken.exit_code == 0, taken.output
    assert "log file(s)" in taken.output  # what the refused run would have printed


def test_contribute_keeps_a_handle_of_digits_the_inbox_already_holds(tmp_path, monkeypatch):
    """A contributor who dropped as `6` before the rule drops as `6` again."""
    claude_home_with(tmp_path, monkeypatch)
    inbox = tmp_path / "inbox"
    copy_into(inbox / "6", fixture("ccviewer__5c0375b4.jsonl"))  # an earlier drop
    result = CliRunner().invoke(main, ["contribute", "--as", "6", "--to", str(inbox)])
    assert result.exit_code == 0, result.output
    assert len(list((inbox / "6").iterdir())) == 2


def test_collect_as_a_user_of_digits(tmp_path, monkeypatch):
    claude_home_with(tmp_path, monkeypatch)
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("TRACELAB_INBOX", str(inbox))
    monkeypatch.setenv("TRACELAB_DATA_DIR", str(tmp_path / "data"))  # no registry there
    monkeypatch.setenv("USER", "1000")
    monkeypatch.setenv("LOGNAME", "1000")
    result = CliRunner().invoke(main, ["collect"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in inbox.iterdir()) == ["local"]
    # a directory an earlier collect made for the name stays its
    shutil.rmtree(inbox / "local")
    (inbox / "1000").mkdir()
    result = CliRunner().invoke(main, ["collect"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in inbox.iterdir()) == ["1000"]
    assert any((inbox / "1000").rglob("*.jsonl"))


def test_landing_refuses_a_new_handle_of_digits_and_keeps_landing_an_existing_one(
    tmp_path, monkeypatch
):
    inbox, landed = tmp_path / "inbox", tmp_path / "landed"
    copy_into(inbox / "6", fixture("ccviewer__fe5e1c67.jsonl"))
    # landed before the rule existed (the pipeline then took any valid handle)
    with monkeypatch.context() as m:
        m.setattr(land_module, "new_handle_problem", lambda handle: None)
        m.setattr(land_module, "refusal", lambda handle, kept: None)
        (first,) = land_inbox(str(inbox), landed).drops
    assert first["outcome"] == "landed"

    copy_into(inbox / "6", fixture("ccviewer__5c0375b4.jsonl"))
    copy_into(inbox / "7", fixture("ccviewer__1af7fc5e.jsonl"))
    copy_into(inbox / "c7", fixture("ccviewer__1af7fc5e.jsonl"))
    report = land_inbox(str(inbox), landed)
    got = {d["inbox_path"]: (d["outcome"], d["reason"]) for d in report.drops}
    assert got["6/ccviewer__5c0375b4.jsonl"] == ("landed", None)
    outcome, reason = got["7/ccviewer__1af7fc5e.jsonl"]
    assert outcome == "refused" and "contributor handle '7' has no letter" in reason
    assert got["c7/ccviewer__1af7fc5e.jsonl"] == ("landed", None)
    with Registry(landed) as reg:
        assert reg.has_landed("6") and reg.has_landed("c7") and not reg.has_landed("7")
        assert {p.key for p in reg.partitions()} >= {"6|2025-09", "c7|2025-09"}


def test_a_handle_of_digits_dropped_before_the_rule_and_not_landed_yet_lands(tmp_path, monkeypatch):
    """`7` dropped before the rule and held for consent at the first landing with the rule:
    contribute and collect keep `7`, and its drops land once consent is given. `8`, first
    dropped after that landing (by hand: contribute refuses it), is refused by landing, and
    collect files a user `8` as `local` although the inbox has a directory `8`."""
    claude_home_with(tmp_path, monkeypatch)
    data = tmp_path / "data"
    inbox, landed = data / "inbox", data / "landed"
    monkeypatch.setenv("TRACELAB_DATA_DIR", str(data))
    monkeypatch.delenv("TRACELAB_INBOX", raising=False)
    copy_into(inbox / "7", fixture("ccviewer__5c0375b4.jsonl"))
    held = land_inbox(str(inbox), landed, consent=Consent(frozenset(), False, "nobody yet"))
    assert held.held == {"7": 1} and not held.drops
    copy_into(inbox / "8", fixture("ccviewer__1af7fc5e.jsonl"))

    runner = CliRunner()
    result = runner.invoke(main, ["contribute", "--as", "7", "--to", str(inbox)])
    assert result.exit_code == 0, result.output
    for user, handle in (("7", "7"), ("8", "local")):
        monkeypatch.setenv("USER", user)
        monkeypatch.setenv("LOGNAME", user)
        result = runner.invoke(main, ["collect"])
        assert result.exit_code == 0, result.output
        assert any((inbox / handle / "claude").rglob("*.jsonl")), handle
    assert not (inbox / "8" / "claude").exists()

    report = land_inbox(str(inbox), landed)
    outcomes: dict[str, set] = {}
    for d in report.drops:
        outcomes.setdefault(d["contributor"], set()).add(d["outcome"])
    assert outcomes["7"] <= {"landed", "duplicate"} and "landed" in outcomes["7"]
    assert outcomes["8"] == {"refused"} and outcomes["local"] <= {"landed", "duplicate"}
    (refused,) = [d for d in report.drops if d["contributor"] == "8"]
    assert "contributor handle '8' has no letter" in refused["reason"]
    with Registry(landed) as reg:
        assert reg.has_landed("7") and not reg.has_landed("8")
        assert reg.keeps_handle("7") and not reg.keeps_handle("8")
