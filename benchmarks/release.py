"""Cost of the release stage at the paper's scale (run by hand).

    uv run python benchmarks/release.py [--public DIR [--private DIR] | --preset paper]
                                        [--levels 1,4,6,9] [--release DIR]

Builds the release (`write_release`) from a public layer, then runs its blocking checks
together, as the release asset does (`release_checks`: they share one read of each JSON-lines
file, so alone the first would pay for it), each stage in a fresh child process so that its
peak RSS (resource.getrusage) is its own. Without
--public, a synthetic preset (`paper` unless --preset) is generated, normalized and anonymized
into a temp dir first (several minutes for `paper`). --private defaults to the public dir's
sibling `private/`. --levels also times each gzip level (time vs size) on the Mooncake trace
and the rounds. --release DIR times only the checks, on a release already built from --public
(`tracelab demo --data-dir D` leaves one in D/release): to compare the checks of two commits
on the same files.

Ratios are against BASELINE: the first release builder (commit 2472acf, everything in
memory), measured on the paper preset (295 partitions, 354,764 steps).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

# 2472acf on the paper preset's public layer: write_release as measured by the lead (this script
# measured 67.8 s, 3709 MB there), the checks measured with this script on that commit.
BASELINE = {
    "write_release": {"seconds": 61.0, "peak_rss_mb": 3800},
    # its two checks then (only_listed_names_in_release came later): 2.5 s, 128 MB and
    # 29.2 s, 1124 MB
    "release_checks": {"seconds": 31.7, "peak_rss_mb": 1124},
    "bytes": {"mooncake": 860e6, "tracelab_rounds.jsonl.gz": 54e6},
}
RSS_GOAL_MB = 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    """This process's CPU time and that of its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def stage(name: str, public: Path, private: Path, out: Path) -> dict:
    """One stage, in this (child) process: seconds, CPU seconds, peak RSS."""
    from tracelab_pipeline.release.build import write_release
    from tracelab_pipeline.release.checks import release_checks

    wall, cpu = time.perf_counter(), cpu_seconds()
    if name == "write_release":
        manifest = write_release(public, out)
        extra = {"counts": manifest["counts"]}
    else:
        extra = {"passed": {c.name: c.passed for c in release_checks(out, public, private)}}
    return {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": cpu_seconds() - cpu,
        "peak_rss_mb": peak_rss_mb(),
        # the Weka file's writer (weka.WekaProcess) is a child process of its own
        "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        **extra,
    }


