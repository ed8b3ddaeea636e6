"""Fig 6: decode speed vs context: Claude and Codex normalized, Codex pure decode, residual TTFT."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "Binned medians (line, p25-p90 band) vs context: speed drifts down at long contexts, "
    "but the per-step spread is wide at every length."
)
MIN_POINTS = 30
PANELS = (
    ("claude_normalized", "claude", "Claude: normalized decode", "Tokens/s", 160),
    ("codex_normalized", "codex", "Codex: normalized decode", "Tokens/s", 160),
    ("codex_pure_decode", "codex", "Codex: pure decode", "Tokens/s", 160),
    ("codex_residual_ttft", "codex", "Codex: residual TTFT", "Seconds", 40),
)


def render(df, heading):
    points = df[df["kind"] == "point"]
    require(len(points), MIN_POINTS, "steps with a measurable generation span")
    panels = [p for p in PANELS if (points["panel"] == p[0]).any()]
    ncols = 2 if len(panels) > 1 else 1
    nrows = (len(panels) + 1) // 2
    fig, axes = style.new_figure(nrows, ncols, width=10, height=3.6 * nrows + 0.6)
    flat = [ax for row in axes for ax in row]
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    xmax = float(max(points["context_tokens"].max(), 8192))
    for ax, (panel, provider, name, unit, cap) in zip(flat, panels, strict=False):
        pts = points[points["panel"] == panel]
        style.provider_scatter(
            ax, pts["context_tokens"], pts["value"].clip(upper=cap), provider, size=3
        )
        bins = df[
            (df["panel"] == panel) & (df["kind"] == "bin") & df["shown"].fillna(False).astype(bool)
        ].sort_values("context_tokens")
        if len(bins):
            ax.fill_between(
                bins["context_tokens"],
                bins["p25"].clip(upper=cap),
                bins["p90"].clip(upper=cap),
                color="black",
                alpha=0.12,
                lw=0,
            )
            ax.plot(
                bins["context_tokens"],
                bins["p50"].clip(upper=cap),
                color="black",
                lw=1.8,
                marker="o",
                ms=3.5,
                label="binned median",
            )
            ax.legend(frameon=False, loc="upper right")
        summary = df[(df["panel"] == panel) & (df["kind"] == "summary")]
        median = float(summary["p50"].iloc[0]) if len(summary) else float("nan")
        cv = float(summary["cv_pct"].iloc[0]) if len(summary) else float("nan")
        style.binary_token_axis(ax, "x", vmax=xmax)
        ax.set_xlim(4096, None)
        low = 0 if panel != "codex_residual_ttft" else max(min(0.0, float(pts["value"].min())), -10)
        ax.set_ylim(low, cap)
        spread = "" if cv != cv else f", CV {cv:.0f}%"  # NaN: the TTFT panel has no CV
        style.title(
            ax, f"{name}\nmedian {median:.1f} {'s' if unit == 'Seconds' else 'tok/s'}{spread}"
        )
        ax.title.set_color(style.color(provider))
        ax.set_ylabel(unit)
        ax.set_xlabel("Context (input tokens)")
    style.suptitle(fig, heading)
    return fig
