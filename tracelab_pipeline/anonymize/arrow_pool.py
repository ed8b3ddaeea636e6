"""Arrow's jemalloc pool for the anonymize stage, scoped to it.

A ranged run reads, converts and writes ~2 GB of short-lived Arrow buffers. With Arrow's
default pool (mimalloc in the pyarrow wheels) about a third of the stage's CPU went to the
kernel (pages handed back and faulted in again); jemalloc keeps them: 12-22 % less CPU for the
paper preset's ranged run, measured interleaved (docs/privacy.md, Cost). Buffers remember the
pool that allocated them, so switching back afterwards is safe. An operator's choice
(env ARROW_DEFAULT_MEMORY_POOL) is left alone, and so is a pyarrow built without jemalloc.
"""

from __future__ import annotations

import contextlib
import os

import pyarrow as pa


@contextlib.contextmanager
def stage_memory_pool():
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        yield
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
