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
