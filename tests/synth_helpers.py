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
