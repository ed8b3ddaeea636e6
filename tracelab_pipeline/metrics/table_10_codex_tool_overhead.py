"""Table 10 — Codex tool-call overhead: end-to-end (wall) vs runner-reported internal time.

tracelab-metrics §2 Table 10. Timed call: Codex, wall and internal both present, wall > 0,
internal >= 0. Residual = max(wall - internal, 0). Hours are sums; Avg/P50/P90/P99 are of the
residual in seconds. `all_calls` counts every Codex call of that tool (coverage = calls /
all_calls).

Our internal latency also comes from durations TraceLab ignores (B9: exec_command_end and
mcp_tool_call_end durations, a JSON output's metadata.duration_seconds), so we time calls it
leaves untimed, nearly every apply_patch call among them. The companion
`table_10_codex_tool_overhead_tracelab_way` counts a call as timed only when its internal
latency came from a source TraceLab reads (schema.TRACELAB_LATENCY_SOURCES): the paper's
definition of its data, which the report compares with the paper instead of this table.
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import write_paper_table
from tracelab_pipeline.schema import TRACELAB_LATENCY_SOURCES

NAME = "table_10_codex_tool_overhead"
TRACELAB_WAY_NAME = "table_10_codex_tool_overhead_tracelab_way"
TOOLS = ("exec_command", "write_stdin", "shell_command", "apply_patch")
COLUMNS = [
    ("tool", "VARCHAR"),
    ("calls", "BIGINT"),
    ("e2e_h", "DOUBLE"),
    ("int_h", "DOUBLE"),
    ("res_h", "DOUBLE"),
    ("avg_s", "DOUBLE"),
    ("p50_s", "DOUBLE"),
    ("p90_s", "DOUBLE"),
    ("p99_s", "DOUBLE"),
    ("all_calls", "BIGINT"),
]

CALLS = """
SELECT t.tool_name, t.wall_latency_ms AS wall, t.internal_latency_ms AS internal,
    t.wall_latency_ms > 0 AND t.internal_latency_ms >= 0 AND {timed_source} AS timed
FROM tool_calls t JOIN step_facts f USING (contributor, step_id)
WHERE f.provider = 'codex'
"""
TRACELAB_SOURCE = "t.internal_latency_source IN ({})".format(
    ", ".join(f"'{s}'" for s in TRACELAB_LATENCY_SOURCES)
)


def build(con: duckdb.DuckDBPyConnection) -> int:
    n = write_paper_table(con, NAME, COLUMNS, _rows(con, CALLS.format(timed_source="TRUE")))
    tracelab_way = CALLS.format(timed_source=TRACELAB_SOURCE)
    note = f"; Codex calls timed the TraceLab way, compared with the paper in place of {NAME}"
    write_paper_table(con, TRACELAB_WAY_NAME, COLUMNS, _rows(con, tracelab_way), note)
    return n


def _rows(con: duckdb.DuckDBPyConnection, calls: str) -> list[dict]:
    rows = []
    for label, where in [("All timed", "TRUE")] + [(t, f"tool_name = '{t}'") for t in TOOLS]:
        r = con.execute(
            f"""SELECT count(*) FILTER (WHERE timed),
                sum(wall) FILTER (WHERE timed) / 3.6e6,
                sum(internal) FILTER (WHERE timed) / 3.6e6,
                sum(greatest(wall - internal, 0)) FILTER (WHERE timed) / 3.6e6,
                avg(greatest(wall - internal, 0) / 1000.0) FILTER (WHERE timed),
                quantile_cont(greatest(wall - internal, 0) / 1000.0, [0.5, 0.9, 0.99])
                    FILTER (WHERE timed),
                count(*)
            FROM ({calls}) WHERE {where}"""
        ).fetchone()
        q = r[5] or [None, None, None]
        rows.append(
            {
                "tool": label,
                "calls": r[0],
                "e2e_h": r[1],
                "int_h": r[2],
                "res_h": r[3],
                "avg_s": r[4],
                "p50_s": q[0],
                "p90_s": q[1],
                "p99_s": q[2],
                "all_calls": r[6],
            }
        )
    return rows
