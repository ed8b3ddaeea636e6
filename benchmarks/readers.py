"""Reader throughput against the orjson parse-only floor, per format (run by hand).

    uv run python benchmarks/readers.py [--mb 40] [--synth-dir DIR] [--repeat 3] [--profile]

Only `read_log` is timed here (no Arrow tables; benchmarks/normalize.py times normalize_files).
The corpus is the real fixtures replicated (corpus built by benchmarks/normalize.py's helper)
plus, optionally, a synthetic inbox (`tracelab synth --inbox DIR`). For the Claude files and the
Codex files separately it prints CPU-time MB/s, steps/s, the parse-only floor (orjson.loads of
every non-blank line of the same files, measured in the same run) and reader/floor. The machine
is shared, so CPU time (time.process_time) is used and ratios matter more than MB/s. Last, it
reads every file with 1 and with 2 processes and prints the wall-clock speed-up.

Before/after a change, run it twice in a row with the old tree first on the path:
    git archive <commit> tracelab_pipeline | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old uv run python benchmarks/readers.py ...
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from normalize import corpus_bytes, replicate_fixtures  # noqa: E402 - sibling benchmark

from tracelab_pipeline.formats import read_log  # noqa: E402
from tracelab_pipeline.formats.detect import CLAUDE, CODEX, detect_format  # noqa: E402
from tracelab_pipeline.formats.jsonl import open_log  # noqa: E402
from tracelab_pipeline.normalize import iter_log_files  # noqa: E402

GOAL_RATIO = 2.5  # reader CPU / parse-only CPU (issue 2: >= 360 MB/s against ~890 MB/s)


def parse_only(files: list[Path]) -> int:
    loads = orjson.loads
    for path in files:
        with open_log(path) as f:
            for line in f:
                if line.strip():
                    loads(line)
    return 0


def read_all(files: list[Path]) -> int:
    return sum(len(read_log(path, "bench").rows["steps"]) for path in files)


def cpu(fn, files: list[Path], repeat: int) -> tuple[float, int]:
    """Least CPU seconds over `repeat` runs (the least disturbed one), and fn's result."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        result = fn(files)
        times.append(time.process_time() - start)
    return min(times), result


def report_format(name: str, files: list[Path], repeat: int) -> None:
    if not files:
        return
    mb = corpus_bytes(files) / 2**20
    parse_only(files)  # warm the page cache
    read_all(files[:1])  # and import the reader
    # Interleave floor and reader so a change in machine load hits both alike.
    floor = reader = float("inf")
    steps = 0
    for _ in range(repeat):
        floor = min(floor, cpu(parse_only, files, 1)[0])
        t, steps = cpu(read_all, files, 1)
        reader = min(reader, t)
    ratio = reader / floor
    print(
        f"{name:8s} {len(files):5d} files {mb:7.1f} MiB | floor {mb / floor:6.0f} MiB/s | "
        f"reader {mb / reader:6.0f} MiB/s {steps / reader:8.0f} steps/s | "
        f"reader/floor {ratio:4.2f} (goal <= {GOAL_RATIO}) | "
        f"x floor-equivalent at 890: {890 / ratio:4.0f} MiB/s"
    )


def _read_one(path: Path) -> tuple[int, int, float]:
    """(worker pid, steps, CPU seconds) for one file, measured inside the worker."""
    start = time.process_time()
    steps = len(read_log(path, "bench").rows["steps"])
    return os.getpid(), steps, time.process_time() - start


def report_parallel(files: list[Path]) -> None:
    """Reading every file with 1 and 2 processes (files are independent).

    Wall-clock speed-up needs two idle cores, which a shared machine rarely has, so beside it
    the CPU-bound speed-up is printed: total reader CPU over the busiest worker's CPU, i.e.
    what the split of work would give with a core per worker.
    """
    # Largest first, so one big file does not finish last alone.
    files = sorted(files, key=lambda p: -p.stat().st_size)
    walls, bound = {}, {}
    for workers in (1, 2):
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_read_one, files[:workers]))  # start the workers before timing
            start = time.perf_counter()
            results = list(pool.map(_read_one, files, chunksize=4))
            walls[workers] = time.perf_counter() - start
        per_worker: dict[int, float] = {}
        for pid, _, seconds in results:
            per_worker[pid] = per_worker.get(pid, 0.0) + seconds
        bound[workers] = sum(per_worker.values()) / max(per_worker.values())
    steps = sum(r[1] for r in results)
    load = os.getloadavg()[0]
    print(
        f"parallel ({steps} steps): 1 process {walls[1]:.2f} s, 2 processes {walls[2]:.2f} s "
        f"wall = {walls[1] / walls[2]:.2f}x (load average {load:.1f} on {os.cpu_count()} "
        f"cores); CPU-bound speed-up of the 2-process split {bound[2]:.2f}x"
    )


def by_format(files: list[Path]) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {CLAUDE: [], CODEX: []}
    for path in files:
        fmt = detect_format(path)
        if fmt in groups:
            groups[fmt].append(path)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=40, help="size of the replicated corpus")
    parser.add_argument("--synth-dir", type=Path, help="a synthetic inbox to read as well")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the readers, top 30")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tracelab-readers-bench-"))
    try:
        corpora = {"real fixtures, replicated": replicate_fixtures(tmp / "rep", args.mb)}
        if args.synth_dir:
            corpora["synthetic inbox"] = iter_log_files([args.synth_dir])
        everything = []
        for title, files in corpora.items():
            print(f"\n== {title} ==")
            for fmt, group in by_format(files).items():
                report_format(fmt, group, args.repeat)
            everything += files
        report_parallel(everything)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(read_all, everything)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
