"""Fig 10: one example session — prefix/append per step, user (U) and compaction (C) markers,
and the idle gap before each step."""

from __future__ import annotations

import numpy as np

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "Steps close in time keep their prefix cached; find the user step after a long idle "
    "gap where the append bar jumps (a cache miss and a large fresh prefill)."
)
MIN_STEPS = 20


def render(df, heading):
    require(len(df), MIN_STEPS, "steps in the longest session")
    df = df.sort_values("step")
    provider = df["provider"].iloc[0]
    fig, axes = style.new_figure(
        2, 1, width=10, height=6.2, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}
    )
    ax, gap_ax = axes[0][0], axes[1][0]
    steps = df["step"].to_numpy()
    prefix = df["prefix_tokens"].to_numpy() / 1000
    append = df["append_tokens"].to_numpy() / 1000
    ax.bar(steps, prefix, color=style.PREFIX_COLOR, label="Prefix (cached)", width=0.8)
    ax.bar(
        steps,
        append,
        bottom=prefix,
        color=style.APPEND_COLOR,
        label="Append (prefilled)",
        width=0.8,
    )
    top = float((prefix + append).max()) or 1.0
    for s, user, comp, total in zip(
        steps, df["has_user_message"], df["compaction"], prefix + append, strict=True
    ):
        if user:
            _marker(ax, s, total + top * 0.02, "U", "#333333")
        if comp:
            _marker(ax, s, total + top * 0.09, "C", "#B22222")
    ax.set_ylim(0, top * 1.22)
    ax.set_ylabel("Input tokens (thousands)")
    ax.legend(frameon=False, loc="upper left", ncols=2)
    misses = df[(df["trigger"] == "user") & (df["idle_gap_s"] >= 300) & (df["hit_rate"] < 0.5)]
    if len(misses):
        worst = misses.sort_values("append_tokens").iloc[-1]
        ax.annotate(
            f"step {int(worst['step'])}: miss after "
            f"{style.format_seconds(float(worst['idle_gap_s']))} idle",
            xy=(worst["step"], (worst["prefix_tokens"] + worst["append_tokens"]) / 1000),
            xytext=(0.55, 0.93),
            textcoords="axes fraction",
            fontsize=9.5,
            arrowprops={"arrowstyle": "->", "color": "#333333"},
        )
    gaps = df["idle_gap_s"].to_numpy(dtype=float)
    shown = ~np.isnan(gaps) & (gaps > 0)
    is_user = (df["trigger"] == "user").to_numpy()
    gap_ax.bar(
        steps[shown & ~is_user],
        gaps[shown & ~is_user],
        color=style.color(provider),
        width=0.8,
        label="before a tool-initiated step",
    )
    gap_ax.bar(
        steps[shown & is_user],
        gaps[shown & is_user],
        color="#333333",
        width=0.8,
        label="before a user-initiated step",
    )
    gap_ax.legend(frameon=False, loc="upper left", fontsize=8.5, ncols=2)
    style.log_time_axis(gap_ax, "y", ticks=(0.1, 1, 10, 60, 600, 3600))
    gap_ax.set_ylim(0.05, max(7200.0, float(np.nanmax(gaps[shown])) * 2 if shown.any() else 1))
    gap_ax.axhline(300, color=style.GUIDE_COLOR, ls="--", lw=1)
    gap_ax.set_ylabel("Idle gap before")
    gap_ax.set_xlabel("Step in session")
    style.title(ax, f"{style.label(provider)} session, first {len(df)} steps")
    style.suptitle(fig, heading)
    return fig


def _marker(ax, x, y, letter: str, color: str) -> None:
    ax.text(x, y, letter, ha="center", va="bottom", fontsize=9, fontweight="bold", color=color)
