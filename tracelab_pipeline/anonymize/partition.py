"""Contributor-months, private -> public: validate, anonymize, check, and publish only if clean.

Every check judges tables in memory, the very tables `publish_partition` then writes: nothing
is written before all of them passed (stack notes 4.4: a blocking check alone only stops the
downstream steps, after the data is already visible).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tracelab_pipeline.anonymize.anonymize import (
    AnonymizedPartition,
    anonymize_partition,
    private_ids,
)
from tracelab_pipeline.anonymize.presidio_engine import scrubber_for
from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
from tracelab_pipeline.anonymize.public_checks import CheckOutcome, blocking_checks, deny_names
from tracelab_pipeline.anonymize.public_store import publish

GX_PUBLIC = "gx_public_suite"
GX_PRIVATE = "gx_private_suite"
# A ranged run holds the private tables of a chunk of partitions at once and validates both
# layers in one GX pass per chunk (GX's cost is mostly per pass and expectation): a chunk ends
# once it holds this many rows (all tables; ~0.3 GB per million rows), so memory stays bounded.
CHUNK_ROWS = 1_000_000


@dataclass
class PreparedPartition:
    """An anonymized partition in memory, with the verdict of every check on it."""

    contributor: str
    month: str
    pseudonym: str
    anonymized: AnonymizedPartition
    checks: list[CheckOutcome]
    rows: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    published: dict[str, Path] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def read_private(root: str | Path, contributor: str, month: str) -> dict[str, pa.Table]:
    """The private partition that `normalized_steps` wrote, every table and column."""
    from tracelab_pipeline.partitioned.store import read_partition

    return read_partition(root, contributor, month)


class PrivateReads:
    """`read` for `prepare_partitions` in a pipeline run: each private partition
    (`read_private`), None when it is gone because its contributor was erased (`tracelab
    forget`, perhaps while `normalized_steps` of this very run built it). Remembers the landed
    files each was built from, for `publish_partitions` to ask whether they are still landed.
    `built_here(contributor, month)`: whether `normalized_steps` of this run built (or dropped)
    the partition; one it says so of that is missing was erased too, though her next upload
    put its registry row back since."""

    def __init__(
        self,
        private_root: str | Path,
        landed_dir: str | Path,
        built_here: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.private_root, self.landed_dir = Path(private_root), Path(landed_dir)
        self.built_here = built_here
        self.built_from: dict[tuple[str, str], list[str]] = {}

    def __call__(self, contributor: str, month: str) -> dict[str, pa.Table] | None:
        from tracelab_pipeline.forget import is_forgotten
        from tracelab_pipeline.partitioned.store import read_manifest

        # Before the tables: a rebuild that ends in between then names files newer than the
        # tables read, never older ones.
        inputs = read_manifest(self.private_root, contributor, month) or {}
        self.built_from[contributor, month] = [f["sha256"] for f in inputs.get("files", ())]
        try:
            return read_private(self.private_root, contributor, month)
        except FileNotFoundError:
            if is_forgotten(self.landed_dir, contributor, month) or (
                self.built_here is not None and self.built_here(contributor, month)
            ):
                return None
            raise


GX_CHECK = {"private": GX_PRIVATE, "public": GX_PUBLIC}


def gx_layer_outcomes(
    layers: dict[str, dict[str, tuple[dict[str, pa.Table], str]]],
) -> dict[str, dict[str, CheckOutcome]]:
    """GX outcomes of the partitions of both layers ({layer: {key: (tables, month)}}): the
    value parts of both layers are validated in one pass when clean (validate_layers)."""
    from tracelab_pipeline.validate import validate_layers

    outcomes: dict[str, dict[str, CheckOutcome]] = {}
    for layer, by_key in validate_layers(layers).items():
        outcomes[layer] = {}
        for key, reports in by_key.items():
            failures = {f"{r.table}.{label}": n for r in reports for label, n in r.failures.items()}
            outcomes[layer][key] = CheckOutcome(
                name=GX_CHECK[layer],
                passed=not failures,
                description=f"Great Expectations suites of the {layer} layer "
                "(column set and types, keys, invariants)",
                metadata={
                    "expectations_evaluated": sum(r.evaluated for r in reports),
                    "expectations_failed": len(failures),
                    "failures": failures,
                    # >1: validated inside one GX pass over this many partitions of the run
                    "gx_batch_partitions": max((r.batch_partitions for r in reports), default=1),
                },
            )
    return outcomes


def prepare_partition(
    private: dict[str, pa.Table],
    contributor: str,
    month: str,
    pseudonymizer: Pseudonymizer,
    deny_list: Iterable[str] = (),
    *,
    gx: bool = True,
) -> PreparedPartition:
    """Anonymize one partition and run every blocking check on the result, in memory.

    Both GX suites (private and public) run after anonymizing, in one pass where they share
    expectations. With `gx=False` they are left out, for `prepare_partitions` to run them over
    many partitions at once.
    """
    t1 = time.perf_counter()
    scrubber = scrubber_for(deny_names(private, contributor, deny_list))
    ids = private_ids(private)  # shared by the pseudonyms and the leak check
    anonymized = anonymize_partition(private, pseudonymizer, scrubber, ids)
    t2 = time.perf_counter()
    checks = blocking_checks(private, anonymized.tables, contributor, scrubber, ids)
    t3 = time.perf_counter()
    seconds = {"anonymize": t2 - t1, "checks": t3 - t2}
    if gx:
        gx_results = gx_layer_outcomes(
            {"private": {month: (private, month)}, "public": {month: (anonymized.tables, month)}}
        )
        checks = [gx_results["private"][month], *checks, gx_results["public"][month]]
        seconds["gx"] = time.perf_counter() - t3
    return PreparedPartition(
        contributor=contributor,
        month=month,
        pseudonym=pseudonymizer.contributor(contributor),
        anonymized=anonymized,
        checks=checks,
        rows={name: t.num_rows for name, t in anonymized.tables.items()},
        seconds=seconds,
    )


def prepare_partitions(
    partitions: list[tuple[str, str]],
    read: Callable[[str, str], dict[str, pa.Table]],
    pseudonymizer: Pseudonymizer,
    deny_list: Iterable[str] = (),
) -> list[PreparedPartition]:
    """Every (contributor, month) of a run: each private partition is read once (`read`),
    anonymized and checked; GX validates both layers in one pass per chunk of partitions.
    Check outcomes are per partition. A partition `read` gives None for is left out."""
    deny_list = list(deny_list)
    prepared: list[PreparedPartition] = []
    pending = list(partitions)
    while pending:
        chunk, private, rows = [], {}, 0
        while pending and rows < CHUNK_ROWS:
            contributor, month = pending.pop(0)
            tables = read(contributor, month)
            if tables is None:
                continue
            rows += sum(t.num_rows for t in tables.values())
            private[str(len(chunk))] = (tables, month)
            chunk.append((contributor, month))
        done = [
            prepare_partition(
                private[str(i)][0], contributor, month, pseudonymizer, deny_list, gx=False
            )
            for i, (contributor, month) in enumerate(chunk)
        ]
        t0 = time.perf_counter()
        gx_results = gx_layer_outcomes(
            {
                "private": private,
                "public": {str(i): (p.anonymized.tables, p.month) for i, p in enumerate(done)},
            }
        )
        del private  # the chunk's private tables are no longer needed
        gx_s = time.perf_counter() - t0
        for i, p in enumerate(done):
            p.checks = [gx_results["private"][str(i)], *p.checks, gx_results["public"][str(i)]]
            p.seconds["gx"] = gx_s / len(done)
        prepared += done
    return prepared


def publish_partition(prepared: PreparedPartition, public_root: str | Path) -> dict[str, Path]:
    if not prepared.passed:
        raise ValueError("refusing to publish a partition that failed its checks")
    prepared.published = publish(
        prepared.anonymized.tables,
        public_root,
        prepared.month,
        prepared.pseudonym,
        prepared.anonymized.key_fingerprint,
    )
    prepared.anonymized.tables = {}  # written: do not keep a second copy alive
    return prepared.published


def publish_partitions(
    prepared: list[PreparedPartition], public_root: str | Path, reads: PrivateReads
) -> list[PreparedPartition]:
    """Publish every partition whose contributor was not erased since it was read: its private
    partition is still there and every landed file it was built from is still landed (she
    may have landed anew, and another run rebuilt it, since). Returns those not published."""
    from tracelab_pipeline.forget import publishing
    from tracelab_pipeline.landing.registry import REGISTRY_NAME, Registry
    from tracelab_pipeline.partitioned.store import partition_dir

    erased = []
    for p in prepared:
        # forget deletes her registry rows, then her private partition, under this lock
        with publishing(reads.landed_dir):
            private = partition_dir(reads.private_root, "steps", p.contributor, p.month)
            there = (private / "part.parquet").is_file()
            if there and (reads.landed_dir / REGISTRY_NAME).is_file():
                with Registry(reads.landed_dir) as reg:
                    shas = reads.built_from.get((p.contributor, p.month), ())
                    there = all(reg.has_file(p.contributor, sha) for sha in shas)
            if there:
                publish_partition(p, public_root)
            else:
                erased.append(p)
    return erased
