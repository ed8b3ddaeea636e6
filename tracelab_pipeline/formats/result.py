"""What a reader returns for one raw log file."""

from __future__ import annotations

from tracelab_pipeline.formats.jsonl import Accounting
from tracelab_pipeline.formats.rows import ROW_TABLES, as_dicts, from_dicts


class FileResult:
    """Rows read from one file, plus its accounting.

    `rows[table]` holds the rows of steps, tool_calls and timing_events as lists of values in
    schema column order (formats/rows.py): what normalize turns into Arrow columns. `steps`,
    `tool_calls` and `timing_events` give the same rows as dicts matching
    tracelab_pipeline.schema (datetimes tz-aware UTC), built anew on each access.
    """

    def __init__(self, source_file: str, provider: str | None, accounting: Accounting, error=None):
        self.source_file = source_file
        self.provider = provider
        self.accounting = accounting
        self.error: str | None = error
        # A TraceLab round export: a copy of steps whose raw logs may be read as well, with
        # fewer fields (no request ids, stop reasons, branches); the merge prefers the raw copy.
        self.is_export = False
        self.rows: dict[str, list[list]] = {name: [] for name in ROW_TABLES}

    @property
    def steps(self) -> list[dict]:
        return as_dicts("steps", self.rows["steps"])

    @property
    def tool_calls(self) -> list[dict]:
        return as_dicts("tool_calls", self.rows["tool_calls"])

    @property
    def timing_events(self) -> list[dict]:
        return as_dicts("timing_events", self.rows["timing_events"])

    def add_dicts(self, table: str, rows: list[dict]) -> None:
        """Append rows given as dicts (a missing key is a null)."""
        self.rows[table] += from_dicts(table, rows)

    def accounting_row(self) -> dict:
        return self.accounting.row(
            provider=self.provider,
            steps=len(self.rows["steps"]),
            tool_calls=len(self.rows["tool_calls"]),
            error=self.error,
        )
