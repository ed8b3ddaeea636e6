"""Fig 5: output-cached vs output-resend accounting, computed from a tiny worked example.

The paper's example: the prior step has 10 units of prefix, 2 of append and 4 of output; the
next step adds 1 unit of fresh input and produces 2 units of output. The two accounting rules
are applied here, in code, and the figure draws the resulting segments.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracelab_pipeline.figure_data.write import write_figure_table

SCHEMES = ("output_cached", "output_resend")


@dataclass(frozen=True)
class Example:
    prior_prefix: int = 10
    prior_append: int = 2
    prior_output: int = 4
    fresh_input: int = 1
    next_output: int = 2


def next_step(example: Example, scheme: str) -> dict[str, int]:
    """Prefix/append/output the serving side reports for the next step under `scheme`."""
    context = example.prior_prefix + example.prior_append
    if scheme == "output_cached":
        # The prior output's KV is kept: all of it becomes cached prefix.
        return {
            "prefix": context + example.prior_output,
            "append": example.fresh_input,
            "output": example.next_output,
        }
    if scheme == "output_resend":
        # Only the prompt's KV is kept; the prior output is prefilled again as append.
        return {
            "prefix": context,
            "append": example.prior_output + example.fresh_input,
            "output": example.next_output,
        }
    raise ValueError(f"unknown scheme {scheme!r}")


def segments(example: Example = Example()) -> list[dict]:
    """One row per drawn box: scheme, step, segment, part, start, units."""
    rows: list[dict] = []

    def add(scheme, step, segment, part, units, start):
        if units:
            rows.append(
                {
                    "scheme": scheme,
                    "step": step,
                    "segment": segment,
                    "part": part,
                    "start": start,
                    "units": units,
                }
            )
        return start + units

    context = example.prior_prefix + example.prior_append
    for scheme in SCHEMES:
        x = add(scheme, "prior", "prefix", "prefix", example.prior_prefix, 0)
        x = add(scheme, "prior", "append", "append", example.prior_append, x)
        add(scheme, "prior", "output", "output", example.prior_output, x)
        nxt = next_step(example, scheme)
        x = add(scheme, "next", "prefix", "prior context", context, 0)
        # Whatever of the prefix is not the prior context is the cached prior output.
        x = add(scheme, "next", "prefix", "prior output", nxt["prefix"] - context, x)
        resent = nxt["append"] - example.fresh_input
        x = add(scheme, "next", "append", "prior output", resent, x)
        x = add(scheme, "next", "append", "fresh input", example.fresh_input, x)
        add(scheme, "next", "output", "output", nxt["output"], x)
    return rows


def build(con, *, prepared: bool = False) -> int:
    import pyarrow as pa

    con.register("fd_schematic", pa.Table.from_pylist(segments()))
    try:
        return write_figure_table(
            con, 5, "SELECT * FROM fd_schematic ORDER BY scheme, step DESC, start"
        )
    finally:
        con.unregister("fd_schematic")
