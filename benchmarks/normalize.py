"""Normalize throughput against the parse-only floor (run by hand).

    uv run python benchmarks/normalize.py [--mb 200] [--synth] [--profile] [--memory]
    uv run python benchmarks/normalize.py --plan-steps 1000000

Builds a corpus of many files in a temp dir by replicating the real fixtures (every copy gets
its own session ids, so nothing is deduplicated away), optionally also a synthetic corpus from
tracelab_pipeline.synth, then reports MB/s and steps/s of normalize_files with 1 and 2 workers
beside the parse-only floors (orjson / json.loads of every line) and TraceLab's ~120 MB/s/core.

The floors read lines through `open_log`, as the readers do (256 KiB buffer; with io's 8 KiB
default, iterating long lines cost nearly as much as parsing them and the floor was ~30%
slower). They drop each record before parsing the next line, as the readers do: kept
in a list, orjson parses the Claude fixtures at less than half the rate (280 against 600 MiB
per CPU second, fresh memory for every object), so a parser comparison that keeps its results
overstates what a reader gains (see docs/normalize.md, msgspec).

CPU time counts every process: the parent plus what the pool workers report (reading,
building the tables, handing them back). The machine is shared, so wall-clock speed-ups are
only meaningful when it is idle; beside the measured one the report prints the speed-up the
2-worker split would give with two idle cores: 1-worker CPU / (busiest worker + parent CPU).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import orjson
import pyarrow as pa

from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.common import gc_paused
from tracelab_pipeline.formats.jsonl import open_log
from tracelab_pipeline.normalize import iter_log_files, normalize_files

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
TRACELAB_MB_S = 120.0  # TraceLab extractors, one core, this kind of machine (issue 2)
GOAL_MB_S = 360.0
UUID = re.compile(rb"[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
MESSAGE_ID = re.compile(rb"(msg_|gen-)[0-9A-Za-z]{8}")  # API message ids (Anthropic, OpenRouter)


def replicate_fixtures(dest: Path, target_mb: float) -> list[Path]:
    sources = sorted(FIXTURES.glob("*/*.jsonl"))
    per_copy = sum(p.stat().st_size for p in sources)
    copies = max(1, round(target_mb * 2**20 / per_copy))
    for copy in range(copies):
        # Same length, new ids: every UUID's first group and the start of every API message
        # id become the copy number (the same message id would be the same call, a copy).
        prefix = f"{copy:08x}".encode()
        for src in sources:
            out = dest / f"copy{copy:04d}" / src.parent.name / src.name
            out.parent.mkdir(parents=True, exist_ok=True)
            text = UUID.sub(lambda m, p=prefix: p + m.group(1), src.read_bytes())
            out.write_bytes(MESSAGE_ID.sub(lambda m, p=prefix: m.group(1) + p, text))
    return iter_log_files([dest])


def synth_corpus(dest: Path) -> list[Path]:
    from tracelab_pipeline.synth import generate

    generate("demo", seed=0, inbox_dir=dest / "inbox", truth_dir=dest / "truth")
    return iter_log_files([dest / "inbox"])


def corpus_bytes(files: list[Path]) -> int:
    """Uncompressed size: what every parser has to get through."""
    total = 0
    for path in files:
        with open_log(path) as f:
            total += sum(len(chunk) for chunk in iter(lambda f=f: f.read(1 << 20), b""))
    return total


class Timed(NamedTuple):
    wall: float
    cpu: float  # CPU seconds of every process that worked on it
    steps: int | None = None
    parent_cpu: float = 0.0
    busiest_worker_cpu: float = 0.0  # pool runs: CPU of the worker that did the most


def timed(fn) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    steps, by_worker = fn()
    parent = time.process_time() - cpu
    return Timed(
        time.perf_counter() - wall,
        parent + sum(by_worker.values()),
        steps,
        parent,
        max(by_worker.values(), default=0.0),
    )


def parse_floor(files: list[Path], loads) -> tuple[None, dict]:
    for path in files:
        with open_log(path) as f:
            for line in f:
                # No strip() first (a copy of every line, 3-5% of the floor): the readers do
                # not strip either. A blank or broken line costs the readers more than this.
                # (try/except, not contextlib.suppress: a context per line would slow the floor.)
                try:  # noqa: SIM105
                    loads(line)
                except ValueError:
                    pass
    return None, {}


def _floor_of(files: list[Path]) -> float:
    start = time.process_time()
    parse_floor(files, orjson.loads)
    return time.process_time() - start


def parse_floor_2(files: list[Path], pool) -> tuple[None, dict]:
    """The floor split over 2 processes of a running pool (alternate files): the speed-up this
    machine itself gives two CPU-bound processes, the baseline for normalize's 2 workers."""
    return None, dict(enumerate(pool.map(_floor_of, [files[0::2], files[1::2]])))


