"""KV active ratio: share of a session's KV-resident time spent generating, vs eviction timeout."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "The longer KV is kept through tool and human waits, the smaller the share of its "
    "lifetime spent decoding (read the 1 min, 10 min and 1 h guides)."
)


MIN_WAITS = 20


def render(df, heading):
    waits = int(df.drop_duplicates("provider")[["tool_calls", "human_waits"]].sum().sum())
    require(waits if len(df) else 0, MIN_WAITS, "tool calls and human waits")
    fig, axes = style.new_figure(width=8.5, height=4.4)
    ax = axes[0][0]
    for provider in ("claude", "codex"):
        part = df[df["provider"] == provider].sort_values("timeout_s")
        if len(part):
            ax.plot(
                part["timeout_s"],
                100 * part["kv_active_ratio"],
                color=style.color(provider),
                lw=2.2,
                label=style.label(provider),
            )
    for x in (60, 600, 3600):
        ax.axvline(x, color=style.GUIDE_COLOR, ls=":", lw=1)
    style.log_time_axis(ax, "x", ticks=(1, 10, 60, 600, 3600))
    ax.set_xlim(1, 3600)
    ax.set_ylim(0, 100)
    style.percent_axis(ax, "y")
    ax.set_xlabel("Timeout T (waits longer than T excluded)")
    ax.set_ylabel("KV active ratio (%)")
    ax.legend(frameon=False)
    style.suptitle(fig, heading)
    return fig
