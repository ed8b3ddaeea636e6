"""Anonymization cost against normalization, per contributor-month partition (run by hand).

    uv run python benchmarks/anonymize.py [--inbox DIR] [--strings 5000] [--ranged [--limit N]]

1. Presidio throughput: distinct strings per second through a fresh Scrubber (engine warm).
2. On the `paper` synthetic preset (generated into a temp dir unless --inbox points at an
   existing one): for a small, a median and the largest contributor, take the contributor's
   biggest month and time what normalized_steps does (normalize_files + write the private
   Parquet), then everything anonymized_steps adds: read the private Parquet once,
   anonymize, the four blocking checks and both GX suites in memory, write the public
   Parquet (in the stage's Arrow memory pool and frozen heap, as the asset does). CPU seconds
   (process_time; the machine is shared). Prints the ratio; the goal is <= 25 %. One-off
   costs per process (importing GX, building the Presidio engine) are reported separately.
3. --ranged: every partition of the preset as ONE ranged run (a backfill), where GX validates
   the partitions of both layers in one pass per chunk (partition.prepare_partitions).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import orjson

GOAL = 0.25


def presidio_throughput(n: int) -> float:
    from tracelab_pipeline.anonymize.presidio_engine import Scrubber

    rng = random.Random(0)
    servers = ["github", "linear", "notion", "slack", "jira", "sentry", "postgres", "playwright"]
    verbs = ["get", "list", "create", "update", "search", "delete", "run", "read"]
    strings = set()
    while len(strings) < n:
        kind = rng.random()
        if kind < 0.6:
            strings.add(
                f"mcp__{rng.choice(servers)}{rng.randint(0, 999)}__{rng.choice(verbs)}_"
                f"{rng.choice(['issue', 'page', 'file', 'table', 'user'])}_{rng.randint(0, 99)}"
            )
        elif kind < 0.85:
            strings.add(
                f"claude-{rng.choice(['sonnet', 'opus', 'haiku'])}-{rng.randint(3, 5)}-"
                f"2025{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            )
        else:
            strings.add(f"{rng.randint(0, 3)}.{rng.randint(0, 200)}.{rng.randint(0, 200)}")
    Scrubber([]).scrub("warm the engine")
    scrubber = Scrubber(["Maria Gonzalez", "mgonzalez"])
    start = time.perf_counter()
    for s in strings:
        scrubber.scrub(s)
    return n / (time.perf_counter() - start)


def partitions_of(contributor_dir: Path) -> dict[str, list[Path]]:
    """month -> files, by the first timestamp in each file (a sub-agent file sits next to its
    session, which starts in the same month except across a month boundary)."""
    from tracelab_pipeline.formats.jsonl import open_log
    from tracelab_pipeline.normalize import iter_log_files

    months: dict[str, list[Path]] = defaultdict(list)
    for path in iter_log_files([contributor_dir]):
        with open_log(path) as f:
            for line in f:
                ts = orjson.loads(line).get("timestamp") if line.strip() else None
                if isinstance(ts, str) and len(ts) >= 7:
                    months[ts[:7]].append(Path(path))
                    break
    return months


def normalize_step(contributor: str, month: str, files: list[Path], private_root: Path):
    """What the normalized_steps step does for one partition: normalize, write private Parquet.
    Returns (CPU s of normalize alone, CPU s including the write)."""
    from tracelab_pipeline.normalize import normalize_files
    from tracelab_pipeline.partitioned.store import write_partition

    start = time.process_time()
    tables = normalize_files(files, contributor).tables()
    normalized = time.process_time()
    write_partition(private_root, contributor, month, tables, {"benchmark": True})
    return normalized - start, time.process_time() - start


def measure(contributor: str, month: str, files: list[Path], root: Path) -> dict:
    """One partition in a run of its own (no batching): the pipeline's steps, CPU seconds."""
    from tracelab_pipeline.anonymize.arrow_pool import stage_memory_pool
    from tracelab_pipeline.anonymize.gc_scope import frozen_heap
    from tracelab_pipeline.anonymize.partition import (
        prepare_partition,
        publish_partition,
        read_private,
    )
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer

    normalize_only, normalize_s = normalize_step(contributor, month, files, root / "private")
    pseudonymizer = Pseudonymizer(b"benchmark-key-0123456789abcdef")
    start = time.process_time()
    # anonymized_steps: read the private partition once, anonymize, the blocking checks and
    # both GX suites in memory, then write the public Parquet (in the stage's Arrow pool,
    # with the heap frozen)
    with stage_memory_pool(), frozen_heap():
        private = read_private(root / "private", contributor, month)
        prepared = prepare_partition(private, contributor, month, pseudonymizer)
        steps = private["steps"].num_rows
        del private
        failed = [c.name for c in prepared.checks if not c.passed]
        if not failed:
            publish_partition(prepared, root / "public")
    anonymize_s = time.process_time() - start
    return {
        "partition": f"{contributor}|{month}",
        "files": len(files),
        "steps": steps,
        "normalize_only_s": normalize_only,
        "normalize_s": normalize_s,
        "anonymize_s": anonymize_s,
        # prepared.seconds are wall seconds (step metadata); the ratio uses CPU seconds.
        "parts": prepared.seconds,
        "failed": failed,
    }


