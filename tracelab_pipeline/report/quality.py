"""The report's data-quality section: what happened to every line read, from the warehouse's
public `ingest_accounting` (its rejected, ignored and flagged counts) and `rejected_records`, plus
integer counts from the landing registry (landing/counts.py).

Nothing here shows a raw id, path, handle or line. The warehouse holds no path or raw line
(public schema), but its labels may still come from a `tracelab normalize` output, which is not
anonymized: a reason quotes the raw value it rejected (`unparseable timestamp '...'`) and the
contributor is a handle. So every label is cleaned again here (quoted values and anything
shaped like an address, a path or an id become <VALUE>), and contributors are listed only when
they are keyed pseudonyms. From the landing registry only counts per fixed outcome are taken.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tracelab_pipeline.anonymize.pseudonyms import PSEUDONYM_RE
from tracelab_pipeline.landing.counts import drops_not_landed, landing_counts

TOP = 10
TOP_CONTRIBUTORS = 20
MAX_LABEL = 100
NO_PROVIDER = "(not detected)"

# A quoted run ('...' or "...", with escapes), as repr() writes the raw value into a reason.
_QUOTED = re.compile(r"(?<![A-Za-z0-9])(?:'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")")
_ID_LIKE = re.compile(r"[A-Za-z0-9_-]{12,}")


def _risky(token: str) -> bool:
    """A token that may hold raw content: an address or a path (@ / \\), or an id (five digits
    in a row, or a run of 12+ letters, digits, '_' and '-' with a digit in it)."""
    if any(c in token for c in "@/\\") or re.search(r"\d{5}", token):
        return True
    return any(any(c.isdigit() for c in run) for run in _ID_LIKE.findall(token))


def _clean_token(token: str) -> str:
    core = token.rstrip(")],;")  # punctuation of the reason around the value stays
    return "<VALUE>" + token[len(core) :] if _risky(core) else token


def clean_label(text: str | None) -> str:
    """A reason or record type as the report may print it (see the module docstring)."""
    if text is None:
        return "(none)"
    text = _QUOTED.sub("<VALUE>", " ".join(str(text).split()))
    text = " ".join(_clean_token(token) for token in text.split(" "))
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


@dataclass
class Quality:
    """The section's numbers (also returned with the report, for callers and tests)."""

    available: bool = False
    # provider -> files, lines_read, used, ignored, rejected, files_with_rejections,
    # unreadable_files, logs_without_steps
    by_provider: dict[str, dict[str, int]] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    # pseudonym -> files, lines_read, used, ignored, rejected; None: not pseudonyms, not shown
    by_contributor: dict[str, dict[str, int]] | None = None
    contributors: int = 0
    # (label, lines, files), most lines first
    rejected_reasons: list[tuple[str, int, int]] = field(default_factory=list)
    ignored_types: list[tuple[str, int]] = field(default_factory=list)  # label, lines
    rejected_rows_kept: int = 0
    # What the readers flagged but did not reject (ingest_accounting.flagged_by_reason):
    # (label, provider -> count, files), largest first
    flags: list[tuple[str, dict[str, int], int]] = field(default_factory=list)
    landing: dict[str, dict[str, int]] | None = None


COUNTS = """
    count(*) AS files,
    coalesce(sum(lines_read), 0) AS lines_read,
    coalesce(sum(records_used), 0) AS used,
    coalesce(sum(records_ignored), 0) AS ignored,
    coalesce(sum(records_rejected), 0) AS rejected,
    count(*) FILTER (records_rejected > 0) AS files_with_rejections,
    count(error) AS unreadable_files,
    count(*) FILTER (steps = 0 AND duplicate_steps = 0 AND error IS NULL) AS logs_without_steps
"""


def _dicts(cur) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _merged(rows, top: int) -> list[tuple]:
    """(raw label, lines, file no, provider) rows (`_entries`) -> (clean label, lines, files)
    by lines, top first: labels equal once cleaned count together."""
    lines: Counter = Counter()
    files: dict[str, set] = {}
    for label, n, file_no, _ in rows:
        label = clean_label(label)
        lines[label] += int(n)
        files.setdefault(label, set()).add(file_no)
    ranked = sorted(lines.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(label, n, len(files[label])) for label, n in ranked[:top]] + (
        [("(other)", sum(n for _, n in ranked[top:]), 0)] if len(ranked) > top else []
    )


