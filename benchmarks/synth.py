"""Time the synthetic generator (run by hand; the issue's budget is the paper preset in 5 min).

    uv run python benchmarks/synth.py [--preset paper] [--workers 2] [--keep DIR] [--check]

Prints sessions/steps/tool calls, seconds, steps/s, bytes written, peak RSS of the workers, the
ratio to the 5-minute budget, and optionally the paper comparison of `tracelab synth --check`.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
from pathlib import Path

from tracelab_pipeline.synth import generate

BUDGET_S = 300.0


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument("--keep", default=None, help="write here and keep the output")
    ap.add_argument(
        "--check", action="store_true", help="also print the comparisons with the paper"
    )
    args = ap.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="synth-bench-"))
    try:
        s = generate(
            args.preset,
            seed=args.seed,
            inbox_dir=root / "inbox",
            truth_dir=root / "truth",
            sessions=args.sessions,
            workers=args.workers,
            progress=True,
        )
        inbox_mb = _size(root / "inbox") / 2**20
        truth_mb = _size(root / "truth") / 2**20
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = resource.getrusage(resource.RUSAGE_SELF)
        rss_mb = children.ru_maxrss / 1024
        cpu_s = children.ru_utime + children.ru_stime + me.ru_utime + me.ru_stime
        print(
            f"preset {s['preset']} seed {s['seed']} workers {args.workers}: "
            f"{s['sessions']} sessions, {s['files']} files, {s['steps']:,} steps, "
            f"{s['tool_calls']:,} tool calls, {s['timing_events']:,} timing events"
        )
        print(
            f"{s['seconds']:.1f} s, {s['steps_per_second']:,.0f} steps/s, inbox {inbox_mb:,.0f} MB "
            f"({inbox_mb / s['seconds']:.0f} MB/s), truth {truth_mb:,.0f} MB, "
            f"worker peak RSS {rss_mb:,.0f} MB"
        )
        print(f"CPU (workers + parent, user + system): {cpu_s:.1f} s")
        print(f"budget ratio: {s['seconds'] / BUDGET_S:.2f} of {BUDGET_S:.0f} s")
        if args.check:
            from tracelab_pipeline.synth import paper_check
            from tracelab_pipeline.synth.check import report

            print(report(root / "truth")[1])
            # The paper tables as the project's metric code computes them (issue 6): every
            # table's totals, and the rows of Tables 2, 7, 8 and 11 that the issue note shows
            # plus those of Tables 4, 12 and 13 (compaction, fresh tokens, counterfactual).
            result = paper_check.compare(root / "truth", threads=args.workers)
            shown = {
                "table_02_loop_counts",
                "table_04_compaction",
                "table_07_timing",
                "table_08_token_lengths",
                "table_11_prefix_cache_hit_rate",
                "table_12_fresh_tokens_amplification",
                "table_13_human_think_counterfactual",
            }
            print()
            steps = paper_check.truth_steps(root / "truth")
            print(paper_check.render(result, tables=shown, steps=steps))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
