"""How each paper.* table is laid out in the report, and its comparison with the paper."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb

from tracelab_pipeline.metrics import table_10_codex_tool_overhead as table_10
from tracelab_pipeline.report.format import column_unit, fmt, fmt_diff

PAPER_VALUES = Path(__file__).with_name("paper_values.json")

PROVIDERS = [("claude", "Claude"), ("codex", "Codex"), ("total", "Total")]


@dataclass(frozen=True)
class View:
    columns: list[tuple[str, str]]
    label: str = "metric"
    label_header: str = "Metric"
    block: str | None = "block"
    scoped: bool = False
    with_pct: bool = False  # cells "n (x%)" from <col>_pct
    text: bool = False  # <col>_text overrides the number
    extra: list[tuple[str, str]] = field(default_factory=list)


STAT5 = [("avg", "Avg"), ("p25", "P25"), ("p50", "P50"), ("p90", "P90"), ("p99", "P99")]

VIEWS: dict[str, View] = {
    "table_01_overview": View(PROVIDERS, text=True),
    "table_02_loop_counts": View(STAT5, scoped=True),
    "table_03_context_growth": View(PROVIDERS),
    "table_04_compaction": View(PROVIDERS, with_pct=True),
    "table_05_cost_distribution": View(
        [("avg", "Avg"), ("p50", "P50"), ("p90", "P90"), ("p99", "P99"), ("pct_cost", "% cost")],
        scoped=True,
    ),
    "table_05_cost_distribution_ttl": View(
        [("avg", "Avg"), ("p50", "P50"), ("p90", "P90"), ("p99", "P99"), ("pct_cost", "% cost")],
        scoped=True,
    ),
    "table_06_pricing": View(
        [
            ("input", "Input"),
            ("cache_write_5m", "5m write"),
            ("cache_write_1h", "1h write"),
            ("cache_read", "Cache read"),
            ("output", "Output"),
            ("steps", "Steps"),
        ],
        label="model_group",
        label_header="Model group",
        block="provider",
        extra=[("match_kind", "Resolution"), ("models_seen", "Models in data")],
    ),
    "table_07_timing": View(
        [("avg", "Avg"), ("p50", "P50"), ("p90", "P90"), ("p99", "P99"), ("share", "% time")],
        scoped=True,
    ),
    "table_08_token_lengths": View(STAT5),
    "table_09_append_by_prefix_bin": View(
        [("n", "Steps"), ("avg", "Avg"), ("p50", "P50"), ("p90", "P90"), ("p99", "P99")],
        label_header="Prefix",
    ),
    "table_10_codex_tool_overhead": View(
        [
            ("calls", "Calls"),
            ("e2e_h", "E2E"),
            ("int_h", "Int."),
            ("res_h", "Res."),
            ("avg_s", "Avg"),
            ("p50_s", "P50"),
            ("p90_s", "P90"),
            ("p99_s", "P99"),
            ("all_calls", "All calls"),
        ],
        label="tool",
        label_header="Tool",
        block=None,
    ),
    "table_11_prefix_cache_hit_rate": View(PROVIDERS),
    "table_12_fresh_tokens_amplification": View(PROVIDERS),
    "table_13_human_think_counterfactual": View(PROVIDERS, with_pct=True),
    "corrections": View(
        [("paper_value", "Paper definition"), ("corrected_value", "Corrected")],
        block="table_name",
        extra=[("scope", "Scope"), ("correction", "Correction")],
    ),
}


# Tables compared with the paper through another paper.* table that counts as the paper's data
# did: (that table, what the comparison's heading says about it).
COMPARED_AS = {
    table_10.NAME: (
        table_10.TRACELAB_WAY_NAME,
        "Codex calls timed the TraceLab way: a call counts as timed only when its internal "
        "latency came from a 'Wall time' line (the only one TraceLab reads) or from a TraceLab "
        "round file, whose latencies are taken as TraceLab's: true of TraceLab's release, not "
        "of a round file we exported and read back, which carries our B9 fallbacks too; Table "
        "10 itself also times calls from the durations TraceLab ignores (exec_command_end, "
        "mcp_tool_call_end, JSON metadata.duration_seconds: B9, docs/metrics.md)",
    ),
}


def compared_table(name: str) -> str:
    """The paper.* table whose values are compared with the paper's `name`."""
    return COMPARED_AS[name][0] if name in COMPARED_AS else name


@cache
def paper_values() -> dict:
    return json.loads(PAPER_VALUES.read_text())["tables"]


