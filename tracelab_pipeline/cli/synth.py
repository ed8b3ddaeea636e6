"""`tracelab synth`: generate a calibrated synthetic inbox with its ground truth, or check one."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("synth")
@click.option(
    "--preset",
    type=click.Choice(["demo", "paper"]),
    default="demo",
    show_default=True,
    help="demo: 6 contributors, 3 months, 240 sessions (~26K steps); paper: 43 contributors, "
    "10 months, 3,560 sessions (~354K steps, the paper's corpus).",
)
@click.option(
    "--contributors",
    type=click.IntRange(min=1),
    default=None,
    help="Override the preset's contributors.",
)
@click.option(
    "--months", type=click.IntRange(min=1), default=None, help="Override the preset's months."
)
@click.option(
    "--sessions",
    type=click.IntRange(min=1),
    default=None,
    help="Override the preset's main sessions.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Same seed, same logs and truth."
)
@click.option(
    "--inbox",
    "inbox",
    type=click.Path(file_okay=False),
    default=None,
    help="Empty directory for the raw logs, <inbox>/<contributor>/... (required unless --check).",
)
@click.option(
    "--truth",
    "truth",
    type=click.Path(file_okay=False),
    required=True,
    help="Directory of the ground-truth <table>.parquet (written, or read with --check).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Processes generating (or, with --check, DuckDB threads).",
)
@click.option("--check", is_flag=True, help="Compare the truth in --truth with the paper.")
@click.option(
    "--only-paper-tables",
    is_flag=True,
    help="With --check: skip the generator's own statistics, show only the paper tables.",
)
def command(
    preset, contributors, months, sessions, seed, inbox, truth, workers, check, only_paper_tables
) -> None:
    """Write raw Claude Code / Codex logs to --inbox and the ground truth Parquet to --truth.

    With --check, read --truth and print each calibrated statistic beside the paper's value,
    then every value of the paper's tables as the project's warehouse/metric code computes it
    from the truth (the report's comparison), with per-table totals.
    """
    if check:
        from tracelab_pipeline.synth import paper_check
        from tracelab_pipeline.synth.check import report

        if not (Path(truth) / "steps.parquet").is_file():
            raise click.ClickException(
                f"{Path(truth) / 'steps.parquet'} not found: --truth must be a directory "
                "written by `tracelab synth --truth`"
            )
        if not only_paper_tables:
            rows, text = report(truth)
            click.echo("Generator statistics (synth/check.py):")
            click.echo(text)
            failed = [r["statistic"] for r in rows if r["verdict"] != "PASS"]
            if failed:
                click.echo(f"outside tolerance: {', '.join(failed)}", err=True)
            click.echo("")
        click.echo("Paper tables (warehouse + metrics code, the report's comparison):")
        result = paper_check.compare(truth, threads=workers)
        click.echo(paper_check.render(result, steps=paper_check.truth_steps(truth)))
        sys.exit(0)
    if inbox is None:
        raise click.UsageError("--inbox is required to generate")
    if Path(inbox).is_dir() and any(Path(inbox).iterdir()):
        # Files already there would be landed with the new ones, which the truth does not hold.
        raise click.UsageError(f"--inbox {inbox} is not empty: generate into an empty directory")
    from tracelab_pipeline.synth import generate

    try:
        summary = generate(
            preset,
            seed=seed,
            inbox_dir=inbox,
            truth_dir=truth,
            contributors=contributors,
            months=months,
            sessions=sessions,
            workers=workers,
            progress=True,
        )
    except (ValueError, OSError) as exc:  # refused settings; a directory that cannot be written
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{summary['preset']} (seed {seed}): {summary['contributors']} contributors, "
        f"{summary['sessions']} sessions, {summary['files']} files, {summary['steps']:,} steps, "
        f"{summary['tool_calls']:,} tool calls in {summary['seconds']} s "
        f"({summary['steps_per_second']:,} steps/s)\n"
        f"inbox: {summary['inbox']}\ntruth: {summary['truth']}"
    )
