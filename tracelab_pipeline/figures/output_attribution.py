"""Fig 3: output attribution test per model — does the prior output reappear as prefix or append?"""

from __future__ import annotations

from tracelab_pipeline.figure_data.output_attribution import decision
from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "Output-cached models put points on the y = x line in the top row (prefix gain = "
    "prior output); output-resend models put them on or above it in the bottom row."
)
MIN_PAIRS = 10
PREFERRED = ("Claude", "gpt-5.5", "gpt-5.4")
MAX_GROUPS = 3
MAX_POINTS = 6_000


def groups_to_show(df) -> list[str]:
    counts = df["model_group"].value_counts()
    chosen = [g for g in PREFERRED if counts.get(g, 0) > 0]
    chosen += [g for g in counts.index if g not in chosen]
    return chosen[:MAX_GROUPS]


def summarise(part) -> dict:
    n = len(part)
    close = 100 * part["prefix_close"].mean() if n else 0.0
    append_side = 100 * part["append_side_pair"].mean() if n else 0.0
    return {
        "n": n,
        "prefix_close_pct": close,
        "append_side_pct": append_side,
        "decision": decision(n, close, append_side),
    }


def render(df, heading):
    require(len(df), MIN_PAIRS, "step pairs with a prior output of at least 2K tokens")
    groups = groups_to_show(df)
    fig, axes = style.new_figure(2, len(groups), width=3.9 * len(groups) + 0.6, height=7.2)
    vmax = float(
        max(
            df["prev_output"].max(),
            df["next_append"].max(),
            df["prefix_delta"].clip(lower=0).max(),
            1,
        )
    )
    for col, group in enumerate(groups):
        part = df[df["model_group"] == group].sort_values("prev_output")
        if len(part) > MAX_POINTS:  # rank-stratified subsample, as TraceLab
            step = len(part) / MAX_POINTS
            part = part.iloc[[int(i * step) for i in range(MAX_POINTS)]]
        provider = part["provider"].iloc[0]
        summary = summarise(df[df["model_group"] == group])
        for row, (ycol, ylabel) in enumerate(
            (("prefix_delta", "Next prefix gain (tokens)"), ("next_append", "Next append (tokens)"))
        ):
            ax = axes[row][col]
            y = part[ycol].clip(lower=0)
            style.provider_scatter(ax, part["prev_output"], y, provider, size=6)
            style.binary_token_axis(ax, "x", vmax=vmax)
            style.binary_token_axis(ax, "y", vmax=vmax)
            ax.plot([0, vmax * 2], [0, vmax * 2], color=style.GUIDE_COLOR, lw=1, ls="--")
            median_gap = float(
                (
                    df.loc[df["model_group"] == group, ycol]
                    - df.loc[df["model_group"] == group, "prev_output"]
                ).median()
            )
            ax.text(
                0.03,
                0.95,
                f"median y - x: {median_gap:+,.0f}",
                transform=ax.transAxes,
                va="top",
                fontsize=9,
            )
            if col == 0:
                ax.set_ylabel(ylabel)
            if row == 1:
                ax.set_xlabel("Prior output (tokens)")
        style.title(axes[0][col], f"{group} (n={summary['n']:,})")
        axes[0][col].title.set_color(style.color(provider))
        axes[1][col].set_title(
            f"prefix-close {summary['prefix_close_pct']:.0f}% | "
            f"append-side {summary['append_side_pct']:.0f}%\n{summary['decision']}",
            fontsize=9.5,
        )
    style.suptitle(fig, heading)
    return fig