def fetch(con: duckdb.DuckDBPyConnection, name: str) -> list[dict]:
    cur = con.execute(f"SELECT * FROM paper.{name} ORDER BY row_no")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def cell(name: str, view: View, row: dict, column: str) -> str:
    if view.text and row.get(f"{column}_text"):
        return row[f"{column}_text"]
    text = fmt(row.get(column), column_unit(name, column, row.get("unit")))
    if view.with_pct and row.get(f"{column}_pct") is not None:
        text += f" ({fmt(row[f'{column}_pct'], 'pct1')})"
    return text


def layout(name: str, rows: list[dict]) -> list[tuple[str | None, list[str], list[list[str]]]]:
    """[(subtitle, header, body rows)] — one part per scope; block titles as bold rows."""
    view = VIEWS[name]
    header = [view.label_header] + [h for _, h in view.columns] + [h for _, h in view.extra]
    scopes = [None]
    if view.scoped:
        scopes = list(dict.fromkeys(r["scope"] for r in rows))
    parts = []
    for scope in scopes:
        body: list[list[str]] = []
        last_block = None
        for r in rows:
            if scope is not None and r["scope"] != scope:
                continue
            block = r.get(view.block) if view.block else None
            if block and block != last_block:
                body.append([f"**{block}**"] + [""] * (len(header) - 1))
            last_block = block
            values = [cell(name, view, r, c) for c, _ in view.columns]
            extras = [fmt(r.get(c), "text") for c, _ in view.extra]
            body.append([str(r.get(view.label) or "")] + values + extras)
        subtitle = None if scope in (None, "Total") else f"{scope} only"
        parts.append((subtitle, header, body))
    return parts


# The synthetic generator's calibration tolerance (issue 3): p50/p90 within 15 %, p99 within
# 35 %, shares within 3 points; other values are held to 15 % as well.
PCT_UNITS = ("pct", "pct1", "pct2")


def within_tolerance(ours, paper, unit: str, column: str, resolution: float = 0.0) -> bool | None:
    """`resolution`: half a unit of the paper's last printed digit (print_resolution); a value
    that prints as the paper's is within tolerance whatever the relative difference."""
    if ours is None or paper is None or isinstance(ours, str) or isinstance(paper, str):
        return None
    if unit in PCT_UNITS:
        return abs(ours - paper) <= 0.03
    if paper == 0:
        return None
    limit = 0.35 if column in ("p99", "p99_s") else 0.15
    return abs(ours - paper) / abs(paper) <= limit or abs(ours - paper) <= resolution


def print_resolution(paper, printed: dict | None) -> float:
    """Half a unit of the last digit the paper printed `paper` with, for tables whose spec says
    how they print (Table 5: dollars to 2 decimals and at most 3 significant figures, so $0.01
    stands for anything from $0.005 to $0.015); 0 for the others. The JSON numbers cannot say
    it themselves: $0.20 is stored as 0.2."""
    if not printed or not isinstance(paper, int | float):
        return 0.0
    whole_digits = len(str(int(abs(paper))))
    decimals = min(printed["decimals"], max(0, printed["significant"] - whole_digits))
    return 0.5 * 10.0**-decimals


def comparison(name: str, rows: list[dict]) -> list[dict]:
    """Ours beside the paper's published value, for every value the paper prints."""
    spec = paper_values().get(name)
    if not spec:
        return []
    keys = spec["key"]
    scope = spec.get("scope")
    index = {}
    for r in rows:
        if scope is not None and r.get("scope") != scope:
            continue
        index[tuple(r.get(k) for k in keys)] = r
    out = []
    for entry in spec["rows"]:
        key, values = tuple(entry[:-1]), entry[-1]
        ours_row = index.get(key, {})
        for column, paper in values.items():
            ours = ours_row.get(column)
            unit = column_unit(name, column.removesuffix("_text"), ours_row.get("unit"))
            if column.endswith("_text"):
                unit = "text"
            absolute, relative = fmt_diff(ours, paper, unit)
            resolution = print_resolution(paper, spec.get("printed"))
            # Table 4 names its quantile in the row ("P99 (sessions with ≥1)"), not the column.
            quantile = "p99" if any(str(k).startswith("P99") for k in key) else column
            out.append(
                {
                    "row": " / ".join(str(k) for k in key if k),
                    "column": column.removesuffix("_text"),
                    "unit": unit,
                    "ours": fmt(ours, unit),
                    "paper": fmt(paper, unit),
                    "difference": absolute,
                    "relative": relative,
                    "ours_value": ours,
                    "paper_value": paper,
                    "found": bool(ours_row) and column in ours_row,
                    "resolution": resolution,
                    "within_tolerance": within_tolerance(ours, paper, unit, quantile, resolution),
                }
            )
    return out