def in_child(name: str, *args: str) -> dict:
    # A child's ru_maxrss starts at its parent's (fork, then exec keeps the high-water mark),
    # so the parent stays small: it never builds or generates anything itself.
    cmd = [sys.executable, __file__, "--stage", name, *args]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def gzip_levels(public: Path, rounds_file: Path, levels: list[int], tmp: Path) -> None:
    """Time vs size at each gzip level: the Mooncake writer alone (steps already collected),
    and compressing the rounds file's JSONL (decompression not counted)."""
    from tracelab_pipeline.release.mooncake import MooncakeTrace
    from tracelab_pipeline.release.public_tables import partitions, read_partition_table

    trace = MooncakeTrace()
    for contributor, month in partitions(public):
        trace.add(read_partition_table(public, "steps", contributor, month))
    print("\ngzip level: Mooncake trace (writer) | rounds (compression only)")
    for level in levels:
        path = tmp / f"mooncake-{level}.jsonl.gz"
        start = time.perf_counter()
        trace.write(path, level=level)
        moon_s, moon_mb = time.perf_counter() - start, path.stat().st_size / 1e6
        path.unlink()
        rounds_s, rounds_bytes = 0.0, 0
        compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip framing
        with gzip.open(rounds_file, "rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                start = time.perf_counter()
                rounds_bytes += len(compressor.compress(block))
                rounds_s += time.perf_counter() - start
        rounds_bytes += len(compressor.flush())
        print(
            f"  level {level}: {moon_s:5.1f} s {moon_mb:6.1f} MB | "
            f"{rounds_s:5.1f} s {rounds_bytes / 1e6:6.1f} MB"
        )


def generate_public(tmp: Path, preset: str) -> Path:
    """A synthetic preset through normalize and anonymize, like benchmarks/anonymize.py."""
    sys.path.insert(0, str(Path(__file__).parent))
    from anonymize import partitions_of

    from tracelab_pipeline.anonymize.partition import (
        prepare_partitions,
        publish_partition,
        read_private,
    )
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
    from tracelab_pipeline.normalize import normalize_files
    from tracelab_pipeline.partitioned.store import write_partition
    from tracelab_pipeline.synth import generate

    inbox = tmp / "inbox"
    generate(preset, seed=0, inbox_dir=inbox, truth_dir=tmp / "truth")
    parts = []
    for d in sorted(p for p in inbox.iterdir() if p.is_dir()):
        for month, files in sorted(partitions_of(d).items()):
            tables = normalize_files(files, d.name).tables()
            write_partition(tmp / "private", d.name, month, tables, {})
            parts.append((d.name, month))
    pseudonymizer = Pseudonymizer(b"benchmark-key-0123456789abcdef")
    for i in range(0, len(parts), 20):
        read = lambda c, m: read_private(tmp / "private", c, m)  # noqa: E731
        for p in prepare_partitions(parts[i : i + 20], read, pseudonymizer):
            publish_partition(p, tmp / "public")
    return tmp / "public"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public", type=Path, help="existing public layer (skips generating)")
    parser.add_argument("--private", type=Path, help="its private layer (default: sibling)")
    parser.add_argument("--preset", default="paper", help="preset to generate without --public")
    parser.add_argument("--levels", help="comma-separated gzip levels for the Mooncake sweep")
    parser.add_argument("--release", type=Path, help="check this release instead of building one")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.release and not args.public:
        parser.error("--release needs the --public layer it was built from")
    if args.stage == "generate":
        print(json.dumps(str(generate_public(args.out, args.preset))))
        return
    if args.stage:
        print(json.dumps(stage(args.stage, args.public, args.private, args.out)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.public is None:
            print(f"generating, normalizing and anonymizing the {args.preset} preset...")
        public = args.public or Path(
            in_child("generate", "--preset", args.preset, "--out", str(tmp))
        )
        private = args.private or public.parent / "private"
        out = args.release or tmp / "release"
        rows = {}
        for name in ("release_checks",) if args.release else ("write_release", "release_checks"):
            paths = ("--public", str(public), "--private", str(private), "--out", str(out))
            rows[name] = in_child(name, *paths)
            if name == "write_release":
                print(f"counts: {rows[name]['counts']}")
            else:
                print(f"{name}: passed={rows[name]['passed']}")
        sizes = {p.relative_to(out).as_posix(): p.stat().st_size for p in out.rglob("*")}
        if args.levels:
            levels = [int(x) for x in args.levels.split(",")]
            gzip_levels(public, out / "tracelab_rounds.jsonl.gz", levels, tmp)

    print(f"\n{'stage':<30}{'wall s':>8}{'CPU s':>8}{'peak RSS MB':>13}{'x time':>8}{'x RSS':>8}")
    print("(CPU s includes child processes; a child's peak RSS is printed below)")
    for name, r in rows.items():
        base = BASELINE[name]
        print(
            f"{name:<30}{r['seconds']:>8.1f}{r['cpu_seconds']:>8.1f}{r['peak_rss_mb']:>13.0f}"
            f"{r['seconds'] / base['seconds']:>8.2f}{r['peak_rss_mb'] / base['peak_rss_mb']:>8.2f}"
        )
    children = {n: r["child_peak_rss_mb"] for n, r in rows.items() if r["child_peak_rss_mb"]}
    for name, mb in children.items():
        print(f"  {name}: child process peak RSS {mb:.0f} MB")
    peak = max(r["peak_rss_mb"] for r in rows.values())
    verdict = "ok" if peak < RSS_GOAL_MB else "over"
    print(f"peak RSS {peak:.0f} MB (goal < {RSS_GOAL_MB} MB): {verdict}")
    print("\nfiles:")
    for name, size in sorted(sizes.items()):
        base = next((b for k, b in BASELINE["bytes"].items() if name.startswith(k)), None)
        ratio = f"  x{size / base:.3f} of baseline" if base else ""
        print(f"  {name:<34}{size / 1e6:>10.1f} MB{ratio}")


if __name__ == "__main__":
    main()
