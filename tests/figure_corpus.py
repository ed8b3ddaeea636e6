"""A small synthetic corpus in the PUBLIC schema, for the figure tests and benchmark.

Sessions alternate providers. Each step answers the previous step's tool call (tool-initiated)
or a user message (user-initiated, after a human pause); a pause over 5 minutes empties the
cache (prefix 0, the whole context is appended). Claude and gpt-5.5 re-send the prior output as
append (output-resend); gpt-5.4 keeps it cached (output-cached). Everything is drawn from a
seeded numpy generator, so a corpus is reproducible.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from tracelab_pipeline.schema import public_schema

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLAUDE_TOOLS = ("Bash", "Read", "Edit", "Grep", "mcp__github__search", "TodoWrite")
CODEX_TOOLS = ("exec_command", "write_stdin", "apply_patch", "update_plan")


def make_corpus(sessions: int = 8, steps_per_session: int = 45, seed: int = 0) -> dict:
    """Return {"steps", "tool_calls", "timing_events"} pyarrow tables (public schema)."""
    rng = np.random.default_rng(seed)
    steps, calls, events = [], [], []
    for s in range(sessions):
        provider = "claude" if s % 2 == 0 else "codex"
        model = "claude-opus-4-7" if provider == "claude" else ("gpt-5.4", "gpt-5.5")[(s // 2) % 2]
        resend = model != "gpt-5.4"
        contributor = f"c{s % 3}"
        session_id = f"{provider}:sess{s:04d}"
        t = T0 + timedelta(hours=s)
        context = int(rng.integers(8_000, 20_000))
        prev_output = 0
        prev_call = None  # (call_id, result_at)
        for k in range(steps_per_session):
            user = k == 0 or prev_call is None or rng.random() < 0.12
            if user:
                pause = float(rng.choice([20.0, 90.0, 400.0, 1_000.0, 5_000.0])) if k else 0.0
                t = t + timedelta(seconds=pause)
                input_at = t
                fresh = int(rng.integers(50, 2_000))
            else:
                input_at = prev_call[1]
                t = input_at
                fresh = (
                    int(rng.integers(20, 30_000))
                    if rng.random() < 0.1
                    else int(rng.integers(20, 1_500))
                )
            miss = k == 0 or (user and pause > 300)
            if miss:
                prefix, append = 0, context + prev_output + fresh
            elif resend:
                prefix, append = context, prev_output + fresh
            else:
                prefix, append = context + prev_output, fresh
            output = int(
                rng.choice([40, 120, 300, 800, 2_500, 4_000], p=[0.2, 0.3, 0.25, 0.15, 0.05, 0.05])
            )
            reasoning = int(output * 0.4) if provider == "codex" else None
            step_id = f"{session_id}:r{k}"
            speed = float(rng.uniform(25, 70))
            first_out = input_at + timedelta(seconds=float(rng.uniform(0.5, 3.0)))
            last_out = first_out + timedelta(seconds=output / speed)
            ev = [
                (
                    "user_message" if user else "tool_result",
                    input_at,
                    None if user else prev_call[0],
                )
            ]
            if provider == "codex":
                reasoning_end = first_out + timedelta(seconds=reasoning / speed)
                ev += [("reasoning", reasoning_end, None)]
            ev += [
                (
                    "text",
                    first_out if provider == "claude" else last_out - timedelta(seconds=0.3),
                    None,
                )
            ]
            has_call = k < steps_per_session - 1
            tools = CLAUDE_TOOLS if provider == "claude" else CODEX_TOOLS
            if has_call:
                call_id = f"call_{s}_{k}"
                latency_s = float(rng.lognormal(0.0, 2.0))
                result_at = last_out + timedelta(seconds=latency_s)
                ev += [("tool_call", last_out, call_id)]
                calls.append(
                    {
                        "step_id": step_id,
                        "contributor": contributor,
                        "session_id": session_id,
                        "tool_index": 0,
                        "tool_name": tools[int(rng.integers(0, len(tools)))],
                        "call_id": call_id,
                        "emitted_at": last_out,
                        "result_at": result_at,
                        "wall_latency_ms": round(latency_s * 1000),
                        "internal_latency_ms": round(latency_s * 900)
                        if provider == "codex"
                        else None,
                        "is_error": bool(rng.random() < 0.05),
                        "input_chars": 100,
                        "result_chars": 1000,
                        "command_signature": None,
                    }
                )
            if provider == "codex":
                ev += [("usage_report", last_out + timedelta(seconds=0.1), None)]
            for i, (etype, ts, cid) in enumerate(ev):
                events.append(
                    {
                        "step_id": step_id,
                        "contributor": contributor,
                        "event_index": i,
                        "event_type": etype,
                        "timestamp": ts,
                        "source": "synthetic",
                        "tool_call_id": cid,
                    }
                )
            steps.append(
                {
                    "step_id": step_id,
                    "contributor": contributor,
                    "provider": provider,
                    "session_id": session_id,
                    "root_session_id": session_id,
                    "is_sidechain": False,
                    "session_started_at": T0 + timedelta(hours=s),
                    "step_index": k,
                    "round_id": f"r{k}",
                    "model": model,
                    "input_tokens_total": prefix + append,
                    "prefix_tokens": prefix,
                    "append_tokens": append,
                    "output_tokens": output,
                    "reasoning_tokens": reasoning,
                    "trigger": "user" if user else "tool",
                    "first_input_event_type": "user_message" if user else "tool_result",
                    "first_event_type": "user_message" if user else "tool_result",
                    "current_input_event_count": 1,
                    "current_user_message_count": int(user),
                    "current_tool_result_count": int(not user),
                    "current_user_message_chars": 10 * int(user),
                    "current_tool_result_chars": 10 * int(not user),
                    "current_input_chars": 10,
                    "after_compaction": False,
                    "input_ready_at": input_at,
                    "first_output_at": first_out,
                    "last_output_at": last_out,
                    "tool_call_count": int(has_call),
                }
            )
            context = prefix + append  # the next step's L_prev
            prev_output = output
            prev_call = (call_id, result_at) if has_call else None
            t = last_out
    return {
        "steps": pa.Table.from_pylist(steps, schema=public_schema("steps")),
        "tool_calls": pa.Table.from_pylist(calls, schema=public_schema("tool_calls")),
        "timing_events": pa.Table.from_pylist(events, schema=public_schema("timing_events")),
    }


def empty_corpus() -> dict:
    return {
        name: public_schema(name).empty_table() for name in ("steps", "tool_calls", "timing_events")
    }


def load(con, corpus: dict) -> None:
    """Create the warehouse base tables in DuckDB from the corpus (replacing them)."""
    for name, table in corpus.items():
        con.register("_corpus_tmp", table)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _corpus_tmp")
        con.unregister("_corpus_tmp")
