"""Landing: listing, content-addressed copies, idempotence, supersession, partitions, bad input."""

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import tarfile
import zlib
from pathlib import Path

import orjson
import pytest
from landing_helpers import (
    CLAUDE,
    CODEX,
    copy_into,
    device_info,
    file_info,
    fixture,
    link_info,
    tar_with,
    zip_with,
)

from tracelab_pipeline.landing.archives import member_path_problem
from tracelab_pipeline.landing.counts import landing_counts
from tracelab_pipeline.landing.handles import is_valid_handle
from tracelab_pipeline.landing.land import _Lander, land_inbox
from tracelab_pipeline.landing.limits import Limits
from tracelab_pipeline.landing.registry import Registry
from tracelab_pipeline.landing.scan import UnreadableLog

GOOD = fixture("ccviewer__1af7fc5e.jsonl")


def outcomes(report) -> dict[str, tuple[str, str | None]]:
    return {d["inbox_path"]: (d["outcome"], d["reason"]) for d in report.drops}


def test_lands_plain_gzip_and_archive_and_places_partitions(tmp_path):
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", *CLAUDE[:3])
    gz = inbox / "alice" / "codex.jsonl.gz"
    gz.write_bytes(gzip.compress(CODEX[0].read_bytes()))
    (inbox / "bob").mkdir()
    shutil.make_archive(str(inbox / "bob" / "logs"), "gztar", CODEX[0].parent)
    report = land_inbox(str(inbox), tmp_path / "landed")
    assert {o for o, _ in outcomes(report).values()} == {"landed"}
    assert report.files_landed == 3 + 1 + len(CODEX)
    with Registry(tmp_path / "landed") as reg:
        files = reg.files()
        for f in files:
            obj = Path(f["object_path"])
            assert obj.is_file() and obj.name.startswith(f["sha256"])
        gz_row = next(f for f in files if f["member"] == "codex.jsonl.gz")
        assert gz_row["object_path"].endswith(".jsonl.gz")
        # the same content under alice (gz) and bob (in the archive) lands once per contributor
        assert gz_row["month"] == next(
            f["month"]
            for f in files
            if f["contributor"] == "bob"
            and f["sha256"] != gz_row["sha256"]
            and f["root_session"] == gz_row["root_session"]
        )
        keys = {p.key for p in reg.partitions()}
        assert keys == set(report.changed_partitions)
        assert all(k.split("|")[0] in ("alice", "bob") for k in keys)
        # month of each file = month of its first timestamp (one session per fixture file)
        for f in files:
            assert f["month"] == f["first_ts"][:7]


def test_second_landing_is_a_no_op_and_redrop_is_duplicate(tmp_path):
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", GOOD)
    first = land_inbox(str(inbox), tmp_path / "landed")
    again = land_inbox(str(inbox), tmp_path / "landed")
    assert again.drops == [] and again.changed_partitions == []
    assert again.generation == first.generation
    shutil.copy(GOOD, inbox / "alice" / "renamed-copy.jsonl")
    redrop = land_inbox(str(inbox), tmp_path / "landed")
    assert outcomes(redrop) == {
        "alice/renamed-copy.jsonl": ("duplicate", "identical to an earlier drop")
    }
    assert redrop.changed_partitions == []
    with Registry(tmp_path / "landed") as reg:
        assert len(reg.files()) == 1
        assert len(list((tmp_path / "landed" / "objects").rglob("*.jsonl"))) == 1


