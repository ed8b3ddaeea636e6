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


def totals(result: dict[str, list[dict]]) -> dict[str, tuple[int, int]]:
    """{table_name: (within tolerance, outside)}; values without a verdict count in neither."""
    out = {}
    for name, diffs in result.items():
        ok = sum(d["within_tolerance"] is True for d in diffs)
        off = sum(d["within_tolerance"] is False for d in diffs)
        out[name] = (ok, off)
    return out


def render(result: dict[str, list[dict]], tables: set[str] | None = None) -> str:
    """Per compared value: paper, generated, relative deviation, PASS/FAIL; then totals.

    With `tables`, only their values are listed in full; the other tables' values outside
    tolerance are listed too, so every miss is named.
    """
    from tracelab_pipeline.report.tables import COMPARED_AS

    lines = [f"{'table / row':52} {'column':12} {'paper':>12} {'generated':>12} {'dev':>9}  result"]
    listed = set()
    for name, diffs in result.items():
        for d in diffs:
            if tables is not None and name not in tables and d["within_tolerance"] is not False:
                continue
            # shares are judged in points, everything else relative to the paper
            pts = d["difference"].endswith(" pt")
            dev = d["difference"] if pts else d["relative"]
            listed.add(name)
            lines.append(
                f"{(name[:8] + ' ' + d['row'])[:52]:52} {d['column'][:12]:12} "
                f"{d['paper'][:12]:>12} {d['ours'][:12]:>12} {dev[:9]:>9}  "
                f"{VERDICT[d['within_tolerance']]}"
            )
    for name in result:
        if name in COMPARED_AS and name in listed:
            lines.append(f"({name}: {COMPARED_AS[name][0]}, {COMPARED_AS[name][1]})")
    lines.append("")
    lines.append(f"{'table':44} {'ok':>5} {'off':>5}")
    all_ok = all_off = 0
    for name, (ok, off) in totals(result).items():
        lines.append(f"{name:44} {ok:5d} {off:5d}")
        all_ok, all_off = all_ok + ok, all_off + off
    for scope, names in (("the tables the issue names", ISSUE_TABLES), ("all tables", None)):
        verdicts = [
            d["within_tolerance"]
            for name, diffs in result.items()
            if names is None or int(name.split("_")[1]) in names
            for d in diffs
            if in_issue_criterion(d) and d["within_tolerance"] is not None
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
