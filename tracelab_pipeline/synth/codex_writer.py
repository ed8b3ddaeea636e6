"""Write a session plan as the Codex CLI writes a rollout, plus the truth rows.

Layout: `<inbox>/<contributor>/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`. Quirks
reproduced: a first `token_count` with `info: null`, re-emitted `token_count` echoes with the
same cumulative totals, unified-exec outputs with "Wall time" and still-running processes,
`exec_command_end` / `patch_apply_end` before the `*_output` record, JSON apply_patch outputs,
duplicated user/assistant layers (`response_item` vs `event_msg`), compaction records, and
interrupted turns whose outputs have no closing usage and carry over to the next step.

The truth is assembled with the step rules of tracelab-ingest §4.2-4.6: a step is everything
emitted since the previous usage report, plus the inputs that arrived since then.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from tracelab_pipeline.synth import ids
from tracelab_pipeline.synth.session_model import SessionPlan, StepPlan, ToolPlan
from tracelab_pipeline.synth.text import LineSink, dt_ms, iso_ms, lorem, shell_command
from tracelab_pipeline.synth.truth import event, summarize

STDIN_CLOSED = (
    "write_stdin failed: stdin is closed for this session; "
    "rerun exec_command with tty=true to keep stdin open"
)


def _dump(obj) -> bytes:
    return orjson.dumps(obj)


def wall_time_ms(internal_s: float) -> int:
    """The internal latency a reader takes from the output's "Wall time: <s:.4f> seconds" line."""
    return round(float(f"{internal_s:.4f}") * 1000)


def metadata_seconds(wall_ms: int) -> float:
    """A JSON output's metadata.duration_seconds: the call's wall time less 0.05 s, to 0.1 s."""
    return round(max(0.0, wall_ms / 1000 - 0.05), 1)


