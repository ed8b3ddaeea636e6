"""What the inbox sensor, the nightly schedule and the `landed_files` asset share: land the
inbox, describe the landing for the UI, and find partitions whose inputs changed."""

from __future__ import annotations

import re
from collections import Counter

import dagster as dg

from tracelab_pipeline.landing.consent import Consent, held_message
from tracelab_pipeline.landing.handles import is_valid_handle
from tracelab_pipeline.landing.land import LandingReport, land_inbox
from tracelab_pipeline.landing.registry import PartitionState, Registry
from tracelab_pipeline.orchestration.partitions import (
    PARTITIONS_NAME,
    contributor_month,
    split_partition_key,
)
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig
from tracelab_pipeline.partitioned.build import RULES_VERSION
from tracelab_pipeline.partitioned.store import read_manifest

MAX_ROWS = 50


# A sensor or schedule evaluation must answer within Dagster's 60 s gRPC deadline; land for
# at most this long per tick and leave the rest (counted as pending) to the next tick.
SENSOR_LANDING_BUDGET_S = 40


def land(
    config: TraceLabConfig, anonymization: AnonymizationConfig, budget_s: float | None = None
) -> tuple[LandingReport, Consent]:
    """Land what consenting contributors dropped; raises ConsentError (before anything
    lands) when production has no list of them."""
    consent = anonymization.consent()
    report = land_inbox(
        config.inbox_url,
        config.landed_dir,
        storage_options=config.inbox_storage_options,
        budget_s=budget_s,
        consent=consent,
    )
    return report, consent


def landing_metadata(
    config: TraceLabConfig,
    report: LandingReport,
    consent: Consent,
    anonymization: AnonymizationConfig,
) -> dict:
    """Totals of the registry, this landing's drops, and every drop that did not land (why).

    A contributor is named by pseudonym (the public layer's, `usr_...`), never by handle: the
    event log keeps every `landed_files` materialization, those of runs and sensor ticks
    that also landed others', and `tracelab forget` cannot delete one without the others'
    (docs/orchestration.md). Held drops are counted by pseudonym only, no path."""
    with Registry(config.landed_dir) as reg:
        files = reg.files()
        drops = reg.drops()
        partitions = reg.partitions()
    name = ContributorNames(anonymization, config)
    status = Counter(f["status"] for f in files)
    outcomes = Counter(d["outcome"] for d in drops)
    problems = [d for d in drops if d["outcome"] not in ("landed", "duplicate")]
    held = name.held(report.held)
    return {
        "inbox": dg.MetadataValue.text(config.inbox_url),
        "generation": report.generation,
        "contributors": len({f["contributor"] for f in files}),
        "partitions": len(partitions),
        "files_active": status["active"],
        "files_superseded": status["superseded"],
        "files_unplaced": status["unplaced"],
        "drops_total": len(drops),
        "drops_by_outcome": dg.MetadataValue.json(dict(sorted(outcomes.items()))),
        "new_drops": len(report.drops),
        "new_files_landed": report.files_landed,
        "drops_pending": report.pending,
        "drops_to_retry": dg.MetadataValue.json([name.text(r) for r in report.retry[:MAX_ROWS]]),
        "consent": dg.MetadataValue.text(consent.describe()),
        "drops_held": sum(report.held.values()),
        "held_by_contributor": dg.MetadataValue.json(held),
        "held_why": dg.MetadataValue.text(
            f"{held_message(held, consent)} By pseudonym here; the inbox sensor's tick and "
            "the inbox's directories name the handles."
            if held
            else "(none)"
        ),
        "changed_partitions": dg.MetadataValue.json(
            [name.key(k) for k in report.changed_partitions[:MAX_ROWS]]
        ),
        "this_landing": dg.MetadataValue.md(_drop_table(report.drops, name)),
        "drops_not_landed": dg.MetadataValue.md(_drop_table(problems, name)),
        # Landed (kept) but in no partition, so never normalized: junk, or a round export.
        "files_unplaced_list": dg.MetadataValue.md(
            _file_table([f for f in files if f["status"] == "unplaced"], name)
        ),
        "dagster/row_count": status["active"],
    }


class ContributorNames:
    """Contributors as the event log may name them: by keyed pseudonym, the public layer's."""

    def __init__(self, anonymization: AnonymizationConfig, config: TraceLabConfig):
        from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer

        self._pseudonymizer = Pseudonymizer(anonymization.key(config.data_dir)[0])
        self._seen: dict[str, str] = {}

    def __call__(self, handle: str | None) -> str:
        if not handle:
            return ""
        if handle not in self._seen:
            self._seen[handle] = self._pseudonymizer.contributor(handle)
        return self._seen[handle]

    def text(self, text: str | None, handle: str | None = None) -> str:
        """`text` (an inbox path, a reason) with the handle of its first path part, or
        `handle`, replaced by the pseudonym wherever it stands, in any case: her file names
        too (`alice-notes.txt`)."""
        text = str(text or "")
        handle = handle or text.split("/", 1)[0]
        if not is_valid_handle(handle):
            return text
        return re.sub(re.escape(handle), self(handle), text, flags=re.IGNORECASE)

    def key(self, partition_key: str) -> str:
        """`<month>/<pseudonym>`, as release_is_current names a partition."""
        contributor, month = split_partition_key(partition_key)
        return f"{month}/{self(contributor)}"

    def held(self, held: dict[str, int]) -> dict[str, int]:
        return dict(sorted((self(h), n) for h, n in held.items()))


