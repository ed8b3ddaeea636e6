"""Matplotlib renderers for every paper figure, reading only `paper.figure_NN_<slug>` tables.

`render_figure(number, df, out_dir)` writes `figure_NN_<slug>.png`, `.svg` and `.csv` (the
plotted data) and returns a small thumbnail for the Dagster UI. A renderer that lacks data
raises `NotEnoughData`; the figure then says so in words instead of failing.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.figures.base import NotEnoughData

THUMBNAIL_WIDTH_PX = 420
THUMBNAIL_COLORS = 48


@dataclass(frozen=True)
class Rendered:
    number: int
    png: Path
    svg: Path
    csv: Path
    thumbnail_png: bytes
    caption: str
    enough_data: bool
    rows: int


def _modules():
    from tracelab_pipeline.figures import (
        append_share,
        decode_speed,
        eviction_sweep,
        hit_rate_vs_idle_gap,
        kv_active_ratio,
        output_attribution,
        output_attribution_schematic,
        output_lengths,
        prefix_append,
        session_progress,
        tool_latency_by_tool,
        tool_latency_share,
        tool_popularity,
    )

    return {
        1: prefix_append,
        2: append_share,
        3: output_attribution,
        4: output_lengths,
        5: output_attribution_schematic,
        6: decode_speed,
        7: tool_popularity,
        8: tool_latency_share,
        9: tool_latency_by_tool,
        10: session_progress,
        11: hit_rate_vs_idle_gap,
        12: eviction_sweep,
        13: kv_active_ratio,
    }


def item(number: int):
    return next(i for i in FIGURES if i.number == number)


def caption(number: int) -> str:
    return _modules()[number].CAPTION


def load_figure_data(con, number: int):
    """The figure's table as a pandas DataFrame (the only input a renderer gets)."""
    return con.execute(f"SELECT * FROM paper.{item(number).table_name}").df()


def render_figure(number: int, df, out_dir: str | os.PathLike) -> Rendered:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tracelab_pipeline.figures import style

    module = _modules()[number]
    meta = item(number)
    heading = f"Figure {number}: {meta.title}" if number <= 12 else meta.title
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / meta.table_name
    enough = True
    with style.styled():
        try:
            fig = module.render(df, heading)
        except NotEnoughData as why:
            enough = False
            fig = style.not_enough_data(heading, str(why))
        FigureCanvasAgg(fig)
        paths = {}
        for ext in ("png", "svg"):
            tmp = stem.with_suffix(f".{ext}.tmp")
            fig.savefig(tmp, format=ext, metadata={"Date": None} if ext == "svg" else None)
            paths[ext] = stem.with_suffix(f".{ext}")
            os.replace(tmp, paths[ext])
        thumb = _thumbnail(fig)
    tmp = stem.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False)
    paths["csv"] = stem.with_suffix(".csv")
    os.replace(tmp, paths["csv"])
    return Rendered(
        number, paths["png"], paths["svg"], paths["csv"], thumb, module.CAPTION, enough, len(df)
    )


def _thumbnail(fig) -> bytes:
    """A few-KB PNG for the event log: low dpi, palette-quantized."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=THUMBNAIL_WIDTH_PX / fig.get_figwidth())
    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    small = image.quantize(colors=THUMBNAIL_COLORS)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def render_all(con, out_dir) -> list[Rendered]:
    return [render_figure(i.number, load_figure_data(con, i.number), out_dir) for i in FIGURES]


__all__ = [
    "NotEnoughData",
    "Rendered",
    "caption",
    "load_figure_data",
    "render_all",
    "render_figure",
]
