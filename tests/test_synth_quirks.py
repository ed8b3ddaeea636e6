"""The log shapes real machines add (synth/quirks.py): Codex rollouts rewritten as .jsonl.zst,
Claude sessions resumed in a file that repeats the earlier one's records (under the earlier or
the new session id), microcompact_boundary records. Normalizing an inbox holding each of them
still gives exactly the truth; none of them moves a calibrated draw."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
import zstandard
from test_synth import _assert_equal_to_truth

from tracelab_pipeline.formats.common import parse_ts
from tracelab_pipeline.synth import generate, quirks
from tracelab_pipeline.synth.truth import read_truth

# Enough Claude sessions per project that resumes (and resumes of resumes) happen.
SMALL = dict(contributors=2, months=3, sessions=70)


def _claude_mains(inbox: Path) -> list[Path]:
    return sorted(inbox.glob("*/.claude/projects/*/*.jsonl"))


def _resumes(inbox: Path) -> dict[str, list[Path]]:
    """Session files that start by repeating another session's records, by how."""
    out: dict[str, list[Path]] = {"earlier id": [], "new id": []}
    for path in _claude_mains(inbox):
        lines = path.read_bytes().splitlines()
        # a session's own records start with its permission-mode record
        starts = [i for i, line in enumerate(lines) if b'"type":"permission-mode"' in line]
        if starts[-1] == 0:
            continue
        copied = {orjson.loads(line).get("sessionId") for line in lines[: starts[-1]]}
        out["new id" if path.stem in copied else "earlier id"].append(path)
    return out


def _quirk_counts(inbox: Path, truth_dir: Path) -> dict[str, int]:
    steps = read_truth(truth_dir)["steps"].to_pylist()
    resumes = _resumes(inbox)
    boundaries = sum(
        path.read_bytes().count(b'"subtype":"microcompact_boundary"')
        for path in _claude_mains(inbox)
    )
    return {
        "zstd rollouts": len(list(inbox.glob("*/.codex/sessions/*/*/*/rollout-*.jsonl.zst"))),
        "resumes under the earlier id": len(resumes["earlier id"]),
        "resumes under the new id": len(resumes["new id"]),
        "microcompact boundaries": boundaries,
        "steps after a microcompaction": sum(bool(s["after_microcompaction"]) for s in steps),
    }


