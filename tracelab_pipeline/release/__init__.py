"""The release for serving researchers: `<data>/release/`, built from the public layer only.

  parquet/{steps,tool_calls,timing_events}.parquet   public schema, partition by partition
  tracelab_rounds.jsonl.gz                           TraceLab round format
  mooncake.jsonl.gz                                  Mooncake replay trace (mooncake.py)
  mooncake.sessions.jsonl.gz                         the same, closed-loop (mooncake_sessions.py)
  weka.jsonl.gz                                      Weka / kv-cache-tester sessions (weka.py)
  README.md, MANIFEST.json                           datasheet; sizes, SHA-256, row counts

See docs/release.md.
"""

from tracelab_pipeline.release.build import (
    MANIFEST_FILE,
    README_FILE,
    LeftAside,
    NothingToRelease,
    Release,
    build_release,
)

RELEASE_DIR_NAME = "release"

__all__ = [
    "MANIFEST_FILE",
    "README_FILE",
    "RELEASE_DIR_NAME",
    "LeftAside",
    "NothingToRelease",
    "Release",
    "build_release",
]
