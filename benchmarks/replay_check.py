"""Load the release's replay files with the real replay tools' own loaders; print PASS/FAIL.

    <venv>/bin/python benchmarks/replay_check.py <release dir> [--lines 300] [--sessions 3]

Run by hand, with the Python of a virtualenv that has the tools (this script installs nothing
and imports nothing of ours): `pip install aiperf guidellm` in one, `pip install --no-deps
ai-dynamo ai-dynamo-runtime typing_extensions` in another (ai-dynamo's dependency `aisimulate`
only downloads from NVIDIA's own index). A tool that is not importable is SKIP. Versions and
results are recorded in docs/release.md ("Checked with the real loaders").

No server is needed: AIPerf's CustomDatasetComposer and GuideLLM's TraceDatasetDeserializer
parse the lines and synthesize every prompt (that is what they do before sending), DynoSim
(`dynamo.replay`, offline mode) simulates the replay on the CPU. Both synthesizers need a
tokenizer and there is no model hub here: a small BPE is trained on AIPerf's bundled corpus and
put where Hugging Face's offline cache looks (AIPerf's worker processes load a tokenizer by
repository name only). Prompt synthesis is slow (AIPerf and GuideLLM: about 20 and 40 ms a
line), so those loaders get the first --lines lines and the --sessions smallest sessions with
a sub-agent (and as many without); the cheap checks read every line.
"""

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path

TOKENIZER_REPO = "local/replay-check-bpe"
MOONCAKE, SESSIONS, WEKA = "mooncake.jsonl.gz", "mooncake.sessions.jsonl.gz", "weka.jsonl.gz"
ROUNDS = "tracelab_rounds.jsonl.gz"
results: list[tuple[str, str, str, str]] = []


