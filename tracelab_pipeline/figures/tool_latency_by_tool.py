"""Fig 9: latency by tool (top 12 per provider), box = IQR, whiskers = p5/p95, log seconds."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "Read/Edit-style tools finish in milliseconds; agents, questions and long commands "
    "take minutes; note how wide each tool's own box is."
)
MIN_LATENCIES = 10


def render(df, heading):
    providers = style.providers_in(df)
    total = int(df["latency_count"].sum()) if len(df) else 0
    require(total, MIN_LATENCIES, "tool calls with a positive latency")
    rows = max(int((df["provider"] == p).sum()) for p in providers)
    fig, axes = style.new_figure(
        1, len(providers), width=5.4 * len(providers) + 0.6, height=0.42 * rows + 1.9
    )
    low = min(0.03, float(df["p5_ms"].min()) / 1000 / 1.5)
    high = max(600.0, float(df["p95_ms"].max()) / 1000 * 1.5)
    for ax, provider in zip(axes[0], providers, strict=True):
        part = df[df["provider"] == provider].sort_values("position")
        stats = [
            {
                "label": f"{r.tool_name} ({r.calls:,})",
                "whislo": r.p5_ms / 1000,
                "q1": r.p25_ms / 1000,
                "med": r.p50_ms / 1000,
                "q3": r.p75_ms / 1000,
                "whishi": r.p95_ms / 1000,
                "fliers": [],
            }
            for r in part.itertuples()
        ]
        ax.bxp(
            stats[::-1],
            orientation="horizontal",
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": style.color(provider), "alpha": 0.55},
            medianprops={"color": "black", "linewidth": 1.6},
        )
        style.log_time_axis(ax, "x", ticks=(0.01, 0.1, 1, 10, 60, 600, 3600, 36000))
        ax.set_xlim(low, high)
        style.title(ax, style.label(provider))
        ax.title.set_color(style.color(provider))
        ax.set_xlabel("Tool latency (log scale; whiskers p5-p95)")
        ax.grid(axis="y", visible=False)
    style.suptitle(fig, heading)
    return fig
