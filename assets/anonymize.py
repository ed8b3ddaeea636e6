"""anonymized_steps: a contributor-month's public layer (pseudonyms, no text, Presidio-clean)."""

from collections import Counter

import dagster as dg

from checks.anonymize import ANONYMIZE_CHECK_SPECS, check_results
from checks.normalize import materialized_in_run
from tracelab_pipeline.orchestration.partitions import (
    contributor_month,
    partition_key,
    split_partition_key,
)
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig


@dg.asset(
    partitions_def=contributor_month,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["normalized_steps"],
    check_specs=ANONYMIZE_CHECK_SPECS,
    group_name="anonymize",
    kinds={"python", "parquet"},
    description=(
        "Public form of one contributor-month: ids as keyed pseudonyms (HMAC-SHA256), no free "
        "text, paths, cwd or branches, remaining strings scrubbed by Presidio, shell tool calls "
        "as command signatures. The private partition is validated (GX) and the public one "
        "checked in memory (blocking); only then is it written to "
        "<data>/public/<table>/month=<YYYY-MM>/contributor=<pseudonym>/part.parquet."
    ),
)
def anonymized_steps(
    context: dg.AssetExecutionContext,
    tracelab: TraceLabConfig,
    anonymization: AnonymizationConfig,
):
    from tracelab_pipeline.anonymize.arrow_pool import stage_memory_pool
    from tracelab_pipeline.anonymize.gc_scope import frozen_heap
    from tracelab_pipeline.anonymize.partition import (
        PrivateReads,
        prepare_partitions,
        publish_partitions,
    )
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer, PseudonymKeyError
    from tracelab_pipeline.anonymize.public_store import KeyMismatchError, check_key
    from tracelab_pipeline.forget import NOT_WRITTEN

    try:
        key, key_source = anonymization.key(tracelab.data_path)
        pseudonymizer = Pseudonymizer(key)
    except PseudonymKeyError as exc:
        raise dg.Failure(description=str(exc)) from exc
    context.log.info(key_source)
    try:
        check_key(tracelab.public_dir, pseudonymizer.fingerprint)
    except KeyMismatchError as exc:
        raise dg.Failure(description=str(exc)) from exc

    partitions = [split_partition_key(k) for k in context.partition_keys]
    with stage_memory_pool(), frozen_heap():
        try:
            reads = PrivateReads(
                tracelab.private_dir,
                tracelab.landed_dir,
                lambda c, m: materialized_in_run(
                    context.instance, context.run.run_id, partition_key(c, m)
                ),
            )
            prepared = prepare_partitions(
                partitions,
                reads,
                pseudonymizer,
                anonymization.names(),
            )
        except FileNotFoundError as exc:
            raise dg.Failure(
                description=f"no private partition ({exc.filename}); "
                "materialize normalized_steps for it first"
            ) from exc
        results = check_results(prepared)
        failed = [r.check_name for r in results if not r.passed]
        erased = []
        if not failed:
            erased = publish_partitions(prepared, tracelab.public_dir, reads)
    if failed:
        # Nothing was written: report the verdicts, then fail the step so no downstream step
        # of this run starts.
        yield from results
        # Named by partition key, as everywhere in Dagster (check metadata names pseudonyms).
        keys = sorted(partition_key(p.contributor, p.month) for p in prepared if not p.passed)
        raise dg.Failure(
            description=f"blocking checks failed: {', '.join(failed)} in {len(keys)} "
            f"partition(s) ({', '.join(keys[:10])}{', ...' if len(keys) > 10 else ''}); "
            "nothing was published, each partition's previous public version stays. Once the "
            "cause is fixed, re-execute this run (or let the nightly sweep retry it).",
            metadata={
                "failed_checks": dg.MetadataValue.json(failed),
                "failed_partitions": dg.MetadataValue.json(keys),
            },
        )

    # Erased before this step read them, or while it did: by month only, as the run's log
    # outlives the erasure when the run covers others.
    read = {(p.contributor, p.month) for p in prepared}
    gone = sorted([m for c, m in partitions if (c, m) not in read] + [p.month for p in erased])
    for month in gone:
        context.log.warning(f"a partition of {month}: {NOT_WRITTEN}")
    published = [p for p in prepared if all(p is not e for e in erased)]
    metadata = _metadata(published, pseudonymizer.fingerprint)
    if gone:
        metadata["not_written_erased"] = len(gone)
    yield dg.MaterializeResult(metadata=metadata)
    yield from results


def _metadata(prepared: list, fingerprint: str) -> dict:
    replacements: Counter = Counter()
    scrubbed: Counter = Counter()
    rows: Counter = Counter()
    seconds: Counter = Counter()
    for p in prepared:
        replacements.update(p.anonymized.replacements)
        scrubbed.update(p.anonymized.scrubbed_values)
        rows.update(p.rows)
        seconds.update(p.seconds)
    return {
        "dagster/row_count": rows.get("steps", 0),
        "partitions_in_run": len(prepared),
        "rows_by_table": dg.MetadataValue.json(dict(rows)),
        "replacements_by_entity": dg.MetadataValue.json(dict(sorted(replacements.items()))),
        "scrubbed_values_by_column": dg.MetadataValue.json(dict(sorted(scrubbed.items()))),
        "distinct_strings_analyzed": sum(p.anonymized.distinct_strings_analyzed for p in prepared),
        "pseudonym_key_fingerprint": fingerprint,
        "public_partitions": dg.MetadataValue.json(
            [f"month={p.month}/contributor={p.pseudonym}" for p in prepared]
        ),
        "seconds": dg.MetadataValue.json({k: round(v, 3) for k, v in seconds.items()}),
    }
