"""`tracelab metrics`: public Parquet -> warehouse.duckdb with every paper table -> report."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("metrics")
@click.option(
    "--data",
    "--data-dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default $TRACELAB_DATA_DIR or ./data).",
)
@click.option(
    "--public",
    "public_root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Public layer to read (default <data>/public). A flat dir of <table>.parquet "
    "(normalize output, generator truth) works too.",
)
@click.option(
    "--compare",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Put the paper's published values beside ours (auto: paper-sized corpus).",
)
@click.option(
    "--report/--no-report",
    default=True,
    show_default=True,
    help="Also write <data>/report/report.html and report.md.",
)
def command(data_dir: Path | None, public_root: Path | None, compare: str, report: bool) -> None:
    """Build <data>/warehouse.duckdb (tables paper.table_NN_*) and <data>/report/."""
    import time

    import duckdb
    from tqdm import tqdm

    from tracelab_pipeline import catalog
    from tracelab_pipeline.metrics import build_table
    from tracelab_pipeline.metrics.corrections import build as build_corrections
    from tracelab_pipeline.paths import resolve_data_dir
    from tracelab_pipeline.warehouse import build_warehouse

    data = resolve_data_dir(data_dir)
    public = public_root or data / "public"
    if not public.exists():
        raise click.ClickException(
            f"{public} not found: pass --public DIR (a `tracelab normalize` output works) "
            "or --data DIR holding public/ (`tracelab demo` builds one)"
        )
    from tracelab_pipeline.warehouse.load import parquet_source

    if parquet_source(public, "steps") is None:
        # e.g. a directory of raw logs: it gave an empty warehouse and report, and exit 0
        raise click.ClickException(
            f"{public} holds no steps Parquet (steps.parquet or steps/**/*.parquet): "
            "--public takes a public layer or `tracelab normalize` output, not raw logs; "
            "run `tracelab normalize LOGS... --out DIR` first"
        )
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create {data}: {exc}") from exc
    started = time.time()
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        counts = build_warehouse(con, public)
        click.echo(
            f"warehouse: {counts['steps']:,} steps, {counts['sessions']:,} sessions, "
            f"{counts['requests']:,} requests in {counts['seconds']} s"
        )
        for item in tqdm(catalog.TABLES, desc="paper tables", unit="table", disable=None):
            build_table(con, item)
        build_corrections(con)
        unpriced = con.execute(
            "SELECT provider || ':' || coalesce(model, '(none)') FROM model_prices "
            "WHERE match_kind = 'unpriced' ORDER BY 1"
        ).fetchall()
        if unpriced:
            click.echo("unpriced models: " + ", ".join(m for (m,) in unpriced))
        click.echo(f"tables: {len(catalog.TABLES)} written to {data / 'warehouse.duckdb'}")
        if report:
            from tracelab_pipeline.report import COMPARISON_MODES, build_report

            # Figures rendered before this warehouse may show another corpus: left out.
            # Uploads and landed files are counted only when the public layer is this data
            # directory's own, the one its landing registry fed.
            own = public.resolve() == (data / "public").resolve()
            result = build_report(
                con,
                data,
                compare=COMPARISON_MODES[compare],
                figures_since=started,
                landed_dir=data / "landed" if own else None,
            )
            click.echo(
                f"report: {result.html_path} ({len(result.figures_found)} figure(s) embedded"
                f"{', compared with the paper' if result.compared else ''})"
            )
            if result.figures_missing:
                where = f" --data {data_dir}" if data_dir else ""
                click.echo(
                    f"next: `tracelab figures{where}` renders the figures from this warehouse "
                    "and adds them to the report"
                )