class CodexWriter:
    def __init__(self, plan: SessionPlan, rng: random.Random, inbox: Path):
        self.plan = plan
        self.rng = rng
        self.inbox = inbox
        self.new_client = tuple(int(x) for x in plan.version.split(".")) >= (0, 120, 0)
        self.steps: list[dict] = []
        self.tools: list[dict] = []
        self.events: list[dict] = []
        # Reader-side state (tracelab-ingest §4.2)
        self.pending: list[dict] = []
        self.segment: list[dict] = []
        self.segment_tools: list[dict] = []
        self.first_line: int | None = None
        self.compaction = False
        self.tool_rows: dict[str, dict] = {}
        self.turn_id: str | None = None
        self.turn_k: dict[str, int] = {}
        self.totals = [0, 0, 0, 0]
        self.cwd = plan.cwd
        self.ended_ms = 0  # the latest timestamp written

    # ------------------------------------------------------------------ plumbing

    def _emit(self, ts: int, kind: str, payload: dict) -> int:
        if ts > self.ended_ms:
            self.ended_ms = ts
        self.lines.append(_dump({"timestamp": iso_ms(ts), "type": kind, "payload": payload}))
        return len(self.lines)

    def _defer(self, line: int) -> None:
        if self.first_line is None:
            self.first_line = line

    def path(self) -> Path:
        start = self.plan.start_ms
        stamp = iso_ms(start)
        y, mo, d = stamp[:4], stamp[5:7], stamp[8:10]
        clock = f"{stamp[11:13]}-{stamp[14:16]}-{stamp[17:19]}"
        name = f"rollout-{stamp[:10]}T{clock}-{self.plan.session_id}.jsonl"
        return self.inbox / self.plan.contributor / ".codex" / "sessions" / y / mo / d / name

    # ------------------------------------------------------------------ session

    def write(self) -> int:
        """Write the rollout; returns how many files (one)."""
        plan, rng = self.plan, self.rng
        path = self.path()
        self.lines = LineSink(path)
        t0 = plan.start_ms
        meta = {
            "id": plan.session_id,
            "timestamp": iso_ms(t0 - rng.randint(50, 3000)),
            "cwd": plan.cwd,
            "originator": "codex_cli_rs",
            "cli_version": plan.version,
            "source": "cli",
            "model_provider": "openai",
            "base_instructions": {"text": "You are Codex, a coding agent. " + lorem(rng, 600)},
            "git": {
                "commit_hash": ids.hexs(rng, 40),
                "branch": plan.git_branch,
                "repository_url": f"git@example.com:{plan.contributor}/{_repo(plan.cwd)}.git",
            },
        }
        self.meta_ts = meta["timestamp"]
        self._emit(t0 - 2, "session_meta", meta)
        self._emit(t0 - 2, "response_item", _dev_message(rng))
        self._emit(
            t0 - 1,
            "event_msg",
            {"type": "token_count", "info": None, "rate_limits": _rate_limits(rng)},
        )
        steps = plan.main.steps
        for step in steps:
            if step.inputs and any(i.kind == "prompt" for i in step.inputs):
                self._turn_start(step)
            self._step(step)
        self.lines.close()
        self.path_written = path
        self.rel = str(path.relative_to(self.inbox))
        return 1

    def compress(self) -> None:
        """Rewrite the rollout as Codex does once it has been idle a week (synth/quirks.py)."""
        from tracelab_pipeline.synth.quirks import zstd_rewrite

        self.path_written = zstd_rewrite(self.path_written)
        self.rel = str(self.path_written.relative_to(self.inbox))

    def _turn_start(self, step: StepPlan) -> None:
        rng = self.rng
        prompt = next(i for i in step.inputs if i.kind == "prompt")
        ts = prompt.ts
        if self.turn_id is not None and rng.random() < 0.97:
            self._emit(
                ts - 1,
                "event_msg",
                {"type": "task_complete", "turn_id": self.turn_id, "last_agent_message": None},
            )
        self.turn_id = ids.uuid7_like(rng, ts)
        self._emit(
            ts,
            "event_msg",
            {"type": "task_started", "turn_id": self.turn_id, "model_context_window": 258400},
        )
        self._emit(
            ts,
            "turn_context",
            {
                "turn_id": self.turn_id,
                "cwd": self.cwd,
                "approval_policy": "on-request",
                "sandbox_policy": {"type": "workspace-write", "network_access": False},
                "model": step.model,
                "effort": "high",
                "summary": "auto",
            },
        )

    def _step(self, step: StepPlan) -> None:
        rng = self.rng
        for inp in step.inputs:
            if inp.kind == "compact_summary":
                line = self._emit(
                    inp.ts,
                    "compacted",
                    {
                        "message": "",
                        "replacement_history": [
                            {
                                "type": "message",
                                "role": "user",
                                "content": [{"type": "input_text", "text": lorem(rng, 200)}],
                            }
                        ],
                    },
                )
                self._defer(line)
                line = self._emit(inp.ts, "event_msg", {"type": "context_compacted"})
                self.compaction = True
            elif inp.kind == "interrupt":
                text = "<turn_aborted>\nThe user interrupted the turn on purpose.\n</turn_aborted>"
                self._emit(
                    inp.ts,
                    "response_item",
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    },
                )
            else:
                text = lorem(rng, inp.chars)
                self._emit(
                    inp.ts,
                    "response_item",
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    },
                )
                line = self._emit(
                    inp.ts,
                    "event_msg",
                    {
                        "type": "user_message",
                        "message": text,
                        "images": [],
                        "local_images": [],
                        "text_elements": [],
                    },
                )
                self._defer(line)
                self.pending.append(
                    event(
                        "user_message",
                        dt_ms(inp.ts),
                        "event_msg.user_message",
                        content_chars=len(text),
                    )
                )
        # Outputs in time order.
        outs: list[tuple[int, int, object]] = []
        if step.reasoning_ms is not None:
            outs.append((step.reasoning_ms, 0, "reasoning"))
        if step.text_ms is not None:
            outs.append((step.text_ms, 1, "text"))
        for i, tool in enumerate(step.tools):
            outs.append((tool.emitted_ms, 2 + i, tool))
        outs.sort(key=lambda o: (o[0], o[1]))
        for ts, _, what in outs:
            if what == "reasoning":
                line = self._emit(
                    ts,
                    "response_item",
                    {
                        "type": "reasoning",
                        "summary": [],
                        "content": None,
                        "encrypted_content": "gAAAAB" + ids.b62(rng, rng.randint(40, 400)),
                    },
                )
                self._defer(line)
                self.segment.append(event("reasoning", dt_ms(ts), "response_item.reasoning"))
            elif what == "text":
                text = lorem(rng, step.text_chars)
                phase = "final_answer" if not step.tools else "commentary"
                self._emit(
                    ts, "event_msg", {"type": "agent_message", "message": text, "phase": phase}
                )
                content = [{"type": "output_text", "text": text}]
                line = self._emit(
                    ts,
                    "response_item",
                    {"type": "message", "role": "assistant", "content": content, "phase": phase},
                )
                self._defer(line)
                self.segment.append(
                    event(
                        "text",
                        dt_ms(ts),
                        "response_item.message",
                        content_chars=len(_dump(content)),
                    )
                )
            else:
                self._call(what, ts)
        if step.aborted:
            # Esc before usage: no token_count, the outputs carry over to the next step.
            self._emit(
                step.last_out_ms + 5,
                "event_msg",
                {"type": "turn_aborted", "turn_id": self.turn_id, "reason": "interrupted"},
            )
            return
        usage_ts = step.last_out_ms + rng.randint(3, 12)
        inp_total = step.prefix + step.append
        last = {
            "input_tokens": inp_total,
            "cached_input_tokens": step.prefix,
            "output_tokens": step.output,
            "reasoning_output_tokens": step.reasoning_tokens,
            "total_tokens": inp_total + step.output,
        }
        for j, key in enumerate(
            ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
        ):
            self.totals[j] += last[key]
        total = dict(
            zip(
                ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens"),
                self.totals,
                strict=True,
            )
        )
        total["total_tokens"] = self.totals[0] + self.totals[2]
        info = {
            "total_token_usage": total,
            "last_token_usage": last,
            "model_context_window": 258400,
        }
        line = self._emit(
            usage_ts,
            "event_msg",
            {"type": "token_count", "info": info, "rate_limits": _rate_limits(rng)},
        )
        self._close(step, line, usage_ts, inp_total)
        if rng.random() < 0.15:
            # Re-emitted usage: same cumulative totals, must not become a second step.
            self._emit(
                usage_ts + rng.randint(0, 3),
                "event_msg",
                {"type": "token_count", "info": info, "rate_limits": _rate_limits(rng)},
            )
        for tool in sorted(step.tools, key=lambda t: (t.result_ms, t.call_id)):
            self._result(tool)

    # ------------------------------------------------------------------ tools

    def _call(self, tool: ToolPlan, ts: int) -> None:
        rng = self.rng
        if tool.name == "apply_patch":
            old, new = lorem(rng, rng.randint(10, 300)), lorem(rng, rng.randint(10, 900))
            patch = (
                f"*** Begin Patch\n*** Update File: src/{ids.hexs(rng, 6)}.py\n@@\n-{old}\n+{new}\n"
            )
            patch += "*** End Patch\n"
            payload = {
                "type": "custom_tool_call",
                "status": "completed",
                "call_id": tool.call_id,
                "name": "apply_patch",
                "input": patch,
            }
            raw, source = patch, "response_item.custom_tool_call"
        else:
            args = _arguments(rng, tool, self.cwd)
            payload = {
                "type": "function_call",
                "name": tool.name,
                "arguments": args,
                "call_id": tool.call_id,
            }
            raw, source = args, "response_item.function_call"
        line = self._emit(ts, "response_item", payload)
        self._defer(line)
        index = len(self.segment_tools)
        row = {
            "step_id": None,
            "contributor": self.plan.contributor,
            "session_id": self.plan.session_id,
            "tool_index": index,
            "tool_name": tool.name,
            "call_id": tool.call_id,
            "emitted_at": dt_ms(ts),
            "result_at": None,
            "wall_latency_ms": None,
            "internal_latency_ms": None,
            "is_error": None,
            "input_chars": len(raw),
            "result_chars": None,
            "input_json": raw,
            "command_signature": None,
            "internal_latency_source": None,
            "_emitted_ms": ts,
        }
        self.segment_tools.append(row)
        self.tool_rows[tool.call_id] = row
        self.segment.append(
            event(
                "tool_call",
                dt_ms(ts),
                source,
                tool_call_id=tool.call_id,
                tool_name=tool.name,
                tool_index=index,
            )
        )

    def _result(self, tool: ToolPlan) -> None:
        """Write the result record(s) of one call and apply them as a reader would (§4.5)."""
        rng = self.rng
        ts = tool.result_ms
        body = lorem(rng, tool.result_chars)
        records: list[tuple[str, dict, str, object, int, bool | None, int | None]] = []
        # Each entry: (top type, payload, source, output, chars, is_error, internal ms)
        # The internal ms is the output's Wall time line, but for a JSON output's duration.
        if tool.name in ("exec_command", "write_stdin"):
            wall = f"{tool.internal_s:.4f}"
            internal = wall_time_ms(tool.internal_s)
            if tool.rejected:
                out = "aborted by user"
                records.append(
                    (
                        "response_item",
                        {"type": "function_call_output", "call_id": tool.call_id, "output": out},
                        "response_item.function_call_output",
                        out,
                        len(out),
                        None,
                        None,
                    )
                )
            elif tool.name == "write_stdin" and not tool.running and rng.random() < 0.05:
                records.append(
                    (
                        "response_item",
                        {
                            "type": "function_call_output",
                            "call_id": tool.call_id,
                            "output": STDIN_CLOSED,
                        },
                        "response_item.function_call_output",
                        STDIN_CLOSED,
                        len(STDIN_CLOSED),
                        None,
                        None,
                    )
                )
            else:
                chunk = ids.hexs(rng, 6)
                if tool.running:
                    status, err = (
                        f"Process running with session ID {rng.randint(1000, 99999)}",
                        None,
                    )
                else:
                    code = 1 if tool.is_error else 0
                    status, err = f"Process exited with code {code}", code != 0
                    if tool.name == "exec_command" and self.new_client:
                        secs = int(float(wall))
                        end = {
                            "type": "exec_command_end",
                            "call_id": tool.call_id,
                            "process_id": str(rng.randint(1000, 99999)),
                            "turn_id": self.turn_id,
                            "command": ["/bin/bash", "-lc", "make test"],
                            "cwd": self.cwd,
                            "parsed_cmd": [],
                            "source": "unified_exec_startup",
                            "stdout": "",
                            "stderr": "",
                            "aggregated_output": body,
                            "exit_code": code,
                            "duration": {"secs": secs, "nanos": rng.randint(0, 999_999_999)},
                            "formatted_output": "",
                            "status": "completed",
                        }
                        records.append(
                            (
                                "event_msg",
                                end,
                                "event_msg.exec_command_end",
                                body,
                                len(body),
                                err,
                                None,
                            )
                        )
                out = f"Chunk ID: {chunk}\nWall time: {wall} seconds\n{status}\n"
                out += f"Original token count: {tool.result_tokens}\nOutput:\n{body}"
                records.append(
                    (
                        "response_item",
                        {"type": "function_call_output", "call_id": tool.call_id, "output": out},
                        "response_item.function_call_output",
                        out,
                        len(out),
                        err,
                        internal,
                    )
                )
        elif tool.name == "apply_patch":
            ok = not tool.is_error
            summary = (
                "Success. Updated the following files:\nM src/mod.py\n"
                if ok
                else "Failed to apply patch\n"
            )
            if self.new_client:
                end = {
                    "type": "patch_apply_end",
                    "call_id": tool.call_id,
                    "turn_id": self.turn_id,
                    "stdout": summary if ok else "",
                    "stderr": "" if ok else summary,
                    "success": ok,
                    "changes": {},
                }
                records.append(
                    (
                        "event_msg",
                        end,
                        "event_msg.patch_apply_end",
                        summary,
                        len(summary),
                        not ok,
                        None,
                    )
                )
            if tool.internal_s is not None:
                wall = f"{tool.internal_s:.4f}"
                out = f"Exit code: {0 if ok else 1}\nWall time: {wall} seconds\nOutput:\n{summary}"
                internal = wall_time_ms(tool.internal_s)
            else:
                seconds = metadata_seconds(tool.result_ms - tool.emitted_ms)
                out = _dump(
                    {
                        "output": summary,
                        "metadata": {"exit_code": 0 if ok else 1, "duration_seconds": seconds},
                    }
                ).decode()
                internal = round(seconds * 1000)
            records.append(
                (
                    "response_item",
                    {"type": "custom_tool_call_output", "call_id": tool.call_id, "output": out},
                    "response_item.custom_tool_call_output",
                    out,
                    len(out),
                    not ok,
                    internal,
                )
            )
        else:
            internal = None
            if tool.internal_s is not None:
                wall = f"{tool.internal_s:.4f}"
                code = 1 if tool.is_error else 0
                out = f"Exit code: {code}\nWall time: {wall} seconds\nOutput:\n{body}"
                err = code != 0
                internal = wall_time_ms(tool.internal_s)
            elif tool.name == "update_plan":
                out, err = "Plan updated", None
            else:
                out, err = body, None
            records.append(
                (
                    "response_item",
                    {"type": "function_call_output", "call_id": tool.call_id, "output": out},
                    "response_item.function_call_output",
                    out,
                    len(out),
                    err,
                    internal,
                )
            )
        row = self.tool_rows[tool.call_id]
        first = True
        for k, (top, payload, source, _out, chars, err, internal) in enumerate(records):
            rts = ts + (k and rng.randint(0, 2))
            ts = rts
            self._emit(rts, top, payload)
            if first:
                row["result_at"] = dt_ms(rts)
                row["result_chars"] = chars
                row["wall_latency_ms"] = rts - row["_emitted_ms"]
            if row["internal_latency_ms"] is None and internal is not None:
                row["internal_latency_ms"] = internal
                # Only a JSON output (apply_patch without a Wall time) has no internal_s.
                row["internal_latency_source"] = (
                    "wall_time_line" if tool.internal_s is not None else "output_metadata"
                )
            if err is not None:
                row["is_error"] = err
            if first:
                self.pending.append(
                    event(
                        "tool_result",
                        dt_ms(rts),
                        source,
                        tool_call_id=tool.call_id,
                        result_chars=chars,
                        is_error=row["is_error"],
                    )
                )
            first = False

    # ------------------------------------------------------------------ steps

    def _close(self, step: StepPlan, line: int, usage_ts: int, inp_total: int) -> None:
        turn = self.turn_id
        k = self.turn_k.get(turn, 0)
        self.turn_k[turn] = k + 1
        round_id = f"{turn}:{k}"
        sid = self.plan.session_id
        step_id = f"codex:{sid}:{round_id}"
        events = self.pending + self.segment
        events.append(event("usage_report", dt_ms(usage_ts), "event_msg.token_count"))
        for i, ev in enumerate(events):
            ev["step_id"] = step_id
            ev["contributor"] = self.plan.contributor
            ev["event_index"] = i
        self.events.extend(events)
        for row in self.segment_tools:
            row["step_id"] = step_id
        self.tools.extend(self.segment_tools)
        row = {
            "step_id": step_id,
            "contributor": self.plan.contributor,
            "provider": "codex",
            "session_id": sid,
            "root_session_id": sid,
            "parent_session_id": None,
            "agent_id": None,
            "is_sidechain": False,
            "project": None,
            "cwd": self.cwd,
            "git_branch": self.plan.git_branch,
            "source_file": None,
            "source_line": self.first_line if self.first_line is not None else line,
            "session_started_at": None,
            "step_index": len(self.steps),
            "round_id": round_id,
            "request_id": None,
            "turn_id": turn,
            "model": step.model,
            "client_version": self.plan.version,
            "stop_reason": None,
            "input_tokens_total": inp_total,
            "reported_input_tokens": None,
            "prefix_tokens": step.prefix,
            "append_tokens": step.append,
            "output_tokens": step.output,
            "reasoning_tokens": step.reasoning_tokens,
            "uncached_input_tokens": None,
            "cache_write_tokens": None,
            "cache_write_5m_tokens": None,
            "cache_write_1h_tokens": None,
            "after_compaction": self.compaction,
            "usage_at": dt_ms(usage_ts),
            "tool_call_count": len(self.segment_tools),
        }
        row.update(summarize(events))
        self.steps.append(row)
        self.pending, self.segment, self.segment_tools = [], [], []
        self.first_line = None
        self.compaction = False

    def finish(self) -> tuple[list[dict], list[dict], list[dict]]:
        from tracelab_pipeline.formats.common import parse_ts

        start = parse_ts(self.meta_ts)
        for row in self.steps:
            row["session_started_at"] = start
            row["source_file"] = self.rel
        for row in self.tools:
            row.pop("_emitted_ms", None)
        # Outputs and tools left without a closing usage at the end of the file belong to no step.
        return self.steps, self.tools, self.events


