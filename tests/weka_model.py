"""A strict model of the Weka / kv-cache-tester session line, written from the format's
description (serving-ecosystem.md §1.4 B; AIPerf's reader forbids unknown keys), and the rules
a model cannot say."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class WekaRequest(_Strict):
    t: float
    type: Literal["s", "n"]
    model: str
    in_: int = Field(alias="in")
    out: int
    hash_ids: list[int]
    input_types: list[Literal["text", "tool_result"]]
    output_types: list[str] = []
    stop: Literal["", "tool_use", "end_turn"]
    api_time: float | None
    think_time: float | None


class WekaSubagent(_Strict):
    t: float
    type: Literal["subagent"]
    agent_id: str
    subagent_type: str
    duration_ms: int | None
    total_tokens: int | None = None
    tool_use_count: int | None
    status: str
    models: list[str]
    tool_tokens: int = 0
    system_tokens: int = 0
    requests: list[WekaRequest]


class WekaSession(_Strict):
    id: str
    models: list[str]
    block_size: Literal[64]
    hash_id_scope: Literal["local"]
    tool_tokens: int = 0
    system_tokens: int = 0
    requests: list[Annotated[WekaRequest | WekaSubagent, Field(discriminator="type")]]
    totals: dict | None = None


def validate_weka_line(line: dict) -> WekaSession:
    """The strict model, plus the rules a model cannot say: floor blocks, ids >= 1, the list
    in time order, nested requests on the session's clock after their entry."""
    session = WekaSession.model_validate(line)
    for item in session.requests:
        for request in item.requests if isinstance(item, WekaSubagent) else [item]:
            assert len(request.hash_ids) == request.in_ // 64
            assert min(request.hash_ids, default=1) >= 1
            assert request.t >= item.t
    starts = [item.t for item in session.requests]
    assert starts == sorted(starts) and (not starts or starts[0] >= 0)
    return session
