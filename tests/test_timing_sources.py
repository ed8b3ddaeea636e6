"""vocabulary.FIXED_VALUES["timing_events.source"] is kept by hand apart from the readers that
write the sources: every source they write on the real logs must be in it (a source missing
from it is scanned as data, and a contributor handle that is one of its words would then block
the release). The synthetic corpus is checked in test_synth.py, on the truth the readers are
proven to reproduce."""

from landing_helpers import REAL

from tracelab_pipeline.anonymize.vocabulary import FIXED_VALUES
from tracelab_pipeline.normalize import normalize_files

LISTED = FIXED_VALUES["timing_events.source"]


def _sources(paths) -> set[str]:
    events = normalize_files(sorted(paths), "jdoe").tables()["timing_events"]
    return set(events.column("source").drop_null().to_pylist())


def test_every_source_the_readers_write_on_the_real_logs_is_listed():
    files = list(REAL.rglob("*.jsonl"))
    assert {p.parent.name for p in files} == {"claude", "codex"}
    sources = _sources(files)
    assert any(s.startswith("assistant.") for s in sources)  # Claude Code
    assert any(s.startswith(("event_msg.", "response_item.")) for s in sources)  # Codex
    assert sources - LISTED == set()
