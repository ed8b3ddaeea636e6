"""Fig 2: share of steps vs share of append tokens, by per-step append length."""

from __future__ import annotations

from tracelab_pipeline.figures.shares import paired_share_figure

CAPTION = (
    "Compare the two bars: most steps append under 1K tokens, yet most append tokens "
    "come from the few steps appending 10K or more."
)
MIN_STEPS = 30


def render(df, heading):
    return paired_share_figure(
        df,
        heading,
        total_col="steps",
        min_total=MIN_STEPS,
        what="steps",
        count_col="step_share",
        weight_col="token_share",
        count_label="Steps",
        weight_label="Append tokens",
        legend_title="Append tokens\nper step",
    )
