"""Number formatting as the paper prints it (tracelab-metrics §2, per table).

Each paper.* row carries a `unit`; a few columns override it (percent shares, step counts).
"""

from __future__ import annotations

import math

DASH = "–"


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def count(x) -> str:
    return f"{round(x):,}"


def _by_size(x, tiers, smaller: str) -> str:
    """`x` in the first (min |x|, divisor, template) of `tiers` that |x| reaches, else `smaller`."""
    for min_abs, divisor, template in tiers:
        if abs(x) >= min_abs:
            return template.format(x / divisor)
    return smaller.format(x)


def money(x) -> str:
    """Table 5: >= 100 -> integer, >= 10 -> 1 decimal, else 2 decimals."""
    return _by_size(x, ((100, 1, "${:,.0f}"), (10, 1, "${:.1f}")), "${:.2f}")


def money_large(x) -> str:
    """Table 13: >= 1000 -> $x,xxx; >= 100 -> 1 decimal; else 2 decimals."""
    return _by_size(x, ((1000, 1, "${:,.0f}"), (100, 1, "${:,.1f}")), "${:.2f}")


def money_small(x) -> str:
    return f"${x:.2f}" if abs(x) >= 1 else f"${x:.3f}"


def money_k(x) -> str:
    return f"${x / 1000:.1f}K" if abs(x) >= 1000 else f"${x:.2f}"


def tokens_bm(x) -> str:
    return _by_size(x, ((1e9, 1e9, "{:.2f} B"), (1e6, 1e6, "{:.1f} M")), "{:,.0f}")


def tokens_m(x) -> str:
    return f"{x / 1e6:,.1f} M"


def tokens_k(x) -> str:
    return f"{x / 1000:.1f}K" if abs(x) >= 1000 else f"{round(x)}"


def duration(x) -> str:
    """|x| >= 1 h -> hours, >= 1 min -> minutes, else seconds; one decimal."""
    return _by_size(x, ((3600, 3600, "{:.1f}h"), (60, 60, "{:.1f}m")), "{:.1f}s")


def thousands_calls(n) -> str:
    """Table 10: >= 10,000 -> round(n/1000)k, else n/1000 with one decimal + k."""
    return f"{round(n / 1000)}k" if n >= 10_000 else f"{n / 1000:.1f}k"


UNIT_FORMATS = {
    "count": count,
    "int": lambda x: f"{x:.0f}",
    "avg1": lambda x: f"{x:.1f}",
    "avg2": lambda x: f"{x:.2f}",
    "avg3": lambda x: f"{x:.3f}",
    "pct": lambda x: f"{100 * x:.1f}%",
    "pct1": lambda x: f"{100 * x:.1f}%",
    "pct2": lambda x: f"{100 * x:.2f}%",
    "usd": money,
    "usd_k": money_k,
    "usd_int": money_large,
    "usd_small": money_small,
    "tokens": lambda x: f"{x:,.0f}",
    "tokens_bm": tokens_bm,
    "tokens_m": tokens_m,
    "tokens_k": tokens_k,
    "duration": duration,
    "ratio1": lambda x: f"{x:.1f}",
    "price": lambda x: f"{x:.2f}" if round(x, 2) == x else f"{x:.3f}",
    "hours": lambda x: f"{x:.1f}h",
    "hours_res": lambda x: f"{x:.1f}h" if x >= 1 else f"{x:.2f}h",
    "seconds2": lambda x: f"{x:.2f}s",
    "seconds1": lambda x: f"{x:.1f}s",
    "calls_k": thousands_calls,
    "text": str,
}

# Column-specific units that win over the row's unit.
COLUMN_UNITS = {
    "n": "count",
    "share": "pct1",
    "pct_cost": "pct1",
    "claude_pct": "pct1",
    "codex_pct": "pct1",
    "total_pct": "pct1",
}


def column_unit(table: str, column: str, row_unit: str | None) -> str:
    if table == "table_02_loop_counts" and column in ("p25", "p50", "p90", "p99"):
        return "half_even"
    if table == "table_02_loop_counts" and column == "avg":
        return "avg1"
    if table == "table_10_codex_tool_overhead":
        return {
            "calls": "calls_k",
            "all_calls": "count",
            "e2e_h": "hours",
            "int_h": "hours",
            "res_h": "hours_res",  # only the residual gets 2 decimals under 1 h (0.21h)
            "p99_s": "seconds1",
        }.get(column, "seconds2")
    if table == "table_06_pricing":
        return "count" if column == "steps" else "price"
    return COLUMN_UNITS.get(column, row_unit or "count")


def fmt(value, unit: str) -> str:
    if _missing(value):
        return DASH
    if unit == "half_even":
        return f"{round(value):,}"  # Python round(): half-to-even, as TraceLab prints Table 2
    if isinstance(value, str):
        return value
    return UNIT_FORMATS.get(unit, count)(value)


def fmt_diff(ours, paper, unit: str) -> tuple[str, str]:
    """(absolute difference in the cell's unit, relative difference) of ours - paper."""
    if _missing(ours) or _missing(paper) or isinstance(ours, str) or isinstance(paper, str):
        return DASH, DASH
    diff = ours - paper
    if unit in ("pct", "pct1", "pct2"):
        absolute = f"{100 * diff:+.1f} pt"
    elif unit == "half_even":
        absolute = f"{diff:+,.1f}"
    else:
        absolute = fmt(abs(diff), unit)
        absolute = ("-" if diff < 0 else "+") + absolute
    relative = f"{100 * diff / paper:+.1f}%" if paper else DASH
    return absolute, relative
