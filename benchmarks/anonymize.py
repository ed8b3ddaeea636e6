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

Each result comes with a CPU breakdown (Breakdown: the stage's functions timed where they are
called) and Presidio's counts: strings scanned, new to a contributor's Scrubber, analyzed.
Dagster's own per-key cost of the checks (events, instance queries) is not in these numbers;
docs/privacy.md gives it, measured on a real run.

Last measured 2026-11-29 (load 4-11, docs/privacy.md, sixth round): ranged run anonymize + all
checks 13.8-16.5 s CPU (median 14.2) = 55-58 % of normalized_steps (23.7-28.4 s, median 25.2);
main before it 13.8-17.5 s (15.5) = 51-61 % of 25.6-29.9 s (28.3): the private layer now LZ4
cut both sides, its write 5.65 -> 3.5 s and its read 3.2 -> 2.2 s (medians). Of the stage:
read private 2.2 s, write public 3.1 s, GX 2.4 s, anonymize 2.9 s (HMAC 1.25 s), blocking
checks 1.5 s, the checks on normalized_steps 1.4 s. Private layer 142 MB (was 106 MB, zstd).
Single partitions 0.22-0.47 s (340, 2,325 and 9,472 steps), GX 54-86 % of it, both sides alike.
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

# (module, function, label): the parts of the stage timed by --breakdown, CPU seconds,
# inclusive (a part's time includes the parts it calls, e.g. anonymize includes pseudonyms).
PARTS = (
    ("tracelab_pipeline.anonymize.partition", "read_private", "read private Parquet"),
    ("tracelab_pipeline.anonymize.partition", "deny_names", "deny-list from paths"),
    ("tracelab_pipeline.anonymize.partition", "private_ids", "encode private ids"),
    ("tracelab_pipeline.anonymize.partition", "anonymize_partition", "anonymize (all)"),
    ("tracelab_pipeline.anonymize.anonymize", "partition_pseudonyms", "  pseudonyms (HMAC)"),
    ("tracelab_pipeline.anonymize.anonymize", "_command_signatures", "  command signatures"),
    ("tracelab_pipeline.anonymize.anonymize", "_scrub_column", "  Presidio scrub, columns"),
    ("tracelab_pipeline.anonymize.anonymize", "_scrub_map_column", "  Presidio scrub, maps"),
    ("tracelab_pipeline.anonymize.partition", "blocking_checks", "blocking checks (all)"),
    ("tracelab_pipeline.anonymize.public_checks", "content_strings", "  public content strings"),
    ("tracelab_pipeline.anonymize.public_checks", "presidio_rescan", "  presidio_rescan_clean"),
    ("tracelab_pipeline.anonymize.public_checks", "identifier_leaks", "  no_private_identifiers"),
    ("tracelab_pipeline.anonymize.public_checks", "column_allowlist", "  only_allowlisted_columns"),
    ("tracelab_pipeline.anonymize.public_checks", "row_counts", "  row_counts_match"),
    ("tracelab_pipeline.anonymize.partition", "gx_layer_outcomes", "GX, both suites in one pass"),
    ("tracelab_pipeline.anonymize.partition", "publish", "write public Parquet"),
)


