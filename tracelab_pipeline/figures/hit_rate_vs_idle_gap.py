"""Fig 11: prefix-cache hit rate of each step vs the idle gap before it (log x)."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "Left of the 5-minute line almost every step hits; beyond it low-hit steps appear, "
    "and after 1 hour nearly all user steps miss. Tool gaps rarely pass 5 minutes."
)
MIN_POINTS = 20
MIN_GAP_S = 0.001


def render(df, heading):
    points = df[df["kind"] == "point"]
    require(len(points), MIN_POINTS, "steps with a measurable idle gap")
    providers = style.providers_in(points)
    fig, axes = style.new_figure(
        len(providers), 2, width=10, height=3.3 * len(providers) + 0.6, sharey=True, sharex=True
    )
    xmax = max(float(points["gap_s"].max()) * 2, 7200.0)
    for r, provider in enumerate(providers):
        for c, trigger in enumerate(("user", "tool")):
            ax = axes[r][c]
            pts = points[(points["provider"] == provider) & (points["trigger"] == trigger)]
            style.provider_scatter(
                ax, pts["gap_s"].clip(lower=MIN_GAP_S), 100 * pts["hit_rate"], provider, size=5
            )
            bins = df[
                (df["kind"] == "bin") & (df["provider"] == provider) & (df["trigger"] == trigger)
            ].sort_values("bin_order")
            if len(bins):
                mid = (
                    bins["lo_s"].clip(lower=MIN_GAP_S) * bins["hi_s"].fillna(bins["lo_s"] * 4)
                ).pow(0.5)
                ax.plot(
                    mid,
                    100 * bins["hit_rate"],
                    color="black",
                    marker="o",
                    ms=3.5,
                    lw=1.5,
                    label="token-weighted hit rate per bin",
                )
            for x in (300, 3600):
                ax.axvline(x, color=style.GUIDE_COLOR, ls="--", lw=1)
            ax.axhline(10, color=style.GUIDE_COLOR, ls=":", lw=1)
            style.log_time_axis(ax, "x", ticks=(0.001, 0.1, 1, 10, 60, 300, 3600, 36000))
            ax.set_xlim(MIN_GAP_S / 2, xmax)
            ax.set_ylim(-3, 103)
            style.percent_axis(ax, "y")
            kind = "User-initiated" if trigger == "user" else "Tool-initiated"
            style.title(ax, f"{style.label(provider)}: {kind} ({len(pts):,} steps)")
            ax.title.set_color(style.color(provider))
            if c == 0:
                ax.set_ylabel("Prefix-cache hit rate (%)")
            if r == len(providers) - 1:
                ax.set_xlabel("Idle gap before the step")
    axes[0][0].legend(frameon=False, loc="lower left", fontsize=8.5)
    style.suptitle(fig, heading)
    return fig