def data_quality(con: duckdb.DuckDBPyConnection, landed_dir: str | Path | None) -> Quality:
    q = Quality(landing=landing_counts(landed_dir))
    try:
        con.execute("SELECT 1 FROM ingest_accounting LIMIT 0")
    except duckdb.CatalogException:
        return q  # a warehouse built before the accounting was loaded into it
    q.available = True
    rows = _dicts(
        con.execute(
            f"SELECT coalesce(provider, '{NO_PROVIDER}') AS provider, {COUNTS} "
            "FROM ingest_accounting GROUP BY 1 ORDER BY 1"
        )
    )
    q.by_provider = {clean_label(r.pop("provider")): r for r in rows}
    q.total = _dicts(con.execute(f"SELECT {COUNTS} FROM ingest_accounting"))[0]
    contributors = [
        c for (c,) in con.execute("SELECT DISTINCT contributor FROM ingest_accounting").fetchall()
    ]
    q.contributors = len(contributors)
    if all(c is not None and PSEUDONYM_RE.match(c) for c in contributors):
        rows = _dicts(
            con.execute(
                f"SELECT contributor, {COUNTS} FROM ingest_accounting GROUP BY 1 "
                "ORDER BY rejected DESC, lines_read DESC, contributor LIMIT ?",
                [TOP_CONTRIBUTORS],
            )
        )
        q.by_contributor = {r.pop("contributor"): r for r in rows}
    q.rejected_reasons = _merged(_entries(con, "rejected_by_reason"), TOP)
    ignored = _merged(_entries(con, "ignored_by_type"), TOP)
    q.ignored_types = [(label, n) for label, n, _ in ignored]
    q.rejected_rows_kept = con.execute("SELECT count(*) FROM rejected_records").fetchone()[0]
    q.flags = _flags(_entries(con, "flagged_by_reason"))
    return q


def _entries(con: duckdb.DuckDBPyConnection, column: str) -> list[tuple]:
    """(raw label, count, file no, provider) for every positive entry of the map `column` of
    ingest_accounting."""
    return con.execute(
        f"""
        WITH numbered AS (
            SELECT row_number() OVER () AS file_no, coalesce(provider, ?) AS provider,
                {column} AS m
            FROM ingest_accounting
        ), entries AS (SELECT file_no, provider, unnest(map_entries(m)) AS e FROM numbered)
        SELECT e.key, e.value, file_no, provider FROM entries WHERE e.value > 0
        """,
        [NO_PROVIDER],
    ).fetchall()


def _flags(rows: list[tuple]) -> list[tuple[str, dict[str, int], int]]:
    """Flag labels (cleaned, as every label here) with records per provider and files, by
    records, the TOP first and the rest summed as "(other)"."""
    by_label: dict[str, Counter] = {}
    files: dict[str, set] = {}
    for label, n, file_no, provider in rows:
        label = clean_label(label)
        by_label.setdefault(label, Counter())[clean_label(provider)] += int(n)
        files.setdefault(label, set()).add(file_no)
    ranked = sorted(by_label, key=lambda k: (-sum(by_label[k].values()), k))
    out = [(k, dict(by_label[k]), len(files[k])) for k in ranked[:TOP]]
    if len(ranked) > TOP:
        rest: Counter = Counter()
        for k in ranked[TOP:]:
            rest.update(by_label[k])
        out.append(("(other)", dict(rest), len(set().union(*(files[k] for k in ranked[TOP:])))))
    return out


LINE_COLUMNS = ["Files", "Lines read", "Used", "Ignored", "Rejected", "Rejected %"]
FILE_COLUMNS = ["Files with rejected lines", "Unreadable files", "Logs with no steps"]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "–"


def _line_cells(r: dict) -> list[str]:
    cells = [r["files"], r["lines_read"], r["used"], r["ignored"], r["rejected"]]
    return [f"{int(c):,}" for c in cells] + [_pct(r["rejected"], r["lines_read"])]


def _file_cells(r: dict) -> list[str]:
    keys = ("files_with_rejections", "unreadable_files", "logs_without_steps")
    return [f"{int(r[k]):,}" for k in keys]


def _landing_rows(landing: dict[str, dict[str, int]]) -> list[list[str]]:
    d, m, f = landing["drops"], landing["members"], landing["files"]
    not_landed = drops_not_landed(d)
    return [
        ["Inbox drops (uploads)", f"{sum(d.values()):,}"],
        [
            "… not landed (refused, unsupported type, empty, no logs, other)",
            f"{not_landed:,} ({d['refused']:,}, {d['unsupported']:,}, {d['empty']:,}, "
            f"{d['no_logs']:,}, {d['other']:,})",
        ],
        ["Files in drops not taken: unreadable", f"{m['unreadable']:,}"],
        ["Files in drops not taken: skipped (not a log)", f"{m['skipped']:,}"],
        ["Landed files in no partition (no timestamp: never read)", f"{f['unplaced']:,}"],
        ["Landed files superseded by a longer copy of the same log", f"{f['superseded']:,}"],
        ["Landed files read (active)", f"{f['active']:,}"],
    ]


