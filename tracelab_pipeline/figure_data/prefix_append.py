"""Fig 1: prefix vs append tokens per step (deterministic sample of at most 80,000 steps)."""

from __future__ import annotations

from tracelab_pipeline.figure_data.write import write_figure_table

SAMPLE = 80_000


def build(con, *, prepared: bool = False) -> int:
    # TraceLab samples by a multiplicative hash of the file line; we hash the step id instead
    # (no file order in our warehouse), which is just as deterministic.
    return write_figure_table(
        con,
        1,
        """
        SELECT provider, prefix_tokens, append_tokens
        FROM steps
        WHERE prefix_tokens >= 0 AND append_tokens >= 0
        ORDER BY hash(contributor || '/' || step_id), contributor, step_id
        LIMIT ?
        """,
        [SAMPLE],
    )
