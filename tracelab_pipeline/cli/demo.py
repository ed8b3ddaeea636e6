"""`tracelab demo [--data-dir DIR]`: the whole pipeline on a demo inbox, in one command."""

from __future__ import annotations

import click


@click.command("demo")
@click.option(
    "--data-dir", default=None, help="Data directory (default $TRACELAB_DATA_DIR or ./data)."
)
def command(data_dir: str | None) -> None:
    """Fill an empty inbox with the demo preset, materialize every asset through a Dagster
    instance at <data>/dagster_home, and print where the results are. Running it again only
    does new work.

    Exits 0 when every run succeeded; exits 1 when one failed (a blocking check included:
    the summary names the asset, and the UI command it prints shows the run). When the landing
    run refuses to start (production without a pseudonym key) it stops there."""
    import warnings

    warnings.filterwarnings("ignore", module="dagster")
    from tracelab_pipeline.orchestration.demo import run_demo
    from tracelab_pipeline.orchestration.demo_summary import summarize
    from tracelab_pipeline.paths import resolve_data_dir

    data = resolve_data_dir(data_dir)
    if data.exists() and not data.is_dir():
        raise click.ClickException(f"data directory {data} is a file, not a directory")
    if data.is_symlink() and not data.exists():
        raise click.ClickException(f"data directory {data} is a symbolic link loop")
    result = run_demo(data_dir, echo=click.echo)
    click.echo(summarize(result))
    if result.failures:
        raise SystemExit(1)
