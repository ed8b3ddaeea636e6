"""zstd-compressed logs (Codex's `rollout-*.jsonl.zst`) and the files a directory search passes
over: read like gzip by normalize, collect and landing; every other file counted and named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import zstandard
from click.testing import CliRunner

from tracelab_pipeline.cli import main
from tracelab_pipeline.collect import find_logs
from tracelab_pipeline.formats import read_log
from tracelab_pipeline.landing.land import land_inbox
from tracelab_pipeline.landing.registry import Registry
from tracelab_pipeline.normalize import iter_log_files, normalize_files

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
CODEX_SEGMENT = FIXTURES / "codex" / "tracelab__codex-example-segment.jsonl"
CODEX_TREZO = FIXTURES / "codex" / "trezo-ai__codex-session.jsonl"
CLAUDE_BIG = FIXTURES / "claude" / "ccviewer__fe5e1c67.jsonl"  # 438 lines, 760 KiB


def zstd_frames(data: bytes, frames: int = 1) -> bytes:
    """`data` compressed as `frames` zstd frames one after another (Codex writes one; a file
    appended to, or joined with cat, holds several)."""
    lines = data.splitlines(keepends=True)
    step = -(-len(lines) // frames)
    compress = zstandard.ZstdCompressor(level=3).compress
    return b"".join(compress(b"".join(lines[i : i + step])) for i in range(0, len(lines), step))


def without_source_file(table):
    return table.drop_columns([c for c in ("source_file",) if c in table.column_names])


def test_zstd_log_normalizes_exactly_like_the_plain_file(tmp_path):
    # the same directory name: Claude's project is read from it
    plain_dir, zstd_dir = tmp_path / "plain" / "-work-demo", tmp_path / "zstd" / "-work-demo"
    plain_dir.mkdir(parents=True)
    zstd_dir.mkdir(parents=True)
    for src, frames in ((CLAUDE_BIG, 1), (CODEX_SEGMENT, 3), (CODEX_TREZO, 1)):
        shutil.copy(src, plain_dir / src.name)
        (zstd_dir / f"{src.name}.zst").write_bytes(zstd_frames(src.read_bytes(), frames))
    plain = normalize_files(iter_log_files([plain_dir]))
    packed = normalize_files(iter_log_files([zstd_dir]))
    assert plain.steps.num_rows > 100 and plain.tool_calls.num_rows > 10
    for name in ("steps", "tool_calls", "timing_events", "ingest_accounting", "rejected_records"):
        a, b = getattr(plain, name), getattr(packed, name)
        assert without_source_file(a).equals(without_source_file(b)), name
    acc = packed.ingest_accounting.to_pylist()
    assert all(r["source_file"].endswith(".jsonl.zst") and r["error"] is None for r in acc)
    assert [r["lines_read"] for r in acc] == [
        len(p.read_bytes().splitlines()) for p in sorted((CLAUDE_BIG, CODEX_SEGMENT, CODEX_TREZO))
    ]
    for r in acc:
        assert r["lines_read"] == r["records_used"] + r["records_ignored"] + r["records_rejected"]


def test_a_zstd_file_cut_short_keeps_what_came_before_like_gzip(tmp_path):
    data = CLAUDE_BIG.read_bytes()
    # Four frames, cut inside the third: the first two decompress whole, ending on a line
    # boundary, so only the zstd reader's own check can tell the file was cut.
    packed = zstd_frames(data, 4)
    lines = data.splitlines(keepends=True)
    step = -(-len(lines) // 4)
    head = zstandard.ZstdCompressor(level=3).compress
    cut_at = len(head(b"".join(lines[:step]))) + len(head(b"".join(lines[step : 2 * step]))) + 50
    path = tmp_path / "rollout-cut.jsonl.zst"
    path.write_bytes(packed[:cut_at])

    result = read_log(path, "alice")
    acc = result.accounting
    acc.check()
    assert result.error is None
    assert acc.lines_read == 2 * step + 1  # every whole line of the whole frames, + the rest
    lost = acc.rejected[-1]
    assert lost["reason"].startswith("unreadable rest of file") and "cut short" in lost["reason"]
    assert lost["raw"] is None and len(acc.rejected) == 1


def test_garbage_after_the_last_frame_loses_no_line_before_it_like_gzip(tmp_path):
    # The frame's last lines, decompressed in the same call that met the garbage, were lost
    # with the error (gzip returns a member whole before reading its bad successor).
    import gzip

    data = CLAUDE_BIG.read_bytes()
    lines = len(data.splitlines())
    for name, packed in (("g.jsonl.gz", gzip.compress(data)), ("z.jsonl.zst", zstd_frames(data))):
        path = tmp_path / name
        path.write_bytes(packed + b"garbage!")
        acc = read_log(path, "alice").accounting
        acc.check()
        assert acc.lines_read == lines + 1, name  # every line, + the unreadable rest
        assert acc.rejected[-1]["reason"].startswith("unreadable rest of file"), name
        assert acc.rejected[-1]["line_number"] == lines + 1


def test_a_corrupt_or_cut_at_once_zstd_file_is_an_error_naming_it(tmp_path):
    corrupt = tmp_path / "corrupt.jsonl.zst"
    corrupt.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 20)
    result = read_log(corrupt, "alice")
    assert result.error is not None and "corrupt zstd data" in result.error
    assert result.accounting.lines_read == 0

    header_only = tmp_path / "header.jsonl.zst"
    header_only.write_bytes(zstd_frames(CODEX_SEGMENT.read_bytes())[:12])
    result = read_log(header_only, "alice")
    assert result.error is not None and "cut short" in result.error


def test_normalize_finds_zstd_logs_and_names_the_files_it_does_not_read(tmp_path):
    logs = tmp_path / "logs"
    (logs / "archived").mkdir(parents=True)
    shutil.copy(CODEX_SEGMENT, logs / "rollout-a.jsonl")
    (logs / "archived" / "rollout-b.jsonl.zst").write_bytes(zstd_frames(CODEX_TREZO.read_bytes()))
    (logs / "archived" / "rollout-c.jsonl.bz2").write_bytes(b"BZh9")
    (logs / "notes.txt").write_text("hello\n")
    shutil.copy(CODEX_SEGMENT, logs / "ROLLOUT-D.JSONL")  # as landing takes it
    not_read: list[Path] = []
    files = iter_log_files([logs], not_read)
    assert [f.name for f in files] == ["ROLLOUT-D.JSONL", "rollout-b.jsonl.zst", "rollout-a.jsonl"]
    assert sorted(p.name for p in not_read) == ["notes.txt", "rollout-c.jsonl.bz2"]

    out = logs / "out"  # inside the input: its Parquet files are ours, not files passed over
    for _ in range(2):
        result = CliRunner().invoke(main, ["normalize", str(logs), "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert "files:            3 (3 codex)" in result.output
    assert "not read: 2 file(s) not named *.jsonl/*.jsonl.gz/*.jsonl.zst" in result.output
    assert "(1 .jsonl.bz2, 1 .txt)" in result.output
    assert str(logs / "notes.txt") in result.output
    assert ".parquet" not in result.output.split("not read:")[1].split("wrote:")[0]
    steps = pq.read_table(out / "steps.parquet")
    zstd_rows = [s for s in steps.column("source_file").to_pylist() if s.endswith(".zst")]
    assert len(zstd_rows) > 0


def test_collect_copies_compressed_archived_rollouts_and_names_other_files(tmp_path):
    codex = tmp_path / "codex-home"
    (codex / "sessions" / "2026" / "01" / "02").mkdir(parents=True)
    (codex / "archived_sessions").mkdir()
    packed = zstd_frames(CODEX_TREZO.read_bytes())
    (codex / "archived_sessions" / "rollout-b.jsonl.zst").write_bytes(packed)
    (codex / "sessions" / "2026" / "01" / "02" / "rollout-c.jsonl.lock").write_text("")
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "no-claude"), "CODEX_HOME": str(codex)}

    not_copied: list[Path] = []
    found = find_logs(env, not_copied)
    assert [str(f.relative) for f in found] == ["codex/archived_sessions/rollout-b.jsonl.zst"]
    assert [p.name for p in not_copied] == ["rollout-c.jsonl.lock"]

    dest = tmp_path / "dest"
    result = CliRunner().invoke(main, ["collect", "--dest", str(dest)], env=env)
    assert result.exit_code == 0, result.output
    assert (dest / "codex/archived_sessions/rollout-b.jsonl.zst").read_bytes() == packed
    assert "not copied: 1 file(s) not named *.jsonl/*.jsonl.gz/*.jsonl.zst" in result.output
    assert "rollout-c.jsonl.lock" in result.output
    assert "(0 log file(s), 1 other file(s) not taken)" in result.output


def test_landing_takes_zstd_drops_by_content_and_counts_a_cut_one_like_gzip(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    data = CLAUDE_BIG.read_bytes()
    (inbox / "alice" / "whole.jsonl.zst").write_bytes(zstd_frames(data, 2))
    cut = zstd_frames(CODEX_TREZO.read_bytes())
    (inbox / "alice" / "cut.jsonl.zst").write_bytes(cut[: len(cut) * 2 // 3])
    (inbox / "alice" / "other.jsonl.xz").write_bytes(b"\xfd7zXZ\x00")

    report = land_inbox(str(inbox), tmp_path / "landed")
    got = {d["inbox_path"]: (d["outcome"], d["reason"]) for d in report.drops}
    assert got["alice/whole.jsonl.zst"] == ("landed", None)
    assert got["alice/cut.jsonl.zst"] == ("landed", None)
    assert got["alice/other.jsonl.xz"][0] == "unsupported"
    assert ".jsonl.zst" in got["alice/other.jsonl.xz"][1]

    with Registry(tmp_path / "landed") as reg:
        cut_row, whole_row = sorted(reg.files(), key=lambda r: r["lines"])
    # stored under the suffix of its content, which the readers decide by
    assert all(r["object_path"].endswith(".jsonl.zst") for r in (cut_row, whole_row))
    assert whole_row["lines"] == len(data.splitlines())
    whole = read_log(whole_row["object_path"], "alice").accounting
    assert whole.lines_read == whole_row["lines"] and not whole.rejected
    acc = read_log(cut_row["object_path"], "alice").accounting
    acc.check()
    assert acc.lines_read == cut_row["lines"] + 1 > 2
    assert acc.rejected[-1]["reason"].startswith("unreadable rest of file")


def test_a_compressed_file_name_says_the_same_as_the_plain_one():
    from tracelab_pipeline.formats.claude_code import file_layout
    from tracelab_pipeline.formats.codex import _stem

    layout = file_layout(Path("p/-work-demo/5c0375b4/subagents/agent-a1.jsonl.zst"))
    assert layout["agent_id"] == "a1" and layout["parent"] == "5c0375b4"
    assert layout["project"] == "-work-demo"
    assert _stem("x/rollout-2026-01-02T00-00-00-abc.jsonl.zst") == "rollout-2026-01-02T00-00-00-abc"