def test_a_drop_that_cannot_be_read_now_is_tried_again_next_time(tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", GOOD)
    fetch = _Lander._fetch

    def network_blip(self, obj, work):
        raise OSError("connection reset by peer")

    monkeypatch.setattr(_Lander, "_fetch", network_blip)
    failed = land_inbox(str(inbox), tmp_path / "landed")
    assert failed.drops == [] and failed.files_landed == 0
    assert failed.retry == [
        f"alice/{GOOD.name}: cannot read from the inbox: connection reset by peer"
    ]
    monkeypatch.setattr(_Lander, "_fetch", fetch)
    later = land_inbox(str(inbox), tmp_path / "landed")
    assert outcomes(later) == {f"alice/{GOOD.name}": ("landed", None)} and later.retry == []


def test_a_log_written_to_while_it_lands_is_landed_as_one_version(tmp_path, monkeypatch):
    """The client appends to its session log while the lander works: the object, its hash
    and its scan (line count) are all of the bytes read once, and the grown log lands next
    time as a newer version."""
    import tracelab_pipeline.landing.land as land

    inbox = tmp_path / "inbox"
    lines = GOOD.read_bytes().splitlines(keepends=True)
    live = inbox / "alice" / GOOD.name
    live.parent.mkdir(parents=True)
    live.write_bytes(b"".join(lines[:4]))
    scan = land.scan_log

    def append_then_scan(path, *args):
        with open(live, "ab") as f:
            f.writelines(lines[4:])
        return scan(path, *args)

    monkeypatch.setattr(land, "scan_log", append_then_scan)
    land_inbox(str(inbox), tmp_path / "landed")
    monkeypatch.setattr(land, "scan_log", scan)
    with Registry(tmp_path / "landed") as reg:
        (row,) = reg.files()
        obj = Path(row["object_path"])
        assert obj.read_bytes() == b"".join(lines[:4]) and row["lines"] == 4
        assert obj.name.startswith(hashlib.sha256(obj.read_bytes()).hexdigest())
    later = land_inbox(str(inbox), tmp_path / "landed")
    assert later.files_landed == 1
    with Registry(tmp_path / "landed") as reg:
        assert {f["lines"]: f["status"] for f in reg.files()}[4] == "superseded"


def test_grown_session_supersedes_older_version(tmp_path):
    inbox = tmp_path / "inbox"
    lines = GOOD.read_bytes().splitlines(keepends=True)
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / "v1").mkdir()
    (inbox / "alice" / "v1" / GOOD.name).write_bytes(b"".join(lines[:5]))
    first = land_inbox(str(inbox), tmp_path / "landed")
    (key,) = first.changed_partitions
    (inbox / "alice" / "v2").mkdir()
    (inbox / "alice" / "v2" / GOOD.name).write_bytes(b"".join(lines))
    second = land_inbox(str(inbox), tmp_path / "landed")
    assert second.changed_partitions == [key]
    with Registry(tmp_path / "landed") as reg:
        by_lines = {f["lines"]: f for f in reg.files()}
        assert by_lines[5]["status"] == "superseded"
        assert by_lines[5]["superseded_by"] == by_lines[len(lines)]["sha256"]
        assert [f.lines for f in reg.files_for_partition(key)] == [len(lines)]
        # nothing deleted: both versions are still on disk
        assert all(Path(f["object_path"]).exists() for f in reg.files())
    # the old version dropped again later is superseded right away
    (inbox / "alice" / "v0").mkdir()
    (inbox / "alice" / "v0" / GOOD.name).write_bytes(b"".join(lines[:3]))
    third = land_inbox(str(inbox), tmp_path / "landed")
    assert third.changed_partitions == []
    with Registry(tmp_path / "landed") as reg:
        assert {f["lines"]: f["status"] for f in reg.files()}[3] == "superseded"


def test_subagent_file_follows_its_parent_session_month(tmp_path):
    inbox = tmp_path / "inbox" / "alice"
    inbox.mkdir(parents=True)
    main = b'{"sessionId":"s1","timestamp":"2026-01-31T23:59:00Z","type":"user"}\n'
    sub = b'{"sessionId":"s1","isSidechain":true,"timestamp":"2026-02-01T00:05:00Z"}\n'
    (inbox / "s1.jsonl").write_bytes(main)
    (inbox / "agent-x.jsonl").write_bytes(sub)
    report = land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    assert report.changed_partitions == ["alice|2026-01"]


def test_logs_naming_one_session_land_together(tmp_path):
    """A resumed Claude Code log repeats the resumed session's records before its own session,
    whose sub-agent files name only the new session; a forked Codex rollout names its parent
    in a second header. Each chain is one conversation, placed by its earliest start."""
    inbox = tmp_path / "inbox" / "alice"
    (inbox / "s2" / "subagents").mkdir(parents=True)

    def claude(session, ts, **extra):
        return orjson.dumps({"sessionId": session, "type": "user", "timestamp": ts, **extra})

    (inbox / "s1.jsonl").write_bytes(claude("s1", "2026-01-20T10:00:00Z") + b"\n")
    resumed = [claude("s1", "2026-01-20T10:00:00Z"), claude("s2", "2026-03-02T09:00:00Z")]
    (inbox / "s2.jsonl").write_bytes(b"\n".join(resumed) + b"\n")
    side = claude("s2", "2026-04-01T00:05:00Z", isSidechain=True)
    (inbox / "s2" / "subagents" / "agent-a.jsonl").write_bytes(side + b"\n")

    def meta(session, ts):
        payload = {"id": session, "timestamp": ts, "cwd": "/w", "originator": "codex_cli_rs"}
        return orjson.dumps({"timestamp": ts, "type": "session_meta", "payload": payload})

    (inbox / "rollout-parent.jsonl").write_bytes(meta("p", "2026-05-30T08:00:00Z") + b"\n")
    fork = [meta("child", "2026-06-03T08:00:00Z"), meta("p", "2026-05-30T08:00:00Z")]
    (inbox / "rollout-child.jsonl").write_bytes(b"\n".join(fork) + b"\n")

    report = land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    assert report.changed_partitions == ["alice|2026-01", "alice|2026-05"]
    with Registry(tmp_path / "landed") as reg:
        months = {f["member"].rsplit("/", 1)[-1]: f["month"] for f in reg.files()}
    assert months == {
        "s1.jsonl": "2026-01",
        "s2.jsonl": "2026-01",
        "agent-a.jsonl": "2026-01",
        "rollout-parent.jsonl": "2026-05",
        "rollout-child.jsonl": "2026-05",
    }


