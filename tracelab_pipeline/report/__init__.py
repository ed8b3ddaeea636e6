"""The report: every paper table formatted as in the paper, figures beside their tables, and —
when the input is the paper's corpus (TraceLab release or the `paper` synthetic preset) — the
paper's published value beside ours with the difference; then the data's quality (every line
read, used, ignored or rejected, and why; report/quality.py). Written as HTML and Markdown.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from tracelab_pipeline import catalog
from tracelab_pipeline.report.quality import Quality, data_quality, write_section
from tracelab_pipeline.report.tables import COMPARED_AS, VIEWS, comparison, fetch, layout

PAPER_STEPS = 357_161
TOLERANCE_MARK = {True: "ok", False: "off", None: "–"}
# `compare` of build_report by name: the CLIs' --compare and the report asset's config.
COMPARISON_MODES = {"auto": None, "on": True, "off": False}

T = {item.number: item for item in catalog.TABLES}
F = {item.number: item for item in catalog.FIGURES}

# Paper sections, each with its tables and the figures that sit next to them.
SECTIONS: list[tuple[str, list]] = [
    ("Trace overview (paper §3)", [T[1]]),
    ("Sessions and context management (paper §4)", [T[2], T[3], T[4], T[5], T[6], T[7]]),
    ("LLM generation (paper §5)", [T[8], F[1], F[2], T[9], F[3], F[4], F[5], F[6]]),
    ("Tool calls (paper §6)", [F[7], F[8], F[9], T[10]]),
    ("Prefix cache (paper §7)", [T[11], F[10], F[11], T[12], F[12], F[13], T[13]]),
]

# Corrected companions printed right after the paper-compatible table.
COMPANIONS = {"table_05_cost_distribution": ["table_05_cost_distribution_ttl"]}
TITLES = {
    "table_05_cost_distribution_ttl": "Table 5 (corrected) — cost with TTL-aware cache-write "
    "pricing (1 h writes at 2x input)",
    "corrections": "Corrections — paper definition beside the corrected one",
}


@dataclass
class Report:
    markdown: str
    html: str
    compared: bool
    comparisons: dict[str, list[dict]] = field(default_factory=dict)
    figures_found: list[str] = field(default_factory=list)
    figures_missing: list[str] = field(default_factory=list)
    tables_missing: list[str] = field(default_factory=list)
    within_tolerance: tuple[int, int] | None = None
    quality: Quality | None = None
    md_path: Path | None = None
    html_path: Path | None = None


def should_compare(con: duckdb.DuckDBPyConnection, compare: bool | None) -> bool:
    """Explicit choice, else auto: the corpus is paper-sized (within 2x of 357,161 steps)."""
    if compare is not None:
        return compare
    steps = con.execute("SELECT count(*) FROM steps").fetchone()[0]
    return PAPER_STEPS / 2 <= steps <= PAPER_STEPS * 2


class _Writer:
    def __init__(self) -> None:
        self.md: list[str] = []
        self.html: list[str] = []

    def heading(self, level: int, text: str) -> None:
        self.md.append(f"{'#' * level} {text}\n")
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def para(self, text: str) -> None:
        self.md.append(f"{text}\n")
        self.html.append(f"<p>{html.escape(text)}</p>")

    def table(self, header: list[str], body: list[list[str]], css: str = "") -> None:
        self.md.append("| " + " | ".join(header) + " |")
        self.md.append("|" + "|".join("---" for _ in header) + "|")
        for row in body:
            self.md.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
        self.md.append("")
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        rows = []
        for row in body:
            if row[0].startswith("**") and not any(row[1:]):
                rows.append(
                    f'<tr class="block"><td colspan="{len(row)}">'
                    f"{html.escape(row[0].strip('*'))}</td></tr>"
                )
            else:
                rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
        self.html.append(
            f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table>"
        )

    def figure(self, item: catalog.Item, png: Path) -> None:
        self.md.append(f"![Figure {item.number}: {item.title}](../figures/{png.name})\n")
        data = base64.b64encode(png.read_bytes()).decode()
        self.html.append(
            f'<figure><img alt="{html.escape(item.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>Figure {item.number}: {html.escape(item.title)}</figcaption></figure>"
        )


CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
tr.block td{font-weight:bold;background:#f3f3f3;text-align:left}
table.compare td{font-family:ui-monospace,monospace}
figure img{max-width:100%}figcaption{font-size:.85em;color:#555}
"""


def _fetch_built(w: _Writer, con, name: str, report: Report, role: str) -> list | None:
    """The rows of paper.`name`, or None (said in the report) when it is not built: its asset
    has not run or failed, and the rest of the report is still worth writing."""
    try:
        return fetch(con, name)
    except duckdb.CatalogException:
        w.para(f"(paper.{name}{role} has not been built yet)")
        report.tables_missing.append(name)
        return None


