"""The anonymize stage runs with the heap it starts with frozen (gc.freeze), scoped to it.

By then the process holds ~350K long-lived objects (GX, pydantic models, Presidio, pandas);
each full collection during the stage walked all of them again: 0.2 s a time, at random
moments (a partition of 225 steps took 0.15 s or 0.35 s depending on whether one fell into
it). Frozen, collections only walk the objects the stage creates; everything is still
collected as before, and the frozen objects go back to the oldest generation afterwards. A
host process that froze objects itself is left alone.
"""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def frozen_heap():
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
