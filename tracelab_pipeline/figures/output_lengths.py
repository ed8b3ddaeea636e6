"""Fig 4: output tokens per step, step histograms on TraceLab's binary axis."""

from __future__ import annotations

import numpy as np

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "Both providers peak in the low hundreds of output tokens; look for Codex's spike "
    "of very short (~40-token) outputs and the dashed medians."
)
MIN_STEPS = 30


def render(df, heading):
    providers = style.providers_in(df)
    total = int(df.drop_duplicates("provider")["provider_steps"].sum()) if len(df) else 0
    require(total, MIN_STEPS, "steps with output tokens")
    fig, axes = style.new_figure(width=9, height=4.4)
    ax = axes[0][0]
    vmax = float(df["hi_tokens"].max())
    # Bins are uniform on the axis; rebuild the full grid (empty bins are not stored).
    width = float((df["hi_axis"] - df["lo_axis"]).iloc[0])
    n_bins = int(df["bin_index"].max()) + 1
    edges = style.from_binary(np.arange(n_bins + 1) * width)
    for provider in providers:
        part = df[df["provider"] == provider].sort_values("bin_index")
        shares = np.zeros(n_bins)
        shares[part["bin_index"].to_numpy()] = 100 * part["share"].to_numpy()
        ax.stairs(
            shares,
            edges,
            color=style.color(provider),
            lw=1.6,
            label=f"{style.label(provider)} (median {part['p50_tokens'].iloc[0]:,.0f})",
        )
        ax.axvline(part["p50_tokens"].iloc[0], color=style.color(provider), ls="--", lw=1)
    style.binary_token_axis(ax, "x", vmax=vmax)
    style.percent_axis(ax, "y")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("Output tokens per step (incl. reasoning)")
    ax.set_ylabel("Share of steps per bin (%)")
    ax.legend(frameon=False)
    style.suptitle(fig, heading)
    return fig
