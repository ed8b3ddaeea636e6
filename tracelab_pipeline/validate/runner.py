"""Run the suites in-process with an ephemeral GX context (no project folder, no progress bars).

GX is imported lazily (the import alone takes seconds) and its objects are built once per process;
each run only passes a new DataFrame and the partition window. Reports name failing expectations
and counts only: GX's `partial_unexpected_list` holds raw values, which may be private.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.formats.common import latest_plausible
from tracelab_pipeline.validate import gx_speedups
from tracelab_pipeline.validate.suites import (
    LAYERS,
    PARTITION_COLUMN,
    PARTS,
    PREFIX_PLUS_APPEND,
    VALIDATED_TABLES,
    WINDOW_COLUMNS,
    batched_expectations,
    expectations,
    read_columns,
    table_schema,
)


@dataclass
class SuiteReport:
    table: str
    layer: str
    rows: int
    evaluated: int
    successful: int
    # expectation label -> unexpected count (or -1 when GX reports no count, e.g. column set)
    failures: dict[str, int] = field(default_factory=dict)
    # >1 when this partition passed inside one GX pass over that many partitions of the run
    batch_partitions: int = 1

    @property
    def success(self) -> bool:
        return not self.failures


@functools.cache
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # GX labels every in-memory batch smaller than HASH_THRESHOLD bytes with a fingerprint
    # (an md5 over pandas' hash of every value) that nothing here reads: for a 350k-row frame
    # that hashing cost more than the expectations. Its own threshold turns it off.
    pandas_execution_engine.HASH_THRESHOLD = 0
    # Same results, a fraction of GX's per-expectation bookkeeping (see gx_speedups).
    gx_speedups.apply()
    return context


@functools.cache
def _validation(table: str, layer: str, part: str, batched: bool = False):
    """(suite, batch definition) of one part ("schema" or "values") of a table's suite, built
    once per process.

    Runs go through GX's v1 `Validator` directly rather than `ValidationDefinition.run`, which
    adds a freshness check and serializes every result into the (ephemeral) results store:
    about 50 ms per run that nothing here reads.
    """
    import great_expectations as gx

    context = _context()
    name = f"tracelab_{layer}_{table}_{part}" + ("_batched" if batched else "")
    source = context.data_sources.add_pandas(name)
    batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("partition")
    described = [
        e
        for e in (
            [e for _, e in batched_expectations(table, layer)]
            if batched
            else expectations(table, layer)
        )
        if e.part == part
    ]
    # Handed over whole: suite.add_expectation re-serializes the stored suite on every call.
    suite = context.suites.add(
        gx.ExpectationSuite(
            name=name, expectations=[_expectation_class(e.kind)(**e.kwargs) for e in described]
        )
    )
    return suite, batch


def _expectation_class(kind: str):
    import great_expectations.expectations as gxe

    return _custom_expectations().get(kind) or getattr(gxe, kind)


@functools.cache
def _custom_expectations() -> dict:
    """Our own GX expectations, defined once per process (GX registers each class by name)."""
    from typing import ClassVar

    from great_expectations.expectations.expectation import BatchExpectation

    class ExpectTableColumnTypesToMatch(BatchExpectation):
        """Every listed column has exactly the given pandas dtype (compared by name).

        One expectation for a table's whole schema, on GX's own `table.column_types` metric:
        one `ExpectColumnTypeToBe` per column costs the same check ~50 times GX's fixed
        bookkeeping per expectation (about 1 ms each). The result names the mismatched
        columns (schema names, never values).
        """

        column_types: dict[str, str]
        metric_dependencies: ClassVar[tuple[str, ...]] = ("table.column_types",)
        success_keys: ClassVar[tuple[str, ...]] = ("column_types",)
        domain_keys: ClassVar[tuple[str, ...]] = ("batch_id",)

        def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
            observed = {d["name"]: str(d["type"]) for d in metrics["table.column_types"]}
            wrong = sorted(c for c, t in self.column_types.items() if observed.get(c) != t)
            return {
                "success": not wrong,
                "result": {"observed_value": len(wrong), "details": {"mismatched": wrong}},
            }

    return {"ExpectTableColumnTypesToMatch": ExpectTableColumnTypesToMatch}


def _run(
    table: str,
    layer: str,
    part: str,
    frame,
    parameters: dict,
    batched: bool = False,
    counts: bool = False,
):
    """One GX run. Without `counts`, BOOLEAN_ONLY: every expectation is still evaluated in full
    (its success needs the unexpected count), only the result payload is skipped, a third of
    the cost of BASIC; callers re-run with counts when something failed."""
    from great_expectations.validator.v1_validator import Validator

    suite, batch = _validation(table, layer, part, batched)
    import pandas as pd

    validator = Validator(
        batch_definition=batch,
        batch_parameters={"dataframe": frame},
        result_format="BASIC" if counts else "BOOLEAN_ONLY",
    )
    # GX narrows the frame to each expectation's rows (drop nulls of the column or pair) with
    # a full copy of every column, tens of times per run; under copy-on-write a narrowing that
    # drops nothing shares the data instead (a third less CPU on a 300k-row frame). Scoped to
    # this call: nothing else in the process sees the option.
    with pd.option_context("mode.copy_on_write", True):
        return validator.validate_expectation_suite(suite, parameters)


def month_window(month: str) -> dict:
    """Run-time parameters of the timestamp expectations for partition month 'YYYY-MM'.

    In microseconds since the epoch (UTC), like the timestamp columns of the frame (_frame).
    """
    start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=dt.UTC)
    return {"month_start": _micros(start), "late_end": _micros(latest_plausible())}


def _micros(t: dt.datetime) -> int:
    return (t - _EPOCH) // dt.timedelta(microseconds=1)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _schema_frame(data: pa.Table):
    """The frame of the "schema" part: every column, each with its Arrow type as its dtype
    (`pd.ArrowDtype` wraps the Arrow buffers: no copy, no conversion)."""
    import pandas as pd

    return data.to_pandas(types_mapper=pd.ArrowDtype)


def _frame(
    table: str,
    layer: str,
    part: str,
    data: pa.Table,
    extra: dict[str, pa.Array] | None = None,
):
    """The frame of a value part ("keys" or "numbers"): only the columns it reads (`extra`:
    the columns of the suite over several partitions).

    Converted in one go (`extra` columns included) so pandas holds few consolidated blocks.
    A column the data lacks is left out, so its expectations fail by name (the schema part
    names it too).
    """
    read = read_columns(table, layer, part, batched=extra is not None)
    return _to_frame(_value_columns(table, data, read), extra, read, coded_ids(table, layer))


def _value_columns(table: str, data: pa.Table, read: set[str]) -> pa.Table:
    """The columns of `data` that a value part reads, in name order, as GX compares them."""
    if table == "steps" and {"prefix_tokens", "append_tokens"} <= set(data.column_names):
        data = data.append_column(
            PREFIX_PLUS_APPEND, pc.add(data.column("prefix_tokens"), data.column("append_tokens"))
        )
    columns = {}
    for name in sorted(set(data.column_names) & read):
        column = data.column(name)
        if pa.types.is_timestamp(column.type):
            # Microseconds since the epoch (UTC), bounds likewise (month_window): the same
            # order as the instants, compared as numbers (no tz-aware datetime64 copies).
            column = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        columns[name] = column
    return pa.table(columns)


def _to_frame(
    columns: pa.Table,
    extra: dict[str, pa.Array] | None,
    read: set[str],
    coded: frozenset[str] = frozenset(),
    sizes: list[int] | None = None,
):
    for name, column in (extra or {}).items():
        if name in read:
            columns = columns.append_column(name, column)
    codes = {
        name: _id_codes(columns.column(name), sizes or [columns.num_rows])
        for name in coded
        if name in columns.column_names and columns.schema.field(name).type == pa.string()
    }
    # Strings stay Arrow (pd.ArrowDtype); numbers become plain numpy dtypes (int64, or float64
    # where an int column holds nulls; exact below 2**53, far above any token count or
    # latency): GX compares them vectorized, while on pandas' nullable Int64 its
    # between-metric calls a Python function per value (10x slower).
    frame = columns.drop_columns(list(codes)).to_pandas(types_mapper=_string_as_arrow)
    for position, name in enumerate(columns.column_names):
        if name in codes:
            frame.insert(position, name, codes[name])
    return frame


def _id_codes(column: pa.ChunkedArray, sizes: list[int]):
    """An id column of consecutive partitions (`sizes`: their rows) as a pd.Categorical of
    dictionary codes, each partition encoded on its own: two rows of one partition have
    equal codes exactly when their ids are equal; codes of different partitions never
    meet; null where the id is null.

    For the id columns whose values only uniqueness and non-null expectations read
    (`coded_ids`), where uniqueness is per partition (compound with the partition column
    when there are several): pandas' duplicated() on an Arrow string column
    dictionary-encodes it again for every such expectation, all partitions of both layers
    in one hash table far larger than the CPU caches; per partition the tables stay small,
    and duplicated() then hashes integers. The codes also keep ids out of GX's results."""
    import numpy as np
    import pandas as pd

    indices, dictionary_sizes, start = [], [], 0
    for size in sizes:
        encoded = column.slice(start, size).combine_chunks().dictionary_encode()
        indices.append(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False))
        dictionary_sizes.append(len(encoded.dictionary))
        start += size
    local = np.concatenate(indices).astype(np.int64) if indices else np.empty(0, np.int64)
    offsets = np.cumsum(dictionary_sizes, dtype=np.int64) - dictionary_sizes
    codes = np.where(local < 0, -1, local + np.repeat(offsets, sizes))
    categories = pd.CategoricalDtype(pd.RangeIndex(sum(dictionary_sizes)))
    return pd.Categorical.from_codes(codes, dtype=categories)


