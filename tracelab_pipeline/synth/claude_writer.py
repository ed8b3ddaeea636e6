"""Write a session plan as Claude Code writes it, plus the truth rows a reader must derive.

Layout: `<inbox>/<contributor>/.claude/projects/<encoded cwd>/<session>.jsonl`, sub-agents in
`<session>/subagents/agent-<id>.jsonl`. Quirks reproduced: one API response split over several
records (one content block each, usage repeated), streaming placeholder usage on the early
records of 1.x clients, parallel tool calls, tool errors, rejected tools with the
"[Request interrupted by user for tool use]" marker, compaction boundary + summary,
bookkeeping records readers must ignore, the 5 min / 1 h cache-write split. Real-machine
shapes (synth/quirks.py): a resumed session's file repeating the earlier session's records,
`microcompact_boundary` records.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from tracelab_pipeline.synth import ids
from tracelab_pipeline.synth.quirks import Microcompact, Resume, ResumeSource, resume_source
from tracelab_pipeline.synth.session_model import SessionPlan, StepPlan, ThreadPlan, ToolPlan
from tracelab_pipeline.synth.text import LineSink, dt_ms, iso_ms, lorem, shell_command
from tracelab_pipeline.synth.truth import event, summarize

REJECTED = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it "
    "was a file edit, the new_string was NOT written to the file). STOP what you are doing and "
    "wait for the user to tell you how to proceed."
)
INTERRUPT_MARKER = [{"type": "text", "text": "[Request interrupted by user for tool use]"}]


def encode_project(cwd: str) -> str:
    return cwd.replace("/", "-").replace(".", "-")


class ClaudeWriter:
    def __init__(
        self,
        plan: SessionPlan,
        rng: random.Random,
        inbox: Path,
        *,
        resume: Resume | None = None,
        microcompact: Microcompact | None = None,
    ):
        self.plan = plan
        self.resume = resume
        self.microcompact = microcompact
        self.rng = rng
        self.inbox = inbox
        self.old_client = plan.version.startswith("1.")
        self.project = encode_project(plan.cwd)
        self.dir = inbox / plan.contributor / ".claude" / "projects" / self.project
        self.steps: list[dict] = []
        self.tools: list[dict] = []
        self.events: list[dict] = []
        self.started = None
        # 1.x clients wrote sub-agent (Task) transcripts inline in the session file as
        # isSidechain records without an agentId; 2.x clients write one file per sub-agent.
        self._inline = False
        self._next_uuid: str | None = None

    def write(self) -> int:
        """Write the session's file(s); returns how many."""
        plan = self.plan
        main_path = self.main_path = self.dir / f"{plan.session_id}.jsonl"
        self._thread(plan.main, main_path, agent=None)
        if self.old_client:
            return 1
        for sub in plan.subagents:
            path = self.dir / plan.session_id / "subagents" / f"agent-{sub.agent_id}.jsonl"
            self._thread(sub, path, agent=sub.agent_id)
        return 1 + len(plan.subagents)

    def resume_source(self) -> ResumeSource | None:
        """This session as a later one in its project may resume it (after write())."""
        return resume_source(self.plan, self.main_path)

    def _tool_name(self, tool: ToolPlan) -> str:
        return "Task" if self.old_client and tool.name == "Agent" else tool.name

    # ------------------------------------------------------------------ records

    def _base(self, agent: str | None, parent: str | None, ts: int, kind: str) -> dict:
        rec = {"parentUuid": parent, "isSidechain": agent is not None or self._inline}
        if agent is not None:
            rec["agentId"] = agent
        rec.update(
            {
                "userType": "external",
                "cwd": self.plan.cwd,
                "sessionId": self.plan.session_id,
                "version": self.plan.version,
                "gitBranch": self.plan.git_branch,
                "type": kind,
                "uuid": self._next_uuid or ids.uuid4_like(self.rng),
                "timestamp": iso_ms(ts),
            }
        )
        self._next_uuid = None
        return rec

    def _thread(self, thread: ThreadPlan, path: Path, agent: str | None) -> None:
        plan = self.plan
        lines = LineSink(path)
        if agent is None and self.resume is not None:
            copied = self.resume.source.main_path.read_bytes()
            if self.resume.new_id:
                copied = copied.replace(
                    self.resume.source.session_id.encode(), plan.session_id.encode()
                )
            lines.extend_raw(copied)
        if agent is None:
            lines.append(
                orjson.dumps(
                    {
                        "type": "permission-mode",
                        "permissionMode": "default",
                        "sessionId": plan.session_id,
                    }
                )
            )
        rel = str(path.relative_to(self.inbox))
        if agent is None:
            sid = plan.session_id
            ident = dict(
                session_id=sid,
                root_session_id=sid,
                parent_session_id=None,
                agent_id=None,
                is_sidechain=False,
            )
        else:
            sid = f"{plan.session_id}/subagents/agent-{agent}"
            ident = dict(
                session_id=sid,
                root_session_id=plan.session_id,
                parent_session_id=plan.session_id,
                agent_id=agent,
                is_sidechain=True,
            )
        ident.update(
            project=self.project, cwd=plan.cwd, git_branch=plan.git_branch, source_file=rel
        )
        self._emit(thread, lines, agent, ident)
        lines.close()

    def _inline_sidechain(self, thread: ThreadPlan, lines: LineSink, ident: dict) -> None:
        """A 1.x sub-agent: its records go into the session file, keyed by its first uuid."""
        key = ids.uuid4_like(self.rng)
        root = ident["root_session_id"]
        side = dict(ident)
        side.update(
            session_id=f"{root}/sidechain/{key}",
            parent_session_id=root,
            agent_id=key,
            is_sidechain=True,
        )
        saved = self._inline
        self._inline = True
        self._next_uuid = key
        self._emit(thread, lines, None, side)
        self._inline = saved

    def _emit(self, thread: ThreadPlan, lines: LineSink, agent: str | None, ident: dict) -> None:
        rng = self.rng
        main = agent is None and not self._inline
        parent = None
        pending: list[dict] = []
        mc = self.microcompact if main else None
        for index, step in enumerate(thread.steps):
            if mc is not None and index == mc.step:
                parent = self._microcompact_boundary(mc, step, parent, lines)
            # Inputs: compaction boundary + summary, interrupt markers, the prompt.
            for inp in step.inputs:
                if inp.kind == "compact_summary":
                    rec = self._base(agent, parent, inp.ts, "system")
                    rec.update(
                        subtype="compact_boundary",
                        content="Conversation compacted",
                        isMeta=False,
                        level="info",
                    )
                    rec["compactMetadata"] = {
                        "trigger": "auto",
                        "preTokens": step.prefix + step.append,
                    }
                    lines.append(orjson.dumps(rec))
                    parent = rec["uuid"]
                    text = (
                        "This session is being continued from a previous conversation that ran "
                        "out of context. " + lorem(rng, inp.chars)
                    )
                    rec = self._base(agent, parent, inp.ts, "user")
                    rec["message"] = {"role": "user", "content": text}
                    rec["isVisibleInTranscriptOnly"] = True
                    rec["isCompactSummary"] = True
                    pending.append(
                        event(
                            "user_message", dt_ms(inp.ts), "user.message", content_chars=len(text)
                        )
                    )
                elif inp.kind == "interrupt":
                    rec = self._base(agent, parent, inp.ts, "user")
                    rec["message"] = {"role": "user", "content": INTERRUPT_MARKER}
                    size = len(orjson.dumps(INTERRUPT_MARKER))
                    pending.append(
                        event("user_message", dt_ms(inp.ts), "user.message", content_chars=size)
                    )
                else:
                    text = lorem(rng, inp.chars)
                    rec = self._base(agent, parent, inp.ts, "user")
                    rec["message"] = {"role": "user", "content": text}
                    pending.append(
                        event(
                            "user_message", dt_ms(inp.ts), "user.message", content_chars=len(text)
                        )
                    )
                if self.started is None and main:
                    self.started = inp.ts
                lines.append(orjson.dumps(rec))
                parent = rec["uuid"]
            if main and step.inputs and rng.random() < 0.05:  # (API error, retried)
                parent = self._api_error(step.inputs[-1].ts + 1, parent, lines)
            parent = self._assistant(step, index, agent, parent, lines, pending, ident)
            if mc is not None and index == mc.step:
                self.steps[-1]["after_microcompaction"] = True
                self.steps[-1]["microcompact_tokens_saved"] = mc.tokens_saved
            pending = []
            if self.old_client:
                for tool in step.tools:
                    if tool.subagent is not None:
                        self._inline_sidechain(tool.subagent, lines, ident)
            # Tool results, in the order they came back.
            for tool in sorted(step.tools, key=lambda t: (t.result_ms, t.call_id)):
                parent = self._result(tool, agent, parent, lines, pending)
            if step.stop_reason == "end_turn" and main and rng.random() < 0.5:
                rec = self._base(agent, parent, step.last_out_ms + 1, "system")
                rec.update(
                    subtype="turn_duration",
                    durationMs=step.last_out_ms - step.first_out_ms,
                    isMeta=False,
                )
                lines.append(orjson.dumps(rec))

    def _microcompact_boundary(self, mc: Microcompact, step: StepPlan, parent, lines) -> str:
        """Old tool results cleared before `step`. Its uuid is from the quirk's own stream, so
        the session's other draws are those of a session without one."""
        ts = step.inputs[0].ts if step.inputs else step.first_out_ms - 1
        self._next_uuid = ids.uuid4_like(mc.uuid_rng)
        rec = self._base(None, parent, ts, "system")
        rec.update(
            subtype="microcompact_boundary",
            content="Context microcompacted",
            isMeta=False,
            level="info",
            microcompactMetadata={
                "trigger": "auto",
                "preTokens": step.prefix + step.append + mc.tokens_saved,
                "tokensSaved": mc.tokens_saved,
                "compactedToolIds": list(mc.tool_ids),
                "clearedAttachmentUUIDs": [],
            },
        )
        lines.append(orjson.dumps(rec))
        return rec["uuid"]

    def _api_error(self, ts: int, parent, lines) -> str:
        """A failed call Claude Code logs as a `<synthetic>` message: not a step."""
        rec = self._base(None, parent, ts, "assistant")
        rec["message"] = {
            "id": ids.uuid4_like(self.rng),
            "container": None,
            "model": "<synthetic>",
            "role": "assistant",
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
            "content": [{"type": "text", "text": "API Error: 529 Overloaded. Retrying."}],
        }
        rec["isApiErrorMessage"] = True
        lines.append(orjson.dumps(rec))
        return rec["uuid"]

    def _assistant(self, step: StepPlan, index: int, agent, parent, lines, pending, ident) -> str:
        rng = self.rng
        msg_id = ids.claude_message_id(rng)
        request_id = ids.claude_request_id(rng)
        blocks: list[tuple[int, dict, dict | None]] = []
        if step.reasoning_ms is not None:
            thinking = lorem(rng, rng.randint(40, 900)) if self.old_client else ""
            block = {
                "type": "thinking",
                "thinking": thinking,
                "signature": "Sig" + ids.b62(rng, 40),
            }
            blocks.append(
                (
                    step.reasoning_ms,
                    block,
                    event(
                        "reasoning",
                        dt_ms(step.reasoning_ms),
                        "assistant.content.thinking",
                        content_chars=len(thinking),
                    ),
                )
            )
        if step.text_ms is not None:
            text = lorem(rng, step.text_chars)
            blocks.append(
                (
                    step.text_ms,
                    {"type": "text", "text": text},
                    event(
                        "text",
                        dt_ms(step.text_ms),
                        "assistant.content.text",
                        content_chars=len(text),
                    ),
                )
            )
        tool_rows = []
        for i, tool in enumerate(step.tools):
            tool_input = _tool_input(rng, tool, self.plan.cwd)
            name = self._tool_name(tool)
            block = {"type": "tool_use", "id": tool.call_id, "name": name, "input": tool_input}
            ev = event(
                "tool_call",
                dt_ms(tool.emitted_ms),
                "assistant.content.tool_use",
                tool_call_id=tool.call_id,
                tool_name=name,
                tool_index=i,
            )
            blocks.append((tool.emitted_ms, block, ev))
            input_json = orjson.dumps(tool_input).decode()
            tool_rows.append((tool, input_json))
        blocks.sort(key=lambda b: b[0])
        u, w, r, o = step.uncached, step.append - step.uncached, step.prefix, step.output
        w1 = w if self.plan.cache_ttl_1h else 0
        usage = {
            "input_tokens": u,
            "cache_creation_input_tokens": w,
            "cache_read_input_tokens": r,
            "output_tokens": o,
        }
        if not self.old_client:
            usage["server_tool_use"] = {"web_search_requests": 0, "web_fetch_requests": 0}
            usage["service_tier"] = "standard"
            usage["cache_creation"] = {
                "ephemeral_1h_input_tokens": w1,
                "ephemeral_5m_input_tokens": w - w1,
            }
        else:
            usage["service_tier"] = "standard"
        placeholder = self.old_client and len(blocks) > 1 and o > 1
        first_line = len(lines) + 1
        events = list(pending)
        for j, (ts, block, ev) in enumerate(blocks):
            last = j == len(blocks) - 1
            rec_usage, stop = usage, step.stop_reason
            if placeholder and not last:
                rec_usage = dict(usage, output_tokens=min(o - 1, rng.randint(1, 12)))
                stop = None
            message = {
                "model": step.model,
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "content": [block],
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": rec_usage,
            }
            rec = self._base(agent, parent, ts, "assistant")
            rec["message"] = message
            rec["requestId"] = request_id
            lines.append(orjson.dumps(rec))
            parent = rec["uuid"]
            events.append(ev)
        step_id = f"claude:{ident['session_id']}:{msg_id}"
        for i, ev in enumerate(events):
            ev["step_id"] = step_id
            ev["contributor"] = self.plan.contributor
            ev["event_index"] = i
        self.events.extend(events)
        row = dict(ident)
        row.update(
            step_id=step_id,
            contributor=self.plan.contributor,
            provider="claude",
            source_line=first_line,
            session_started_at=None,  # filled by the caller: the root session's first timestamp
            step_index=index,
            round_id=msg_id,
            request_id=request_id,
            turn_id=None,
            model=step.model,
            client_version=self.plan.version,
            stop_reason=step.stop_reason,
            input_tokens_total=u + w + r,
            reported_input_tokens=None,
            prefix_tokens=r,
            append_tokens=u + w,
            output_tokens=o,
            reasoning_tokens=None,
            uncached_input_tokens=u,
            cache_write_tokens=w,
            cache_write_5m_tokens=None if self.old_client else w - w1,
            cache_write_1h_tokens=None if self.old_client else w1,
            after_compaction=step.compaction_before,
            usage_at=None,
            tool_call_count=len(step.tools),
            after_microcompaction=False,  # True on the step after a microcompact_boundary
            microcompact_tokens_saved=None,
        )
        row.update(summarize(events))
        self.steps.append(row)
        for i, (tool, input_json) in enumerate(tool_rows):
            self.tools.append(
                {
                    "step_id": step_id,
                    "contributor": self.plan.contributor,
                    "session_id": ident["session_id"],
                    "tool_index": i,
                    "tool_name": self._tool_name(tool),
                    "call_id": tool.call_id,
                    "emitted_at": dt_ms(tool.emitted_ms),
                    "result_at": None,  # set when the result is written
                    "wall_latency_ms": None,
                    "internal_latency_ms": None,
                    "is_error": None,
                    "input_chars": len(input_json),
                    "result_chars": None,
                    "input_json": input_json,
                    "command_signature": None,
                    "internal_latency_source": None,
                    "_tool": tool,
                }
            )
        return parent

    def _result(self, tool: ToolPlan, agent, parent, lines, pending) -> str:
        rng = self.rng
        rec = self._base(agent, parent, tool.result_ms, "user")
        internal = None
        if tool.rejected:
            content = REJECTED
            rec["toolUseResult"] = "Error: " + REJECTED
        elif tool.subagent is not None:
            text = lorem(rng, tool.result_chars)
            content = [{"type": "text", "text": text}]
            rec["toolUseResult"] = {
                "status": "completed",
                "prompt": "see task",
                "agentId": tool.subagent.agent_id,
                "content": content,
                "totalDurationMs": tool.result_ms - tool.emitted_ms,
                "totalTokens": rng.randint(5_000, 90_000),
                "totalToolUseCount": sum(len(s.tools) for s in tool.subagent.steps),
            }
        else:
            body = lorem(rng, tool.result_chars)
            content = ("Exit code 1\n" + body) if tool.is_error else body
            if tool.is_error:
                rec["toolUseResult"] = "Error: " + content[:200]
            elif tool.name == "Bash":
                rec["toolUseResult"] = {
                    "stdout": body,
                    "stderr": "",
                    "interrupted": False,
                    "isImage": False,
                    "noOutputExpected": False,
                }
            elif tool.name == "WebSearch":
                rec["toolUseResult"] = {
                    "query": "search",
                    "results": [],
                    "durationSeconds": tool.internal_s,
                }
                internal = round(float(tool.internal_s) * 1000)
            elif tool.name == "WebFetch":
                ms = round(tool.internal_s * 1000)
                rec["toolUseResult"] = {
                    "bytes": len(body),
                    "code": 200,
                    "codeText": "OK",
                    "result": "ok",
                    "durationMs": ms,
                    "url": "https://example.org/doc",
                }
                internal = ms
            elif tool.name == "Read":
                rec["toolUseResult"] = {
                    "type": "text",
                    "file": {
                        "filePath": f"{self.plan.cwd}/src/mod.py",
                        "numLines": body.count("\n") + 1,
                        "startLine": 1,
                        "totalLines": 400,
                    },
                }
            else:
                rec["toolUseResult"] = {"type": "update", "filePath": f"{self.plan.cwd}/src/mod.py"}
        is_error = bool(tool.is_error or tool.rejected)
        block = {"tool_use_id": tool.call_id, "type": "tool_result", "content": content}
        if is_error or rng.random() < 0.7:
            block["is_error"] = (
                is_error  # the key is sometimes absent; readers must read it as false
            )
        rec["message"] = {"role": "user", "content": [block]}
        lines.append(orjson.dumps(rec))
        size = len(content) if isinstance(content, str) else len(orjson.dumps(content))
        ts = dt_ms(tool.result_ms)
        pending.append(
            event(
                "tool_result",
                ts,
                "user.content.tool_result",
                tool_call_id=tool.call_id,
                result_chars=size,
                is_error=is_error,
            )
        )
        for row in reversed(self.tools):
            if row["_tool"] is tool:
                row["result_at"] = ts
                row["wall_latency_ms"] = tool.result_ms - tool.emitted_ms
                row["internal_latency_ms"] = internal
                row["internal_latency_source"] = None if internal is None else "tool_use_result"
                row["is_error"] = is_error
                row["result_chars"] = size
                break
        return rec["uuid"]

    def finish(self) -> tuple[list[dict], list[dict], list[dict]]:
        start = dt_ms(self.started) if self.started is not None else None
        for row in self.steps:
            row["session_started_at"] = start
        for row in self.tools:
            row.pop("_tool", None)
        return self.steps, self.tools, self.events


