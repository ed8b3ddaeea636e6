"""Fig 8: share of tool calls vs share of total tool time, by latency bin."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require
from tracelab_pipeline.figures.shares import paired_share_bars

CAPTION = (
    "Compare the two bars: fast calls (<1 s) are most calls but almost no time; the few "
    "calls over 1 minute hold most of the tool time."
)
MIN_CALLS = 20


def render(df, heading):
    providers = [p for p in ("claude", "codex") if (df["provider"] == p).any()]
    total = int(df.loc[df["provider"].isin(providers), "calls"].sum()) if providers else 0
    require(total, MIN_CALLS, "tool calls with a positive latency")
    fig_axes = style.new_figure(len(providers), 1, width=9.5, height=1.9 * len(providers) + 1.0)
    fig = paired_share_bars(
        fig_axes,
        df,
        count_col="call_share",
        weight_col="latency_share",
        count_label="Tool calls",
        weight_label="Tool time",
        legend_title="Tool latency",
        providers=providers,
    )
    style.suptitle(fig, heading)
    return fig
