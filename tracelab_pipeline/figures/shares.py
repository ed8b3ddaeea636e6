"""Paired stacked bars (count share vs weight share per bin), used by Figs 2 and 8."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

LABEL_MIN_SHARE = 0.075  # print a percentage inside segments at least this wide


def paired_share_figure(df, heading, *, total_col, min_total, what, **bars):
    """One panel of paired bars per provider present, if the providers' `total_col` sums to
    at least `min_total` (`what` names it in the not-enough-data message)."""
    providers = style.providers_in(df)
    total = int(df.loc[df["provider"].isin(providers), total_col].sum()) if providers else 0
    require(total, min_total, what)
    fig_axes = style.new_figure(len(providers), 1, width=9.5, height=1.9 * len(providers) + 1.0)
    fig = paired_share_bars(fig_axes, df, providers=providers, **bars)
    style.suptitle(fig, heading)
    return fig


def paired_share_bars(
    fig_axes, df, *, count_col, weight_col, count_label, weight_label, legend_title, providers
):
    fig, axes = fig_axes
    shown = df[df["shown"].fillna(False).astype(bool)]
    bins = shown[["bin_order", "label"]].drop_duplicates().sort_values("bin_order")
    colors = dict(zip(bins["bin_order"], style.bin_colors(len(bins)), strict=True))
    for ax, provider in zip(axes[:, 0], providers, strict=True):
        part = shown[shown["provider"] == provider].sort_values("bin_order")
        for y, col in ((1, count_col), (0, weight_col)):
            left = 0.0
            for _, row in part.iterrows():
                share = float(row[col] or 0.0)
                ax.barh(
                    y,
                    share * 100,
                    left=left,
                    color=colors[row["bin_order"]],
                    edgecolor="white",
                    linewidth=0.6,
                    height=0.7,
                )
                if share >= LABEL_MIN_SHARE:
                    rgb = colors[row["bin_order"]][:3]
                    dark = sum(rgb) / 3 < 0.5
                    ax.text(
                        left + share * 50,
                        y,
                        f"{share * 100:.0f}%",
                        ha="center",
                        va="center",
                        fontsize=9,
                        color="white" if dark else "black",
                    )
                left += share * 100
        ax.set_yticks([1, 0], [count_label, weight_label])
        ax.set_xlim(0, 100)
        ax.grid(False)
        style.title(ax, style.label(provider))
        ax.title.set_color(style.color(provider))
        style.percent_axis(ax, "x")
    axes[-1, 0].set_xlabel("Share within provider (%)")
    from matplotlib.patches import Patch

    handles = [
        Patch(color=colors[o], label=lab)
        for o, lab in zip(bins["bin_order"], bins["label"], strict=True)
    ]
    fig.legend(handles=handles, title=legend_title, loc="outside right center", frameon=False)
    return fig
