"""Fig 5: schematic of output-cached vs output-resend accounting (worked example from the table)."""

from __future__ import annotations

from tracelab_pipeline.figures import style
from tracelab_pipeline.figures.base import require

CAPTION = (
    "In (a) the prior output joins the cached prefix; in (b) it is re-sent and "
    "prefilled again as part of the next append (hatched)."
)
TITLES = {"output_cached": "(a) Output-cached", "output_resend": "(b) Output-resend"}
SEGMENT_COLORS = {
    "prefix": style.PREFIX_COLOR,
    "append": style.APPEND_COLOR,
    "output": style.OUTPUT_COLOR,
}


def render(df, heading):
    require(len(df), 1, "segments in the worked example")
    schemes = [s for s in ("output_cached", "output_resend") if (df["scheme"] == s).any()]
    fig, axes = style.new_figure(len(schemes), 1, width=9, height=2.3 * len(schemes) + 0.9)
    width = float((df["start"] + df["units"]).max())
    for ax, scheme in zip(axes[:, 0], schemes, strict=True):
        part = df[df["scheme"] == scheme]
        for y, step in ((1, "prior"), (0, "next")):
            rows = part[part["step"] == step].sort_values("start")
            for _, r in rows.iterrows():
                hatched = r["part"] == "prior output"
                ax.barh(
                    y,
                    r["units"],
                    left=r["start"],
                    height=0.62,
                    color=SEGMENT_COLORS[r["segment"]],
                    edgecolor="black",
                    linewidth=0.8,
                    hatch="//" if hatched else None,
                    alpha=0.9,
                )
                ax.text(
                    r["start"] + r["units"] / 2,
                    y,
                    str(int(r["units"])),
                    ha="center",
                    va="center",
                    fontsize=11,
                    fontweight="bold",
                )
            totals = rows.groupby("segment")["units"].sum()
            summary = ", ".join(
                f"{seg} {int(totals.get(seg, 0))}" for seg in ("prefix", "append", "output")
            )
            ax.text(width + 0.3, y, summary, va="center", fontsize=9.5)
        ax.set_yticks([1, 0], ["Prior step", "Next step"])
        ax.set_xlim(0, width + 7.5)
        ax.set_ylim(-0.6, 1.6)
        ax.grid(False)
        ax.spines["left"].set_visible(False)
        ax.set_xlabel("Tokens (units of the worked example)")
        style.title(ax, TITLES[scheme])
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=s.capitalize()) for s, c in SEGMENT_COLORS.items()]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="Prior output"))
    fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False)
    style.suptitle(fig, heading)
    return fig