def test_a_registry_from_before_files_named_their_sessions_still_places_them(tmp_path):
    """Registries written before the `sessions` column get it, and their rows are grouped by
    the one session they recorded."""
    import sqlite3

    copy_into(tmp_path / "inbox" / "alice", GOOD)
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    db = sqlite3.connect(tmp_path / "landed" / "registry.sqlite")
    db.execute("ALTER TABLE files DROP COLUMN sessions")
    db.execute("ALTER TABLE files DROP COLUMN long_line")
    db.commit()
    db.close()
    with Registry(tmp_path / "landed") as reg:
        (before,) = reg.files()
        reg.replan("alice", reg.generation + 1)
        (after,) = reg.files()
    assert after["month"] == before["month"] and after["status"] == "active"
    assert after["long_line"] is None


def test_session_month_is_the_utc_month_the_readers_see(tmp_path):
    """The landed month must be that of the readers' session start (a later one fails the
    blocking no_session_before_month check, an earlier one misfiles the session): a record
    with an implausible timestamp (the readers reject it) must not move the session to 1970,
    and an offset timestamp counts in UTC (2026-04-01T03:00+05:00 is in March)."""
    from tracelab_pipeline.normalize import normalize_files

    inbox = tmp_path / "inbox" / "alice"
    inbox.mkdir(parents=True)
    lines = GOOD.read_bytes().splitlines(keepends=True)
    early = lines[0].replace(b'"timestamp":"', b'"timestamp":"1970-01-01T00:00:00Z","x":"', 1)
    (inbox / "early.jsonl").write_bytes(early + b"".join(lines[1:]))
    one = b'{"sessionId":"s1","type":"user","timestamp":"2026-04-01T03:00:00+05:00"}\n'
    (inbox / "offset.jsonl").write_bytes(one)
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:
        months = {f["member"]: (f["month"], f["object_path"]) for f in reg.files()}
    assert months["offset.jsonl"][0] == "2026-03"
    month, path = months["early.jsonl"]
    started = normalize_files([path]).steps.column("session_started_at").to_pylist()
    assert {t.strftime("%Y-%m") for t in started} == {month}


def test_an_interrupted_landing_leaves_no_staged_copies_behind(tmp_path):
    """A lander killed mid-archive leaves its extracted members in landed/tmp; the next one
    (holding the same lock) clears them instead of keeping them forever."""
    stale = tmp_path / "landed" / "tmp" / "tmpkilled"
    stale.mkdir(parents=True)
    (stale / "0123abcd").write_bytes(GOOD.read_bytes())
    copy_into(tmp_path / "inbox" / "alice", GOOD)
    report = land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    assert report.files_landed == 1
    assert not list((tmp_path / "landed" / "tmp").iterdir())


