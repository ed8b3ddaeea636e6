"""README.md of the release: counts, files, how to load it, and every column's meaning taken
from schema.py (the same docs the pipeline's own tables carry)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline import schema
from tracelab_pipeline.anonymize.pseudonyms import public_column_docs
from tracelab_pipeline.release import weka
from tracelab_pipeline.release.mooncake import BLOCK_TOKENS, SUBMIT_TIME
from tracelab_pipeline.release.mooncake_sessions import DONE_TIME
from tracelab_pipeline.release.public_tables import RELEASE_TABLES

ROUNDS_FILE = "tracelab_rounds.jsonl.gz"
MOONCAKE_FILE = "mooncake.jsonl.gz"
MOONCAKE_SESSIONS_FILE = "mooncake.sessions.jsonl.gz"
WEKA_FILE = "weka.jsonl.gz"


class DatasetCounts:
    """The datasheet's counts, accumulated a partition at a time (distinct ids as sets of
    pseudonyms: one entry per contributor, session or thread, never per step)."""

    def __init__(self) -> None:
        self.contributors: set[str] = set()
        self.sessions: set[tuple] = set()
        self.threads: set[tuple] = set()
        self.rows = dict.fromkeys(RELEASE_TABLES, 0)
        self.by_provider = dict.fromkeys(schema.PROVIDERS, 0)

    def add(self, tables: dict[str, pa.Table]) -> None:
        steps = tables["steps"]
        contributor, provider = (steps.column(c).to_pylist() for c in ("contributor", "provider"))
        self.contributors.update(contributor)
        for name, column in (("sessions", "root_session_id"), ("threads", "session_id")):
            values = steps.column(column).to_pylist()
            getattr(self, name).update(zip(contributor, provider, values, strict=True))
        for name, table in tables.items():
            self.rows[name] += table.num_rows
        for p in self.by_provider:
            self.by_provider[p] += int(pc.sum(pc.equal(steps.column("provider"), p)).as_py() or 0)

    def as_dict(self, months: list[str]) -> dict:
        return {
            "contributors": len(self.contributors),
            "sessions": len(self.sessions),
            "threads": len(self.threads),
            **self.rows,
            "steps_by_provider": self.by_provider,
            "months": {"first": months[0], "last": months[-1]} if months else None,
        }


def render_readme(counts: dict, files: dict[str, dict]) -> str:
    months = counts["months"]
    span = f"{months['first']} to {months['last']}" if months else "none (empty release)"
    by_provider = ", ".join(f"{p} {n}" for p, n in counts["steps_by_provider"].items())
    lines = [
        "# TraceLab pipeline release",
        "",
        "Agentic-coding LLM workload (Claude Code and Codex CLI sessions) as step-level tables,",
        "the TraceLab round format and replay traces (Mooncake open- and closed-loop, Weka",
        "sessions). Built from the public",
        "(anonymized) layer only: identifiers are keyed pseudonyms (HMAC-SHA256, key not",
        "published), and there is no prompt, output, tool input or result text, no path, working",
        "directory or git branch; only sizes (characters) and token counts.",
        "",
        f"Schema version {schema.SCHEMA_VERSION}. Sizes and SHA-256 of every file: "
        "`MANIFEST.json`; its `built_from` lists the contributor-month partitions this release",
        "was built from (with a digest each) and a fingerprint of the pseudonym key: two",
        "releases with the same fingerprint use the same pseudonyms.",
        "",
        "## Contents",
        "",
        f"- contributors: {counts['contributors']}",
        f"- sessions: {counts['sessions']} ({counts['threads']} agent threads incl. sub-agents)",
        f"- steps (LLM calls): {counts['steps']} ({by_provider})",
        f"- tool calls: {counts['tool_calls']}",
        f"- timing events: {counts['timing_events']}",
        f"- months (a conversation's partition: the month it began): {span}",
        "",
        "| file | rows | what |",
        "|---|---|---|",
    ]
    what = {
        "parquet/steps.parquet": "one row per step (LLM call)",
        "parquet/tool_calls.parquet": "one row per tool call",
        "parquet/timing_events.parquet": "the events (inputs, outputs, tool calls) of each step",
        ROUNDS_FILE: "TraceLab round JSONL (gzip): one round per step, events and tools nested",
        MOONCAKE_FILE: "Mooncake trace (gzip): one request per step with a time, for replay",
        MOONCAKE_SESSIONS_FILE: "the same Mooncake lines, closed-loop: `delay` after a thread's "
        "first line",
        WEKA_FILE: "Weka / kv-cache-tester session trace (gzip): one session per line, "
        "sub-agents nested",
    }
    for name, text in what.items():
        lines.append(f"| `{name}` | {files[name]['rows']} | {text} |")
    lines += [
        "",
        "## Loading",
        "",
        "DuckDB:",
        "",
        "```sql",
        "CREATE VIEW steps AS FROM 'parquet/steps.parquet';",
        "CREATE VIEW tool_calls AS FROM 'parquet/tool_calls.parquet';",
        "SELECT provider, count(*), sum(prefix_tokens) / sum(input_tokens_total) AS hit_rate",
        "FROM steps GROUP BY provider;",
        "```",
        "",
        "pandas:",
        "",
        "```python",
        "import pandas as pd",
        'steps = pd.read_parquet("parquet/steps.parquet")',
        f'mooncake = pd.read_json("{MOONCAKE_FILE}", lines=True)',
        "```",
        "",
        "pandas holds every hash id as a Python int (about 70 bytes each, and there are about",
        "input tokens / 512 of them); DuckDB reads the trace in a fraction of that memory:",
        f"`CREATE TABLE mooncake AS FROM '{MOONCAKE_FILE}';`.",
        "",
        "Rows are ordered by contributor pseudonym and month, then within a contributor-month",
        "by (session_id, step_index, step_id) / (step_id, tool_index, call_id) /",
        "(step_id, event_index).",
        "",
        "Keys: `tool_calls.step_id` and `timing_events.step_id` refer to `steps.step_id`;",
        "`timing_events.tool_call_id` to `tool_calls.call_id`; a sub-agent thread's",
        "`parent_session_id` to the `session_id` of the thread that spawned it. Ids are unique",
        "per `contributor` pseudonym.",
        "",
        "## TraceLab round format",
        "",
        f"`{ROUNDS_FILE}` has TraceLab's field names and order. Fields that would carry",
        "private data are absent: `session_file`, Codex `cwd` and the tools' `input`.",
        "The format has no field for the contributor or a sub-agent's parent: read back",
        "(`tracelab normalize`), every thread is a main chain of one contributor; take",
        "`contributor`, `root_session_id` and `parent_session_id` from `steps`, joined on",
        "(`session_id`, `round_id`) (the file's `session_id` has a `claude:`/`codex:` prefix,",
        "which the reader strips).",
        "",
        "## Mooncake trace",
        "",
        f"`{MOONCAKE_FILE}`: one line per step, sorted by `timestamp` (integer ms from the first",
        "call, truncated). Submit time = "
        + ", else ".join(f"`{c}`" for c in SUBMIT_TIME)
        + "; steps with neither",
        "are left out (their number: `MANIFEST.json`, `mooncake.steps_without_time`).",
        "`input_length` = prefix + append tokens; `output_length` includes reasoning tokens;",
        f"`hash_ids` has ceil(input_length / {BLOCK_TOKENS}) ids, one per {BLOCK_TOKENS}-token "
        "block. The",
        "log has no prompt content, so the ids are synthesized: a call keeps the first",
        f"min(floor(prefix_tokens / {BLOCK_TOKENS}), floor(previous input_length / {BLOCK_TOKENS}))"
        " ids of the",
        "previous call of the same agent thread (never its partial last block: an id is one",
        "block of one size) and gets fresh ids for the rest; threads never share ids.",
        "No `session_id`, as in Mooncake's own traces: each line is an independent request",
        "(AIPerf and DynoSim would make lines that share one a closed-loop conversation); the",
        f"thread of a line is in `{MOONCAKE_SESSIONS_FILE}`, whose n-th line is this file's n-th.",
        "Ids are numbered by one counter, thread after thread: dense except the fresh ids of",
        "the steps left out for want of a time.",
        "",
        "`step_id` is the step's pseudonym: join a line to `steps` on it (AIPerf 0.13.0,",
        "GuideLLM 0.8.1 and DynoSim 1.6.1 load lines with this extra key). Without it: take",
        f"the thread from the same line of `{MOONCAKE_SESSIONS_FILE}`; the n-th line of a",
        "thread is the",
        "n-th step of that thread ordered by (submit time, `step_index`).",
        "",
        "Tools that want plain JSONL (vLLM, SGLang, AIPerf, GuideLLM):",
        f"`gunzip -k {MOONCAKE_FILE}` writes `mooncake.jsonl` beside it. Replay notes:",
        "",
        f"- vLLM `timed_trace`: `--timed-trace-chunk-hash-size {BLOCK_TOKENS}` (its default is 16)",
        "  and `--timed-trace-sec-multiplier 0.001` (timestamps are ms).",
        "- AIPerf `mooncake_trace` (0.13.0): each line is a one-turn conversation at its",
        "  `timestamp`; `--isl-block-size` stays at its default 512.",
        "- GuideLLM `mooncake` (0.8.1) schedules at `start + time_scale * timestamp` in",
        "  seconds: give `time_scale=0.001` (timestamps are ms).",
        "- `timestamp` spans the whole collection period (months) and a thread may pause for",
        "  days: crop or compress time (AIPerf `--fixed-schedule-start-offset` and",
        "  `--fixed-schedule-end-offset`, SGLang `--mooncake-slowdown-factor`, vLLM's sec",
        "  multiplier).",
        "- `input_length` is the context as logged, up to Claude's 1M-token window: a server",
        "  with a shorter maximum model length rejects the longer requests; filter them first.",
        f"- For closed-loop replay use `{MOONCAKE_SESSIONS_FILE}` (below).",
        "",
        *_closed_loop_section(),
        "",
        *_weka_section(),
        "",
        "## Columns",
    ]
    for table in RELEASE_TABLES:
        lines += ["", f"### {table}", "", "| column | type | meaning |", "|---|---|---|"]
        docs = public_column_docs(table)
        for field in schema.public_schema(table):
            doc = docs[field.name].replace("|", "\\|")
            lines.append(f"| `{field.name}` | {field.type} | {doc} |")
    return "\n".join(lines) + "\n"


def _closed_loop_section() -> list[str]:
    return [
        "## Closed-loop Mooncake trace",
        "",
        f"`{MOONCAKE_SESSIONS_FILE}`: the lines of `{MOONCAKE_FILE}` (same steps, order and",
        "`hash_ids`), but only a thread's first line has `timestamp`; its later lines have",
        "`delay`: integer ms (truncated) from the end of the thread's previous call to this",
        f"call's submit time. The end of a call is `{DONE_TIME}` (its last reasoning, text or",
        "tool-call event), so `delay` is the client's gap: tool runs, the user, the agent.",
        "A replayer sends a thread's next call once its previous call has finished on the",
        "server under test, plus `delay`: causality is kept, arrivals follow the server.",
        "A gap below zero (overlapping calls) is 0; a line whose previous call logged no",
        "output keeps its `timestamp`. Their numbers: `MANIFEST.json`, `mooncake_sessions`.",
        "Sub-agents are threads of their own, starting at their `timestamp` (the format has",
        "no dependency between sessions: use the Weka file for that).",
        "",
        "- AIPerf `mooncake_trace` (`--custom-dataset-type mooncake_trace`) groups lines by",
        "  `session_id`. Pitfall: every line carries its full context, but AIPerf 0.13.0 gives",
        "  such conversations the context mode `deltas_without_responses`: it accumulates a",
        "  session's turns and the live answers, so it sends about the sum of all earlier",
        "  prompts. 0.13.0 has no way to change that for `input_length` lines (a",
        "  `context_mode` key is accepted and ignored). AIPerf's `weka_trace` loader derives",
        "  each turn's delta from the hash ids (`deltas_with_responses`): replay sessions in",
        f"  AIPerf from `{WEKA_FILE}`.",
        "- DynoSim: `python -m dynamo.replay mooncake.sessions.jsonl --trace-format mooncake",
        f"  --trace-block-size {BLOCK_TOKENS} --replay-mode offline`; lines sharing `session_id`",
        "  are closed-loop and each line is the full prompt, as here.",
    ]


def _weka_section() -> list[str]:
    block = weka.BLOCK_TOKENS
    return [
        "## Weka session trace",
        "",
        f"`{WEKA_FILE}`: one JSON line per session, in the format of WEKA's kv-cache-tester",
        "(AIPerf `weka_trace`, GuideLLM `weka`): `id` (the session's pseudonym), `models`,",
        f'`block_size` {block}, `hash_id_scope` `"{weka.HASH_ID_SCOPE}"`, `requests`, and',
        "`totals` (`contributor`, `provider`, `steps_without_time`: to join `steps`).",
        "A request is a step of the main chain: `t` (s from the session's first call, ms",
        'precision), `type` `"s"` (both clients stream), `model`, `in` (prefix + append',
        f"tokens), `out` (incl. reasoning), `hash_ids` (floor(in / {block}) ids: full blocks",
        "only, synthesized as for the Mooncake trace and numbered from 1 within each line;",
        'threads share no ids), `input_types` (`["text"]` for a user prompt, `["tool_result"]`',
        'for tool results, both when both fed it), `stop` (`"tool_use"` when the step called',
        'tools, `"end_turn"` when it ended the turn, `""` unknown), `api_time` (s,',
        f"`{DONE_TIME}` - `input_ready_at`) and `think_time` (s, the client's gap since the",
        "thread's previous call ended, as `delay` above; null on a thread's first call).",
        'Each sub-agent is a `"type": "subagent"` entry placed at its first call among the',
        "main chain's requests, with `agent_id` (pseudonym), `duration_ms`, `tool_use_count`,",
        "`models` and its own `requests` (same clock). Public data has no `output_types`,",
        "`ttft`, `tool_tokens`, `system_tokens` or `total_tokens`: absent. AIPerf requires",
        '`subagent_type`: `""` (unknown); `status`: `"completed"` (the thread ran to its last',
        "logged call; how it ended is not logged). Steps without a time are left out",
        "(`MANIFEST.json`, `weka`).",
        "",
        "- AIPerf `weka_trace` and kv-cache-tester read one JSON file per session; split the",
        "  lines into files:",
        f'  `mkdir weka && gunzip -c {WEKA_FILE} | awk \'{{f = sprintf("weka/%06d.json", NR);',
        "  print > f; close(f)}'`.",
        f"- kv-cache-tester: `trace_replay_tester.py --trace-directory weka --chunk-size {block}`;",
        "  its `--max-context` (default 128000) drops longer requests, `--max-delay` (60 s)",
        "  caps gaps.",
        f"- GuideLLM: `--data kind=weka` reads the JSONL (`hash_id_block_size` {block}).",
        "- AIPerf caps idle gaps at 60 s by default (`--synthesis-idle-gap-cap`).",
        f"- The file is large: every request lists all its {block}-token blocks; gzip's window",
        "  (32 KB) is shorter than a long request's list, so it compresses less than the",
        "  Mooncake trace.",
    ]