def _write_flags(w, q: Quality) -> None:
    w.heading(3, "Flagged, not rejected")
    if not q.flags:
        w.para("No record was flagged.")
        return
    w.para(
        "What the readers noted as unusual but did not reject: records kept as they are (e.g. "
        "a Claude usage summing several model calls, kept as one step as TraceLab counts it) "
        "and events dropped with reason (e.g. a Codex file ending after its last token count). "
        "Counts per flag and provider; flags are no lines of their own, so they are not part "
        "of lines read."
    )
    providers = [p for p in q.by_provider if any(p in counts for _, counts, _ in q.flags)]
    body = [
        [label, *(f"{counts.get(p, 0):,}" for p in providers), f"{files:,}"]
        for label, counts, files in q.flags
    ]
    w.table(["Flag", *providers, "Files"], body)


def write_section(w, q: Quality) -> None:
    """The section, on the report's writer (`_Writer` of report/__init__.py)."""
    w.heading(2, "Data quality")
    if not q.available:
        w.para(
            "This warehouse holds no ingest accounting (built by an earlier version): rebuild "
            "it (`tracelab metrics`, or the warehouse asset) to see lines read, used, ignored "
            "and rejected here."
        )
    elif not q.total["files"]:
        w.para(
            "The input holds no ingest accounting (e.g. the synthetic generator's truth): no "
            "line counts to show."
        )
    else:
        t = q.total
        w.para(
            f"Every line of every log read is accounted for: lines read = used + ignored + "
            f"rejected. {t['lines_read']:,} lines in {t['files']:,} files: {t['used']:,} used, "
            f"{t['ignored']:,} ignored (record types without workload content), "
            f"{t['rejected']:,} rejected ({_pct(t['rejected'], t['lines_read'])}). Each "
            "rejected line is kept aside with its file and line, which this report never names "
            "(private/rejected_records in the data directory, or rejected_records.parquet of a "
            "`tracelab normalize` output). "
            + (
                f"{q.rejected_rows_kept:,} rejected lines are in rejected_records."
                if q.rejected_rows_kept == t["rejected"]
                else f"rejected_records holds {q.rejected_rows_kept:,} rows, the accounting "
                f"counts {t['rejected']:,} rejected lines: the layers disagree."
            )
        )
        body = [[p, *_line_cells(r)] for p, r in q.by_provider.items()]
        w.table(["Provider", *LINE_COLUMNS], [*body, ["Total", *_line_cells(t)]])
        body = [[p, *_file_cells(r)] for p, r in q.by_provider.items()]
        w.table(["Provider", *FILE_COLUMNS], [*body, ["Total", *_file_cells(t)]])
        w.para(
            "Unreadable: the file could not be read at all. No steps: read without error but "
            "holding no model call with token usage (e.g. a session that was only opened). A "
            "landed file with no timestamp in it (e.g. a binary file named .jsonl) is never read, "
            "so it is in neither: the Landing rows count it as in no partition."
        )
        if q.by_contributor is not None:
            shown = len(q.by_contributor)
            more = q.contributors - shown
            w.heading(3, "Per contributor (keyed pseudonym)")
            if more > 0:
                w.para(f"The {shown} with the most rejected lines; {more} more not shown.")
            w.table(
                ["Contributor", *LINE_COLUMNS],
                [[c, *_line_cells(r)] for c, r in q.by_contributor.items()],
            )
        else:
            w.para(
                f"Per contributor: not shown, as the {q.contributors} contributor value(s) "
                "are not keyed pseudonyms (input not from the anonymized public layer)."
            )
        w.heading(3, "Top rejection reasons")
        if q.rejected_reasons:
            w.table(
                ["Reason", "Lines", "Files"],
                [[r, f"{n:,}", f"{f:,}" if f else ""] for r, n, f in q.rejected_reasons],
            )
            w.para("A quoted raw value, address, path or id in a reason shows as <VALUE>.")
        else:
            w.para("No line was rejected.")
        w.heading(3, "Top ignored record types")
        if q.ignored_types:
            w.table(["Record type", "Lines"], [[r, f"{n:,}"] for r, n in q.ignored_types])
        else:
            w.para("No line was ignored.")
        _write_flags(w, q)
    w.heading(3, "Landing")
    if q.landing is None:
        w.para(
            "No landing registry with this data: the logs were read directly (`tracelab "
            "normalize`), so there are no uploads or landed files to count."
        )
    else:
        w.para(
            "Counts only, from the landing registry (which drop and why: the landed_files "
            "asset's metadata in Dagster). They are the landing's now; the line counts above "
            "are the public layer's, where a contributor-month whose rebuild a check blocked "
            "keeps its earlier version, so the two can disagree until it is published again."
        )
        w.table(["Upload or file", "Count"], _landing_rows(q.landing))
