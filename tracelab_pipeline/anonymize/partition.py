"""One contributor-month, private -> public: anonymize, stage, check, and publish only if clean."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tracelab_pipeline.anonymize.anonymize import AnonymizedPartition, anonymize_partition
from tracelab_pipeline.anonymize.presidio_engine import scrubber_for
from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
from tracelab_pipeline.anonymize.public_checks import CheckOutcome, blocking_checks, deny_names
from tracelab_pipeline.anonymize.public_store import StagedPartition, publish, stage

GX_PUBLIC = "gx_public_suite"
GX_PRIVATE = "gx_private_suite"


@dataclass
class PreparedPartition:
    """An anonymized partition in staging, with the verdict of every check on it."""

    contributor: str
    month: str
    pseudonym: str
    anonymized: AnonymizedPartition
    staged: StagedPartition
    checks: list[CheckOutcome]
    seconds: dict[str, float] = field(default_factory=dict)
    published: dict[str, Path] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def rows(self) -> dict[str, int]:
        return {name: t.num_rows for name, t in self.anonymized.tables.items()}


def gx_outcome(name: str, layer: str, tables: dict[str, pa.Table], month: str) -> CheckOutcome:
    """The GX suites of one layer as a check outcome: failing expectations and counts only."""
    from tracelab_pipeline.validate import validate_partition

    reports = validate_partition(layer, tables, month)
    failures = {f"{r.table}.{label}": n for r in reports for label, n in r.failures.items()}
    return CheckOutcome(
        name=name,
        passed=not failures,
        description=f"Great Expectations suites of the {layer} layer (schema, keys, invariants)",
        metadata={
            "expectations_evaluated": sum(r.evaluated for r in reports),
            "expectations_failed": len(failures),
            "failures": failures,
        },
    )


def prepare_partition(
    private: dict[str, pa.Table],
    contributor: str,
    month: str,
    pseudonymizer: Pseudonymizer,
    staging_root: str | Path,
    deny_list: Iterable[str] = (),
) -> PreparedPartition:
    """Anonymize, write to staging, read back and run every blocking check on what was written."""
    seconds = {}
    t0 = time.perf_counter()
    scrubber = scrubber_for(deny_names(private, contributor, deny_list))
    anonymized = anonymize_partition(private, pseudonymizer, scrubber)
    t1 = time.perf_counter()
    staged = stage(staging_root, anonymized.tables)
    public = staged.read()
    t2 = time.perf_counter()
    checks = blocking_checks(private, public, contributor, scrubber)
    t3 = time.perf_counter()
    checks.append(gx_outcome(GX_PUBLIC, "public", public, month))
    t4 = time.perf_counter()
    seconds.update(anonymize=t1 - t0, stage=t2 - t1, checks=t3 - t2, gx=t4 - t3)
    return PreparedPartition(
        contributor=contributor,
        month=month,
        pseudonym=pseudonymizer.contributor(contributor),
        anonymized=anonymized,
        staged=staged,
        checks=checks,
        seconds=seconds,
    )


def publish_partition(prepared: PreparedPartition, public_root: str | Path) -> dict[str, Path]:
    if not prepared.passed:
        raise ValueError("refusing to publish a partition that failed its checks")
    prepared.published = publish(
        prepared.staged,
        public_root,
        prepared.month,
        prepared.pseudonym,
        prepared.anonymized.key_fingerprint,
    )
    return prepared.published
