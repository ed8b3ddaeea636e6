"""Private partition tables -> public tables (schema.public_schema): the only road to publication.

Per column: identifiers become keyed pseudonyms (pseudonyms.ID_COLUMNS); private columns (paths,
working directories, branches, free text, raw tool input) are dropped; every other string is
scrubbed by Presidio; numbers, booleans and timestamps (sizes, tokens, times) are kept. Shell
tool calls get a command signature computed from the private input before it is dropped.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline import schema
from tracelab_pipeline.anonymize.command_signature import SHELL_TOOLS, shell_signature
from tracelab_pipeline.anonymize.presidio_engine import Scrubber, scrubber_for
from tracelab_pipeline.anonymize.pseudonyms import ID_COLUMNS, Pseudonymizer
from tracelab_pipeline.anonymize.vocabulary import (
    is_fixed_value,
    public_client_version,
    public_ignored_key,
    public_model_name,
    public_stop_reason,
    public_tool_name,
    scanned_part,
)

PUBLIC_TABLES = ("steps", "tool_calls", "timing_events", "ingest_accounting", "rejected_records")
FINGERPRINT_METADATA = b"pseudonym_key_fingerprint"
# Rejection reasons and file errors quote the offending raw value (`unparseable timestamp '...'`,
# `[Errno 2] No such file or directory: '...'`); the private layer keeps it, the public one
# says <VALUE>: whatever a log held in a field, it is no category.
QUOTING_COLUMNS = frozenset(
    {
        "rejected_records.reason",
        "ingest_accounting.rejected_by_reason",
        "ingest_accounting.error",
    }
)
# (a quote right after a letter is an apostrophe: "can't")
_QUOTED = re.compile(r"(?<![A-Za-z0-9])(?:'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")")
QUOTED_VALUE = "QUOTED_VALUE"
# Names, never text: Anthropic and OpenAI tool names are [A-Za-z0-9_-]{1,64}, models, client
# versions and stop reasons have no spaces either. A value with whitespace in these columns is
# text that a broken or hostile log put there; no recognizer can vouch for free text (there is
# no offline name model), so it is published as <TEXT>.
NAME_COLUMNS = frozenset(
    {
        "steps.model",
        "steps.client_version",
        "steps.stop_reason",
        "tool_calls.tool_name",
        "timing_events.tool_name",
    }
)
FREE_TEXT = "FREE_TEXT"
_WHITESPACE = re.compile(r"\s")


def _public_tool(value: str, p: Pseudonymizer) -> str:
    return public_tool_name(value, lambda raw: p.pseudonym("tool", raw))


# Columns that publish only known vocabulary (anonymize.vocabulary): label -> (value,
# pseudonymizer) -> public value. Presidio still scans what they publish.
VOCABULARY = {
    "steps.model": lambda v, p: public_model_name(v, lambda raw: p.pseudonym("model", raw)),
    "steps.client_version": lambda v, p: public_client_version(v),
    "steps.stop_reason": lambda v, p: public_stop_reason(v),
    "tool_calls.tool_name": _public_tool,
    "timing_events.tool_name": _public_tool,
    "ingest_accounting.ignored_by_type": lambda v, p: public_ignored_key(v),
}
UNLISTED_NAME = "UNLISTED_NAME"


@dataclass
class AnonymizedPartition:
    tables: dict[str, pa.Table]
    # entity type -> number of values (rows, map keys) in which something was replaced
    replacements: Counter = field(default_factory=Counter)
    # table.column -> number of values that changed through scrubbing
    scrubbed_values: Counter = field(default_factory=Counter)
    distinct_strings_analyzed: int = 0
    key_fingerprint: str = ""


@functools.cache
def scrubbed_columns(name: str) -> tuple[str, ...]:
    """String columns of the public table that keep content (and so pass through Presidio)."""
    ids = ID_COLUMNS.get(name, {})
    return tuple(
        f.name
        for f in schema.public_schema(name)
        if f.name not in ids and (pa.types.is_string(f.type) or pa.types.is_map(f.type))
    )


def _pseudonymize_column(column: pa.ChunkedArray, kind: str, pseudonymizer: Pseudonymizer):
    combined = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    encoded = pc.dictionary_encode(combined)
    return pc.take(pseudonymizer.pseudonym_array(kind, encoded.dictionary), encoded.indices)


def _scrub(
    scrubber: Scrubber, text: str, label: str, pseudonymizer: Pseudonymizer | None = None
) -> tuple[str, tuple[str, ...]]:
    """scrubber.scrub, after quoted raw values became <VALUE> in the QUOTING_COLUMNS; text in
    the NAME_COLUMNS is <TEXT>; a name outside the VOCABULARY is replaced (UNLISTED_NAME)."""
    if label in NAME_COLUMNS and _WHITESPACE.search(text):
        return "<TEXT>", (FREE_TEXT,)
    listed: tuple[str, ...] = ()
    if label in VOCABULARY and pseudonymizer is not None:
        public = VOCABULARY[label](text, pseudonymizer)
        if public != text:
            text, listed = public, (UNLISTED_NAME,)
    if is_fixed_value(label, text):
        # Our vocabulary holds no data of the contributor, but the deny list would turn the
        # provider `claude` and `claude-sonnet-4` into `<PERSON>` for the handle `claude`; the
        # other recognizers still run (a model id of listed words can hold a phone number).
        out, entities = scrubber_for(()).scrub(scanned_part(label, text))
        return (out if entities else text), (*listed, *entities)
    if listed:
        out, entities = scrubber.scrub(text)
        return out, (*listed, *entities)
    if label in QUOTING_COLUMNS:
        text, quoted = _QUOTED.subn("<VALUE>", text)
        if quoted:
            out, entities = scrubber.scrub(text)
            return out, (QUOTED_VALUE,) * quoted + entities
    return scrubber.scrub(text)


def _scrub_column(
    column: pa.ChunkedArray,
    label: str,
    scrubber: Scrubber,
    result: AnonymizedPartition,
    pseudonymizer: Pseudonymizer | None = None,
) -> pa.Array:
    """Each distinct value scrubbed once; a column that scrubbing leaves unchanged (no finding,
    nothing to normalize) is returned as it is."""
    combined = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    encoded = pc.dictionary_encode(combined)
    distinct = encoded.dictionary.to_pylist()
    scrubbed = [_scrub(scrubber, v, label, pseudonymizer) for v in distinct]
    if all(out == v for v, (out, _) in zip(distinct, scrubbed, strict=True)):
        return combined
    # Count replacements per row, not per distinct string.
    for item in pc.value_counts(encoded.indices.drop_null()):
        entities = scrubbed[item["values"].as_py()][1]
        rows = item["counts"].as_py()
        for entity in entities:
            result.replacements[entity] += rows
        if entities:
            result.scrubbed_values[label] += rows
    new_values = pa.array([text for text, _ in scrubbed], type=pa.string())
    return pc.take(new_values, encoded.indices)


def _scrub_map_column(
    column: pa.ChunkedArray,
    label: str,
    scrubber: Scrubber,
    result: AnonymizedPartition,
    pseudonymizer: Pseudonymizer | None = None,
) -> pa.Array:
    rows = []
    for entry in column.to_pylist():
        if entry is None:
            rows.append(None)
            continue
        merged: dict[str, int] = {}
        for key, value in entry:
            new_key, entities = (
                _scrub(scrubber, key, label, pseudonymizer) if key is not None else (key, ())
            )
            for entity in entities:
                result.replacements[entity] += 1
            if entities:
                result.scrubbed_values[label] += 1
            # Two keys can scrub to the same placeholder; their counts add up.
            merged[new_key] = merged.get(new_key, 0) + (value or 0)
        rows.append(list(merged.items()))
    return pa.array(rows, type=column.type)


def anonymize_table(
    name: str,
    table: pa.Table,
    pseudonymizer: Pseudonymizer,
    scrubber: Scrubber,
    result: AnonymizedPartition | None = None,
    known: dict[tuple[str, str], pa.Array] | None = None,
) -> pa.Table:
    """One private table -> its public form (columns and order of schema.public_schema(name)).

    `known`: (table, column) -> the column's pseudonyms, from `partition_pseudonyms`.
    """
    result = result if result is not None else AnonymizedPartition(tables={})
    target = schema.public_schema(name)
    ids = ID_COLUMNS.get(name, {})
    scrub = set(scrubbed_columns(name))
    present = set(table.column_names)  # (a new list on every access)
    columns = []
    for f in target:
        if f.name == "command_signature" and name == "tool_calls":
            columns.append(_command_signatures(table))
            continue
        if f.name not in present:
            # A column the private writer did not produce yet (older file): null, never invented.
            columns.append(pa.nulls(table.num_rows, type=f.type))
            continue
        column = table.column(f.name)
        if known and (name, f.name) in known:
            columns.append(known[(name, f.name)])
        elif f.name in ids:
            columns.append(_pseudonymize_column(column, ids[f.name], pseudonymizer))
        elif f.name in scrub and pa.types.is_map(f.type):
            label = f"{name}.{f.name}"
            columns.append(_scrub_map_column(column, label, scrubber, result, pseudonymizer))
        elif f.name in scrub:
            label = f"{name}.{f.name}"
            columns.append(_scrub_column(column, label, scrubber, result, pseudonymizer))
        else:
            columns.append(column)
    metadata = {**target.metadata, FINGERPRINT_METADATA: pseudonymizer.fingerprint.encode()}
    return pa.Table.from_arrays(
        # (a cast to the same type still costs a compute call: ~90 columns per partition)
        [c if c.type == f.type else c.cast(f.type) for c, f in zip(columns, target, strict=True)],
        schema=target.with_metadata(metadata),
    )


def _command_signatures(table: pa.Table) -> pa.Array:
    """command_signature per row, computed once per distinct input of the shell tool calls
    (other tools get null without looking at their input)."""
    if "tool_name" not in table.column_names or table.num_rows == 0:
        return pa.nulls(table.num_rows, type=pa.string())
    names = table.column("tool_name")
    # Built here, not at import: a pyarrow array at module level imports pandas, and this module
    # is loaded with the Dagster code location.
    shell_tools = pa.array(sorted(SHELL_TOOLS), type=pa.string())
    shell = pc.fill_null(pc.is_in(pc.utf8_lower(names), value_set=shell_tools), False)
    if not pc.any(shell).as_py():
        return pa.nulls(table.num_rows, type=pa.string())
    if "input_json" in table.column_names:
        inputs = pc.filter(table.column("input_json"), shell).combine_chunks()
    else:
        inputs = pa.nulls(pc.sum(shell).as_py(), type=pa.string())
    encoded = pc.dictionary_encode(inputs)
    # The signature depends on the input only, whichever shell tool it went to.
    distinct = pa.array(
        [shell_signature(i) for i in encoded.dictionary.to_pylist()], type=pa.string()
    )
    signatures = pc.fill_null(pc.take(distinct, encoded.indices), shell_signature(None))
    # Scatter back: shell rows in order get their signatures, the others null.
    # (a row before the first shell call points at 0; if_else ignores it)
    positions = pc.max_element_wise(
        pc.subtract(pc.cumulative_sum(pc.cast(shell, pa.int64())), 1), 0
    )
    return pc.if_else(shell, pc.take(signatures, positions), pa.scalar(None, pa.string()))


@dataclass
class KindIds:
    """Every identifier column of one kind in a partition, dictionary-encoded together."""

    distinct: pa.Array  # the distinct non-null raw ids
    indices: pa.Array  # per row of the concatenated columns: position in `distinct`
    columns: list[tuple[str, str, int]]  # (table, column, rows), in concatenation order


def private_ids(private: dict[str, pa.Table]) -> dict[str, KindIds]:
    """kind -> its ids in the partition: all columns of one kind (a step id is in three
    tables) encoded in one hash pass. Pseudonyms hash each distinct id once; the leak check
    takes its id needles from the same distinct values instead of hashing every row again."""
    columns: dict[str, list[tuple[str, str, pa.ChunkedArray]]] = {}
    for name, table in private.items():
        for column, kind in ID_COLUMNS.get(name, {}).items():
            if column in table.column_names:
                values = table.column(column)
                if values.type != pa.string():
                    values = values.cast(pa.string())
                columns.setdefault(kind, []).append((name, column, values))
    out = {}
    for kind, found in columns.items():
        chunks = [chunk for *_, values in found for chunk in values.chunks]
        combined = pa.chunked_array(chunks, type=pa.string()).combine_chunks()
        encoded = pc.dictionary_encode(combined)
        out[kind] = KindIds(
            encoded.dictionary, encoded.indices, [(n, c, len(v)) for n, c, v in found]
        )
    return out


def partition_pseudonyms(
    private: dict[str, pa.Table],
    pseudonymizer: Pseudonymizer,
    ids: dict[str, KindIds] | None = None,
) -> dict[tuple[str, str], pa.Array]:
    """(table, column) -> pseudonyms of every id column of the partition (`ids`:
    private_ids(private), when the caller already has it): each distinct id of a kind is
    hashed once, and every column is a slice of one take."""
    ids = private_ids(private) if ids is None else ids
    out = {}
    for kind, found in ids.items():
        mapped = pc.take(pseudonymizer.pseudonym_array(kind, found.distinct), found.indices)
        offset = 0
        for name, column, rows in found.columns:
            out[(name, column)] = mapped.slice(offset, rows)
            offset += rows
    return out


def anonymize_partition(
    private: dict[str, pa.Table],
    pseudonymizer: Pseudonymizer,
    scrubber: Scrubber,
    ids: dict[str, KindIds] | None = None,
) -> AnonymizedPartition:
    """Anonymize every table of one contributor-month partition (`ids`: private_ids(private),
    when the caller already has it)."""
    result = AnonymizedPartition(tables={}, key_fingerprint=pseudonymizer.fingerprint)
    before = scrubber.distinct_analyzed
    known = partition_pseudonyms(private, pseudonymizer, ids)
    for name in PUBLIC_TABLES:
        if name in private:
            result.tables[name] = anonymize_table(
                name, private[name], pseudonymizer, scrubber, result, known
            )
    result.distinct_strings_analyzed = scrubber.distinct_analyzed - before
    return result
