"""Every figure (data + render) on a paper-sized corpus, against the 60 s budget (run by hand).

    uv run python benchmarks/figures.py [--truth DIR] [--threads 2] [--replicate]

Without --truth it generates the `paper` preset (~357K steps) with tracelab_pipeline.synth into
a temp dir first (not timed). With --replicate it instead replicates the small test corpus
(tests/figure_corpus.py) under distinct contributors until it reaches ~357K steps. The
warehouse is a DuckDB file on disk limited to --threads (default 2); timed: building every
paper.figure_* table, then rendering every PNG/SVG/CSV + thumbnail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.figure_data import BUILDERS, prep
from tracelab_pipeline.figures import load_figure_data, render_figure
from tracelab_pipeline.synth import generate
from tracelab_pipeline.warehouse import build_warehouse

BUDGET_SECONDS = 60.0
TARGET_STEPS = 357_000


def load_replicated(con) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from figure_corpus import load, make_corpus

    load(con, make_corpus(sessions=200, steps_per_session=45, seed=0))
    copies = -(-TARGET_STEPS // con.execute("SELECT count(*) FROM steps").fetchall()[0][0])
    for table in ("steps", "tool_calls", "timing_events"):
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT * REPLACE "
            f"(contributor || '#' || r AS contributor) FROM {table}, range({copies}) t(r)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, help="public layer or flat <table>.parquet dir")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--replicate", action="store_true", help="replicate the test corpus")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tracelab-figures-") as tmp:
        tmp = Path(tmp)
        con = duckdb.connect(str(tmp / "warehouse.duckdb"))
        con.execute(f"SET threads = {args.threads}")
        if args.truth:
            build_warehouse(con, args.truth)
        elif args.replicate:
            load_replicated(con)
        else:
            print("generating the paper preset (not timed) ...", flush=True)
            generate("paper", seed=args.seed, inbox_dir=tmp / "inbox", truth_dir=tmp / "truth")
            build_warehouse(con, tmp / "truth")
        steps = con.execute("SELECT count(*) FROM steps").fetchall()[0][0]
        events = con.execute("SELECT count(*) FROM timing_events").fetchall()[0][0]
        calls = con.execute("SELECT count(*) FROM tool_calls").fetchall()[0][0]
        print(f"corpus: {steps:,} steps, {calls:,} tool calls, {events:,} timing events")

        started = time.perf_counter()
        prep.prepare(con, gaps=True)
        prep_s = time.perf_counter() - started
        print(f"{'shared step facts':<40} data {prep_s:6.2f}s")
        data_total, render_total = prep_s, 0.0
        for item in FIGURES:
            t0 = time.perf_counter()
            rows = BUILDERS[item.number](con, prepared=True)
            t1 = time.perf_counter()
            rendered = render_figure(item.number, load_figure_data(con, item.number), tmp / "fig")
            t2 = time.perf_counter()
            data_total += t1 - t0
            render_total += t2 - t1
            flag = "" if rendered.enough_data else "  (not enough data)"
            print(
                f"{item.table_name:<40} data {t1 - t0:6.2f}s  render {t2 - t1:6.2f}s  "
                f"rows {rows:>7,}  thumb {len(rendered.thumbnail_png) / 1024:4.1f} KB{flag}"
            )
        total = data_total + render_total
        print(
            f"\ntotal {total:.1f}s (data {data_total:.1f}s + render {render_total:.1f}s) on "
            f"{args.threads} DuckDB threads; budget {BUDGET_SECONDS:.0f}s; "
            f"ratio {total / BUDGET_SECONDS:.2f} of budget"
        )


if __name__ == "__main__":
    main()