def _arguments(rng: random.Random, tool: ToolPlan, cwd: str) -> str:
    name = tool.name
    if name == "exec_command":
        args = {
            "cmd": shell_command(rng),
            "workdir": cwd,
            "yield_time_ms": 10000,
            "max_output_tokens": 10000,
        }
    elif name == "write_stdin":
        args = {
            "session_id": rng.randint(1000, 99999),
            "chars": "" if rng.random() < 0.8 else "\u0003",
            "yield_time_ms": 5000,
        }
    elif name == "shell_command":
        args = {"command": shell_command(rng), "workdir": cwd, "timeout_ms": 120000}
    elif name == "update_plan":
        args = {
            "plan": [
                {"step": lorem(rng, 40), "status": "pending"} for _ in range(rng.randint(1, 5))
            ]
        }
    else:
        args = {"input": lorem(rng, rng.randint(10, 200))}
    return _dump(args).decode()


def _dev_message(rng: random.Random) -> dict:
    text = "<permissions instructions>\n" + lorem(rng, 400)
    return {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": text}],
    }


def _rate_limits(rng: random.Random) -> dict:
    return {
        "limit_id": "codex",
        "primary": {
            "used_percent": float(rng.randint(0, 90)),
            "window_minutes": 300,
            "resets_at": 1777285132,
        },
        "secondary": None,
    }


def _repo(cwd: str) -> str:
    return cwd.rsplit("/", 1)[-1]