def _drop_table(drops: list[dict], name: ContributorNames) -> str:
    header = ("contributor", "drop", "outcome", "files landed", "reason")
    rows = [
        (
            _cell(name(d.get("contributor"))),
            _cell(name.text(d["inbox_path"], d.get("contributor"))),
            d["outcome"],
            d.get("files_landed", 0),
            _cell(
                name.text(d.get("reason"), d.get("contributor") or d["inbox_path"].split("/")[0])
            ),
        )
        for d in drops[-MAX_ROWS:]
    ]
    return _md_table(header, rows, len(drops))


def _file_table(files: list[dict], name: ContributorNames) -> str:
    header = ("contributor", "file", "lines", "reason")
    rows = [
        (
            _cell(name(f["contributor"])),
            _cell(name.text(f["member"], f["contributor"])),
            f["lines"],
            _cell(name.text(f["status_reason"], f["contributor"])),
        )
        for f in files[-MAX_ROWS:]
    ]
    return _md_table(header, rows, len(files))


def _md_table(header: tuple[str, ...], rows: list[tuple], total: int) -> str:
    """The last rows of a list of `total` as a Markdown table; cells already escaped."""
    if not rows:
        return "(none)"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    if total > len(rows):
        lines.append(f"\n({total - len(rows)} earlier rows not shown)")
    return "\n".join(lines)


def _cell(value) -> str:
    """A table cell: a '|' or a line break (in a file name, a tar error) would end the row."""
    text = str(value or "").replace("|", "\\|")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def known_partitions(config: TraceLabConfig) -> list[PartitionState]:
    with Registry(config.landed_dir) as reg:
        return reg.partitions()


def new_partition_keys(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    existing = set(instance.get_dynamic_partitions(PARTITIONS_NAME))
    return [k for k in keys if k not in existing]


def built_from_current_inputs(config: TraceLabConfig, p: PartitionState) -> bool:
    """The partition's private Parquet was built from exactly its current landed files, by
    the current normalize rules."""
    return _current(read_manifest(config.private_dir, *split_partition_key(p.key)), p)


def _current(manifest: dict | None, p: PartitionState) -> bool:
    return (
        bool(manifest)
        and manifest.get("digest") == p.digest
        and manifest.get("rules") == RULES_VERSION
    )


def stale_partitions(config: TraceLabConfig) -> list[PartitionState]:
    """Partitions whose private Parquet was not built from their current landed files, and
    those whose files all moved to another month (a late parent or resumed log) while their
    old Parquet is still there: rebuilt empty, or the moved steps count in both months."""
    with Registry(config.landed_dir) as reg:
        every = reg.changed_since(0)
    stale = []
    for p in every:
        manifest = read_manifest(config.private_dir, *split_partition_key(p.key))
        if not _current(manifest, p) and (p.files or manifest):
            stale.append(p)
    return stale


def partitions_needing_work(
    instance: dg.DagsterInstance, config: TraceLabConfig, partitioned: list[dg.AssetKey]
) -> list[str]:
    """Keys (in the instance's order) to build or to retry (`partition_work`)."""
    build, retry = partition_work(instance, config, partitioned)
    keys = set(build) | set(retry)
    return [k for k in instance.get_dynamic_partitions(PARTITIONS_NAME) if k in keys]


def partition_work(
    instance: dg.DagsterInstance, config: TraceLabConfig, partitioned: list[dg.AssetKey]
) -> tuple[list[str], list[str]]:
    """(to build, to retry), each in the instance's order. To build: keys whose private
    Parquet is stale, where some partitioned asset was never materialized, and all of them
    when the public layer was deleted. To retry, and nothing else: keys whose latest attempt
    failed (e.g. a blocking check: the public layer still holds the version before, and
    nothing else retries it once its cause is fixed). Kept apart because a retry that keeps
    failing must not hold back what waits for real work (the nightly downstream refresh)."""
    from tracelab_pipeline.anonymize.public_store import KEY_MARKER

    keys = instance.get_dynamic_partitions(PARTITIONS_NAME)
    build = {p.key for p in stale_partitions(config)}
    failed = set()
    publishes = dg.AssetKey("anonymized_steps") in partitioned
    if publishes and keys and not (config.public_dir / KEY_MARKER).exists():
        # Every publication records the key's fingerprint there: without it the public layer
        # was deleted (after a key rotation, or lost) and every partition is published again.
        build |= set(keys)
    for asset_key in partitioned:
        status = instance.get_status_by_partition(asset_key, keys, contributor_month) or {}
        build |= {k for k in keys if status.get(k) is None}
        failed |= {k for k in keys if status.get(k) == dg.AssetPartitionStatus.FAILED}
    return [k for k in keys if k in build], [k for k in keys if k in failed - build]