@pytest.fixture(scope="module")
def every_quirk(tmp_path_factory) -> tuple[Path, Path, dict]:
    """A small inbox where every session that can have a quirk has it (one worker: the raised
    shares are this process's)."""
    root = tmp_path_factory.mktemp("quirks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(quirks, "ZSTD_SHARE", 1.0)
        mp.setattr(quirks, "RESUME_SHARE", 1.0)
        mp.setattr(quirks, "MICROCOMPACT_SHARE", 1.0)
        summary = generate(
            "demo", seed=1, inbox_dir=root / "inbox", truth_dir=root / "truth", workers=1, **SMALL
        )
    return root / "inbox", root / "truth", summary


def test_an_inbox_with_every_quirk_normalizes_to_exactly_the_truth(every_quirk):
    inbox, truth_dir, summary = every_quirk
    counts = _quirk_counts(inbox, truth_dir)
    assert all(n >= 2 for n in counts.values()), counts
    equal = _assert_equal_to_truth(inbox, truth_dir)
    assert equal["steps"] == summary["steps"] > 1000


def test_zstd_rollouts_are_those_idle_a_week_and_replace_the_plain_file(every_quirk):
    from tracelab_pipeline.synth.presets import MONTH_DAYS, resolve

    inbox, _, _ = every_quirk
    preset = resolve("demo", None, SMALL["months"], None)
    end = preset.start + timedelta(days=SMALL["months"] * MONTH_DAYS)
    packed = list(inbox.glob("*/.codex/sessions/*/*/*/rollout-*.jsonl.zst"))
    plain = list(inbox.glob("*/.codex/sessions/*/*/*/rollout-*.jsonl"))
    assert packed
    assert not {p.with_suffix("") for p in packed} & set(plain)
    for path in packed:
        data = path.read_bytes()
        assert data[:4] == b"\x28\xb5\x2f\xfd"  # one zstd frame, as Codex writes it
        text = zstandard.ZstdDecompressor().decompress(data)
        assert b'"type":"session_meta"' in text.splitlines()[0]
        assert _ended(text) <= end - timedelta(days=7)
    for path in plain:  # the share is 1: every rollout left plain was active in the last week
        assert _ended(path.read_bytes()) > end - timedelta(days=7)


def _ended(text: bytes) -> datetime:
    return max(parse_ts(orjson.loads(line)["timestamp"]) for line in text.splitlines())


def test_resumed_sessions_repeat_history_that_dedups_away(every_quirk):
    """The repeated calls are in the inbox twice and in the truth once; the resumed session's
    thread is numbered from 0 over its own steps, whichever id the copies were under."""
    inbox, truth_dir, _ = every_quirk
    steps = read_truth(truth_dir)["steps"].to_pylist()
    by_session: dict[str, list[dict]] = {}
    for s in steps:
        by_session.setdefault(s["session_id"], []).append(s)
    resumes = _resumes(inbox)
    for how, paths in resumes.items():
        for path in paths:
            own = sorted(by_session[path.stem], key=lambda s: s["step_index"])
            calls = [
                orjson.loads(line)
                for line in path.read_bytes().splitlines()
                if b'"type":"assistant"' in line
            ]
            own_ids = {s["round_id"] for s in own}
            copies = {
                c["message"]["id"]: c["sessionId"]
                for c in calls
                if c["message"]["model"] != "<synthetic>"  # an API error is not a call
            }
            copies = {m: sid for m, sid in copies.items() if m not in own_ids}
            assert copies, path
            kept = {s["round_id"]: s["session_id"] for s in steps if s["round_id"] in copies}
            assert set(kept) == set(copies)  # each copied call once, in an earlier session
            assert path.stem not in kept.values()
            # (a resume of a resume may repeat calls under both earlier ids)
            under_own_id = sum(sid == path.stem for sid in copies.values())
            assert (under_own_id > 0) == (how == "new id")
            assert [s["step_index"] for s in own] == list(range(len(own))), (how, path)
            # the session starts at its own first prompt, not at the copied history
            assert own[0]["session_started_at"] == own[0]["input_ready_at"]


def test_microcompaction_marks_the_next_step_with_the_tokens_saved(every_quirk):
    inbox, truth_dir, _ = every_quirk
    marked = {
        s["round_id"]: s["microcompact_tokens_saved"]
        for s in read_truth(truth_dir)["steps"].to_pylist()
        if s["after_microcompaction"]
    }
    seen = {}
    # (a resumed session's file repeats boundaries with the calls they mark, in the truth once)
    for path in _claude_mains(inbox):
        saved = None
        for line in path.read_bytes().splitlines():
            rec = orjson.loads(line)
            if rec.get("subtype") == "microcompact_boundary":
                meta = rec["microcompactMetadata"]
                assert meta["compactedToolIds"] and meta["preTokens"] > meta["tokensSaved"]
                saved = meta["tokensSaved"]
            elif rec.get("type") == "assistant" and saved is not None:
                seen[rec["message"]["id"]] = saved
                saved = None
    assert seen and seen == marked


def test_quirks_move_no_calibrated_draw(tmp_path):
    """With no quirk at all, every step, tool call and event is the same but for where it was
    written and the microcompaction columns: the quirks draw from streams of their own."""
    import pyarrow as pa

    def run(name: str, share: float) -> dict[str, pa.Table]:
        with pytest.MonkeyPatch.context() as mp:
            for knob in ("ZSTD_SHARE", "RESUME_SHARE", "MICROCOMPACT_SHARE"):
                mp.setattr(quirks, knob, share)
            generate("demo", seed=1, inbox_dir=tmp_path / name / "in",
                     truth_dir=tmp_path / name / "truth", workers=1, **SMALL)  # fmt: skip
        return read_truth(tmp_path / name / "truth")

    placed = ["source_file", "source_line", "step_index"]
    placed += ["after_microcompaction", "microcompact_tokens_saved"]
    none, every = run("none", 0.0), run("every", 1.0)
    assert none["steps"].drop_columns(placed).equals(every["steps"].drop_columns(placed))
    assert none["tool_calls"].equals(every["tool_calls"])
    assert none["timing_events"].equals(every["timing_events"])
    assert not none["steps"].equals(every["steps"])


def test_quirks_are_byte_identical_for_a_seed(tmp_path, every_quirk):
    inbox, truth_dir, _ = every_quirk
    with pytest.MonkeyPatch.context() as mp:
        for knob in ("ZSTD_SHARE", "RESUME_SHARE", "MICROCOMPACT_SHARE"):
            mp.setattr(quirks, knob, 1.0)
        generate("demo", seed=1, inbox_dir=tmp_path / "inbox", truth_dir=tmp_path / "truth",
                 workers=1, **SMALL)  # fmt: skip

    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    assert digests(tmp_path / "inbox") == digests(inbox)
    assert digests(tmp_path / "truth") == digests(truth_dir)


def test_the_demo_preset_has_each_quirk_at_its_own_share(tmp_path):
    """The default shares, as `tracelab demo` writes its inbox: a few of each, the counts of
    sessions, files and steps those of the demo (README)."""
    summary = generate("demo", seed=0, inbox_dir=tmp_path / "in", truth_dir=tmp_path / "truth")
    assert (summary["sessions"], summary["files"], summary["steps"]) == (240, 281, 26_168)
    counts = _quirk_counts(tmp_path / "in", tmp_path / "truth")
    assert all(n >= 2 for n in counts.values()), counts
    assert counts["resumes under the earlier id"] + counts["resumes under the new id"] < 12
