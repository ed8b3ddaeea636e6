"""Session plans of the demo preset, as `generate` draws them (no files): for generator tests
that compare plans with a calibration switched on and off."""

from typing import NamedTuple

from tracelab_pipeline.synth import session_model as sm
from tracelab_pipeline.synth import session_plans
from tracelab_pipeline.synth.presets import layout, resolve


def demo_plans(seed: int, providers: tuple[str, ...] = ("claude", "codex")) -> list:
    return [
        plan
        for c in layout(resolve("demo", None, None, None), seed)
        for _, _, plan in session_plans(c, seed, providers)
    ]


def drawn(step) -> tuple:
    """What a step's draws decide apart from its tokens: model, output, compaction, times and
    tool calls. A calibration that only splits tokens differently leaves it unchanged."""
    times = ([i.ts for i in step.inputs], step.first_out_ms, step.last_out_ms)
    tools = [(t.name, t.emitted_ms, t.result_ms, t.result_tokens) for t in step.tools]
    return step.model, step.output, step.compaction_before, times, tools


class Moved(NamedTuple):
    kind: str  # "main" or "sub" thread
    now: int  # prefix
    before: int  # prefix with the fit off
    session: tuple[int, int]  # (seed, index)
    compaction: bool  # the step follows a compaction
    append: int  # the step's append now (prefix + append is the same with the fit off)


def moved_prefixes(monkeypatch, off: dict, providers: tuple[str, ...], seeds=(0,)) -> list[Moved]:
    """Every step whose prefix the fit moves, after checking that it moves nothing else. `off`
    maps session_model names ("NAME" or "Class.attribute") to their values with the fit off."""
    now = [demo_plans(seed, providers) for seed in seeds]
    for name, value in off.items():
        *owner, attribute = name.split(".")
        monkeypatch.setattr(getattr(sm, owner[0]) if owner else sm, attribute, value)
    before = [demo_plans(seed, providers) for seed in seeds]
    moved = []
    for seed, plans_now, plans_before in zip(seeds, now, before, strict=True):
        for i, (pa, pb) in enumerate(zip(plans_now, plans_before, strict=True)):
            threads = [("main", pa.main, pb.main)]
            threads += [("sub", a, b) for a, b in zip(pa.subagents, pb.subagents, strict=True)]
            for kind, ta, tb in threads:
                assert [drawn(s) for s in ta.steps] == [drawn(s) for s in tb.steps]
                for a, b in zip(ta.steps, tb.steps, strict=True):
                    assert (a.prefix + a.append, a.uncached) == (b.prefix + b.append, b.uncached)
                    if a.prefix != b.prefix:
                        moved.append(
                            Moved(
                                kind, a.prefix, b.prefix, (seed, i), a.compaction_before, a.append
                            )
                        )
    return moved
