"""The report's data-quality section: numbers that match the accounting Parquet, injected bad
lines shown by reason, landing counts, and no raw content (e-mail, path, id, handle) in it."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tracelab_pipeline.cli import main

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
HANDLE = "maria-handle"
EMAIL = "maria.secret@example.com"
SECRET_DIR = "/home/maria/secret-project"
RAW_ID = "sess-LEAKID-98765"
NEEDLES = (EMAIL, "maria.secret", SECRET_DIR, "secret-project", "LEAKID", "98765", HANDLE)


def bad_log(path: Path) -> Path:
    """A real Claude Code log with four bad lines appended: a timestamp that is an e-mail, a
    message role that is a path, malformed JSON holding a raw id and a path, a cut last line."""
    lines = [
        json.dumps(
            {"type": "assistant", "timestamp": EMAIL, "message": {"role": "assistant", "id": "m"}}
        ),
        json.dumps(
            {
                "type": "assistant",
                "timestamp": "2025-09-20T10:00:00Z",
                "message": {"role": f"{SECRET_DIR}/notes.txt", "id": "m2"},
            }
        ),
        f'{{"sessionId": "{RAW_ID}", "cwd": "{SECRET_DIR}" broken',
    ]
    real = (REAL / "claude" / "ccviewer__fe5e1c67.jsonl").read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(real + ("\n".join(lines) + "\n").encode() + b'{"type": "user", "cut')
    return path


def public_warehouse(files: list[Path], public: Path):
    """`files` of HANDLE through the real anonymize stage (Presidio, keyed pseudonyms) into the
    public layout, as month 2025-09, and a warehouse on it: (connection, private tables,
    pseudonym)."""
    from tracelab_pipeline.anonymize import Pseudonymizer, Scrubber, anonymize_partition
    from tracelab_pipeline.anonymize.public_store import publish
    from tracelab_pipeline.normalize import normalize_files
    from tracelab_pipeline.warehouse import build_warehouse

    private = normalize_files(files, HANDLE).tables()
    pseudonymizer = Pseudonymizer(b"report-quality-test-key")
    anonymized = anonymize_partition(private, pseudonymizer, Scrubber([HANDLE])).tables
    (pseudonym,) = set(anonymized["ingest_accounting"].column("contributor").to_pylist())
    publish(anonymized, public, "2025-09", pseudonym, pseudonymizer.fingerprint)
    con = duckdb.connect()
    build_warehouse(con, public)
    return con, private, pseudonym


EXPECTED_REASONS = {
    "unparseable timestamp <VALUE>": 1,
    "assistant record with message role <VALUE>": 1,
    "malformed JSON": 1,
    "truncated last line (file still being written?)": 1,
}


def md_table(md: str, header_start: str) -> list[list[str]]:
    """The body rows of the first Markdown table whose header starts with `header_start`."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header_start}"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def section(md: str) -> str:
    return md[md.index("## Data quality") :]


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


def expected_by_provider(accounting) -> dict[str, list[int]]:
    """Per provider from the accounting Parquet, computed here row by row (not with SQL)."""
    out: dict[str, list[int]] = {}
    for r in accounting.to_pylist():
        p = out.setdefault(r["provider"] or "(not detected)", [0] * 8)
        for i, key in enumerate(("lines_read", "records_used", "records_ignored")):
            p[i + 1] += r[key]
        p[0] += 1
        p[4] += r["records_rejected"]
        p[5] += r["records_rejected"] > 0
        p[6] += r["error"] is not None
        p[7] += r["steps"] == 0 and r["duplicate_steps"] == 0 and r["error"] is None
    return out