def _tool_input(rng: random.Random, tool: ToolPlan, cwd: str) -> dict:
    name = tool.name
    path = f"{cwd}/src/{lorem(rng, 8).replace(' ', '_').replace(chr(10), '_')}.py"
    if name == "Bash":
        return {
            "command": shell_command(rng),
            "description": lorem(rng, rng.randint(10, 60)),
        }
    if name == "Read":
        return {"file_path": path}
    if name in ("Edit", "MultiEdit"):
        return {
            "file_path": path,
            "old_string": lorem(rng, rng.randint(20, 600)),
            "new_string": lorem(rng, rng.randint(20, 900)),
        }
    if name == "Write":
        return {"file_path": path, "content": lorem(rng, rng.randint(200, 6000))}
    if name == "Agent":
        return {
            "description": lorem(rng, 30),
            "prompt": lorem(rng, rng.randint(200, 1500)),
            "subagent_type": tool.subagent.agent_type if tool.subagent else "general-purpose",
        }
    if name == "TodoWrite":
        return {
            "todos": [
                {"content": lorem(rng, 40), "status": "pending", "activeForm": lorem(rng, 30)}
                for _ in range(rng.randint(1, 6))
            ]
        }
    if name == "WebSearch":
        return {"query": lorem(rng, rng.randint(20, 90))}
    if name == "WebFetch":
        return {"url": "https://example.org/docs/page", "prompt": lorem(rng, 80)}
    if name in ("Grep", "Glob"):
        return {"pattern": lorem(rng, rng.randint(4, 30)), "path": cwd}
    return {"input": lorem(rng, rng.randint(10, 200))}
