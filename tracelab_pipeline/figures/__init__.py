"""Matplotlib renderers for every paper figure, reading only `paper.figure_NN_<slug>` tables.

`render_figure(number, df, out_dir)` writes `figure_NN_<slug>.png`, `.svg` and `.csv` (the
plotted data) and returns their paths with a caption and a small thumbnail for the Dagster UI.
A renderer that lacks data raises `NotEnoughData`; the figure then says so in words instead of
failing.
"""

from __future__ import annotations

import importlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.figure_data.write import figure_item, qualified_name
from tracelab_pipeline.figures.base import NotEnoughData

# (width px, palette colours) tried in order until the PNG fits THUMBNAIL_MAX_BYTES.
THUMBNAIL_STEPS = ((400, 32), (360, 16), (300, 12))
THUMBNAIL_MAX_BYTES = 10_000


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


def _module(number: int):
    # One module per figure, named after its slug, each with CAPTION and render(df, heading).
    return importlib.import_module(f"{__name__}.{figure_item(number).slug}")


def caption(number: int) -> str:
    return _module(number).CAPTION


def load_figure_data(con, number: int):
    """The figure's table as a pandas DataFrame (the only input a renderer gets)."""
    return con.execute(f"SELECT * FROM {qualified_name(number)}").df()


def render_figure(number: int, df, out_dir: str | os.PathLike) -> Rendered:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tracelab_pipeline.figures import style

    module = _module(number)
    meta = figure_item(number)
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
        png = io.BytesIO()
        fig.savefig(png, format="png")
        _write_atomic(stem.with_suffix(".png"), png.getvalue())
        svg = io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None})
        _write_atomic(stem.with_suffix(".svg"), svg.getvalue())
    paths = {ext: stem.with_suffix(f".{ext}") for ext in ("png", "svg")}
    # Scaled down from the full-size PNG rather than drawn a third time.
    thumb = _thumbnail(png.getvalue())
    paths["csv"] = stem.with_suffix(".csv")
    _write_atomic(paths["csv"], df.to_csv(index=False).encode())
    return Rendered(
        number, paths["png"], paths["svg"], paths["csv"], thumb, module.CAPTION, enough, len(df)
    )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _thumbnail(png: bytes) -> bytes:
    """A few-KB PNG for the event log: scaled down, palette-quantized; dense plots get smaller."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    data = b""
    for width, colors in THUMBNAIL_STEPS:
        small = image.resize(
            (width, round(image.height * width / image.width)), Image.Resampling.LANCZOS
        )
        # Octree keeps the provider colours distinct; no dithering compresses better.
        small = small.quantize(
            colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
        data = out.getvalue()
        if len(data) <= THUMBNAIL_MAX_BYTES:
            break
    return data


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
