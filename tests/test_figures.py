"""Rendering: every figure from small data without warnings; tiny/empty input says so."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from figure_corpus import empty_corpus, load, make_corpus

from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.figure_data import build_all
from tracelab_pipeline.figures import load_figure_data, render_all, render_figure, style

pytestmark = pytest.mark.filterwarnings("error")
PNG = b"\x89PNG\r\n\x1a\n"


def _warehouse(corpus):
    con = duckdb.connect()
    load(con, corpus)
    build_all(con)
    return con


def _demo_corpus(tmp):
    """A small `demo`-preset corpus from the generator (its truth files, public columns)."""
    import pyarrow.parquet as pq

    from tracelab_pipeline.schema import public_schema
    from tracelab_pipeline.synth import generate

    generate(
        "demo",
        seed=1,
        inbox_dir=tmp / "inbox",
        truth_dir=tmp / "truth",
        sessions=8,
        contributors=2,
        months=1,
        workers=1,
    )
    return {
        name: pq.read_table(
            tmp / "truth" / f"{name}.parquet", columns=public_schema(name).names
        ).cast(public_schema(name))
        for name in ("steps", "tool_calls", "timing_events")
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    con = _warehouse(_demo_corpus(tmp_path_factory.mktemp("demo")))
    out = tmp_path_factory.mktemp("figures")
    return {r.number: r for r in render_all(con, out)}, con


def test_every_figure_renders_with_data(rendered):
    results, con = rendered
    assert set(results) == {i.number for i in FIGURES}
    for item in FIGURES:
        r = results[item.number]
        assert r.enough_data, item.table_name
        assert r.png.name == f"{item.table_name}.png"
        assert r.png.read_bytes()[:8] == PNG
        assert r.png.stat().st_size > 20_000, item.table_name
        assert r.svg.stat().st_size > 10_000
        assert r.svg.read_text().lstrip().startswith("<?xml")
        rows = con.execute(f"SELECT count(*) FROM paper.{item.table_name}").fetchall()[0][0]
        assert len(r.csv.read_text().splitlines()) == rows + 1
        assert r.caption and "\n" not in r.caption


def test_thumbnails_are_small_pngs(rendered):
    for r in rendered[0].values():
        assert r.thumbnail_png[:8] == PNG
        assert 1_000 < len(r.thumbnail_png) < 16_000


@pytest.mark.parametrize("kind", ["empty", "tiny"])
def test_not_enough_data_figures(tmp_path, kind):
    corpus = empty_corpus() if kind == "empty" else make_corpus(sessions=1, steps_per_session=8)
    con = _warehouse(corpus)
    for item in FIGURES:
        r = render_figure(item.number, load_figure_data(con, item.number), tmp_path)
        assert r.png.stat().st_size > 5_000
        # The schematic needs no data; every other figure must say it has too little.
        assert r.enough_data == (item.number == 5), item.table_name
        if not r.enough_data:
            assert "Not enough data" in r.svg.read_text()


def test_same_provider_colours_everywhere(rendered):
    from matplotlib.colors import to_hex

    from tracelab_pipeline.figures import eviction_sweep, prefix_append

    _, con = rendered
    with style.styled():
        fig1 = prefix_append.render(load_figure_data(con, 1), "t")
        fig12 = eviction_sweep.render(load_figure_data(con, 12), "t")
    scatter_colors = [to_hex(c.get_facecolor()[0][:3]) for ax in fig1.axes for c in ax.collections]
    assert scatter_colors == [style.COLORS["claude"].lower(), style.COLORS["codex"].lower()]
    line_colors = {line.get_label(): to_hex(line.get_color()) for line in fig12.axes[0].lines}
    assert line_colors["Claude"] == style.COLORS["claude"].lower()
    assert line_colors["Codex"] == style.COLORS["codex"].lower()


def test_token_axes_are_binary_log(rendered):
    from tracelab_pipeline.figures import output_lengths

    _, con = rendered
    with style.styled():
        fig = output_lengths.render(load_figure_data(con, 4), "t")
    ax = fig.axes[0]
    assert ax.get_xscale() == "function"
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "1K" in labels and "256" in labels
    assert ax.get_xlabel() and ax.get_ylabel()


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"


@pytest.mark.skipif(not REAL.exists(), reason="real fixtures not present")
def test_real_logs_render_without_failing(tmp_path):
    """Every real fixture log together: odd records must not break any figure."""
    from tracelab_pipeline.formats import read_log
    from tracelab_pipeline.schema import public_schema, to_table

    rows = {"steps": [], "tool_calls": [], "timing_events": []}
    for path in sorted(REAL.rglob("*.jsonl")):
        result = read_log(path, "fixture")
        for name in rows:
            rows[name].extend(getattr(result, name))
    corpus = {name: to_table(name, rows[name]).select(public_schema(name).names) for name in rows}
    assert len(corpus["steps"]) > 10
    con = _warehouse(corpus)
    for item in FIGURES:
        r = render_figure(item.number, load_figure_data(con, item.number), tmp_path)
        assert r.png.stat().st_size > 5_000


def test_cli_builds_and_renders_selected_figures(tmp_path):
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    load(con, make_corpus(sessions=4, steps_per_session=30, seed=2))
    con.close()
    result = CliRunner().invoke(
        main, ["figures", "--data", str(tmp_path), "--only", "2", "--only", "11"]
    )
    assert result.exit_code == 0, result.output
    assert "2 figure(s)" in result.output
    for name in ("figure_02_append_share", "figure_11_hit_rate_vs_idle_gap"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 5_000
    assert not (tmp_path / "figures" / "figure_01_prefix_append.png").exists()
    missing = CliRunner().invoke(main, ["figures", "--data", str(tmp_path / "nowhere")])
    assert missing.exit_code != 0 and "tracelab metrics" in missing.output


def test_cli_refuses_a_figure_number_that_does_not_exist(tmp_path):
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main

    duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()
    result = CliRunner().invoke(main, ["figures", "--data", str(tmp_path), "--only", "14"])
    assert result.exit_code == 2 and "no figure 14" in result.output
    assert not (tmp_path / "figures").exists()


def test_cli_on_a_warehouse_without_tables_says_to_run_metrics(tmp_path):
    """E.g. `tracelab metrics` interrupted after creating the file: no traceback."""
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main

    duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()
    result = CliRunner().invoke(main, ["figures", "--data", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert str(tmp_path / "warehouse.duckdb") in result.output
    assert "run `tracelab metrics`" in result.output