def check(tool: str, file: str, fn) -> None:
    """Run one loader; a missing tool is SKIP, any exception FAIL (with its message)."""
    dist = {"aiperf": "aiperf", "guidellm": "guidellm", "dynamo": "ai-dynamo"}[
        tool.split(".")[0].split()[0]
    ]
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        results.append((tool, file, "SKIP", "not installed"))
        return
    start = time.process_time()
    try:
        detail = fn()
        status = "PASS"
    except Exception as e:  # the tool's own refusal is the result
        detail = f"{type(e).__name__}: {str(e)[:300]}"
        if os.environ.get("REPLAY_CHECK_TRACEBACK"):
            traceback.print_exc()
        status = "FAIL"
    spent = time.process_time() - start
    results.append((f"{tool} {version}", file, status, f"{detail} ({spent:.1f} CPU s)"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("release", type=Path)
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="replay-check-"))
    # before any tool imports huggingface_hub, which reads them once
    os.environ.update(HF_HOME=str(work / "hf"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    try:
        names = (MOONCAKE, SESSIONS, WEKA, ROUNDS)
        plain = {name: unpack(args.release / name, work) for name in names}
        head = {n: first_lines(plain[n], args.lines, work) for n in (MOONCAKE, SESSIONS, ROUNDS)}
        sessions = weka_sessions(plain[WEKA], args.sessions, work)
        run_checks(plain, head, sessions, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(r[0]) for r in results)
    for tool, file, status, detail in results:
        print(f"{status:4}  {tool:{width}}  {file:28}  {detail}")
    failed = sum(r[2] == "FAIL" for r in results)
    print(f"{sum(r[2] == 'PASS' for r in results)} passed, {failed} failed")
    return 1 if failed else 0


def run_checks(plain: dict, head: dict, sessions: Path, work: Path) -> None:
    with open(head[SESSIONS], "rb") as f:
        threads = len({json.loads(line)["session_id"] for line in f})
    with open(head[MOONCAKE], "rb") as f:
        n = sum(1 for _ in f)
    check("aiperf validate", MOONCAKE, lambda: aiperf_validate(plain[MOONCAKE]))
    check("aiperf validate", SESSIONS, lambda: aiperf_validate(plain[SESSIONS]))
    check("aiperf WekaTrace model", WEKA, lambda: aiperf_weka_models(plain[WEKA]))
    if importable("aiperf") or importable("guidellm"):
        tokenizer_dir(work)
    check(
        "aiperf mooncake_trace",
        f"{MOONCAKE} [:{n}]",
        lambda: aiperf_load(head[MOONCAKE], "mooncake_trace", conversations=n),
    )
    check(
        "aiperf mooncake_trace",
        f"{SESSIONS} [:{n}]",
        lambda: aiperf_load(head[SESSIONS], "mooncake_trace", conversations=threads),
    )
    check(
        "aiperf weka_trace",
        f"{WEKA} [{sessions.name}]",
        lambda: aiperf_load(sessions, "weka_trace"),
    )
    # AIPerf's TraceLab loader reads the round file (and rebuilds Weka sessions from it)
    check("aiperf tracelab", f"{ROUNDS} [:{n}]", lambda: aiperf_load(head[ROUNDS], "tracelab"))
    check("guidellm mooncake rows", MOONCAKE, lambda: guidellm_rows(plain[MOONCAKE]))
    check(
        "guidellm mooncake",
        f"{MOONCAKE} [:{n}]",
        lambda: guidellm_load(head[MOONCAKE], "mooncake", conversations=n),
    )
    weka_lines = work / "sessions.jsonl"
    weka_lines.write_bytes(b"".join(p.read_bytes() for p in sorted(sessions.glob("*.json"))))
    check("guidellm weka", f"{WEKA} [{sessions.name}]", lambda: guidellm_load(weka_lines, "weka"))
    for name in (MOONCAKE, SESSIONS):
        check(
            "dynamo.replay mooncake", name, lambda name=name: dynosim(plain[name], "mooncake", 512)
        )
    every = work / "weka-all"
    split_sessions(plain[WEKA], every)
    check("dynamo.replay weka", WEKA, lambda: dynosim(every, "weka", 64))


def importable(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def unpack(path: Path, work: Path) -> Path:
    """The tools read plain JSONL, as the datasheet says (`gunzip -k`)."""
    out = work / path.name.removesuffix(".gz")
    with gzip.open(path, "rb") as f, open(out, "wb") as g:
        shutil.copyfileobj(f, g)
    return out


def first_lines(path: Path, n: int, work: Path) -> Path:
    out = work / f"head-{path.name}"
    with open(path, "rb") as f, open(out, "wb") as g:
        for i, line in enumerate(f):
            if i == n:
                break
            g.write(line)
    return out


def split_sessions(path: Path, out: Path, keep=None) -> None:
    """One JSON file per session, as AIPerf and kv-cache-tester read them."""
    out.mkdir(exist_ok=True)
    with open(path, "rb") as f:
        for line in f:
            session = json.loads(line)
            if keep is None or session["id"] in keep:
                (out / f"{session['id']}.json").write_bytes(line)


def weka_sessions(path: Path, k: int, work: Path) -> Path:
    """The k smallest sessions with a sub-agent and the k smallest without one."""
    sizes = []
    with open(path, "rb") as f:
        for line in f:
            session = json.loads(line)
            nested = any(r["type"] == "subagent" for r in session["requests"])
            sizes.append((nested, len(line), session["id"]))
    keep = set()
    for nested in (True, False):
        keep |= {i for _, _, i in sorted(s for s in sizes if s[0] == nested)[:k]}
    out = work / f"weka-{len(keep)}-sessions"
    split_sessions(path, out, keep)
    return out


def tokenizer_dir(work: Path) -> None:
    """A small BPE in Hugging Face's offline cache layout, named TOKENIZER_REPO."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = Path(__import__("aiperf").__file__).parent / "dataset/generator/assets/shakespeare.txt"
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=4000,
        special_tokens=["<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train([str(corpus)], trainer)
    revision = "0" * 40
    repo = work / "hf/hub" / f"models--{TOKENIZER_REPO.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tok.save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)


def aiperf_validate(path: Path) -> str:
    from aiperf.dataset.agentic_code_gen.cli import validate_mooncake_trace

    lines, errors = validate_mooncake_trace(path)
    if errors:
        raise ValueError(f"{len(errors)} error(s), first: {errors[0]}")
    return f"{lines} lines valid"


def aiperf_weka_models(path: Path) -> str:
    from aiperf.dataset.loader.weka_trace_models import WekaTrace

    with open(path, "rb") as f:
        n = sum(1 for line in f if WekaTrace.model_validate_json(line))
    return f"{n} sessions valid"


def aiperf_load(path: Path, kind: str, conversations: int | None = None) -> str:
    """The composer AIPerf's DatasetManager uses: parse, group, synthesize every prompt."""
    from aiperf.cli_runner import _make_benchmark_run
    from aiperf.common import random_generator
    from aiperf.common.tokenizer import Tokenizer
    from aiperf.config.flags.cli_config import CLIConfig
    from aiperf.config.flags.resolver import resolve_config
    from aiperf.config.loader import build_benchmark_plan
    from aiperf.dataset.composer.custom import CustomDatasetComposer

    cli = CLIConfig(
        model_names=["replay-check"],
        urls=["http://127.0.0.1:9"],  # never contacted: only the dataset is built
        tokenizer_name=TOKENIZER_REPO,
        input_file=str(path),
        custom_dataset_type=kind,
    )
    run = _make_benchmark_run(build_benchmark_plan(resolve_config(cli)).configs[0], random_seed=0)
    random_generator.reset()
    random_generator.init(0)
    composer = CustomDatasetComposer(run=run, tokenizer=Tokenizer.from_pretrained(TOKENIZER_REPO))
    convs = composer.create_dataset()
    turns = sum(len(c.turns) for c in convs)
    if conversations is not None and len(convs) != conversations:
        raise ValueError(f"{len(convs)} conversations, expected {conversations}")
    # Mooncake turns carry synthesized text, Weka turns synthesized chat messages
    if any(
        not (t.raw_messages or t.texts and t.texts[0].contents[0]) for c in convs for t in c.turns
    ):
        raise ValueError("a turn without a prompt")
    # None falls through to AIPerf's global default (SessionManager)
    default = composer.get_default_context_mode() or "deltas_without_responses"
    modes = sorted({str(c.context_mode or default) for c in convs})
    return f"{len(convs)} conversations, {turns} turns, context mode {', '.join(modes)}"


def guidellm_rows(path: Path) -> str:
    """GuideLLM's own row checks (ceil blocks, ids >= 0, lengths >= 0) on every line."""
    from guidellm.data.deserializers.trace_common import _validate_row
    from guidellm.data.deserializers.trace_mooncake import MooncakeTraceFormat
    from guidellm.schemas.data.deserializers.file import FileDataArgs
    from guidellm.schemas.data.deserializers.trace_mooncake import MooncakeTraceFormatArgs

    config = MooncakeTraceFormatArgs(source=FileDataArgs(kind="json_file", path=path))
    trace_format = MooncakeTraceFormat(config, dataset=None)
    n = 0
    with open(path, "rb") as f:
        for line in f:
            row = json.loads(line)
            _validate_row(row, config)
            trace_format.validate_row(row)
            if not all(0 <= i < 2**31 for i in row["hash_ids"]):  # read as int32
                raise ValueError(f"line {n + 1}: a hash id outside int32")
            n += 1
    return f"{n} lines valid"


def guidellm_load(path: Path, kind: str, conversations: int | None = None) -> str:
    from guidellm.data.deserializers.trace_common import TraceDatasetDeserializer
    from guidellm.schemas.data.deserializers.file import FileDataArgs
    from guidellm.schemas.data.deserializers.trace_mooncake import MooncakeTraceFormatArgs
    from guidellm.schemas.data.deserializers.trace_weka import WEKATraceFormatArgs
    from transformers import AutoTokenizer

    args = {"mooncake": MooncakeTraceFormatArgs, "weka": WEKATraceFormatArgs}[kind]
    config = args(source=FileDataArgs(kind="json_file", path=path))
    hub = Path(os.environ["HF_HOME"]) / "hub" / f"models--{TOKENIZER_REPO.replace('/', '--')}"
    tokenizer = AutoTokenizer.from_pretrained(next((hub / "snapshots").iterdir()))
    dataset = TraceDatasetDeserializer()(config, lambda: tokenizer, 42)
    convs = turns = 0
    for row in dataset:
        convs += 1
        turns += len(json.loads(row["conversation_turns"])["turns"])
    if conversations is not None and convs != conversations:
        raise ValueError(f"{convs} conversations, expected {conversations}")
    return f"{convs} conversations, {turns} turns"


def dynosim(path: Path, kind: str, block: int) -> str:
    from dynamo.replay import run_trace_replay

    report = run_trace_replay(
        [str(path)],
        trace_format=kind,
        trace_block_size=block,
        execution_model="replay-check" if kind == "weka" else None,
    )
    s = report.summary
    if s["completed_requests"] != s["num_requests"]:
        raise ValueError(f"{s['completed_requests']} of {s['num_requests']} requests completed")
    return (
        f"{s['num_requests']} requests, {s['total_input_tokens']} input tokens, "
        f"prefix reuse {s['prefix_cache_reused_ratio']:.3f}"
    )


if __name__ == "__main__":
    sys.exit(main())