def readers_only(files: list[Path]) -> tuple[int, dict]:
    # With the collector paused for the whole loop, as normalize's read_batch does: otherwise
    # every file's end re-enables it and pays a pass normalize does not (~5% of the readers).
    with gc_paused():
        return sum(len(read_log(path, "bench").rows["steps"]) for path in files), {}


def normalize(files: list[Path], workers: int) -> tuple[int, dict]:
    tables = normalize_files(files, "bench", workers=workers)
    # With a pool the reading happens in the workers; their CPU comes back in stats.
    by_worker = tables.stats["read_cpu_seconds_by_process"] if workers > 1 else {}
    return tables.steps.num_rows, by_worker


def best(fn, repeat: int) -> Timed:
    return min((timed(fn) for _ in range(repeat)), key=lambda t: t.wall)


def report(name: str, files: list[Path], repeat: int) -> None:
    mb = corpus_bytes(files) / 2**20
    parse_floor(files, orjson.loads)  # warm the page cache
    normalize(files[:20], 2)  # start the pool's fork server once, as a long-lived process would
    floor = best(lambda: parse_floor(files, orjson.loads), repeat)
    rows = [
        ("parse floor: orjson.loads per line", floor),
        ("parse floor: json.loads per line", best(lambda: parse_floor(files, json.loads), 1)),
        ("read_log only (readers, no tables)", best(lambda: readers_only(files), repeat)),
        ("normalize_files workers=1", best(lambda: normalize(files, 1), repeat)),
        ("normalize_files workers=2", best(lambda: normalize(files, 2), repeat)),
    ]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_floor_of, [[], []])
        rows.append(("parse floor, 2 processes", best(lambda: parse_floor_2(files, pool), repeat)))
    one, two, floor2 = rows[3][1], rows[4][1], rows[5][1]
    assert one.steps == two.steps, (one.steps, two.steps)

    load = os.getloadavg()[0]
    print(f"\n== {name}: {len(files)} files, {mb:.1f} MiB uncompressed, {one.steps} steps ==")
    print(
        f"   {os.cpu_count()} cores, load average {load:.1f} before the run (other work skews wall)"
    )
    print(
        f"{'':36s} {'wall s':>7s} {'MiB/s':>7s} {'steps/s':>8s} {'CPU s':>7s} "
        f"{'MiB/CPU-s':>9s} {'floor/us':>8s} {'x TraceLab':>10s}"
    )
    for label, t in rows:
        steps_s = f"{t.steps / t.wall:8.0f}" if t.steps else f"{'':8s}"
        per_cpu = mb / t.cpu
        print(
            f"{label:36s} {t.wall:7.2f} {mb / t.wall:7.0f} {steps_s} {t.cpu:7.2f} "
            f"{per_cpu:9.0f} {t.cpu / floor.cpu:8.2f} {per_cpu / TRACELAB_MB_S:10.2f}"
        )
    readers = rows[2][1]
    print(
        f"beyond the readers (tables, merge, GC of the readers' garbage): "
        f"{(one.cpu - readers.cpu) / floor.cpu:.2f} x the floor"
    )
    print(
        f"per core (CPU time): {mb / one.cpu:.0f} MiB/s, goal >= {GOAL_MB_S:.0f}; "
        f"ours/floor = {one.cpu / floor.cpu:.2f}, goal <= 2.5; "
        f"2 workers: wall speed-up {one.wall / two.wall:.2f}x (load {load:.1f}), "
        f"with 2 idle cores {one.cpu / (two.busiest_worker_cpu + two.parent_cpu):.2f}x; "
        f"CPU overhead of the pool {two.cpu / one.cpu - 1:+.0%}; "
        f"the parse floor's own wall speed-up on 2 processes: {floor.wall / floor2.wall:.2f}x"
    )


