"""What a reader returns for one raw log file."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracelab_pipeline.formats.jsonl import Accounting


@dataclass
class FileResult:
    """Rows (as dicts matching tracelab_pipeline.schema) read from one file, plus its accounting."""

    source_file: str
    provider: str | None
    accounting: Accounting
    steps: list[dict] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)
    timing_events: list[dict] = field(default_factory=list)
    error: str | None = None

    def accounting_row(self) -> dict:
        return self.accounting.row(
            provider=self.provider,
            steps=len(self.steps),
            tool_calls=len(self.tool_calls),
            error=self.error,
        )
