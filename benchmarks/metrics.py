"""Warehouse + every paper table on a paper-sized corpus, against the 30 s budget (run by hand).

    uv run python benchmarks/metrics.py [--truth DIR] [--threads 2] [--report]

Without --truth it generates the `paper` preset (~357K steps) with tracelab_pipeline.synth into
a temp dir first (not timed). The warehouse is a file on disk, as in the pipeline, and DuckDB is
limited to --threads (default 2, the target machine). Everything is SQL; there is no Python loop
over rows (the request state machine is a window function), so nothing sequential to time apart.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from tracelab_pipeline.metrics import build_all_tables
from tracelab_pipeline.warehouse import build_warehouse

BUDGET_SECONDS = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, help="public layer or flat <table>.parquet dir")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="also time the report")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_metrics_"))
    source = args.truth
    if source is None:
        from tracelab_pipeline.synth import generate

        started = time.perf_counter()
        summary = generate("paper", seed=0, inbox_dir=work / "inbox", truth_dir=work / "truth")
        print(f"generated {summary['steps']:,} steps in {time.perf_counter() - started:.1f} s")
        source = work / "truth"

    con = duckdb.connect(str(work / "warehouse.duckdb"))
    con.execute(f"SET threads = {args.threads}")
    timings: list[tuple[str, float]] = []
    started = time.perf_counter()
    counts = build_warehouse(con, source)
    timings.append(("warehouse", time.perf_counter() - started))
    timings += build_all_tables(con).items()
    if args.report:
        from tracelab_pipeline.report import build_report

        t0 = time.perf_counter()
        build_report(con, work, compare=True)
        timings.append(("report", time.perf_counter() - t0))
    total = sum(s for _, s in timings)

    print(
        f"corpus: {counts['steps']:,} steps, {counts['tool_calls']:,} tool calls, "
        f"{counts['timing_events']:,} events, {counts['sessions']:,} sessions, "
        f"{counts['requests']:,} requests; DuckDB threads={args.threads}"
    )
    for name, seconds in timings:
        print(f"  {name:<40} {seconds:7.2f} s")
    print(f"total {total:.2f} s = {total / BUDGET_SECONDS:.2f} x the {BUDGET_SECONDS:.0f} s budget")
    print(f"throughput {counts['steps'] / total:,.0f} steps/s; scratch dir {work}")


if __name__ == "__main__":
    main()
