"""Claude's turn context sent early (session_model.CLAUDE_TURN_CONTEXT_EARLY): part of a prompt's
turn context rides on the previous step's tool results; only the two steps' token split moves."""

from synth_helpers import demo_plans

from tracelab_pipeline.synth import session_model as sm


def _threads(seed: int) -> list:
    return [t for plan in demo_plans(seed, ("claude",)) for t in (plan.main, *plan.subagents)]


def _drawn(step) -> tuple:
    times = ([i.ts for i in step.inputs], step.first_out_ms, step.last_out_ms)
    tools = [(t.name, t.emitted_ms, t.result_ms, t.result_tokens) for t in step.tools]
    return step.model, step.output, step.compaction_before, times, tools


def test_turn_context_sent_early_moves_only_the_split(monkeypatch):
    now = _threads(0)
    monkeypatch.setattr(sm, "CLAUDE_TURN_CONTEXT_EARLY", 0.0)
    before = _threads(0)
    moved = 0
    for ta, tb in zip(now, before, strict=True):
        assert [_drawn(s) for s in ta.steps] == [_drawn(s) for s in tb.steps]  # no draw moved
        for i, (a, b) in enumerate(zip(ta.steps, tb.steps, strict=True)):
            if (a.prefix, a.append) == (b.prefix, b.append):
                continue
            if a.prefix + a.append == b.prefix + b.append:
                continue  # the prompt step: same context, less of it sent fresh
            # the step before a prompt carries that prompt's moved turn context
            assert (a.prefix, a.uncached) == (b.prefix, b.uncached) and a.append > b.append
            nxt_a, nxt_b = ta.steps[i + 1], tb.steps[i + 1]
            assert nxt_a.inputs[-1].kind == "prompt"
            assert nxt_a.prefix + nxt_a.append == nxt_b.prefix + nxt_b.append
            moved += 1
    assert moved
