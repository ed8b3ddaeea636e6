"""Fig 7: tool popularity — share of each provider's tool calls per tool."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "Look at the top three bars of each provider: command execution and file tools "
    "take most calls (paper: >80% Claude, ~95% Codex)."
)
MIN_CALLS = 20
TOP = 10


def render(df, heading):
    providers = style.providers_in(df)
    total = int(df["calls"].sum()) if len(df) else 0
    require(total, MIN_CALLS, "tool calls")
    fig, axes = style.new_figure(1, len(providers), width=5.2 * len(providers) + 0.6, height=4.8)
    for ax, provider in zip(axes[0], providers, strict=True):
        part = df[df["provider"] == provider].sort_values("rank")
        top, rest = part.head(TOP), part.iloc[TOP:]
        names = list(top["tool_name"])
        shares = list(100 * top["share"])
        counts = list(top["calls"])
        if len(rest):
            names.append(f"{len(rest)} more tools")
            shares.append(100 * float(rest["share"].sum()))
            counts.append(int(rest["calls"].sum()))
        ys = list(range(len(names)))[::-1]
        ax.barh(ys, shares, color=style.color(provider), height=0.7)
        for y, share, n in zip(ys, shares, counts, strict=True):
            ax.text(share + 1, y, f"{share:.1f}% ({n:,})", va="center", fontsize=8.5)
        ax.set_yticks(ys, names)
        ax.set_xlim(0, max(shares) * 1.45 + 1)
        style.percent_axis(ax, "x")
        top3 = 100 * float(part["top3_share"].iloc[0])
        style.title(
            ax,
            f"{style.label(provider)}: top 3 = {top3:.1f}% of "
            f"{int(part['provider_calls'].iloc[0]):,} calls",
        )
        ax.title.set_color(style.color(provider))
        ax.set_xlabel("Share of tool calls (%)")
        ax.grid(axis="y", visible=False)
    style.suptitle(fig, heading)
    return fig
