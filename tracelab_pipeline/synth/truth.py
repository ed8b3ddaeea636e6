"""The ground truth: the rows a correct reader must produce from the generated logs.

Rows follow tracelab_pipeline/schema.py and the semantics of docs/reference/tracelab-ingest.md
(as our readers implement them). They are computed from what the writers decided to write,
not by parsing the files back, so comparing them with the readers' output tests the readers.

`source_file` is stored relative to the inbox directory (`<contributor>/.claude/...`), since
the inbox may be read from anywhere; compare after making the readers' paths relative too.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tracelab_pipeline import schema

TABLES = ("steps", "tool_calls", "timing_events")
_OUTPUTS = frozenset(("reasoning", "text", "tool_call"))


def event(event_type: str, ts, source: str, **attrs) -> dict:
    return schema.blank_row(
        "timing_events", event_type=event_type, timestamp=ts, source=source, **attrs
    )


def summarize(events: list[dict]) -> dict:
    """Trigger, current-input summary and output window of a step (tracelab-ingest §2.5, §7)."""
    users = tools = user_chars = tool_chars = 0
    first_input = None
    inputs, outputs = [], []
    for ev in events:
        kind = ev["event_type"]
        if kind == "user_message":
            users += 1
            user_chars += ev["content_chars"] or 0
        elif kind == "tool_result":
            tools += 1
            tool_chars += ev["result_chars"] or 0
        elif kind in _OUTPUTS:
            outputs.append(ev["timestamp"])
            continue
        else:
            continue
        first_input = first_input or kind
        inputs.append(ev["timestamp"])
    first_out = min(outputs) if outputs else None
    ready = [t for t in inputs if first_out is not None and t <= first_out]
    return {
        "trigger": {"user_message": "user", "tool_result": "tool"}.get(first_input, "none"),
        "first_input_event_type": first_input,
        "first_event_type": events[0]["event_type"] if events else None,
        "current_input_event_count": users + tools,
        "current_user_message_count": users,
        "current_tool_result_count": tools,
        "current_user_message_chars": user_chars,
        "current_tool_result_chars": tool_chars,
        "current_input_chars": user_chars + tool_chars,
        "input_ready_at": max(ready) if ready else None,
        "first_output_at": first_out,
        "last_output_at": max(outputs) if outputs else None,
    }


class TruthSink:
    """Collects truth rows and streams them to Parquet in bounded batches."""

    def __init__(self, out_dir: Path, batch_rows: int = 20_000):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.batch_rows = batch_rows
        self.rows: dict[str, list[dict]] = {t: [] for t in TABLES}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.counts = dict.fromkeys(TABLES, 0)

    def add(self, steps: list[dict], tool_calls: list[dict], events: list[dict]) -> None:
        for name, rows in (("steps", steps), ("tool_calls", tool_calls), ("timing_events", events)):
            self.rows[name].extend(rows)
            self.counts[name] += len(rows)
            if len(self.rows[name]) >= self.batch_rows:
                self._flush(name)

    def _flush(self, name: str) -> None:
        rows = self.rows[name]
        if not rows and name in self.writers:
            return
        table = schema.to_table(name, rows)
        writer = self.writers.get(name)
        if writer is None:
            writer = self.writers[name] = pq.ParquetWriter(
                self.out_dir / f"{name}.parquet", schema.TABLES[name]
            )
        writer.write_table(table)
        self.rows[name] = []

    def close(self) -> dict[str, int]:
        for name in TABLES:
            self._flush(name)
            self.writers[name].close()
        return dict(self.counts)


def merge_parts(part_dirs: list[Path], out_dir: Path) -> None:
    """Concatenate per-worker truth parts, in the given order, into one file per table."""
    out_dir = Path(out_dir)
    for name in TABLES:
        target = out_dir / f"{name}.parquet"
        tmp = target.with_suffix(".parquet.tmp")
        with pq.ParquetWriter(tmp, schema.TABLES[name]) as writer:
            for part in part_dirs:
                pf = pq.ParquetFile(part / f"{name}.parquet")
                for i in range(pf.num_row_groups):
                    writer.write_table(pf.read_row_group(i).cast(schema.TABLES[name]))
        tmp.replace(target)


def read_truth(truth_dir: str | Path) -> dict[str, pa.Table]:
    return {name: pq.read_table(Path(truth_dir) / f"{name}.parquet") for name in TABLES}
