"""Fig 2: share of steps vs share of append tokens, by append length (decimal half-open bins)."""

from __future__ import annotations

from tracelab_pipeline.figure_data.shares import binned_shares_sql
from tracelab_pipeline.figure_data.write import write_figure_table

# (label, lo, hi): half-open [lo, hi); hi NULL = unbounded.
BINS = (
    ("0", 0, 1),
    ("1-10", 1, 10),
    ("10-100", 10, 100),
    ("100-1k", 100, 1_000),
    ("1k-10k", 1_000, 10_000),
    ("10k-100k", 10_000, 100_000),
    ("100k-500k", 100_000, 500_000),
    (">=500k", 500_000, None),
)


def build(con, *, prepared: bool = False) -> int:
    return write_figure_table(
        con,
        2,
        binned_shares_sql(
            source="steps WHERE prefix_tokens >= 0 AND append_tokens >= 0",
            value="append_tokens",
            bins=BINS,
            unit="tokens",
            count=("steps", "step_share"),
            weight=("append_tokens", "token_share"),
            weight_type="BIGINT",
        ),
    )
