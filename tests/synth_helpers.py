"""Session plans of the demo preset, as `generate` draws them (no files): for generator tests
that compare plans with a calibration switched on and off."""

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
