"""Real private partitions (read from the licensed fixtures) and PII planted into them."""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.normalize import normalize_files

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"

# month -> fixture files whose sessions all start in that month
PARTITIONS = {
    "2025-09": ("claude/ccviewer__fe5e1c67.jsonl", "claude/ccviewer__5c0375b4.jsonl"),
    "2025-06": ("claude/sniffly__ba79134d.jsonl", "claude/sniffly__fed8ce56.jsonl"),
    "2026-04": (
        "claude/agentic-wallet__claude-session.jsonl",
        "codex/trezo-ai__codex-session.jsonl",
    ),
    # a 2026 client: thinking, WebSearch, hooks, and record kinds the others lack (`mode`,
    # `ai-title`, `last-prompt`, `system:stop_hook_summary`)
    "2026-06": ("claude/tracelab__claude-example-segment.jsonl",),
}
CONTRIBUTOR = "jdoe"

PLANTED_EMAIL = "maria.gonzalez@acme-robotics.com"
PLANTED_KEY = "sk-ant-api03-Xq7Lr9KpT2vB8mN4cD1fG6hJ0sW3eZ5y"
PLANTED_USER = "mgonzalez"
CONTRIBUTOR_NAME = "Maria Gonzalez"
PLANTED_PROJECT = f"-home-{PLANTED_USER}-work-robot-arm"


@functools.cache
def _normalized(month: str, contributor: str) -> dict[str, pa.Table]:
    files = [REAL / f for f in PARTITIONS[month]]
    return normalize_files(files, contributor).tables()


def real_partition(month: str = "2025-09", contributor: str = CONTRIBUTOR) -> dict[str, pa.Table]:
    """A fresh dict of the private tables of one real contributor-month."""
    return dict(_normalized(month, contributor))


def set_column(table: pa.Table, name: str, values: list) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(
        i, table.schema.field(name), pa.array(values, table.schema.field(name).type)
    )


def replace_first(table: pa.Table, name: str, value, where=None) -> pa.Table:
    """Set `name` to `value` on the first row (or the first row where `where(row_value)`)."""
    values = table.column(name).to_pylist()
    i = next(i for i, v in enumerate(values) if where is None or where(v))
    values[i] = value
    return set_column(table, name, values)


def plant_pii(private: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The four leaks of the issue, planted into otherwise real data.

    - an e-mail inside an MCP tool name (tool_calls and the matching timing events)
    - an API key inside a model string
    - a user name inside a path field (cwd), which must also vanish from every kept string
    - the contributor's real name inside a tool name
    - a Claude project directory naming the user (the project becomes a pseudonym)
    """
    out = dict(private)
    tools = out["tool_calls"].column("tool_name").to_pylist()
    mcp_email = f"mcp__{PLANTED_EMAIL}__search_tickets"
    mcp_name = "mcp__maria_gonzalez_crm__lookup"
    tools[0] = mcp_email
    tools[1] = mcp_name
    out["tool_calls"] = set_column(out["tool_calls"], "tool_name", tools)
    events = out["timing_events"]
    call_ids = out["tool_calls"].column("call_id").to_pylist()
    renamed = {call_ids[0]: mcp_email, call_ids[1]: mcp_name}
    names = [
        renamed.get(cid, name)
        for cid, name in zip(
            events.column("tool_call_id").to_pylist(),
            events.column("tool_name").to_pylist(),
            strict=True,
        )
    ]
    out["timing_events"] = set_column(events, "tool_name", names)
    steps = out["steps"]
    models = steps.column("model").to_pylist()
    models[0] = f"claude-proxy/{PLANTED_KEY}/sonnet"
    steps = set_column(steps, "model", models)
    cwds = steps.column("cwd").to_pylist()
    cwds = [f"/home/{PLANTED_USER}/work/robot-arm" for _ in cwds]
    steps = set_column(steps, "cwd", cwds)
    # One file's sessions ran in an encoded project directory, the other's keep the real one.
    projects = [
        PLANTED_PROJECT if source.endswith("fe5e1c67.jsonl") else project
        for source, project in zip(
            steps.column("source_file").to_pylist(),
            steps.column("project").to_pylist(),
            strict=True,
        )
    ]
    steps = set_column(steps, "project", projects)
    # The user name also leaks into a kept string: a stop reason written by a proxy.
    steps = replace_first(steps, "stop_reason", f"proxy_{PLANTED_USER}_timeout")
    out["steps"] = steps
    return out


def all_strings(tables: dict[str, pa.Table]) -> list[str]:
    """Every string value (map keys included) of every table."""
    found = []
    for table in tables.values():
        for column in table.columns:
            if pa.types.is_string(column.type):
                found += [v for v in column.to_pylist() if v is not None]
            elif pa.types.is_map(column.type):
                found += [k for row in column.to_pylist() if row for k, _ in row]
    return found


def distinct(table: pa.Table, column: str) -> set:
    return {v for v in pc.unique(table.column(column)).to_pylist() if v is not None}


def released(data: Path, contributor: str, months, resources: dict):
    """`data` after normalize (the real logs of `months` as `contributor`'s private
    partitions), anonymized_steps and release, each a real Dagster materialization; the
    release's result (its checks may have failed)."""
    import dagster as dg

    from assets.anonymize import anonymized_steps
    from assets.release import release
    from tracelab_pipeline.orchestration.partitions import contributor_month, partition_key
    from tracelab_pipeline.partitioned.store import write_partition

    for month in months:
        write_partition(
            data / "private", contributor, month, real_partition(month, contributor), {}
        )
    with dg.instance_for_test() as instance:
        keys = [partition_key(contributor, m) for m in months]
        instance.add_dynamic_partitions(contributor_month.name, keys)
        for key in keys:
            anon = dg.materialize(
                [anonymized_steps], partition_key=key, instance=instance, resources=resources
            )
            assert anon.success
        return dg.materialize(
            [release], instance=instance, resources=resources, raise_on_error=False
        )