def _string_as_arrow(type_: pa.DataType):
    import pandas as pd

    return pd.ArrowDtype(type_) if type_ in (pa.string(), pa.large_string()) else None


def validate_table(table: str, layer: str, data: pa.Table, month: str) -> SuiteReport:
    report = SuiteReport(table=table, layer=layer, rows=data.num_rows, evaluated=0, successful=0)
    for part in PARTS:
        frame = _schema_frame(data) if part == "schema" else _frame(table, layer, part, data)
        parameters = month_window(month) if part == "numbers" else {}
        result = _run(table, layer, part, frame, parameters)
        if not result.success:
            result = _run(table, layer, part, frame, parameters, counts=True)
        for r in result.results:
            if r.success:
                continue
            config = r.expectation_config
            count = r.result.get("unexpected_count") if r.result else None
            if config.type == "expect_table_column_types_to_match":
                # one label per column of the wrong type (schema names, never values)
                for column in r.result["details"]["mismatched"]:
                    report.failures[f"{config.type}:{column}"] = -1
                continue
            report.failures[_label(config.type, config.kwargs)] = (
                int(count) if count is not None else -1
            )
        report.evaluated += int(result.statistics["evaluated_expectations"])
        report.successful += int(result.statistics["successful_expectations"])
    return report


def _label(kind: str, kwargs: dict) -> str:
    if "column_A" in kwargs:
        return f"{kind}:{kwargs['column_A']}={kwargs['column_B']}"
    column = kwargs.get("column") or ",".join(kwargs.get("column_list") or ())
    return f"{kind}:{column}" if column else kind