def test_scanning_a_log_with_one_enormous_line_holds_only_a_piece_of_it(tmp_path):
    """A gzip of one line without a newline (GBs from a few MB) was read as one bytes object
    before the size cap could stop it: 400 MiB took 860 MiB to refuse at a 100 MiB cap."""
    import tracemalloc

    from tracelab_pipeline.landing.scan import scan_log

    head = b'{"sessionId":"s1","type":"user","timestamp":"2026-02-03T04:05:06Z"}\n'
    path = tmp_path / "long.jsonl.gz"
    path.write_bytes(gzip.compress(head + b'{"x":"' + b"a" * 2**22 + b'"}\n' + head))
    tracemalloc.start()
    try:
        scan = scan_log(path, max_bytes=2**30, max_line=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scan.lines == 3 and scan.decompressed_bytes == 2**22 + 9 + 2 * len(head)
    assert scan.first_ts.isoformat() == "2026-02-03T04:05:06+00:00"
    assert peak < 2**21  # the line alone is 4 MiB
    with pytest.raises(UnreadableLog, match="cap of 500000 bytes"):
        scan_log(path, max_bytes=500_000, max_line=64 * 1024)


def test_a_log_whose_only_line_is_too_long_to_read_is_unplaced_saying_so(tmp_path):
    """Its reason was that of a file with no timestamp at all ("not a Claude Code or Codex
    session log"); it names the line and the limit. A long line among lines with a timestamp
    leaves the log placed by them. The limit is the landing's (Limits), lowered here."""
    record = b'{"sessionId":"s1","type":"user","timestamp":"2026-02-03T04:05:06Z","x":"'
    long = record + b"a" * 5000 + b'"}\n'
    inbox = tmp_path / "inbox" / "alice"
    inbox.mkdir(parents=True)
    (inbox / "one-long-line.jsonl").write_bytes(long)
    (inbox / "long-among-others.jsonl").write_bytes(
        long.replace(b"s1", b"s2") + record.replace(b"s1", b"s2") + b'"}\n'
    )
    report = land_inbox(
        str(tmp_path / "inbox"), tmp_path / "landed", limits=Limits(max_line_bytes=4096)
    )
    assert report.changed_partitions == ["alice|2026-02"]
    with Registry(tmp_path / "landed") as reg:
        files = {f["member"]: f for f in reg.files()}
    unplaced = files["one-long-line.jsonl"]
    assert unplaced["status"] == "unplaced" and unplaced["month"] is None
    assert unplaced["status_reason"] == (
        f"line 1 is {len(long) - 1:,} bytes long, longer than the 4,096 bytes landing reads of one"
        " line: not read, and it may have held its timestamp: no other line has one, so there is"
        " no month to file the log under (kept as landed, never normalized; a TraceLab round"
        " export, which holds sessions of many months, is imported with `tracelab normalize`)"
    )
    assert Path(unplaced["object_path"]).read_bytes() == long  # kept aside, whole
    placed = files["long-among-others.jsonl"]
    assert placed["status"] == "active" and placed["month"] == "2026-02"
    assert placed["long_line"].startswith("line 1 is ") and placed["lines"] == 2
    assert landing_counts(tmp_path / "landed")["files"]["unplaced"] == 1


def test_a_line_of_exactly_the_limit_is_read_whole(tmp_path):
    """A line of exactly max_line bytes, with or without its newline, is read and parsed: a
    last one without newline was reported "4,096 bytes long, longer than the 4,096 bytes". A
    long line's length is that of its text, without the newline."""
    from tracelab_pipeline.landing.scan import scan_log

    record = b'{"sessionId":"s1","type":"user","timestamp":"2026-02-03T04:05:06Z","x":"'
    exact = record + b"a" * (4096 - len(record) - 2) + b'"}'
    assert len(exact) == 4096
    for name, data in (("last.jsonl", exact), ("newline.jsonl", exact + b"\n" + exact)):
        (tmp_path / name).write_bytes(data)
        scan = scan_log(tmp_path / name, max_bytes=2**20, max_line=4096)
        assert scan.long_line is None and scan.root_session == "claude:s1", name
        assert scan.first_ts.isoformat() == "2026-02-03T04:05:06+00:00"
    assert scan.lines == 2
    (tmp_path / "longer.jsonl").write_bytes(exact + b"a\n")
    scan = scan_log(tmp_path / "longer.jsonl", max_bytes=2**20, max_line=4096)
    assert scan.long_line.startswith("line 1 is 4,097 bytes long, longer than the 4,096 bytes")
    assert scan.first_ts is None


def test_a_registry_from_before_long_lines_were_recorded_names_the_line_at_the_next_drop(
    tmp_path,
):
    """A registry with `sessions` but not `long_line`: its rows got long_line NULL, were never
    scanned again (only rows without sessions were), and an unplaced log whose one line is
    too long kept the reason of a log with no timestamp."""
    import sqlite3

    inbox = tmp_path / "inbox" / "alice"
    inbox.mkdir(parents=True)
    long = b'{"sessionId":"s1","type":"user","timestamp":"2026-02-03T04:05:06Z","x":"'
    long += b"a" * 5000 + b'"}\n'
    (inbox / "one-long-line.jsonl").write_bytes(long)
    limits = Limits(max_line_bytes=4096)
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed", limits=limits)
    db = sqlite3.connect(tmp_path / "landed" / "registry.sqlite")
    db.execute("ALTER TABLE files DROP COLUMN long_line")
    db.commit()
    db.close()
    copy_into(inbox, GOOD)  # a new drop replans alice
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed", limits=limits)
    with Registry(tmp_path / "landed") as reg:
        files = {f["member"]: f for f in reg.files()}
    unplaced = files["one-long-line.jsonl"]
    assert unplaced["status"] == "unplaced"
    assert unplaced["status_reason"].startswith("line 1 is ")
    assert files[GOOD.name]["long_line"] == ""  # scanned, no long line


def test_an_older_row_that_cannot_be_rescanned_is_not_read_again(tmp_path):
    """A row to rescan whose log is unreadable now (here: larger than the landing's cap) kept
    sessions and long_line NULL, so every later drop read it again."""
    inbox = tmp_path / "inbox" / "alice"
    inbox.mkdir(parents=True)
    record = b'{"sessionId":"s1","type":"user","timestamp":"2026-02-03T04:05:06Z","x":"'
    (inbox / "big.jsonl").write_bytes(record + b"a" * 5000 + b'"}\n')
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:  # as a registry from before the columns
        reg.db.execute("UPDATE files SET sessions = NULL, long_line = NULL")
        reg.db.commit()
    (inbox / "small.jsonl").write_bytes(record.replace(b"s1", b"s2") + b'"}\n')
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed", limits=Limits(max_log_bytes=1000))
    with Registry(tmp_path / "landed") as reg:
        files = {f["member"]: f for f in reg.files()}
    assert files["big.jsonl"]["sessions"] == "" and files["big.jsonl"]["long_line"] == ""
    assert files["big.jsonl"]["month"] == "2026-02"  # placed as before


def test_bad_input_is_recorded_with_reasons_and_the_rest_lands(tmp_path):
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", GOOD)
    (inbox / "alice" / "notes.txt").write_text("hello")
    (inbox / "alice" / "empty.jsonl").write_bytes(b"")
    (inbox / "alice" / "broken.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (inbox / "nobody").mkdir()
    copy_into(inbox / "Bad Name", GOOD)
    (inbox / "stray.jsonl").write_bytes(GOOD.read_bytes())
    report = land_inbox(str(inbox), tmp_path / "landed")
    got = outcomes(report)
    assert got["alice/ccviewer__1af7fc5e.jsonl"] == ("landed", None)
    assert (
        got["alice/notes.txt"][0] == "unsupported"
        and "unsupported file type" in got["alice/notes.txt"][1]
    )
    assert got["alice/empty.jsonl"] == ("empty", "empty file")
    assert got["alice/broken.jsonl.gz"][0] == "refused"
    assert "cannot read log" in got["alice/broken.jsonl.gz"][1]
    assert got["nobody/"] == ("no_logs", "contributor directory holds no files")
    assert got["Bad Name/ccviewer__1af7fc5e.jsonl"][0] == "refused"
    assert "invalid contributor handle" in got["Bad Name/ccviewer__1af7fc5e.jsonl"][1]
    assert "not inside a contributor directory" in got["stray.jsonl"][1]
    assert report.files_landed == 1
    # recorded once: the next landing does not report them again
    assert land_inbox(str(inbox), tmp_path / "landed").drops == []


def test_a_gzip_cut_short_lands_and_counts_its_lines_as_the_readers_do(tmp_path):
    from tracelab_pipeline.formats import read_log

    packed = gzip.compress(fixture("ccviewer__5c0375b4.jsonl").read_bytes())  # 120 KiB
    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / "cut.jsonl.gz").write_bytes(packed[: len(packed) * 2 // 3])
    report = land_inbox(str(inbox), tmp_path / "landed")
    assert outcomes(report) == {"alice/cut.jsonl.gz": ("landed", None)}
    with Registry(tmp_path / "landed") as reg:
        (row,) = reg.files()
    acc = read_log(row["object_path"], "alice").accounting
    # The readers count the unreadable rest as one more line; the scan counts whole lines only,
    # so a cut copy never ties the whole log it was cut from (next test).
    assert row["month"] is not None and acc.lines_read == row["lines"] + 1 > 2
    assert acc.rejected[-1]["reason"].startswith("unreadable rest of file")


@pytest.mark.parametrize(
    ("name", "members", "reason"),
    [
        ("traversal.tar.gz", [(file_info("../evil.jsonl"), b"{}\n")], "path traversal"),
        ("absolute.tgz", [(file_info("/etc/evil.jsonl"), b"{}\n")], "absolute path"),
        ("symlink.tar.gz", [(link_info("s.jsonl", "/etc/passwd"), None)], "link in archive"),
        ("hardlink.tar.gz", [(link_info("h.jsonl", "/etc/passwd", hard=True), None)], "link"),
        ("device.tar.gz", [(device_info("null.jsonl"), None)], "device"),
    ],
)
def test_hostile_tar_is_refused_and_the_rest_lands(tmp_path, name, members, reason):
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", GOOD)
    ok = file_info("fine.jsonl")
    tar_with(inbox / "mallory" / name, [(ok, GOOD.read_bytes()), *members])
    report = land_inbox(str(inbox), tmp_path / "landed")
    got = outcomes(report)
    assert got["alice/ccviewer__1af7fc5e.jsonl"] == ("landed", None)
    outcome, why = got[f"mallory/{name}"]
    assert outcome == "refused" and reason in why
    with Registry(tmp_path / "landed") as reg:
        assert {f["contributor"] for f in reg.files()} == {"alice"}
    assert not (tmp_path / "evil.jsonl").exists()
    assert not list((tmp_path / "landed" / "tmp").iterdir())


def test_zip_bomb_traversal_symlink_and_count_caps(tmp_path):
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", GOOD)
    zip_with(inbox / "m1" / "bomb.zip", [("big.jsonl", b"\n" * 3_000_000)])
    zip_with(inbox / "m2" / "slip.zip", [("a/../../x.jsonl", b"{}\n")])
    zip_with(inbox / "m3" / "link.zip", [("ok.jsonl", b"{}\n")], symlink="l.jsonl")
    zip_with(inbox / "m4" / "many.zip", [(f"f{i}.jsonl", b"{}\n") for i in range(30)])
    limits = Limits(max_expanded_bytes=1_000_000, max_members=20)
    got = outcomes(land_inbox(str(inbox), tmp_path / "landed", limits=limits))
    assert got["alice/ccviewer__1af7fc5e.jsonl"] == ("landed", None)
    assert got["m1/bomb.zip"][0] == "refused" and "over the cap" in got["m1/bomb.zip"][1]
    assert "path traversal" in got["m2/slip.zip"][1]
    assert "link in archive" in got["m3/link.zip"][1]
    assert "too many files" in got["m4/many.zip"][1]


def test_tar_of_directory_entries_is_refused_before_reading_them_all(tmp_path):
    """Directory headers compress to almost nothing (200k of them: a 0.9 MB .tar.gz, 3.6 s and
    100 MB of memory to list); counted like files, they stop at the member cap."""
    dirs = []
    for i in range(30):
        info = file_info(f"d{i}/")
        info.type = tarfile.DIRTYPE
        dirs.append((info, None))
    inbox = tmp_path / "inbox"
    tar_with(inbox / "mallory" / "dirs.tar.gz", [*dirs, (file_info("a.jsonl"), GOOD.read_bytes())])
    got = outcomes(land_inbox(str(inbox), tmp_path / "landed", limits=Limits(max_entries=20)))
    outcome, why = got["mallory/dirs.tar.gz"]
    assert outcome == "refused" and "too many members" in why


def test_tar_with_a_huge_long_name_header_is_refused_without_reading_it(tmp_path):
    """tarfile reads a GNU long-name or pax header into memory whole: 200 MB of it compress
    to 0.9 MB. Such headers are refused past a small cap."""
    longname = file_info("././@LongLink")
    longname.type = tarfile.GNUTYPE_LONGNAME
    longname.size = 8 * 2**20
    path = tmp_path / "inbox" / "mallory" / "longname.tar.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wb", compresslevel=1) as gz:
        gz.write(longname.tobuf(format=tarfile.USTAR_FORMAT))
        gz.write(b"a" * longname.size + bytes(1024))
    pax = file_info("a.jsonl")
    pax.pax_headers = {"comment": "x" * 3 * 2**20}
    big_pax = tmp_path / "inbox" / "mallory" / "pax.tar.gz"
    with tarfile.open(big_pax, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        data = GOOD.read_bytes()
        pax.size = len(data)
        tar.addfile(pax, io.BytesIO(data))
    got = outcomes(land_inbox(str(tmp_path / "inbox"), tmp_path / "landed"))
    for name in ("longname.tar.gz", "pax.tar.gz"):
        outcome, why = got[f"mallory/{name}"]
        assert outcome == "refused" and "extended header of" in why, (name, why)


def test_zip_with_lying_sizes_is_stopped_while_streaming(tmp_path):
    """A header may claim a small size; the bytes actually produced are counted."""
    from tracelab_pipeline.landing.archives import RefusedArchive, iter_archive

    path = zip_with(tmp_path / "a.zip", [("a.jsonl", b"x" * 5000), ("b.jsonl", b"y" * 5000)])
    with pytest.raises(RefusedArchive, match="cap"):
        for _, stream in iter_archive(str(path), Limits(max_expanded_bytes=20_000)):
            # shrink the budget mid-way to stand in for a header that under-reports
            stream._budget.left = 100
            stream.read()


def test_archive_members_of_other_types_are_skipped_with_reason(tmp_path):
    inbox = tmp_path / "inbox"
    zip_with(
        inbox / "alice" / "mixed.zip",
        [("logs/s.jsonl", GOOD.read_bytes()), ("README.md", b"hi"), ("inner.zip", b"PK")],
    )
    report = land_inbox(str(inbox), tmp_path / "landed")
    (drop,) = report.drops
    assert drop["outcome"] == "landed" and drop["files_landed"] == 1 and drop["files_skipped"] == 2
    assert "not taken" in drop["reason"]
    with Registry(tmp_path / "landed") as reg:
        members = {m["member"]: (m["outcome"], m["reason"]) for m in reg.drop_members()}
    assert members["inner.zip"] == ("skipped", "nested archives are not opened")
    assert members["README.md"][0] == "skipped"


def test_handles_and_member_paths():
    assert is_valid_handle("alice") and is_valid_handle("bob-2.x_y")
    for bad in ("", "Alice", "a|b", "a/b", "-x", "a..b", "x" * 65, "a b"):
        assert not is_valid_handle(bad)
    assert member_path_problem("a/b.jsonl") is None
    assert "absolute" in member_path_problem("C:/x.jsonl")
    assert "traversal" in member_path_problem("a\\..\\..\\x.jsonl")


def test_time_budget_leaves_the_rest_for_the_next_call(tmp_path):
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", *CLAUDE[:3])
    first = land_inbox(str(inbox), tmp_path / "landed", budget_s=1e-9)
    assert len(first.drops) == 1 and first.pending == 2
    rest = land_inbox(str(inbox), tmp_path / "landed")
    assert len(rest.drops) == 2 and rest.pending == 0


def _corrupt_archives(dest: Path) -> dict[str, str]:
    """Drops whose compressed data is damaged: each is refused, none stops the landing."""
    data = GOOD.read_bytes()
    dest.mkdir(parents=True)
    # A good start (incompressible, so the first reads succeed), then a deflate block of the
    # reserved type 3: zlib.error, not a TarError, once tarfile reads that far.
    noise = random.Random(0).randbytes(200_000)
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as tar:
        info = file_info("a.jsonl")
        info.size = len(noise)
        tar.addfile(info, io.BytesIO(noise))
    packer = zlib.compressobj(wbits=31)
    head = packer.compress(tarred.getvalue()[:100_000]) + packer.flush(zlib.Z_FULL_FLUSH)
    (dest / "flip.tar.gz").write_bytes(head + b"\x07" + bytes(512))
    zipped = zip_with(dest / "flip.zip", [("a.jsonl", data)])
    raw = bytearray(zipped.read_bytes())
    raw[30 + len("a.jsonl")] = 0x07  # first byte of the member's deflate data: reserved type
    zipped.write_bytes(bytes(raw))
    with tarfile.open(dest / "xz.tar.gz", "w:xz") as tar:  # r:* opens xz whatever the name
        info = file_info("a.jsonl")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    raw = bytearray((dest / "xz.tar.gz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (dest / "xz.tar.gz").write_bytes(bytes(raw))
    # A zip that flags its names as UTF-8 but holds bytes that are not.
    named = zip_with(dest / "badname.zip", [("placeholder.jsonl", data)])
    raw = named.read_bytes().replace(b"placeholder.jsonl", b"placeholde\xff.jsonl")
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature) + offset
        flags = int.from_bytes(raw[at : at + 2], "little") | 0x800
        raw = raw[:at] + flags.to_bytes(2, "little") + raw[at + 2 :]
    named.write_bytes(raw)
    return {
        "flip.tar.gz": "corrupt",
        "flip.zip": "corrupt",
        "xz.tar.gz": "corrupt",
        "badname.zip": "not a readable zip",
    }


def test_corrupt_compressed_archives_are_refused_and_the_rest_lands(tmp_path):
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", GOOD)
    expected = _corrupt_archives(inbox / "mallory")
    got = outcomes(land_inbox(str(inbox), tmp_path / "landed"))
    assert got["alice/ccviewer__1af7fc5e.jsonl"] == ("landed", None)
    for name, reason in expected.items():
        outcome, why = got[f"mallory/{name}"]
        assert outcome == "refused" and reason in why, (name, why)
    assert not list((tmp_path / "landed" / "tmp").iterdir())


def test_names_that_are_not_utf8_are_recorded_and_the_rest_lands(tmp_path):
    """File systems and tar headers hold bytes; the registry holds text."""
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", GOOD)
    data = GOOD.read_bytes()
    (inbox / "bob").mkdir()
    Path(os.fsdecode(bytes(inbox / "bob") + b"/caf\xe9.jsonl")).write_bytes(data)
    stranger = Path(os.fsdecode(bytes(inbox) + b"/j\xe9r"))
    stranger.mkdir()
    (stranger / "x.jsonl").write_bytes(data)
    (inbox / "carol").mkdir()
    with tarfile.open(inbox / "carol" / "t.tar.gz", "w:gz", errors="surrogateescape") as tar:
        info = file_info(os.fsdecode(b"d\xe9j\xe0.jsonl"))
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    got = outcomes(land_inbox(str(inbox), tmp_path / "landed"))
    assert got["alice/ccviewer__1af7fc5e.jsonl"] == ("landed", None)
    assert got["bob/caf\\xe9.jsonl"] == ("landed", None)
    outcome, why = got["j\\xe9r/x.jsonl"]
    assert outcome == "refused" and "invalid contributor handle" in why
    assert got["carol/t.tar.gz"] == ("landed", None)
    with Registry(tmp_path / "landed") as reg:
        members = {m["member"] for m in reg.drop_members()}
    assert "d\\xe9j\\xe0.jsonl" in members
    assert land_inbox(str(inbox), tmp_path / "landed").drops == []


def test_symbolic_links_in_the_inbox_are_refused_with_reason(tmp_path):
    """As in archives: a link could make the lander copy any file it can read."""
    inbox = tmp_path / "inbox"
    copy_into(inbox / "alice", GOOD)
    secret = tmp_path / "elsewhere" / "secret.jsonl"
    copy_into(secret.parent, GOOD)
    (secret.parent / GOOD.name).rename(secret)
    (inbox / "mallory").mkdir()
    (inbox / "mallory" / "s.jsonl").symlink_to(secret)
    (inbox / "mallory" / "logs").symlink_to(secret.parent)
    (inbox / "carol").symlink_to(secret.parent)
    got = outcomes(land_inbox(str(inbox), tmp_path / "landed"))
    assert got["alice/ccviewer__1af7fc5e.jsonl"] == ("landed", None)
    for path in ("mallory/s.jsonl", "mallory/logs", "carol"):
        outcome, why = got[path]
        assert outcome == "refused" and "symbolic link" in why, (path, why)
    with Registry(tmp_path / "landed") as reg:
        assert {f["contributor"] for f in reg.files()} == {"alice"}


def test_a_cut_copy_of_a_landed_log_does_not_supersede_the_whole_one(tmp_path):
    """A later drop of the same log, its gzip cut inside the last line (an interrupted
    upload), read one line less. Counting its unreadable rest as a line tied it with the
    whole log, and the later drop won the tie: the last line was lost."""
    data = GOOD.read_bytes()
    packed = gzip.compress(data)
    cut = next(
        packed[:n]
        for n in range(len(packed) - 9, 0, -1)
        if _readable_lines(packed[:n]) == data.count(b"\n") - 1
    )
    inbox = tmp_path / "inbox"
    (inbox / "alice" / "v1").mkdir(parents=True)
    (inbox / "alice" / "v1" / f"{GOOD.name}.gz").write_bytes(packed)
    land_inbox(str(inbox), tmp_path / "landed")
    (inbox / "alice" / "v2").mkdir()
    (inbox / "alice" / "v2" / f"{GOOD.name}.gz").write_bytes(cut)
    report = land_inbox(str(inbox), tmp_path / "landed")
    assert outcomes(report)[f"alice/v2/{GOOD.name}.gz"][0] == "landed"
    with Registry(tmp_path / "landed") as reg:
        status = {Path(f["object_path"]).read_bytes(): f["status"] for f in reg.files()}
    assert status == {packed: "active", cut: "superseded"}


def test_a_plain_copy_cut_inside_its_last_line_does_not_supersede_the_whole_one(tmp_path):
    data = GOOD.read_bytes()
    cut = data[: data.rstrip(b"\n").rfind(b"\n") + 40]  # inside the last record
    inbox = tmp_path / "inbox"
    (inbox / "alice" / "v1").mkdir(parents=True)
    (inbox / "alice" / "v1" / GOOD.name).write_bytes(data)
    land_inbox(str(inbox), tmp_path / "landed")
    (inbox / "alice" / "v2").mkdir()
    (inbox / "alice" / "v2" / GOOD.name).write_bytes(cut)
    land_inbox(str(inbox), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:
        status = {Path(f["object_path"]).read_bytes(): f["status"] for f in reg.files()}
    assert status == {data: "active", cut: "superseded"}


def _readable_lines(packed: bytes) -> int:
    lines = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(packed)) as f:
            for _ in f:
                lines += 1
    except EOFError:
        pass
    return lines


def test_a_grown_pre_envelope_rollout_supersedes_its_older_copy(tmp_path):
    """A rollout of mid 2025 names its session only in its bare header line; without it the
    scan found no session, so every copy of the file stayed current and was read again."""
    header = {"id": "5973b6c0-94b8-487b-a530-2aeb6098ae0e", "timestamp": "2025-06-07T17:24:21Z"}
    header |= {"instructions": None, "git": {"branch": "main"}}
    lines = [header, {"record_type": "state"}, {"type": "message", "role": "user", "content": []}]
    lines = [(json.dumps(r) + "\n").encode() for r in lines]
    name = "rollout-2025-06-07T17-24-21-5973b6c0-94b8-487b-a530-2aeb6098ae0e.jsonl"
    inbox = tmp_path / "inbox"
    (inbox / "alice" / "v1").mkdir(parents=True)
    (inbox / "alice" / "v1" / name).write_bytes(b"".join(lines[:2]))
    land_inbox(str(inbox), tmp_path / "landed")
    (inbox / "alice" / "v2").mkdir()
    (inbox / "alice" / "v2" / name).write_bytes(b"".join(lines))
    land_inbox(str(inbox), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:
        assert {f["lines"]: f["status"] for f in reg.files()} == {2: "superseded", 3: "active"}


def test_a_log_naming_no_session_is_scanned_once(tmp_path, monkeypatch):
    """Rows from before the registry recorded sessions are scanned again once; a log that
    names none (a summary-only Claude Code file) is not one of them."""
    from tracelab_pipeline.landing import land

    scanned = []
    real_scan = land.scan_log
    monkeypatch.setattr(land, "scan_log", lambda p, *a: scanned.append(p) or real_scan(p, *a))
    inbox = tmp_path / "inbox" / "alice"
    inbox.mkdir(parents=True)
    (inbox / "summary.jsonl").write_bytes(b'{"type":"summary","summary":"x","leafUuid":"u"}\n')
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    copy_into(inbox, GOOD)
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    assert len(scanned) == 2  # each file once, when it lands
