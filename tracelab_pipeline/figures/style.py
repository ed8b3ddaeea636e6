"""The one look shared by every figure: colours, sizes, axes and the "not enough data" card.

Import matplotlib only inside functions (the code location must not pay for it at import).
Claude and Codex have the same colour in every figure; token axes use TraceLab's binary axis
(linear below 16 tokens, log2 above) so zeros stay visible; times use log axes with
human-readable ticks.
"""

from __future__ import annotations

import math

COLORS = {"claude": "#D97757", "codex": "#1A7F64", "all": "#4D4D4D"}
LABELS = {"claude": "Claude", "codex": "Codex", "all": "All"}
PREFIX_COLOR = "#3B6FB6"
APPEND_COLOR = "#E8912D"
OUTPUT_COLOR = "#5AA05A"
GUIDE_COLOR = "#888888"
FIRST_TICK = 16

RC = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "svg.fonttype": "none",
    "savefig.dpi": 150,
}


def color(provider: str) -> str:
    return COLORS.get(provider, COLORS["all"])


def label(provider: str) -> str:
    return LABELS.get(provider, str(provider))


def providers_in(df) -> list[str]:
    """Claude then Codex, those with at least one row in `df` (one panel each)."""
    return [p for p in ("claude", "codex") if (df["provider"] == p).any()]


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 10, height: float = 4.5, **kwargs):
    """A Figure with constrained layout (no overlapping labels).

    Call inside `styled()` so the shared rc settings apply to every artist.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def styled():
    """Context manager applying the shared style (wraps rendering and saving)."""
    import matplotlib

    return matplotlib.rc_context(RC)


def title(ax, text: str) -> None:
    ax.set_title(text, fontsize=RC["axes.titlesize"])


def suptitle(fig, text: str) -> None:
    fig.suptitle(text, fontsize=13, fontweight="bold")


# ---- axes -------------------------------------------------------------------------------------


def to_binary(v):
    import numpy as np

    v = np.asarray(v, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(
            v < FIRST_TICK, v / FIRST_TICK, 1 + np.log2(np.maximum(v, 1e-300) / FIRST_TICK)
        )
    return out


def from_binary(x):
    import numpy as np

    x = np.asarray(x, dtype=float)
    return np.where(x < 1, x * FIRST_TICK, FIRST_TICK * np.power(2.0, x - 1))


def format_tokens(v: float) -> str:
    """Binary units, as TraceLab's token axes: 1K = 1024 tokens."""
    if v >= 1 << 20:
        return f"{v / (1 << 20):g}M"
    if v >= 1 << 10:
        return f"{v / (1 << 10):g}K"
    return f"{v:g}"


def binary_token_axis(ax, which: str = "x", *, vmax: float | None = None) -> None:
    """TraceLab's binary token axis: linear 0..16, log2 above, ticks every 4x."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    setter = ax.set_xscale if which == "x" else ax.set_yscale
    setter("function", functions=(to_binary, from_binary))
    top = max(vmax or 0, FIRST_TICK * 4)
    ticks = [0] + [FIRST_TICK * 4**k for k in range(0, 12) if FIRST_TICK * 4 ** (k - 1) <= top]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_minor_locator(FixedLocator([]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: format_tokens(v)))
    lim = (0, FIRST_TICK * 2 ** math.ceil(math.log2(max(top, FIRST_TICK) / FIRST_TICK) + 0.25))
    (ax.set_xlim if which == "x" else ax.set_ylim)(*lim)


def format_seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.3g}ms"
    if s < 60:
        return f"{s:.3g}s"
    if s < 3600:
        return f"{s / 60:.3g}m"
    return f"{s / 3600:.3g}h"


def point_alpha(n: int) -> float:
    """Scatter transparency: dense clouds stay readable, sparse points stay visible."""
    return float(min(0.8, max(0.08, 40 / max(n, 1) ** 0.5)))


def provider_scatter(ax, x, y, provider: str, *, size: float) -> None:
    """One provider's point cloud: its colour, transparency from the point count, rasterized."""
    ax.scatter(
        x,
        y,
        s=size,
        alpha=point_alpha(len(x)),
        linewidths=0,
        color=color(provider),
        rasterized=True,
    )


def log_time_axis(ax, which: str = "x", ticks=(0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 36000)):
    """Log time axis (seconds) with ticks like 10ms, 1s, 1m, 1h."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(FixedLocator(list(ticks)))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _: format_seconds(v)))


def percent_axis(ax, which: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if which == "y" else ax.xaxis).set_major_formatter(PercentFormatter(100))


def bin_colors(n: int) -> list:
    """Sequential colours for ordered bins (short -> long)."""
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(0.08 + 0.84 * i / max(n - 1, 1)) for i in range(n)]


# ---- cards --------------------------------------------------------------------------------------


def not_enough_data(fig_title: str, reason: str):
    """A figure that says, in words, why there is nothing to plot."""
    fig, axes = new_figure(width=8, height=3.2)
    ax = axes[0][0]
    ax.axis("off")
    ax.text(
        0.5,
        0.62,
        "Not enough data",
        ha="center",
        va="center",
        fontsize=20,
        fontweight="bold",
        color="#444444",
        transform=ax.transAxes,
    )
    ax.text(
        0.5,
        0.32,
        reason,
        ha="center",
        va="center",
        fontsize=12,
        color="#555555",
        transform=ax.transAxes,
        wrap=True,
    )
    suptitle(fig, fig_title)
    return fig