def validate_partition(layer: str, tables: dict[str, pa.Table], month: str) -> list[SuiteReport]:
    return [validate_table(t, layer, tables[t], month) for t in VALIDATED_TABLES if t in tables]


def validate_partitions(
    layer: str, partitions: dict[str, tuple[dict[str, pa.Table], str]]
) -> dict[str, list[SuiteReport]]:
    """Validate many partitions ({key: (tables, month)}) of one layer: {key: reports}."""
    return validate_layers({layer: partitions})[layer]


def validate_layers(
    layers: dict[str, dict[str, tuple[dict[str, pa.Table], str]]],
) -> dict[str, dict[str, list[SuiteReport]]]:
    """Validate many partitions of one run, of one or both layers
    ({layer: {key: (tables, month)}}): {layer: {key: reports}}.

    GX's cost is almost all fixed per expectation and run (~1-2 ms each, ~65 per layer), so
    the partitions are validated in ONE pass per table: the schema part once per layer on
    the concatenation of its partitions, the value parts (the same expectations in both
    layers) once on the concatenation of every partition of every layer, with the partition
    and its window as columns (suites.batched_expectations). If that pass fails, or the
    tables cannot be concatenated (different columns or types), each layer is tried as one
    pass, then every partition is validated on its own, so failures are named and counted
    exactly as for one partition of one layer.
    """
    out: dict[str, dict[str, list[SuiteReport]]] = {
        layer: {key: [] for key in partitions} for layer, partitions in layers.items()
    }
    for table in VALIDATED_TABLES:
        present = {
            layer: {
                k: (tables[table], month)
                for k, (tables, month) in partitions.items()
                if table in tables
            }
            for layer, partitions in layers.items()
        }
        batched = None
        if sum(len(p) for p in present.values()) > 1:
            batched = _validate_batch(table, present)
        for layer, items in present.items():
            alone = batched.get(layer) if batched is not None else None
            if alone is None and len(present) > 1 and len(items) > 1:
                alone = (_validate_batch(table, {layer: items}) or {}).get(layer)
            for key, (data, month) in items.items():
                if alone is not None:
                    out[layer][key].append(alone[key])
                else:
                    out[layer][key].append(validate_table(table, layer, data, month))
    return out


@functools.cache
def coded_ids(table: str, layer: str) -> frozenset[str]:
    """String columns given to GX as dictionary codes (_id_codes): those in a uniqueness
    expectation that nothing but uniqueness and non-null expectations read (a value set or
    format must see the strings). The same in the batched suite, whose extra column is not
    a string."""
    target = table_schema(table, layer)
    strings = {f.name for f in target if f.type == pa.string()}
    readers: dict[str, set[str]] = {}
    for e in expectations(table, layer):
        for column in e.reads():
            readers.setdefault(column, set()).add(e.kind)
    unique = {c for c, kinds in readers.items() if kinds & _UNIQUENESS}
    return frozenset(
        c for c in unique & strings if readers[c] <= _UNIQUENESS | {"ExpectColumnValuesToNotBeNull"}
    )


