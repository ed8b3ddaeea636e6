"""The honest calibration check: the paper's tables computed by the project's own metric code.

`check.py` recomputes the generator's calibration targets with pandas; this module instead
builds the warehouse and every `paper.table_NN_*` from the truth Parquet with
`tracelab_pipeline.warehouse` / `tracelab_pipeline.metrics`, and compares each value the paper
prints with `report.tables.comparison` — the same numbers, tolerance and compared tables
(`report.tables.COMPARED_AS`) as the report.
"""

from __future__ import annotations

from pathlib import Path

from tracelab_pipeline import catalog

VERDICT = {True: "PASS", False: "FAIL", None: "n/a"}
QUANTILES = ("p50", "p90", "p99")
# The tables issue 3 names among what the generator is calibrated to (its model and tool mix are
# the own check's, synth/check.py); Tables 5, 6, 10, 12 and 13 are derived from the same steps.
ISSUE_TABLES = (1, 2, 3, 4, 7, 8, 9, 11)


def in_issue_criterion(diff: dict) -> bool:
    """Whether the generator's issue bounds this kind of value: a p50, p90 or p99 (Table 4 names
    its quantile in the row) or a share. Counts, averages, totals and p25s are held to ±15 %
    only by this stricter comparison."""
    from tracelab_pipeline.report.tables import PCT_UNITS

    if diff["unit"] in PCT_UNITS:
        return True
    return any(
        part.lower().startswith(QUANTILES) for part in [diff["column"], *diff["row"].split(" / ")]
    )


def compare(truth_dir: str | Path, threads: int = 2) -> dict[str, list[dict]]:
    """{table_name: comparison rows} for every table the paper publishes values for."""
    import duckdb

    from tracelab_pipeline.metrics import build_table
    from tracelab_pipeline.report.tables import compared_table, comparison, fetch
    from tracelab_pipeline.warehouse import build_warehouse

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET threads = {int(threads)}")
        build_warehouse(con, Path(truth_dir))
        out: dict[str, list[dict]] = {}
        for item in catalog.TABLES:
            build_table(con, item)
            diffs = comparison(item.table_name, fetch(con, compared_table(item.table_name)))
            if diffs:
                out[item.table_name] = diffs
        return out
    finally:
        con.close()


def truth_steps(truth_dir: str | Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(Path(truth_dir) / "steps.parquet").metadata.num_rows


def totals(result: dict[str, list[dict]]) -> dict[str, tuple[int, int]]:
    """{table_name: (within tolerance, outside)}; values without a verdict count in neither."""
    out = {}
    for name, diffs in result.items():
        ok = sum(d["within_tolerance"] is True for d in diffs)
        off = sum(d["within_tolerance"] is False for d in diffs)
        out[name] = (ok, off)
    return out


def issue_bounds(name: str, diff: dict) -> bool:
    """Whether the issue bounds this value: its kind (in_issue_criterion) in a table it names."""
    return int(name.split("_")[1]) in ISSUE_TABLES and in_issue_criterion(diff)


def render(
    result: dict[str, list[dict]], tables: set[str] | None = None, steps: int | None = None
) -> str:
    """Per compared value: paper, generated, relative deviation, whether the issue bounds it,
    PASS/FAIL; then totals. `steps`: the truth's, to say when counts cannot compare.

    With `tables`, only their values are listed in full; the other tables' values outside
    tolerance are listed too, so every miss is named.
    """
    from tracelab_pipeline.report import PAPER_STEPS
    from tracelab_pipeline.report.tables import COMPARED_AS, PCT_UNITS

    named = ", ".join(map(str, ISSUE_TABLES))
    lines = [
        "Tolerance: p50/p90 ±15%, p99 ±35%, shares ±3 points are the bounds of the generator's "
        f"issue (issue 3), marked 'issue' in the tables it names ({named}); counts, averages, "
        "totals and p25s are held to ±15% by this check alone."
    ]
    if steps is not None and not PAPER_STEPS / 2 <= steps <= PAPER_STEPS * 2:
        lines.append(
            f"This truth has {steps:,} steps, the paper's corpus {PAPER_STEPS:,}: counts and "
            "totals scale with the corpus and fail for its size alone (compare the paper preset)."
        )
    shown = [
        (name, d)
        for name, diffs in result.items()
        for d in diffs
        if tables is None or name in tables or d["within_tolerance"] is False
    ]
    width = min(90, max([len(name[:8] + " " + d["row"]) for name, d in shown], default=11))
    lines.append(
        f"{'table / row':{width}} {'column':12} {'paper':>12} {'generated':>12} {'dev':>9} "
        f"{'bound':5}  result"
    )
    for name, d in shown:
        # shares are judged in points, everything else relative to the paper
        dev = d["difference"] if d["unit"] in PCT_UNITS else d["relative"]
        lines.append(
            f"{(name[:8] + ' ' + d['row'])[:width]:{width}} {d['column'][:12]:12} "
            f"{d['paper'][:12]:>12} {d['ours'][:12]:>12} {dev[:9]:>9} "
            f"{'issue' if issue_bounds(name, d) else '':5}  {VERDICT[d['within_tolerance']]}"
        )
    listed = {name for name, _ in shown}
    for name in result:
        if name in COMPARED_AS and name in listed:
            lines.append(f"({name}: {COMPARED_AS[name][0]}, {COMPARED_AS[name][1]})")
    lines.append("")
    lines.append(f"{'table':44} {'ok':>5} {'off':>5}")
    all_ok = all_off = 0
    for name, (ok, off) in totals(result).items():
        lines.append(f"{name:44} {ok:5d} {off:5d}")
        all_ok, all_off = all_ok + ok, all_off + off
    for scope, bounded in (
        ("the tables the issue names", issue_bounds),
        ("all tables", lambda _, d: in_issue_criterion(d)),
    ):
        verdicts = [
            d["within_tolerance"]
            for name, diffs in result.items()
            for d in diffs
            if bounded(name, d) and d["within_tolerance"] is not None
        ]
        lines.append(
            f"p50/p90/p99 and shares of {scope} within the issue's bounds: "
            f"{sum(verdicts)}/{len(verdicts)}"
        )
    lines.append(
        f"{all_ok}/{all_ok + all_off} paper values within tolerance "
        "(p50/p90 ±15%, p99 ±35%, shares ±3 points, other values ±15%)"
    )
    return "\n".join(lines)