def normalize_checks(root: Path, partitions: list[tuple[str, str]]) -> float:
    """CPU seconds of the four checks on normalized_steps over these partitions (what their
    Dagster bodies do: read the columns they judge, apply the invariant)."""
    import checks.normalize as checks
    from tracelab_pipeline.orchestration.partitions import month_window
    from tracelab_pipeline.partitioned import invariants
    from tracelab_pipeline.partitioned.store import read_partition

    private = root / "private"
    start = time.process_time()
    for contributor, month in partitions:
        wanted = {"ingest_accounting": checks.ACCOUNTING, "rejected_records": ()}
        tables = read_partition(private, contributor, month, wanted)
        shas = tables["ingest_accounting"].column("file_sha256").to_pylist()
        invariants.nothing_lost(tables["ingest_accounting"], tables["rejected_records"], shas)
        steps = read_partition(private, contributor, month, {"steps": ("step_id",)})["steps"]
        invariants.unique_step_ids(steps)
        columns = ("input_tokens_total", "prefix_tokens", "append_tokens", "step_index")
        steps = read_partition(private, contributor, month, {"steps": columns})["steps"]
        invariants.token_sum(steps)
        steps = read_partition(private, contributor, month, {"steps": ("session_started_at",)})
        invariants.no_session_before_month(steps["steps"], *month_window(month))
    return time.process_time() - start


