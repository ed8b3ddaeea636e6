"""Fig 1: prefix vs append tokens per step, one panel per provider."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "Look for the two groups: short prefixes (<16K) with large appends (cache misses, "
    "first prefills) and long prefixes (32K-128K) with small appends (normal growth)."
)
MIN_POINTS = 30


def render(df, heading):
    require(len(df), MIN_POINTS, "steps with token counts")
    providers = style.providers_in(df)
    fig, axes = style.new_figure(
        1, len(providers), width=5 * len(providers) + 0.5, height=4.6, sharey=True
    )
    vmax = float(max(df["prefix_tokens"].max(), df["append_tokens"].max(), 1))
    for ax, provider in zip(axes[0], providers, strict=True):
        part = df[df["provider"] == provider]
        style.provider_scatter(ax, part["prefix_tokens"], part["append_tokens"], provider, size=3)
        style.binary_token_axis(ax, "x", vmax=vmax)
        style.binary_token_axis(ax, "y", vmax=vmax)
        ax.axvline(16 * 1024, color=style.GUIDE_COLOR, lw=1, ls="--")
        style.title(ax, f"{style.label(provider)} ({len(part):,} steps)")
        ax.set_xlabel("Prefix (cached) tokens per step")
    axes[0][0].set_ylabel("Append (prefilled) tokens per step")
    style.suptitle(fig, heading)
    return fig
