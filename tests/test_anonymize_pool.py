"""The anonymize stage's Arrow pool is scoped: inside it jemalloc, afterwards the previous one."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tracelab_pipeline.anonymize.arrow_pool import stage_memory_pool


def test_pool_is_switched_inside_and_restored_after(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")
    before = pa.default_memory_pool().backend_name
    with stage_memory_pool():
        assert pa.default_memory_pool().backend_name == "jemalloc"
        kept = pa.array(["x" * 100] * 1000)
    assert pa.default_memory_pool().backend_name == before
    assert kept.to_pylist()[-1] == "x" * 100  # buffers outlive the switch back
    with pytest.raises(RuntimeError), stage_memory_pool():
        raise RuntimeError("a failing stage")
    assert pa.default_memory_pool().backend_name == before


def test_an_operators_pool_choice_is_left_alone(monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    before = pa.default_memory_pool().backend_name
    with stage_memory_pool():
        assert pa.default_memory_pool().backend_name == before


def test_heap_is_frozen_inside_the_stage_and_cycles_still_collected():
    import gc
    import weakref

    from tracelab_pipeline.anonymize.gc_scope import frozen_heap

    class Node:
        pass

    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
        with frozen_heap():  # nested (or a host that froze objects itself): left alone
            pass
        assert gc.get_freeze_count() > 0
        cycle = Node()
        cycle.self = cycle
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None  # garbage made during the stage is collected as before
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError("a failing stage")
    assert gc.get_freeze_count() == 0


def test_a_pyarrow_without_jemalloc_keeps_its_pool(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)

    def no_jemalloc():
        raise NotImplementedError("built without jemalloc")

    monkeypatch.setattr(pa, "jemalloc_memory_pool", no_jemalloc)
    before = pa.default_memory_pool().backend_name
    with stage_memory_pool():
        assert pa.default_memory_pool().backend_name == before