class Breakdown:
    """CPU seconds per part of the stage (PARTS), by wrapping the functions while active; also
    counts Presidio work: scrub() calls, strings new to a Scrubber, analyzer passes."""

    def __init__(self):
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.scrub_calls = 0
        self._undo: list = []

    def __enter__(self):
        import functools
        import importlib

        from tracelab_pipeline.anonymize import presidio_engine

        for module_name, name, label in PARTS:
            module = importlib.import_module(module_name)
            original = getattr(module, name)

            def timed(*args, _f=original, _label=label, **kwargs):
                start = time.process_time()
                try:
                    return _f(*args, **kwargs)
                finally:
                    self.cpu[_label] += time.process_time() - start
                    self.calls[_label] += 1

            setattr(module, name, functools.wraps(original)(timed))
            self._undo.append((module, name, original))
        scrub = presidio_engine.Scrubber.scrub

        def counted(scrubber, text, _f=scrub):
            self.scrub_calls += 1
            return _f(scrubber, text)

        presidio_engine.Scrubber.scrub = counted
        self._undo.append((presidio_engine.Scrubber, "scrub", scrub))
        self.analyzer_before = presidio_engine._shared_findings.cache_info()
        return self

    def __exit__(self, *exc):
        from tracelab_pipeline.anonymize import presidio_engine

        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        after = presidio_engine._shared_findings.cache_info()
        self.analyzer_passes = after.misses - self.analyzer_before.misses
        self.analyzer_cached = after.hits - self.analyzer_before.hits

    def print(self, total: float, distinct_new: int) -> None:
        for _, _, label in PARTS:
            if label in self.cpu:
                share = self.cpu[label] / total if total else 0
                print(f"      {label:<30}{self.cpu[label]:7.2f} s {share:5.0%}")
        print(
            f"      Presidio: {self.scrub_calls:,} distinct strings per column scanned "
            f"(anonymize + re-scan), {distinct_new:,} new to their contributor's Scrubber, "
            f"{self.analyzer_passes:,} analyzer passes ({self.analyzer_cached:,} served from "
            "the process-wide cache)"
        )


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
    from tracelab_pipeline.anonymize import partition
    from tracelab_pipeline.anonymize.arrow_pool import stage_memory_pool
    from tracelab_pipeline.anonymize.gc_scope import frozen_heap
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer

    normalize_only, normalize_s = normalize_step(contributor, month, files, root / "private")
    pseudonymizer = Pseudonymizer(b"benchmark-key-0123456789abcdef")
    start = time.process_time()
    # anonymized_steps: read the private partition once, anonymize, the blocking checks and
    # both GX suites in memory, then write the public Parquet (in the stage's Arrow pool,
    # with the heap frozen)
    with Breakdown() as parts, stage_memory_pool(), frozen_heap():
        private = partition.read_private(root / "private", contributor, month)
        prepared = partition.prepare_partition(private, contributor, month, pseudonymizer)
        steps = private["steps"].num_rows
        del private
        failed = [c.name for c in prepared.checks if not c.passed]
        if not failed:
            partition.publish_partition(prepared, root / "public")
    anonymize_s = time.process_time() - start
    checks = normalize_checks(root, [(contributor, month)])
    return {
        "breakdown": parts,
        "distinct_new": prepared.anonymized.distinct_strings_analyzed,
        "normalize_checks": checks,
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


def normalize_checks(root: Path, partitions: list[tuple[str, str]]) -> dict[str, float]:
    """CPU seconds of each of the four checks on normalized_steps over these partitions (what
    their Dagster bodies do: read the columns they judge, apply the invariant; Dagster's own
    bookkeeping per key is not included, see docs/privacy.md)."""
    import checks.normalize as checks
    from tracelab_pipeline.orchestration.partitions import month_window
    from tracelab_pipeline.partitioned import invariants
    from tracelab_pipeline.partitioned.store import read_partition

    private = root / "private"
    cpu: dict[str, float] = defaultdict(float)

    def run(name: str, wanted: dict, judge) -> None:
        start = time.process_time()
        for contributor, month in partitions:
            judge(read_partition(private, contributor, month, wanted), month)
        cpu[name] += time.process_time() - start

    def lost(tables, _month):
        shas = tables["ingest_accounting"].column("file_sha256").to_pylist()
        invariants.nothing_lost(tables["ingest_accounting"], tables["rejected_records"], shas)

    run("nothing_lost", {"ingest_accounting": checks.ACCOUNTING, "rejected_records": ()}, lost)
    run(
        "unique_step_ids",
        {"steps": ("step_id",)},
        lambda t, _m: invariants.unique_step_ids(t["steps"]),
    )
    columns = ("input_tokens_total", "prefix_tokens", "append_tokens", "step_index")
    run("input_tokens_add_up", {"steps": columns}, lambda t, _m: invariants.token_sum(t["steps"]))
    run(
        "no_session_before_month",
        {"steps": ("session_started_at",)},
        lambda t, m: invariants.no_session_before_month(t["steps"], *month_window(m)),
    )
    return dict(cpu)


def ranged(inbox: Path, root: Path, limit: int | None) -> None:
    """Every partition of the preset normalized, then anonymized as ONE ranged run (a backfill)
    the way anonymized_steps runs it: each private partition read once, GX per layer in one
    pass per chunk of partitions, checks in memory, public Parquet written."""
    from tracelab_pipeline.anonymize import partition
    from tracelab_pipeline.anonymize.arrow_pool import stage_memory_pool
    from tracelab_pipeline.anonymize.gc_scope import frozen_heap
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
    checks_cpu = normalize_checks(root, [(c, m) for c, m, _ in parts])
    checks_s = sum(checks_cpu.values())
    # as anonymized_steps does
    with Breakdown() as breakdown, stage_memory_pool(), frozen_heap():
        prepared = partition.prepare_partitions(
            [(c, m) for c, m, _ in parts],
            lambda c, m: partition.read_private(root / "private", c, m),
            pseudonymizer,
        )
        checked = time.process_time()
        failed = [f"{p.contributor}|{p.month}" for p in prepared if not p.passed]
        steps = sum(p.rows["steps"] for p in prepared)
        if not failed:
            for p in prepared:
                partition.publish_partition(p, root / "public")
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
    print(
        f"    on disk: private layer {_megabytes(root / 'private'):.1f} MB, public layer "
        f"{_megabytes(root / 'public'):.1f} MB"
    )
    print(f"    CPU breakdown (share of anonymize + checks {total:.1f} s):")
    for name, cpu in checks_cpu.items():
        print(f"      {'check ' + name:<30}{cpu:7.2f} s {cpu / total:5.0%}")
    breakdown.print(total, sum(p.anonymized.distinct_strings_analyzed for p in prepared))


def _megabytes(layer: Path) -> float:
    return sum(f.stat().st_size for f in layer.rglob("*.parquet")) / 1e6


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
        print("    wall: " + ", ".join(f"{k} {v:.2f}s" for k, v in r["parts"].items()))
        print(f"    CPU breakdown (share of anonymize {r['anonymize_s']:.2f} s):")
        r["breakdown"].print(r["anonymize_s"], r["distinct_new"])
        print(
            "      checks on normalized_steps (not in the ratio above): "
            + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in r["normalize_checks"].items())
        )
    total_norm = sum(r["normalize_s"] for r in rows)
    total_anon = sum(r["anonymize_s"] for r in rows)
    print(
        f"\noverall: anonymize + checks = {total_anon / total_norm:.0%} of normalization "
        f"(goal <= {GOAL:.0%}); median step count {statistics.median(r['steps'] for r in rows):.0f}"
    )


if __name__ == "__main__":
    main()
