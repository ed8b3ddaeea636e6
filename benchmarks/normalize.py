"""Normalize throughput against the parse-only floor (run by hand).

    uv run python benchmarks/normalize.py [--mb 200] [--synth] [--profile]

Builds a corpus of many files in a temp dir by replicating the real fixtures (every copy gets
its own session ids, so nothing is deduplicated away), optionally also a synthetic corpus from
tracelab_pipeline.synth, then reports MB/s and steps/s of normalize_files with 1 and 2 workers
beside the parse-only floors (orjson / json.loads of every line) and TraceLab's ~120 MB/s/core.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import tempfile
import time
from pathlib import Path

import orjson

from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.jsonl import open_log
from tracelab_pipeline.normalize import iter_log_files, normalize_files

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
TRACELAB_MB_S = 120.0  # TraceLab extractors, one core, this kind of machine (issue 2)
GOAL_MB_S = 360.0
UUID = re.compile(rb"[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def replicate_fixtures(dest: Path, target_mb: float) -> list[Path]:
    sources = sorted(FIXTURES.glob("*/*.jsonl"))
    per_copy = sum(p.stat().st_size for p in sources)
    copies = max(1, round(target_mb * 2**20 / per_copy))
    for copy in range(copies):
        # Same length, new ids: every UUID's first group becomes the copy number.
        prefix = f"{copy:08x}".encode()
        for src in sources:
            out = dest / f"copy{copy:04d}" / src.parent.name / src.name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(UUID.sub(lambda m, p=prefix: p + m.group(1), src.read_bytes()))
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


def parse_floor(files: list[Path], loads) -> float:
    start = time.perf_counter()
    for path in files:
        with open_log(path) as f:
            for line in f:
                if line.strip():
                    loads(line)
    return time.perf_counter() - start


def readers_only(files: list[Path]) -> tuple[float, int]:
    start = time.perf_counter()
    steps = sum(len(read_log(path, "bench").steps) for path in files)
    return time.perf_counter() - start, steps


def normalize(files: list[Path], workers: int) -> tuple[float, int]:
    start = time.perf_counter()
    tables = normalize_files(files, "bench", workers=workers)
    return time.perf_counter() - start, tables.steps.num_rows


def best(fn, repeat: int):
    results = [fn() for _ in range(repeat)]
    return min(results, key=lambda r: r[0] if isinstance(r, tuple) else r)


def report(name: str, files: list[Path], repeat: int) -> dict:
    mb = corpus_bytes(files) / 2**20
    parse_floor(files, orjson.loads)  # warm the page cache
    rows = []
    floor = best(lambda: parse_floor(files, orjson.loads), repeat)
    rows.append(("parse floor: orjson.loads per line", floor, None))
    rows.append(
        ("parse floor: json.loads per line", best(lambda: parse_floor(files, json.loads), 1), None)
    )
    t, steps = best(lambda: readers_only(files), repeat)
    rows.append(("read_log only (readers, no tables)", t, steps))
    t1, steps1 = best(lambda: normalize(files, 1), repeat)
    rows.append(("normalize_files workers=1", t1, steps1))
    t2, steps2 = best(lambda: normalize(files, 2), repeat)
    rows.append(("normalize_files workers=2", t2, steps2))
    assert steps1 == steps2, (steps1, steps2)

    print(f"\n== {name}: {len(files)} files, {mb:.1f} MiB uncompressed, {steps1} steps ==")
    print(
        f"{'':38s} {'sec':>7s} {'MiB/s':>8s} {'steps/s':>10s} {'x floor':>8s} {'x TraceLab':>10s}"
    )
    for label, seconds, n in rows:
        rate = mb / seconds
        steps_s = f"{n / seconds:10.0f}" if n else f"{'':10s}"
        print(
            f"{label:38s} {seconds:7.2f} {rate:8.0f} {steps_s} {floor / seconds:8.2f} "
            f"{rate / TRACELAB_MB_S:10.2f}"
        )
    per_core = mb / t1
    print(
        f"per core: {per_core:.0f} MiB/s (goal >= {GOAL_MB_S:.0f}, i.e. >= 0.40 x floor); "
        f"floor/ours = {t1 / floor:.2f} (goal <= 2.5); 2 workers speed-up = {t1 / t2:.2f}x "
        f"on {os.cpu_count()} cores"
    )
    return {"mb": mb, "t1": t1, "t2": t2, "floor": floor}


def profile(files: list[Path], top: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    normalize_files(files, "bench", workers=1)
    profiler.disable()
    print(f"\n== cProfile of normalize_files(workers=1), top {top} by own time ==")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200, help="size of the replicated corpus")
    parser.add_argument("--synth", action="store_true", help="also a synthetic 'demo' corpus")
    parser.add_argument("--profile", action="store_true", help="cProfile one workers=1 run")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tracelab-bench-"))
    try:
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