def ranged(inbox: Path, root: Path, limit: int | None) -> None:
    """Every partition of the preset normalized, then anonymized as ONE ranged run (a backfill)
    the way anonymized_steps runs it: each private partition read once, GX per layer in one
    pass per chunk of partitions, checks in memory, public Parquet written."""
    from tracelab_pipeline.anonymize.arrow_pool import stage_memory_pool
    from tracelab_pipeline.anonymize.gc_scope import frozen_heap
    from tracelab_pipeline.anonymize.partition import (
        prepare_partitions,
        publish_partition,
        read_private,
    )
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer

    parts = [
        (d.name, month, files)
        for d in sorted(p for p in inbox.iterdir() if p.is_dir())
        for month, files in sorted(partitions_of(d).items())
    ][:limit]
    normalize_only = normalize_s = 0.0
    for contributor, month, files in parts:
        only, with_write = normalize_step(contributor, month, files, root / "private")
        normalize_only += only
        normalize_s += with_write
    pseudonymizer = Pseudonymizer(b"benchmark-key-0123456789abcdef")
    start = time.process_time()
    checks_s = normalize_checks(root, [(c, m) for c, m, _ in parts])
    with stage_memory_pool(), frozen_heap():  # as anonymized_steps does
        prepared = prepare_partitions(
            [(c, m) for c, m, _ in parts],
            lambda c, m: read_private(root / "private", c, m),
            pseudonymizer,
        )
        checked = time.process_time()
        failed = [f"{p.contributor}|{p.month}" for p in prepared if not p.passed]
        steps = sum(p.rows["steps"] for p in prepared)
        if not failed:
            for p in prepared:
                publish_partition(p, root / "public")
        end = time.process_time()
    total = end - start
    wall: dict[str, float] = defaultdict(float)
    for p in prepared:
        for k, v in p.seconds.items():
            wall[k] += v
    print(
        f"\nranged run: {len(parts)} partitions, {steps:,} steps; CPU normalized_steps "
        f"{normalize_s:.1f} s (normalize {normalize_only:.1f} s + write Parquet), anonymize + "
        f"checks {total:.1f} s = {total / normalize_s:.0%} (goal <= {GOAL:.0%}; "
        f"{total / normalize_only:.0%} of normalize alone)"
        + (f"  FAILED {failed[:5]}" if failed else "")
    )
    print(
        f"    CPU: checks on normalized_steps {checks_s:.1f}s, read + GX both layers + "
        f"anonymize + checks {checked - start - checks_s:.1f}s, "
        f"write public {end - checked:.1f}s; wall of parts: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in wall.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inbox", type=Path, help="existing paper-preset inbox (skips generating)")
    parser.add_argument("--strings", type=int, default=5000)
    parser.add_argument(
        "--ranged", action="store_true", help="also time every partition as one ranged run"
    )
    parser.add_argument("--limit", type=int, help="ranged: only the first N partitions")
    args = parser.parse_args()

    start = time.perf_counter()
    from tracelab_pipeline.anonymize.presidio_engine import analyzer

    analyzer()
    engine_s = time.perf_counter() - start
    start = time.perf_counter()
    from tracelab_pipeline.validate.runner import _context

    _context()
    gx_s = time.perf_counter() - start
    print(f"one-off per process: Presidio engine {engine_s:.2f} s, GX import+context {gx_s:.2f} s")
    print(f"Presidio: {presidio_throughput(args.strings):,.0f} distinct strings/s")

    with tempfile.TemporaryDirectory() as tmp:
        inbox = args.inbox
        if inbox is None:
            from tracelab_pipeline.synth import generate

            print("generating the paper preset (about 2 minutes)...")
            inbox = Path(tmp) / "inbox"
            generate("paper", seed=0, inbox_dir=inbox, truth_dir=Path(tmp) / "truth")
        sizes = sorted(
            (sum(f.stat().st_size for f in d.rglob("*") if f.is_file()), d.name)
            for d in inbox.iterdir()
            if d.is_dir()
        )
        picks = [sizes[len(sizes) // 4][1], sizes[len(sizes) // 2][1], sizes[-1][1]]
        # Warm up the per-partition path once so the rows below are steady-state costs.
        warm_month, warm_files = next(iter(partitions_of(inbox / picks[0]).items()))
        measure(picks[0], warm_month, warm_files, Path(tmp) / "warm")
        rows = []
        for contributor in picks:
            months = partitions_of(inbox / contributor)
            month = max(months, key=lambda m: len(months[m]))
            rows.append(measure(contributor, month, months[month], Path(tmp) / "single"))
        if args.ranged:
            ranged(inbox, Path(tmp) / "ranged", args.limit)

    print("\neach partition in a run of its own (normalize s: normalize + write Parquet):")
    header = ("partition", "files", "steps", "normalize s", "anonymize s", "ratio")
    print("{:<18}{:>6}{:>8}{:>13}{:>13}{:>8}".format(*header))
    for r in rows:
        ratio = r["anonymize_s"] / r["normalize_s"]
        flag = "ok" if ratio <= GOAL else "over"
        print(
            f"{r['partition']:<18}{r['files']:>6}{r['steps']:>8}{r['normalize_s']:>13.2f}"
            f"{r['anonymize_s']:>13.2f}{ratio:>7.0%} {flag}"
            + f"  ({r['anonymize_s'] / r['normalize_only_s']:.0%} of normalize alone)"
            + (f"  FAILED {r['failed']}" if r["failed"] else "")
        )
        print("    " + ", ".join(f"{k} {v:.2f}s" for k, v in r["parts"].items()))
    total_norm = sum(r["normalize_s"] for r in rows)
    total_anon = sum(r["anonymize_s"] for r in rows)
    print(
        f"\noverall: anonymize + checks = {total_anon / total_norm:.0%} of normalization "
        f"(goal <= {GOAL:.0%}); median step count {statistics.median(r['steps'] for r in rows):.0f}"
    )


if __name__ == "__main__":
    main()