def _table(w: _Writer, con, name: str, title: str, compare: bool, report: Report) -> None:
    w.heading(3, title)
    rows = _fetch_built(w, con, name, report, "")
    if rows is None:
        return
    if not rows:
        w.para("(no rows)")
        return
    for subtitle, header, body in layout(name, rows):
        if subtitle:
            w.para(subtitle)
        w.table(header, body)
    if compare:
        heading = "Beside the paper (ours − paper):"
        if name in COMPARED_AS:
            compared_as, how = COMPARED_AS[name]
            rows = _fetch_built(w, con, compared_as, report, ", compared with the paper,")
            if rows is None:
                return
            heading = f"Beside the paper (ours − paper), {how}:"
        diffs = comparison(name, rows)
        if diffs:
            report.comparisons[name] = diffs
            w.para(heading)
            w.table(
                ["Row", "Column", "Ours", "Paper", "Difference", "Relative", "Tolerance"],
                [
                    [
                        d["row"],
                        d["column"],
                        d["ours"],
                        d["paper"],
                        d["difference"],
                        d["relative"],
                        TOLERANCE_MARK[d["within_tolerance"]],
                    ]
                    for d in diffs
                ],
                css="compare",
            )


def build_report(
    con: duckdb.DuckDBPyConnection,
    data_dir: str | Path,
    *,
    compare: bool | None = None,
    out_dir: str | Path | None = None,
    figures_since: float | None = None,
    landed_dir: str | Path | None = None,
) -> Report:
    """Render report.md and report.html into `<data>/report/` from the paper.* tables and the
    warehouse's ingest accounting.

    `figures_since` (a time.time()): a figure PNG older than it was rendered from an earlier
    warehouse, possibly of another corpus, so it is left out instead of embedded.
    `landed_dir`: the landing registry the warehouse's public layer was built from, whose
    upload and file counts the data-quality section adds; None: no landing to count."""
    data_dir = Path(data_dir)
    figures_dir = data_dir / "figures"
    out = Path(out_dir) if out_dir else data_dir / "report"
    compared = should_compare(con, compare)
    report = Report("", "", compared)
    w = _Writer()
    w.heading(1, "TraceLab workload report")
    steps, sessions = con.execute(
        "SELECT (SELECT count(*) FROM steps), (SELECT count(*) FROM sessions)"
    ).fetchone()
    w.para(
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the public layer: "
        f"{steps:,} steps in {sessions:,} sessions (each sub-agent transcript counted as a "
        "session, as in the paper). Definitions: docs/metrics.md. Every table uses the paper's "
        "definitions, so that it compares with the paper; where a definition is weak, the "
        "Corrections section at the end gives the corrected value beside it."
    )
    if compared:
        w.para(
            "Each table is followed by the paper's published values beside ours "
            "(difference = ours − paper; percentages in points). 'off' marks a value outside "
            "the tolerance below: expected for a corpus other than the paper's, and for a "
            "synthetic one where its calibration misses (benchmarks/synth_paper_check.txt)."
        )
    elif compare is None:
        w.para(
            f"Not compared with the paper: its corpus has {PAPER_STEPS:,} steps, this one "
            f"{steps:,}, and counts, totals and tails differ with corpus size alone "
            "(`tracelab metrics --compare on`, or the report asset's config "
            "`paper_comparison: on`, puts the paper's values beside ours anyway)."
        )
    report.quality = quality = data_quality(con, landed_dir)
    if quality.available and quality.total["files"]:
        t = quality.total
        w.para(
            f"Input: {t['lines_read']:,} lines in {t['files']:,} log files, {t['rejected']:,} "
            f"rejected, {t['unreadable_files']:,} files unreadable, "
            f"{t['logs_without_steps']:,} logs with no steps; details in Data quality at the end."
        )
    for section, items in SECTIONS:
        w.heading(2, section)
        for item in items:
            if item.kind == "table":
                _table(
                    w, con, item.table_name, f"Table {item.number} — {item.title}", compared, report
                )
                for companion in COMPANIONS.get(item.table_name, []):
                    _table(w, con, companion, TITLES[companion], False, report)
                continue
            png = figures_dir / f"{item.table_name}.png"
            stale = (
                png.is_file() and figures_since is not None and png.stat().st_mtime < figures_since
            )
            if png.is_file() and not stale:
                w.figure(item, png)
                report.figures_found.append(item.table_name)
            else:
                why = "from an earlier warehouse, left out" if stale else "not rendered yet"
                w.para(
                    f"Figure {item.number} ({item.title}): {why}; `tracelab figures` renders "
                    "it and rewrites this report."
                )
                report.figures_missing.append(item.table_name)
    w.heading(2, "Corrections")
    _table(w, con, "corrections", TITLES["corrections"], False, report)
    write_section(w, quality)

    if compared:
        judged = [d["within_tolerance"] for ds in report.comparisons.values() for d in ds]
        judged = [j for j in judged if j is not None]
        report.within_tolerance = (sum(judged), len(judged))
        summary = (
            f"Against the paper: {sum(judged)} of {len(judged)} compared values are within the "
            "synthetic generator's calibration tolerance (p50/p90 ±15%, p99 ±35%, shares ±3 "
            "points, other values ±15%)."
        )
        w.md.insert(3, summary + "\n")
        w.html.insert(3, f"<p>{html.escape(summary)}</p>")
    report.markdown = "\n".join(w.md)
    report.html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>TraceLab workload report"
        f"</title><style>{CSS}</style></head><body>{''.join(w.html)}</body></html>"
    )
    out.mkdir(parents=True, exist_ok=True)
    report.md_path = out / "report.md"
    report.html_path = out / "report.html"
    for path, text in ((report.md_path, report.markdown), (report.html_path, report.html)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return report


__all__ = ["VIEWS", "Report", "build_report", "should_compare"]
