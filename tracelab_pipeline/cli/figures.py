"""`tracelab figures`: warehouse.duckdb -> paper.figure_NN_* -> <data>/figures/*.png/svg/csv."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("figures")
@click.option(
    "--data",
    "--data-dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory holding warehouse.duckdb (default $TRACELAB_DATA_DIR or ./data).",
)
@click.option(
    "--only", type=int, multiple=True, help="Figure number(s) to build (default: all, 1-13)."
)
@click.option(
    "--compare",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Paper comparison in the rewritten report (pass what you gave `tracelab metrics`).",
)
def command(data_dir: Path | None, only: tuple[int, ...], compare: str) -> None:
    """Build the data behind every figure and render it (run `tracelab metrics` first).

    When `tracelab metrics` wrote <data>/report/, the report is rewritten with these figures.
    """
    import time

    import duckdb
    from tqdm import tqdm

    from tracelab_pipeline.catalog import FIGURES
    from tracelab_pipeline.figure_data import BUILDERS, prep
    from tracelab_pipeline.figures import load_figure_data, render_figure
    from tracelab_pipeline.paths import resolve_data_dir

    unknown = sorted(set(only) - {i.number for i in FIGURES})
    if unknown:
        raise click.BadParameter(
            f"no figure {', '.join(map(str, unknown))} (figures are numbered 1-{len(FIGURES)})",
            param_hint="--only",
        )
    data = resolve_data_dir(data_dir)
    warehouse = data / "warehouse.duckdb"
    if not warehouse.exists():
        raise click.ClickException(f"{warehouse} not found: run `tracelab metrics` first")
    items = [i for i in FIGURES if not only or i.number in only]
    started = time.perf_counter()
    con = duckdb.connect(str(warehouse))
    try:
        try:
            prep.prepare(con, gaps=True)
        except duckdb.CatalogException as exc:
            raise click.ClickException(
                f"{warehouse} lacks the warehouse tables ({str(exc).splitlines()[0]}): "
                "run `tracelab metrics` first"
            ) from exc
        rendered = []
        for item in tqdm(items, desc="figures", unit="figure", disable=None):
            rows = BUILDERS[item.number](con, prepared=True)
            rendered.append(
                (
                    item,
                    rows,
                    render_figure(
                        item.number, load_figure_data(con, item.number), data / "figures"
                    ),
                )
            )
    finally:
        con.close()
    for item, rows, r in rendered:
        note = "" if r.enough_data else "  (not enough data)"
        click.echo(f"{item.table_name:<40} {rows:>8,} rows  {r.png}{note}")
    click.echo(
        f"{len(rendered)} figure(s) in {time.perf_counter() - started:.1f} s -> {data / 'figures'}"
    )
    if (data / "report" / "report.md").is_file():
        # The report `tracelab metrics` wrote has no figures (or older ones) until now.
        from tracelab_pipeline.report import COMPARISON_MODES, build_report
        from tracelab_pipeline.warehouse.load import parquet_source

        with duckdb.connect(str(warehouse)) as con:
            # As `metrics` did, unless it was given another --public (which this cannot
            # know): the landing counts of <data>/landed go with <data>/public.
            own = parquet_source(data / "public", "steps") is not None
            result = build_report(
                con,
                data,
                compare=COMPARISON_MODES[compare],
                landed_dir=data / "landed" if own else None,
            )
        click.echo(
            f"report: {result.html_path} rewritten ({len(result.figures_found)} figure(s) "
            f"embedded{', compared with the paper' if result.compared else ''})"
        )
