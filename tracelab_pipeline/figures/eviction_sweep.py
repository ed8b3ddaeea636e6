"""Fig 12: eviction-timeout sweep — achievable hit rate, storage ratio R, prefill amplification."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "Read across the shared timeout axis: from 1 min to 1 h the hit rate rises a little "
    "while the suspended-KV storage ratio grows several-fold and amplification falls."
)
MIN_COVERED = 20
TICKS = (1, 10, 60, 300, 600, 1800, 3600, 14400)


def render(df, heading):
    covered = int(df.loc[df["scope"] == "all", "covered_steps"].max()) if len(df) else 0
    require(covered, MIN_COVERED, "steps with a measurable idle gap")
    scopes = [s for s in ("claude", "codex", "all") if (df["scope"] == s).any()]
    fig, axes = style.new_figure(3, 1, width=8.5, height=8.4, sharex=True)
    panels = (
        ("hit_rate", 100, "Achievable hit rate (%)", "linear"),
        ("storage_ratio", 1, "Storage ratio R\n(suspended / active KV)", "linear"),
        ("prefill_amplification", 1, "Prefill amplification (x)", "log"),
    )
    for ax, (col, scale, ylabel, yscale) in zip(axes[:, 0], panels, strict=True):
        for scope in scopes:
            part = df[df["scope"] == scope].sort_values("timeout_s")
            # Amplification is undefined (no fresh tokens at all) for some tiny scopes.
            part = part[part[col].notna() & (part[col] > 0 if yscale == "log" else True)]
            if part.empty:
                continue
            ax.plot(
                part["timeout_s"],
                scale * part[col],
                color=style.color(scope),
                lw=2.2 if scope != "all" else 1.4,
                ls="-" if scope != "all" else "--",
                label=style.label(scope),
            )
        for x in (60, 300, 3600):
            ax.axvline(x, color=style.GUIDE_COLOR, ls=":", lw=1)
        ax.set_yscale(yscale)
        ax.set_ylabel(ylabel)
    axes[0][0].legend(frameon=False, loc="lower right")
    style.percent_axis(axes[0][0], "y")
    style.log_time_axis(axes[2][0], "x", ticks=TICKS)
    axes[2][0].set_xlim(1, 14400)
    axes[2][0].set_xlabel("Eviction timeout")
    style.suptitle(fig, heading)
    return fig