def assert_matches(md: str, accounting) -> None:
    want = expected_by_provider(accounting)
    lines = {r[0]: [number(c) for c in r[1:6]] for r in md_table(md, "Provider | Files |")}
    files = {r[0]: [number(c) for c in r[1:]] for r in md_table(md, "Provider | Files with")}
    for provider, w in want.items():
        assert lines[provider] == w[:5], provider
        assert files[provider] == w[5:], provider
    assert lines["Total"] == [sum(w[i] for w in want.values()) for i in range(5)]
    reasons: Counter = Counter()
    for r in accounting.to_pylist():
        for reason, n in r["rejected_by_reason"]:
            reasons[reason] += n
    shown = {r[0]: number(r[1]) for r in md_table(md, "Reason | Lines")}
    assert sum(shown.values()) == sum(reasons.values())
    ignored: Counter = Counter()
    for r in accounting.to_pylist():
        for kind, n in r["ignored_by_type"]:
            ignored[kind] += n
    shown_ignored = {r[0]: number(r[1]) for r in md_table(md, "Record type | Lines")}
    top, count = ignored.most_common(1)[0]
    assert shown_ignored[top] == count
    assert sum(shown_ignored.values()) == sum(ignored.values())


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`tracelab normalize` (not anonymized: raw reasons, a handle) then `tracelab metrics`."""
    tmp = tmp_path_factory.mktemp("cli")
    logs = tmp / "logs"
    bad_log(logs / "claude" / "bad.jsonl")
    codex = REAL / "codex" / "tracelab__codex-example-segment.jsonl"
    (logs / "codex").mkdir()
    (logs / "codex" / codex.name).write_bytes(codex.read_bytes())
    (logs / "empty.jsonl").write_bytes(b"\n\n")
    out = tmp / "out"
    runner = CliRunner()
    normalized = runner.invoke(
        main, ["normalize", str(logs), "--out", str(out), "--contributor", HANDLE]
    )
    assert normalized.exit_code == 0, normalized.output
    metrics = runner.invoke(main, ["metrics", "--public", str(out), "--data", str(out)])
    assert metrics.exit_code == 0, metrics.output
    return tmp, out


def test_cli_report_numbers_match_the_accounting_parquet(cli_run):
    _, out = cli_run
    md = (out / "report" / "report.md").read_text()
    accounting = pq.read_table(out / "ingest_accounting.parquet")
    assert_matches(section(md), accounting)
    # the injected lines, by their reason with the raw value cut out, one file with rejections
    shown = {r[0]: number(r[1]) for r in md_table(section(md), "Reason | Lines")}
    assert shown == EXPECTED_REASONS
    assert md_table(section(md), "Provider | Files with")[-1][1] == "1"
    assert pq.read_table(out / "rejected_records.parquet").num_rows == 4
    assert "4 rejected lines are in rejected_records" in md
    # not the anonymized layer: the contributor is a handle, so no per-contributor table
    assert "Per contributor: not shown" in md
    assert "No landing registry with this data" in md


def test_cli_report_shows_no_raw_content_of_rejected_lines(cli_run):
    tmp, out = cli_run
    for name in ("report.md", "report.html"):
        text = (out / "report" / name).read_text()
        for needle in (*NEEDLES, str(tmp), "bad.jsonl"):
            assert needle not in text, (name, needle)
    # ... although the private normalize output holds them all (the test would catch a leak)
    raw = pq.read_table(out / "rejected_records.parquet").to_pylist()
    assert any(EMAIL in r["reason"] for r in raw) and any(RAW_ID in (r["raw"] or "") for r in raw)


def test_public_layer_report_has_contributor_pseudonyms_and_no_raw_content(tmp_path):
    """Through the real anonymize stage (Presidio, keyed pseudonyms) into the public layout."""
    from tracelab_pipeline.metrics import build_all_tables
    from tracelab_pipeline.report import build_report

    files = [bad_log(tmp_path / "in" / "bad.jsonl"), REAL / "claude" / "ccviewer__5c0375b4.jsonl"]
    con, _, pseudonym = public_warehouse(files, tmp_path / "public")
    build_all_tables(con)
    report = build_report(con, tmp_path / "data", compare=False)
    md = report.markdown
    accounting = pq.read_table(
        tmp_path / "public" / "ingest_accounting" / "month=2025-09" / f"contributor={pseudonym}"
    )
    assert_matches(section(md), accounting)
    (row,) = md_table(section(md), "Contributor | Files")
    assert row[0] == pseudonym and number(row[5]) == 4
    assert report.quality.by_contributor[pseudonym]["rejected"] == 4
    shown = {r[0] for r in md_table(section(md), "Reason | Lines")}
    assert shown == set(EXPECTED_REASONS)
    for text in (md, report.html):
        for needle in (*NEEDLES, str(tmp_path)):
            assert needle not in text, needle


def test_landing_counts_are_integers_that_match_the_registry(tmp_path):
    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.report import build_report
    from tracelab_pipeline.warehouse import build_warehouse

    inbox = tmp_path / "inbox"
    bad_log(inbox / HANDLE / "bad.jsonl")
    (inbox / HANDLE / "secret-notes.txt").write_text("not a log")
    (inbox / HANDLE / "no-time.jsonl").write_text('{"hello": "world"}\n')
    (inbox / "loose-file.jsonl").write_text("{}\n")
    (inbox / HANDLE / "empty.jsonl").write_bytes(b"")
    landed = tmp_path / "landed"
    land_inbox(str(inbox), landed)
    db = sqlite3.connect(landed / "registry.sqlite")
    drops = dict(db.execute("SELECT outcome, count(*) FROM drops GROUP BY 1").fetchall())
    files = dict(db.execute("SELECT status, count(*) FROM files GROUP BY 1").fetchall())
    db.close()
    assert files == {"active": 1, "unplaced": 1}
    con = duckdb.connect()
    build_warehouse(con, tmp_path / "no-public")
    report = build_report(con, tmp_path / "data", compare=False, landed_dir=landed)
    rows = dict(md_table(section(report.markdown), "Upload or file"))
    assert number(rows["Inbox drops (uploads)"]) == sum(drops.values()) == 5
    not_landed = sum(drops.values()) - drops.get("landed", 0) - drops.get("duplicate", 0)
    assert rows["… not landed (refused, unsupported type, empty, no logs, other)"] == (
        f"{not_landed} ({drops.get('refused', 0)}, {drops.get('unsupported', 0)}, "
        f"{drops.get('empty', 0)}, 0, 0)"
    )
    assert not_landed == 3
    assert number(rows["Landed files in no partition (no timestamp: never read)"]) == 1
    # registry counts are current, line counts the public layer's: a blocked rebuild splits them
    assert "where a contributor-month whose rebuild a check blocked" in section(report.markdown)
    for text in (report.markdown, report.html):
        for needle in (HANDLE, "secret-notes", "no-time", "loose-file", str(tmp_path)):
            assert needle not in text, needle


def test_report_rebuilds_when_the_warehouse_or_the_landing_changes(tmp_path):
    """The report asset reads the warehouse's accounting and the landing's counts directly:
    both are its dependencies, and an update of either requests it."""
    from assets.report import report
    from assets.warehouse import warehouse
    from tracelab_pipeline.orchestration.resources import build_resources

    deps = report.dependency_keys
    assert {dg.AssetKey("warehouse"), dg.AssetKey("landed_files")} <= deps
    defs = dg.Definitions(assets=[warehouse, report], resources=build_resources(data_dir=tmp_path))
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        dg.materialize([warehouse], instance=instance, resources=defs.resources)
        second = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=first.cursor
        )
        assert second.get_num_requested(dg.AssetKey("report")) == 1
        third = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=second.cursor
        )
        assert third.get_num_requested(dg.AssetKey("report")) == 0
        instance.report_runless_asset_event(dg.AssetMaterialization("landed_files"))
        fourth = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=third.cursor
        )
        assert fourth.get_num_requested(dg.AssetKey("report")) == 1


def test_a_first_landing_does_not_request_the_report_before_any_warehouse(tmp_path):
    """On a fresh instance the inbox sensor's first landing updates landed_files minutes
    before any partition is published: the report alone then read a warehouse that did not
    exist and its run failed ('Table with name steps does not exist'). It waits for one."""
    from assets.report import report
    from assets.warehouse import warehouse
    from tracelab_pipeline.orchestration.resources import build_resources

    defs = dg.Definitions(assets=[warehouse, report], resources=build_resources(data_dir=tmp_path))
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        instance.report_runless_asset_event(dg.AssetMaterialization("landed_files"))
        second = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=first.cursor
        )
        assert second.get_num_requested(dg.AssetKey("report")) == 0
        dg.materialize([warehouse], instance=instance, resources=defs.resources)
        third = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=second.cursor
        )
        assert third.get_num_requested(dg.AssetKey("report")) == 1


def test_clean_label_keeps_reason_names_and_cuts_raw_values():
    from tracelab_pipeline.report.quality import clean_label

    kept = (
        "malformed JSON",
        "timestamp before 2023-01-01",
        "absurd last_token_usage.input_tokens (> 1e12)",
        "response_item.message(role=developer)",
        "cannot read: <PATH>",
    )
    for text in kept:
        assert clean_label(text) == text
    assert clean_label(f"unreadable record (ValueError: {EMAIL} at {SECRET_DIR})") == (
        "unreadable record (ValueError: <VALUE> at <VALUE>)"
    )
    assert clean_label(f"role {RAW_ID} / 1234567 / C:\\Users\\maria") == (
        "role <VALUE> <VALUE> <VALUE> <VALUE> <VALUE>"
    )
    assert clean_label("x\ny 'it''s'" + "z" * 200).endswith("…")


def test_demo_report_shows_bad_input_through_the_whole_dagster_graph(tmp_path, monkeypatch):
    """`tracelab demo` on an inbox with a log holding bad lines and an unsupported upload:
    land, normalize, anonymize, warehouse, tables, report in a real Dagster instance."""
    import pyarrow as pa

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("TRACELAB_DATA_DIR", str(tmp_path / "unused"))
    monkeypatch.delenv("TRACELAB_INBOX", raising=False)
    data = tmp_path / "data"
    bad_log(data / "inbox" / HANDLE / "bad.jsonl")
    (data / "inbox" / HANDLE / "secret-notes.txt").write_text(EMAIL)
    codex = REAL / "codex" / "tracelab__codex-example-segment.jsonl"
    (data / "inbox" / "bob").mkdir()
    (data / "inbox" / "bob" / codex.name).write_bytes(codex.read_bytes())
    result = CliRunner().invoke(main, ["demo", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    md = (data / "report" / "report.md").read_text()
    accounting = pa.concat_tables(
        pq.read_table(p) for p in sorted((data / "public" / "ingest_accounting").rglob("*.parquet"))
    )
    assert_matches(section(md), accounting)
    contributors = md_table(section(md), "Contributor | Files")
    assert len(contributors) == 2 and all(r[0].startswith("usr_") for r in contributors)
    assert {r[0]: number(r[1]) for r in md_table(section(md), "Reason | Lines")} == (
        EXPECTED_REASONS
    )
    landing = dict(md_table(section(md), "Upload or file"))
    assert landing["Inbox drops (uploads)"] == "3"
    assert landing["… not landed (refused, unsupported type, empty, no logs, other)"] == (
        "1 (0, 1, 0, 0, 0)"
    )
    for name in ("report.md", "report.html"):
        text = (data / "report" / name).read_text()
        for needle in (*NEEDLES, "secret-notes", str(tmp_path)):
            assert needle not in text, (name, needle)


def test_the_demo_summary_and_the_report_count_the_same_registry_alike(tmp_path):
    """Both read the landing registry (landing/counts.py): the summary's split (files new,
    already landed, skipped or unreadable; drops not landed; unplaced; superseded) adds up to
    the report's rows on an inbox with every outcome."""
    import re
    import tarfile

    from landing_helpers import file_info, tar_with

    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.orchestration.demo import DemoResult
    from tracelab_pipeline.orchestration.demo_summary import summarize
    from tracelab_pipeline.report import build_report
    from tracelab_pipeline.warehouse import build_warehouse

    inbox, data = tmp_path / "inbox", tmp_path / "data"
    log = bad_log(inbox / HANDLE / "bad.jsonl")
    (inbox / HANDLE / "copy.jsonl").write_bytes(log.read_bytes())  # already landed
    (inbox / HANDLE / "notes.txt").write_text("not a log")  # unsupported
    (inbox / HANDLE / "no-time.jsonl").write_text('{"hello": "world"}\n')  # unplaced
    (inbox / "loose-file.jsonl").write_text("{}\n")  # refused: no contributor directory
    shorter = b"".join(log.read_bytes().splitlines(keepends=True)[:-3])  # an older version
    tar_with(  # a member that is no log (skipped) beside a log
        inbox / HANDLE / "logs.tar.gz",
        [(file_info("a/readme.md"), b"hello"), (file_info("a/bad.jsonl"), shorter)],
    )
    assert tarfile.is_tarfile(inbox / HANDLE / "logs.tar.gz")
    land_inbox(str(inbox), data / "landed")

    text = summarize(DemoResult(data_dir=data, dagster_home=data / "dagster_home"))
    landed = re.search(
        r"landed so far: (\d+) inbox drop\(s\); files: (\d+) new, (\d+) already landed, "
        r"(\d+) skipped or unreadable; (\d+) replaced",
        text,
    )
    bad = re.search(r"bad input: (\d+) inbox drop\(s\) not landed, (\d+) landed file", text)
    drops, new, again, other, superseded = map(int, landed.groups())
    not_landed, unplaced = map(int, bad.groups())

    con = duckdb.connect()
    build_warehouse(con, tmp_path / "no-public")
    report = build_report(con, data, compare=False, landed_dir=data / "landed")
    rows = {k: v for k, v in md_table(section(report.markdown), "Upload or file")}
    assert number(rows["Inbox drops (uploads)"]) == drops == 6
    assert rows["… not landed (refused, unsupported type, empty, no logs, other)"].startswith(
        f"{not_landed} ("
    )
    assert not_landed == 2
    taken = (
        "Files in drops not taken: unreadable",
        "Files in drops not taken: skipped (not a log)",
    )
    assert sum(number(rows[k]) for k in taken) == other == 1
    assert number(rows["Landed files in no partition (no timestamp: never read)"]) == unplaced == 1
    assert (
        number(rows["Landed files superseded by a longer copy of the same log"]) == superseded == 1
    )
    assert new == 3 and again == 0  # copy.jsonl is a duplicate drop, not a member


