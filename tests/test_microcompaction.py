"""Claude Code microcompaction: `system` records of subtype `microcompact_boundary`.

Claude Code writes one when it clears old tool results from the context without summarizing
the conversation (as a compaction does). Real fixtures with such records inserted in the shape
Claude Code writes them (envelope of the records around them, `microcompactMetadata` with
trigger, preTokens, tokensSaved, compactedToolIds, clearedAttachmentUUIDs).
"""

from __future__ import annotations

import json
from pathlib import Path

from tracelab_pipeline import schema
from tracelab_pipeline.formats import read_log
from tracelab_pipeline.normalize import normalize_files

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
SEGMENT = REAL / "claude" / "tracelab__claude-example-segment.jsonl"  # Claude Code 2.1.157
SIDECHAINS = REAL / "claude" / "ccviewer__fe5e1c67.jsonl"  # inline Task sidechain
CODEX = REAL / "codex" / "tracelab__codex-example-segment.jsonl"


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _boundary(before: dict, n: int, tokens_saved: int | None = 18_000, **meta) -> dict:
    """A microcompact_boundary written just before `before`, in its envelope."""
    keep = ("parentUuid", "isSidechain", "userType", "cwd", "sessionId", "version", "gitBranch")
    rec = {k: before[k] for k in keep if k in before}
    metadata = {
        "trigger": "auto",
        "preTokens": 61_000,
        "compactedToolIds": [f"toolu_cleared{n}"],
        "clearedAttachmentUUIDs": [],
        **meta,
    }
    if tokens_saved is not None:
        metadata["tokensSaved"] = tokens_saved
    rec.update(
        type="system",
        subtype="microcompact_boundary",
        content="Context microcompacted",
        isMeta=False,
        timestamp=before["timestamp"],
        uuid=f"5a1e0000-0000-4000-8000-{n:012d}",
        level="info",
        microcompactMetadata=metadata,
    )
    return rec


def _first_line_of(records: list[dict], message_id: str) -> int:
    return next(
        i
        for i, r in enumerate(records)
        if r.get("type") == "assistant" and r["message"].get("id") == message_id
    )


def _write(tmp_path: Path, name: str, records: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _step_ids(path: Path) -> list[str]:
    return [s["round_id"] for s in read_log(path, "c").steps]


def test_a_microcompaction_marks_the_next_step_and_changes_nothing_else(tmp_path):
    records = _records(SEGMENT)
    plain = read_log(SEGMENT, "c")
    target = plain.steps[3]["round_id"]
    at = _first_line_of(records, target)
    # a tool result comes between the previous step and this one: the boundary goes just
    # before the response, after the inputs (which the next call is sent with)
    records.insert(at, _boundary(records[at], 1))
    result = read_log(_write(tmp_path, "s.jsonl", records), "c")

    acc = result.accounting
    assert acc.ignored_by_type["system:microcompact_boundary"] == 1
    ignored = sum(acc.ignored_by_type.values())
    assert acc.lines_read == acc.used + ignored + len(acc.rejected)
    assert not acc.rejected and acc.lines_read == plain.accounting.lines_read + 1
    marked = {s["round_id"]: s for s in result.steps}
    assert [s["round_id"] for s in result.steps] == [s["round_id"] for s in plain.steps]
    for step in result.steps:
        here = step["round_id"] == target
        assert step["after_microcompaction"] is here
        assert step["microcompact_tokens_saved"] == (18_000 if here else None)
    # not a compaction, and the step's tokens, inputs and events are as without the boundary
    columns = set(schema.TABLES["steps"].names) - {
        "after_microcompaction",
        "microcompact_tokens_saved",
        "source_file",
        "source_line",
        "project",
    }
    for before in plain.steps:
        after = marked[before["round_id"]]
        assert {c: after[c] for c in columns} == {c: before[c] for c in columns}
    assert len(result.timing_events) == len(plain.timing_events)


def test_boundaries_before_one_step_add_up_and_an_unsaid_amount_is_unknown(tmp_path):
    records = _records(SEGMENT)
    plain = _step_ids(SEGMENT)
    second, fourth = plain[1], plain[3]
    at = _first_line_of(records, fourth)
    records[at:at] = [_boundary(records[at], 3), _boundary(records[at], 4, tokens_saved=None)]
    at = _first_line_of(records, second)
    records[at:at] = [_boundary(records[at], 1, 5_000), _boundary(records[at], 2, 7_250)]
    steps = {s["round_id"]: s for s in read_log(_write(tmp_path, "s.jsonl", records), "c").steps}
    assert (steps[second]["after_microcompaction"], steps[second]["microcompact_tokens_saved"]) == (
        True,
        12_250,
    )
    assert (steps[fourth]["after_microcompaction"], steps[fourth]["microcompact_tokens_saved"]) == (
        True,
        None,
    )
    assert sum(s["after_microcompaction"] for s in steps.values()) == 2


def test_a_malformed_metadata_is_no_rejection(tmp_path):
    records = _records(SEGMENT)
    target = _step_ids(SEGMENT)[2]
    at = _first_line_of(records, target)
    bad = _boundary(records[at], 1, tokens_saved=-5)
    worse = _boundary(records[at], 2)
    worse["microcompactMetadata"] = "cleared"
    records[at:at] = [bad, worse]
    result = read_log(_write(tmp_path, "s.jsonl", records), "c")
    assert not result.accounting.rejected
    assert result.accounting.ignored_by_type["system:microcompact_boundary"] == 2
    flagged = result.accounting.flagged_by_reason
    assert flagged == {"claude: malformed microcompactMetadata (tokens saved unknown)": 2}
    (step,) = [s for s in result.steps if s["round_id"] == target]
    assert (step["after_microcompaction"], step["microcompact_tokens_saved"]) == (True, None)


def test_a_sidechain_microcompaction_marks_the_sidechain_not_the_main_chain(tmp_path):
    records = _records(SIDECHAINS)
    side = [r for r in records if r.get("isSidechain") and r.get("type") == "assistant"]
    # the sidechain's second response, after the sidechain's first tool result
    target = next(
        r["message"]["id"] for r in side if r["message"]["id"] != side[0]["message"]["id"]
    )
    at = _first_line_of(records, target)
    records.insert(at, _boundary(records[at - 1] | {"parentUuid": records[at - 1]["uuid"]}, 1))
    result = read_log(_write(tmp_path, "s.jsonl", records), "c")
    marked = [s for s in result.steps if s["after_microcompaction"]]
    assert [(s["round_id"], s["is_sidechain"]) for s in marked] == [(target, True)]
    assert all(s["after_microcompaction"] is False for s in result.steps if not s["is_sidechain"])


def test_codex_steps_cannot_say_and_the_columns_are_public(tmp_path):
    tables = normalize_files([SEGMENT, CODEX])
    steps = tables.steps.to_pylist()
    for step in steps:
        if step["provider"] == "codex":
            assert step["after_microcompaction"] is None
        else:
            assert step["after_microcompaction"] is False
        assert step["microcompact_tokens_saved"] is None
    public = schema.public_schema("steps").names
    assert {"after_microcompaction", "microcompact_tokens_saved"} <= set(public)