_UNIQUENESS = {"ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique"}


@functools.cache
def _suite_size(table: str, layer: str) -> int:
    # (building the suite's description costs ~0.2 ms, once per partition and layer otherwise)
    return len(expectations(table, layer))


@functools.cache
def _shared_value_parts(table: str) -> bool:
    """True when both layers' batched value expectations are the same (they are today:
    numbers pass unchanged, ids stay non-null strings), so one pass can serve both."""

    def values(layer: str) -> list:
        return [
            (e.kind, e.kwargs, e.part)
            for _, e in batched_expectations(table, layer)
            if e.part != "schema"
        ]

    return all(values(layer) == values(LAYERS[0]) for layer in LAYERS)


def _batch_columns(entries: list[tuple], sizes: list[int]) -> dict[str, pa.Array]:
    """The extra columns of the batched suite: each row's partition and its window."""
    import numpy as np

    extra = {
        PARTITION_COLUMN: pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(np.arange(len(entries), dtype=np.int32), sizes)),
            pa.array([f"{layer}|{key}" for layer, key, *_ in entries], type=pa.string()),
        )
    }
    windows = [month_window(month) for *_, month in entries]
    for name, column in WINDOW_COLUMNS.items():
        extra[column] = pa.array(
            np.repeat(np.array([w[name] for w in windows], dtype=np.int64), sizes)
        )
    return extra


def _same_data(
    read: set[str],
    items: dict[str, tuple[pa.Table, str]],
    twins: dict[str, tuple[pa.Table, str]],
) -> bool:
    """Whether each partition of `items` has a twin (same key and month) in `twins` with
    equal values and types in every column that `read` needs: each expectation of the part
    then sees the same rows and window in both, so the twin's verdict is its verdict. (The
    anonymizer passes numbers through zero-copy: Arrow answers `equals` for a shared array
    without looking at its values.)"""
    sources = set(read) - {PARTITION_COLUMN, *WINDOW_COLUMNS.values()}
    if PREFIX_PLUS_APPEND in sources:
        sources = (sources - {PREFIX_PLUS_APPEND}) | {"prefix_tokens", "append_tokens"}
    for key, (data, month) in items.items():
        twin, twin_month = twins.get(key, (None, None))
        if twin is None or twin_month != month or data.num_rows != twin.num_rows:
            return False
        names = sources & set(data.schema.names)  # (column_names is a new list per access)
        if names != sources & set(twin.schema.names):
            return False
        if not all(data.column(name).equals(twin.column(name)) for name in names):
            return False
    return True


def _validate_batch(
    table: str, present: dict[str, dict[str, tuple[pa.Table, str]]]
) -> dict[str, dict[str, SuiteReport]] | None:
    """Per-partition reports of every layer if the batched suite passes, else None."""
    present = {layer: items for layer, items in present.items() if items}
    if len(present) > 1 and not _shared_value_parts(table):
        return None
    concatenated = {}
    try:
        for layer, items in present.items():
            concatenated[layer] = pa.concat_tables([t for t, _ in items.values()])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    for layer, data in concatenated.items():
        # The concatenation has one schema per layer (concat_tables refuses others).
        if not _run(table, layer, "schema", _schema_frame(data), {}).success:
            return None
    suite_layer = next(iter(present))  # the value parts are the same in every layer
    for part in PARTS[1:]:
        read = read_columns(table, suite_layer, part, batched=True)
        # A layer whose every partition holds the very data of its twin in the first layer
        # (numbers pass through the anonymizer zero-copy) is not validated twice.
        layers = [
            layer
            for layer, items in present.items()
            if layer == suite_layer or not _same_data(read, items, present[suite_layer])
        ]
        entries = [
            (layer, key, t, month) for layer in layers for key, (t, month) in present[layer].items()
        ]
        sizes = [t.num_rows for *_, t, _ in entries]
        try:
            columns = pa.concat_tables(
                [_value_columns(table, concatenated[layer], read) for layer in layers]
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
        extra = _batch_columns(entries, sizes)
        frame = _to_frame(columns, extra, read, coded_ids(table, suite_layer), sizes)
        if not _run(table, suite_layer, part, frame, {}, True).success:
            return None
    return {
        layer: {
            key: SuiteReport(
                table,
                layer,
                t.num_rows,
                _suite_size(table, layer),
                _suite_size(table, layer),
                batch_partitions=len(items),
            )
            for key, (t, _) in items.items()
        }
        for layer, items in present.items()
    }
