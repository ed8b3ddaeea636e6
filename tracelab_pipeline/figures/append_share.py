"""Fig 2: share of steps vs share of append tokens, by per-step append length."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require
from tracelab_pipeline.figures.shares import paired_share_bars

CAPTION = (
    "Compare the two bars: most steps append under 1K tokens, yet most append tokens "
    "come from the few steps appending 10K or more."
)
MIN_STEPS = 30


def render(df, heading):
    providers = [p for p in ("claude", "codex") if (df["provider"] == p).any()]
    total = int(df.loc[df["provider"].isin(providers), "steps"].sum()) if providers else 0
    require(total, MIN_STEPS, "steps")
    fig_axes = style.new_figure(len(providers), 1, width=9.5, height=1.9 * len(providers) + 1.0)
    fig = paired_share_bars(
        fig_axes,
        df,
        count_col="step_share",
        weight_col="token_share",
        count_label="Steps",
        weight_label="Append tokens",
        legend_title="Append tokens\nper step",
        providers=providers,
    )
    style.suptitle(fig, heading)
    return fig
