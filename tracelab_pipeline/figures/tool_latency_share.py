"""Fig 8: share of tool calls vs share of total tool time, by latency bin."""

from __future__ import annotations

from tracelab_pipeline.figures.shares import paired_share_figure

CAPTION = (
    "Compare the two bars: fast calls (<1 s) are most calls but almost no time; the few "
    "calls over 1 minute hold most of the tool time."
)
MIN_CALLS = 20


def render(df, heading):
    return paired_share_figure(
        df,
        heading,
        total_col="calls",
        min_total=MIN_CALLS,
        what="tool calls with a positive latency",
        count_col="call_share",
        weight_col="latency_share",
        count_label="Tool calls",
        weight_label="Tool time",
        legend_title="Tool latency",
    )
