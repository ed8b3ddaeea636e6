"""Figure assets in a real Dagster instance: data tables written, images embedded in metadata."""

from __future__ import annotations

import base64
import re

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from figure_corpus import load, make_corpus

from assets.figure_data import figure_data
from assets.figures import figure_assets
from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.orchestration.resources import TraceLabConfig

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def data_dir(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    load(con, make_corpus(sessions=6, steps_per_session=42, seed=11))
    con.close()
    return tmp_path


def test_asset_definitions_follow_the_contract():
    assert len(figure_assets) == len(FIGURES)
    assert figure_data.op.pool == "duckdb_writer" and figure_data.can_subset
    for item, fig_asset in zip(FIGURES, figure_assets, strict=True):
        data_key = dg.AssetKey(f"figure_data_{item.number:02d}_{item.slug}")
        assert fig_asset.key == dg.AssetKey(item.table_name)
        data_spec = figure_data.specs_by_key[data_key]
        fig_spec = fig_asset.specs_by_key[fig_asset.key]
        assert data_spec.group_name == "paper_figures" and fig_spec.group_name == "figures"
        assert data_spec.kinds == {"duckdb"}
        assert fig_spec.kinds == {"matplotlib", "png"}
        assert {d.asset_key for d in data_spec.deps} == {dg.AssetKey("warehouse")}
        assert {d.asset_key for d in fig_spec.deps} == {data_key}
        assert fig_asset.op.pool == "duckdb_writer"
        assert data_spec.description and fig_spec.description
        assert data_spec.automation_condition is not None
        assert fig_spec.automation_condition is not None


def test_materialize_shows_embedded_figures(instance, data_dir):
    chosen = {1, 5, 11, 12}
    figures = [a for i, a in zip(FIGURES, figure_assets, strict=True) if i.number in chosen]
    selection = [f"figure_data_{i.number:02d}_{i.slug}" for i in FIGURES if i.number in chosen]
    selection += [i.table_name for i in FIGURES if i.number in chosen]
    result = dg.materialize(
        [figure_data, *figures],
        selection=selection,
        instance=instance,
        resources={
            "duckdb": DuckDBResource(database=str(data_dir / "warehouse.duckdb")),
            "tracelab": TraceLabConfig(data_dir=str(data_dir)),
        },
    )
    assert result.success
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    for item in (i for i in FIGURES if i.number in chosen):
        key = dg.AssetKey(f"figure_data_{item.number:02d}_{item.slug}")
        (event,) = [
            m for m in result.asset_materializations_for_node("figure_data") if m.asset_key == key
        ]
        meta = event.metadata
        rows = con.execute(f"SELECT count(*) FROM paper.{item.table_name}").fetchall()[0][0]
        assert meta["dagster/row_count"].value == rows > 0
    con.close()
    data_keys = {m.asset_key for m in result.asset_materializations_for_node("figure_data")}
    assert len(data_keys) == len(chosen)  # the subset, not every figure
    for item in FIGURES:
        if item.number not in chosen:
            continue
        meta = result.asset_materializations_for_node(item.table_name)[0].metadata
        markdown = meta["figure"].value
        match = re.match(r"!\[[^\]]+\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
        assert match, markdown[:80]
        image = base64.b64decode(match.group(1))
        assert image[:8] == PNG and len(image) < 16_000
        assert meta["caption"].value in markdown
        assert meta["enough_data"].value is True
        for ext in ("png", "svg", "csv"):
            path = data_dir / "figures" / f"{item.table_name}.{ext}"
            assert meta[ext].value == str(path) and path.stat().st_size > 500