def profile(files: list[Path], top: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    normalize_files(files, "bench", workers=1)
    profiler.disable()
    print(f"\n== cProfile of normalize_files(workers=1), top {top} by own time ==")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


# Runs a command and prints its peak RSS in KiB: a fresh parent per measurement, because
# RUSAGE_CHILDREN keeps the largest child ever waited for.
_PEAK_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def memory(tmp: Path, target_mb: float) -> None:
    """Peak RSS of `tracelab normalize` (both output formats stream) on a corpus and on 4x that
    corpus: memory should follow the steps' dedup keys, not the bytes read."""
    print("\n== peak memory of `tracelab normalize` (workers=1) ==")
    corpora = []
    for scale in (1, 4):
        files = replicate_fixtures(tmp / f"memory-x{scale}", target_mb * scale / 4)
        corpora.append((tmp / f"memory-x{scale}", corpus_bytes(files) / 2**20))
    for out_format in ("parquet", "tracelab-jsonl"):
        peaks = []
        for corpus, mb in corpora:
            command = [str(Path(sys.executable).with_name("tracelab")), "normalize", str(corpus)]
            command += ["--out", str(tmp / f"out-{corpus.name}"), "--format", out_format]
            result = subprocess.run(
                [sys.executable, "-c", _PEAK_RSS, *command],
                check=True,
                capture_output=True,
                text=True,
            )
            peaks.append(int(result.stdout.split()[-1]) / 1024)
            print(f"--format {out_format:14s} {mb:8.1f} MiB of logs: peak RSS {peaks[-1]:6.0f} MiB")
        print(
            f"--format {out_format:14s} 4x the input -> {peaks[1] / peaks[0]:.2f}x the peak memory"
        )


def synthetic_keys(steps: int, files: dict, batch: int = 100_000):
    """Dedup key batches of `steps` steps, 1000 per file and thread; every 10th step replays
    one from 5 files earlier (as resumed sessions do), so a tenth of the steps are copies."""
    from tracelab_pipeline.normalize.worker import FileInfo
    from tracelab_pipeline.schema import TS

    for start in range(0, steps, batch):
        i = np.arange(start, min(steps, start + batch))
        origin = np.where((i % 10 == 0) & (i >= 5001), i - 5001, i)
        session = pa.array([f"{x // 1000:08d}-0000-4000-8000-000000000000" for x in i])
        times = pa.array(1_750_000_000_000_000 + i * 1_000_000).cast(TS)
        for f in range(start // 1000, (i[-1] // 1000) + 1):
            files[f] = FileInfo(
                f, f"/inbox/{f:08d}.jsonl", {}, f"{f:08d}-0000-4000-8000-000000000000"
            )
        yield pa.table(
            {
                "step_id": [f"claude:{x // 1000:08d}:req_{x:024d}" for x in origin],
                "session_id": session,
                "round_id": [f"req_{x:024d}" for x in origin],
                "input_tokens_total": pa.array(origin, pa.int64()),
                "_file": pa.array(i // 1000, pa.int32()),
                "contributor": pa.array(["bench"] * len(i)),
                "provider": pa.array(["claude"] * len(i)),
                "root_session_id": session,
                "session_started_at": times,
                "source_line": pa.array(i % 1000 + 1, pa.int64()),
                "step_index": pa.array(i % 1000, pa.int64()),
                "input_ready_at": times,
                "first_output_at": times,
                "usage_at": times,
            }
        )


def plan_child(steps: int) -> None:
    """One measurement, in a fresh process: plan_merge over `steps` keys stored in a work dir."""
    import resource

    from tracelab_pipeline.normalize.dedup import plan_merge

    files: dict = {}
    start = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as work,
        plan_merge(synthetic_keys(steps, files), files, work) as plan,
    ):
        dropped = sum(plan.dropped_per_file.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{steps} {dropped} {time.perf_counter() - start:.1f} {peak:.0f}")


def plan_memory(steps: int) -> None:
    """Peak RSS of the merge plan at N and 4N steps, beside the size of the keys themselves
    (what a plan holding them in memory would need)."""
    print("\n== peak memory of the merge plan (dedup.plan_merge, keys stored in a work dir) ==")
    for n in (steps, 4 * steps):
        keys = sum(t.nbytes for t in synthetic_keys(n, {})) / 2**20
        out = subprocess.run(
            [sys.executable, __file__, "--plan-child", str(n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        print(
            f"{n:>10,d} steps ({int(out[1]):,d} copies dropped): {keys:6.0f} MiB of keys,"
            f" plan peak RSS {float(out[3]):5.0f} MiB, {float(out[2]):5.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200, help="size of the replicated corpus")
    parser.add_argument("--synth", action="store_true", help="also a synthetic 'demo' corpus")
    parser.add_argument("--profile", action="store_true", help="cProfile one workers=1 run")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--memory", action="store_true", help="only: peak RSS of the CLI at 1x and 4x --mb/4"
    )
    parser.add_argument(
        "--plan-steps", type=int, help="only: peak RSS of the merge plan at N and 4N steps"
    )
    parser.add_argument("--plan-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plan_child:
        plan_child(args.plan_child)
        return
    if args.plan_steps:
        plan_memory(args.plan_steps)
        return

    tmp = Path(tempfile.mkdtemp(prefix="tracelab-bench-"))
    try:
        if args.memory:
            memory(tmp, args.mb)
            return
        files = replicate_fixtures(tmp / "replicated", args.mb)
        report("real fixtures, replicated", files, args.repeat)
        if args.synth:
            report("synthetic demo corpus", synth_corpus(tmp / "synth"), args.repeat)
        if args.profile:
            profile(files[: max(1, len(files) // 8)])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