def test_flagged_records_are_counted_per_flag_and_provider_in_the_public_report(tmp_path):
    """What a reader flags but does not reject (a Claude usage summing several model calls, Codex
    events after the last token count) was in the accounting and nowhere in the report."""
    from test_client_formats_2026 import ADVISOR_USAGE, assistant, claude, write

    from tracelab_pipeline.report import build_report

    summed = write(
        tmp_path / "in" / "advisor.jsonl",
        [
            claude(1, "user", message={"role": "user", "content": "plan it"}, promptId="p1"),
            assistant(2, "msg_A", [{"type": "text", "text": "done"}], ADVISOR_USAGE, "end_turn"),
        ],
    )
    files = [summed, REAL / "codex" / "trezo-ai__codex-session.jsonl"]
    con, private, _ = public_warehouse(files, tmp_path / "public")
    md = section(build_report(con, tmp_path / "data", compare=False).markdown)

    expected: Counter = Counter()  # (flag, provider) -> records, from the private accounting
    for r in private["ingest_accounting"].to_pylist():
        for flag, n in r["flagged_by_reason"] or ():
            expected[flag, r["provider"]] += n
    assert expected[
        "claude: usage sums several model calls (usage.iterations), kept as one step", "claude"
    ]
    assert expected["events dropped at end of file (no closing token_count)", "codex"] == 9
    header = next(line for line in md.splitlines() if line.startswith("| Flag |"))
    providers = [c.strip() for c in header.strip("|").split("|")][1:-1]
    shown = {
        (row[0], provider): number(cell)
        for row in md_table(md, "Flag |")
        for provider, cell in zip(providers, row[1:-1], strict=True)
        if number(cell)
    }
    assert shown == dict(expected)
    for needle in (HANDLE, str(tmp_path), "advisor.jsonl", "trezo"):
        assert needle not in md, needle
