"""The checks a staged release must pass before it is published (build.build_release).

1. release_matches_public: every file has as many rows as the public layer says (nothing lost
   or added), and MANIFEST.json lists exactly the files, with their true sizes, SHA-256 and rows.
2. no_private_values_in_release: the anonymize stage's leak test (public_checks.identifier_leaks)
   run on every string of every release file against each contributor's private identifiers,
   paths, branches, handle and user names, and every id column holds pseudonyms only. Text
   our code writes whatever the data (the datasheet's wording, keys, fixed values, listed
   names) is not scanned: a handle may be the same word (`root`); see release_strings.
3. only_listed_names_in_release: every tool and model name, client version and stop reason in
   the release is known vocabulary or a keyed pseudonym (anonymize.vocabulary.is_listed): the
   leak test above knows only what the private layer holds as ids and paths, not a company's
   MCP server or a proxy model's name.

The builder never reads the private layer; this check reads only its identifier, path and
branch columns, as needles, and reports counts by file, field and kind, never the values.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tracelab_pipeline import schema
from tracelab_pipeline.anonymize.anonymize import VOCABULARY
from tracelab_pipeline.anonymize.pseudonyms import ID_COLUMNS, PSEUDONYM_RE
from tracelab_pipeline.anonymize.public_checks import PATH_COLUMNS, CheckOutcome, identifier_leaks
from tracelab_pipeline.anonymize.vocabulary import (
    FIXED_VALUES,
    STOP_REASONS,
    is_fixed_value,
    is_listed,
)
from tracelab_pipeline.partitioned.store import read_partition
from tracelab_pipeline.release import weka
from tracelab_pipeline.release.build import (
    FORMAT_PARAMETERS,
    MANIFEST_FILE,
    README_FILE,
    manifest_text,
    parquet_file,
)
from tracelab_pipeline.release.datasheet import (
    MOONCAKE_FILE,
    MOONCAKE_SESSIONS_FILE,
    ROUNDS_FILE,
    WEKA_FILE,
    DatasetCounts,
    render_readme,
)
from tracelab_pipeline.release.files import sha256_file
from tracelab_pipeline.release.mooncake import SUBMIT_TIME
from tracelab_pipeline.release.mooncake_sessions import closed_loop
from tracelab_pipeline.release.provenance import BUILT_FROM, built_from
from tracelab_pipeline.release.public_tables import (
    RELEASE_TABLES,
    partition_files,
    public_row_counts,
)

RELEASE_CHECKS: dict[str, str] = {
    "release_matches_public": "every release file has the public layer's row count; "
    "MANIFEST.json lists exactly the files, with their sizes, SHA-256 and rows",
    "no_private_values_in_release": "no identifier, user name, handle, path or branch of the "
    "private layer appears in any release file; every id column holds pseudonyms",
    "only_listed_names_in_release": "tool and model names, client versions and stop reasons "
    "in every release file are known vocabulary or keyed pseudonyms",
}

_PSEUDONYM = PSEUDONYM_RE.pattern.removeprefix("^").removesuffix("$")
# Strings that are pseudonyms, provider-qualified pseudonyms (round session ids and trace keys)
# or ISO timestamps cannot hold a raw value; they are most strings of the release, so the text
# scan skips them (the id columns' pseudonym shape is checked on its own). A month-shaped
# string (`2025-09`) is not skipped here: a handle of digits from before landing refused new
# ones may have that shape, and the scan must find it in a name column or a JSON value. Only
# the MANIFEST's months are skipped, where the builder writes them (_MONTHS).
_SAFE = re.compile(
    rf"^(?:(?:claude|codex|{_PSEUDONYM})(?::|$))+$"
    r"|^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z$"
)


def release_checks(
    release_dir: str | Path, public_root: str | Path, private_root: str | Path
) -> list[CheckOutcome]:
    return [
        matches_public(release_dir, public_root),
        no_private_values(release_dir, private_root),
        listed_names(release_dir),
    ]


# ---------------------------------------------------------------------------------------------
# Row counts and manifest


def matches_public(release_dir: str | Path, public_root: str | Path) -> CheckOutcome:
    release = Path(release_dir)
    public = public_row_counts(public_root)
    expected = {parquet_file(t): public[t] for t in RELEASE_TABLES}
    expected[ROUNDS_FILE] = public["steps"]
    untimed_steps, timed_sessions = _timed_public_counts(public_root)
    expected[MOONCAKE_FILE] = public["steps"] - untimed_steps
    expected[MOONCAKE_SESSIONS_FILE] = expected[MOONCAKE_FILE]
    expected[WEKA_FILE] = timed_sessions
    actual = {name: _rows(release / name) for name in expected}
    counts = {n: {"public": expected[n], "release": actual[n]} for n in expected}
    mismatched = sorted(n for n in expected if expected[n] != actual[n])
    problems = _manifest_problems(release, actual)
    return CheckOutcome(
        name="release_matches_public",
        passed=not mismatched and not problems,
        description=RELEASE_CHECKS["release_matches_public"],
        metadata={"counts": counts, "mismatched": mismatched, "manifest_problems": problems},
    )


def _timed_public_counts(public_root: str | Path) -> tuple[int, int]:
    """Public steps with no submit time (both Mooncake files leave them out), and sessions with
    at least one step that has one (the Weka file's lines; a session never spans two
    partitions)."""
    untimed = sessions = 0
    for f in partition_files(public_root, "steps"):
        columns = ["provider", "root_session_id", *SUBMIT_TIME]
        t = pq.ParquetFile(f).read(columns=columns, use_threads=False)
        no_time = pc.and_(*(pc.is_null(t.column(c)) for c in SUBMIT_TIME))
        untimed += pc.sum(no_time).as_py() or 0
        timed = t.filter(pc.invert(no_time))
        sessions += len(set(zip(*(timed.column(c).to_pylist() for c in columns[:2]), strict=True)))
    return untimed, sessions


def _rows(path: Path) -> int | None:
    if not path.is_file():
        return None
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    return _scan(path)[0]  # lines: every line of ours ends with a newline


def _manifest_problems(release: Path, actual_rows: dict[str, int | None]) -> list[str]:
    try:
        listed = json.loads((release / MANIFEST_FILE).read_text())["files"]
    except (OSError, ValueError, KeyError) as exc:
        return [f"{MANIFEST_FILE} unreadable: {type(exc).__name__}"]
    on_disk = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    problems = [
        f"{n}: not in the manifest" for n in sorted(on_disk - set(listed) - {MANIFEST_FILE})
    ]
    for name, entry in sorted(listed.items()):
        path = release / name
        if not path.is_file():
            problems.append(f"{name}: listed but missing")
            continue
        if entry.get("bytes") != path.stat().st_size:
            problems.append(f"{name}: size differs from the manifest")
        if entry.get("sha256") != sha256_file(path):
            problems.append(f"{name}: sha256 differs from the manifest")
        if name in actual_rows and entry.get("rows") != actual_rows[name]:
            problems.append(f"{name}: rows differ from the manifest")
    return problems


# ---------------------------------------------------------------------------------------------
# Private values


def no_private_values(release_dir: str | Path, private_root: str | Path) -> CheckOutcome:
    release = Path(release_dir)
    content = release_strings(release)
    leaks: Counter = Counter()
    checked = 0
    contributors = private_contributors(private_root)
    for contributor, months in contributors.items():
        private = _private_needle_tables(private_root, contributor, months)
        outcome = identifier_leaks(private, {}, contributor, ids=[], content=content)
        leaks.update(outcome.metadata["leaks"])
        checked += outcome.metadata["private_values_checked"]
    not_pseudonyms = _ids_not_pseudonyms(release)
    return CheckOutcome(
        name="no_private_values_in_release",
        passed=not leaks and not not_pseudonyms,
        description=RELEASE_CHECKS["no_private_values_in_release"],
        metadata={
            "contributors_checked": len(contributors),
            "private_values_checked": checked,
            "distinct_strings_scanned": sum(len(values) for *_, values in content),
            "leaks": dict(sorted(leaks.items())),
            "ids_not_pseudonyms": not_pseudonyms,
        },
    )


def release_strings(release: Path) -> list[tuple[str, str, list[str]]]:
    """(file, field, distinct strings) of every file of the release, except strings that are
    pseudonyms or timestamps (_SAFE) and text our code writes whatever the data: it tells
    nothing of a contributor, and a handle that is an ordinary word (`root`, `shell`,
    `local`) is in it. Parquet: each string column, without its fixed vocabulary
    (vocabulary.is_fixed_value); JSONL: every key and string value but the formats' own
    words (_FORMAT_WORDS) and listed names of its name fields; README: the values it took
    from the MANIFEST when it is exactly the datasheet rendered from them, else each line;
    MANIFEST: its data values when it is exactly what the builder writes, else each line.
    Files are read a column or a block at a time."""
    out = []
    manifest = _manifest(release)
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        name = path.relative_to(release).as_posix()
        if path.suffix == ".parquet":
            parquet = pq.ParquetFile(path)
            for field in parquet.schema_arrow:
                if pa.types.is_string(field.type):
                    column = parquet.read(columns=[field.name]).column(0)
                    label = f"{path.stem}.{field.name}"
                    values = [v for v in _unsafe(column) if not is_fixed_value(label, v)]
                    out.append((name, field.name, values))
        elif path.name.endswith((".jsonl", ".jsonl.gz")):
            names = _json_names(path)
            out.append((name, "json", sorted(_json_strings(path) - _fixed_words(names))))
        elif name in (README_FILE, MANIFEST_FILE) and manifest is not None:
            text = path.read_text(errors="replace")
            data_values = _readme_values if name == README_FILE else _manifest_values
            own = data_values(manifest, text)
            out.append((name, "text", own if own is not None else _unsafe_lines(text)))
        else:
            out.append((name, "text", _unsafe_lines(path.read_text(errors="replace"))))
    return out


def _unsafe_lines(text: str) -> list[str]:
    return _unsafe(pa.array(text.splitlines(), pa.string()))


# The words the JSON-lines writers put in the files whatever the data: field names (the
# public columns' and the formats' own) and fixed values. A literal equal to one of them is
# text of ours wherever it stands; a literal that differs by a byte is scanned.
_FORMAT_WORDS = frozenset(
    {
        *(c for t in schema.TABLES for c in schema.public_schema(t).names),
        *(v for values in FIXED_VALUES.values() for v in values),
        *STOP_REASONS,
        # Mooncake
        "hash_ids",
        "input_length",
        "output_length",
        "delay",
        # TraceLab rounds
        "trace_key",
        "round_index",
        "tools",
        "timing_events",
        "newly_append_tokens",
        "reasoning_output_tokens",
        "claude_cache_creation_input_tokens",
        "claude_cache_read_input_tokens",
        "claude_uncached_input_tokens",
        "tool_wall_latency_ms",
        "tool_internal_latency_ms",
        # Weka
        "id",
        "models",
        "block_size",
        "hash_id_scope",
        "requests",
        "totals",
        "t",
        "type",
        "in",
        "out",
        "input_types",
        "stop",
        "api_time",
        "think_time",
        "subagent",
        "subagent_type",
        "duration_ms",
        "tool_use_count",
        "status",
        "steps_without_time",  # of `totals`; weka.COUNTS's other names are only MANIFEST keys
        weka.HASH_ID_SCOPE,
        weka.REQUEST_TYPE,
        weka.SUBAGENT_STATUS,
        *weka.INPUT_TYPES.values(),
    }
)


def _fixed_words(names: dict[str, set[str]]) -> frozenset[str]:
    """_FORMAT_WORDS and the listed values of a file's name fields (built-in tools, model ids
    made of known words: only_listed_names_in_release checks the others)."""
    listed = {v for label, values in names.items() for v in values if is_listed(label, v)}
    return _FORMAT_WORDS | listed


def _manifest(release: Path) -> dict | None:
    try:
        return json.loads((release / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return None


# MANIFEST values that are constants of the builder, by their path of keys.
_MANIFEST_CONSTANTS = {("schema_version",): schema.SCHEMA_VERSION} | {
    (fmt, key): value
    for fmt, parameters in FORMAT_PARAMETERS.items()
    for key, value in parameters.items()
}


def _readme_values(manifest: dict, text: str) -> list[str] | None:
    """When the README is byte for byte the datasheet rendered from the MANIFEST's counts and
    rows: the strings it took from its counts (its wording is ours; the values are in the
    MANIFEST too). Not its rows: the builder writes numbers there, which are not scanned, and
    a string in their place is found in the MANIFEST's own scan. None when it differs (or the
    MANIFEST lacks them): then every line is scanned."""
    try:
        counts, files = manifest["counts"], manifest["files"]
        if text != render_readme(counts, files):
            return None
    except (KeyError, TypeError, AttributeError):
        return None
    return _unsafe(pa.array(list(_leaves(counts, path=("counts",))), pa.string()))


_RELEASE_FILES = frozenset(
    {*(parquet_file(t) for t in RELEASE_TABLES), ROUNDS_FILE, MOONCAKE_FILE}
    | {MOONCAKE_SESSIONS_FILE, WEKA_FILE, README_FILE}
)


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return {*value, *(k for v in value.values() for k in _keys(v))}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


# The MANIFEST's key names that build.write_release writes whatever the data: those of the
# dicts its parts return on empty input, the release's file names and its own literal keys.
# Any other key came from the data and is scanned.
_BUILDER_KEYS = frozenset(
    _keys(DatasetCounts().as_dict(["-"]))
    | _keys(built_from({("-", "-"): "-"}, None))
    | set(closed_loop(*[np.array([], np.int64)] * 3)[1])
    | set(weka.COUNTS)
    | _RELEASE_FILES
    | {k for path in _MANIFEST_CONSTANTS for k in path}
    | {BUILT_FROM, "counts", "files", "rows", "bytes", "sha256"}
)


def _manifest_values(manifest: dict, text: str) -> list[str] | None:
    """When the MANIFEST is exactly as build.write_release writes it (sorted keys, two-space
    indent: no duplicate key can hide a value): its string values (_leaves) but the
    builder's constants, and its keys but the builder's (_BUILDER_KEYS: a file name it lists
    that is not one of the release's is scanned). None when it differs: then every line is
    scanned."""
    if text != manifest_text(manifest):
        return None
    constants = {k for k, v in _MANIFEST_CONSTANTS.items() if _at(manifest, k) == v}
    return _unsafe(pa.array(list(_leaves(manifest, skip=constants)), pa.string()))


def _at(value, path: tuple[str, ...]):
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# An item of a list in a path of MANIFEST keys (a JSON key is a string, never None).
_ITEM = None
# Where the builder writes months (partition names, `YYYY-MM`), by their path of keys: there a
# month is the builder's, even when a handle of digits has its shape.
_MONTHS = frozenset(
    {
        ("counts", "months", "first"),
        ("counts", "months", "last"),
        (BUILT_FROM, "partitions", _ITEM, "month"),
    }
)
_MONTH = re.compile(r"\d{4}-\d\d")


def _leaves(value, skip=(), path=()) -> set[str]:
    """Every string under `value` (at `path` of the MANIFEST), except at the paths `skip` and
    months where the builder writes them (_MONTHS), and every key of its dicts but the
    builder's own (_BUILDER_KEYS). Not its numbers: the builder computes them (counts, rows,
    sizes, parameters) and writes no value of the data as a JSON number, and a handle of
    digits (`6`) would be found in every count."""
    if path in skip:
        return set()
    if isinstance(value, dict):
        keys = {str(k) for k in value} - _BUILDER_KEYS
        return keys | {s for k, v in value.items() for s in _leaves(v, skip, (*path, k))}
    if isinstance(value, list):
        return {s for v in value for s in _leaves(v, skip, (*path, _ITEM))}
    if not isinstance(value, str) or (path in _MONTHS and _MONTH.fullmatch(value)):
        return set()
    return {value}


def _unsafe(values: pa.Array | pa.ChunkedArray) -> list[str]:
    distinct = pc.unique(values).drop_null()
    return sorted(pc.filter(distinct, pc.invert(_is_safe(distinct))).to_pylist())


def _is_safe(values: pa.Array) -> pa.Array:
    return pc.match_substring_regex(values, _SAFE.pattern)


# A JSON string literal. Keys and string values are exactly the literals of the JSON text (a
# number, bracket, true, false or null holds no quote), and none spans lines, so a file can be
# scanned in blocks cut at line ends without parsing it into objects. (Written as runs of plain
# characters between escapes: several times faster in `re` than one character at a time.)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BLOCK = 1 << 24


def _json_strings(path: Path) -> set[str]:
    """The distinct keys and string values of a JSON-lines file (plain or gzip) that are not
    _SAFE, decoded."""
    return _scan(path)[1]


def _json_names(path: Path) -> dict[str, set[str]]:
    """Vocabulary label -> the distinct values of the name fields of a JSON-lines file."""
    return _scan(path)[2]


def _scan(path: Path) -> tuple[int, set[str], dict[str, set[str]]]:
    return _json_scan(path, _stamp(path), _BLOCK)


def _stamp(path: Path) -> tuple[int, int, int, int]:
    """What tells a file's versions apart: its size and modification time, which a program
    can set back (os.utime, cp -p), its inode, which a replacement by rename changes, and its
    change time, which any write or rename moves on and no program can set (to the kernel
    clock's tick: two writes within one tick may share it)."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


@functools.lru_cache(maxsize=8)
def _json_scan(
    path: Path, stamp: tuple[int, int, int, int], block_size: int
) -> tuple[int, set[str], dict[str, set[str]]]:
    """The line count (_rows), _json_strings and _json_names in one pass: decompressing the
    Weka file is most of each one's cost. (Cached by the file's _stamp, and the block size
    tests change: the three checks of one release read each file once.)"""
    lines = 0
    strings: set[str] = set()
    names: dict[str, set[str]] = {}
    before = b""
    for block in _line_blocks(path):
        lines += _count_lines(block)
        escapes = b"\\" in block
        if escapes:  # the general scan
            strings.update(_unsafe_literals(block))
        else:
            quotes = _quotes(block)
            pieces = _quoted_pieces(block, quotes)
            strings.update(_unsafe(_literals(pieces)))
            if not before:
                for label, values in _plain_name_fields(pieces).items():
                    names.setdefault(label, set()).update(values)
        if before or escapes:
            # A long line is cut between literals, maybe between a key and its value: the end
            # of the previous block is scanned again (in the file's text no literal holds an
            # unescaped quote, so a window starting inside one cannot fake a field).
            for label, values in _name_fields(before + block).items():
                names.setdefault(label, set()).update(values)
        if block.endswith(b"\n"):
            before = b""
        elif block:  # (an empty block is a literal longer than a block: still mid-line)
            # kept over blocks shorter than the overlap: a `models` list may span several
            before = (before + block[-_NAME_OVERLAP:])[-_NAME_OVERLAP:]
    return lines, strings, names


def _name_fields(text: bytes) -> dict[str, set[str]]:
    """_NAME_FIELD in text cut between literals, with or without escapes (the general path)."""
    out: dict[str, set[str]] = {}
    for m in _NAME_FIELD.finditer(text):
        if m.group(1):
            out.setdefault(_NAME_FIELDS[m.group(1)], set()).add(orjson.loads(m.group(2)))
        else:
            models = (orjson.loads(s) for s in _JSON_STRING.findall(m.group(3)))
            out.setdefault("steps.model", set()).update(models)
    return out


def _count_lines(block: bytes) -> int:
    """Line ends, found with memchr (bytes.find): several times faster than bytes.count
    where lines are long (a Weka line is a whole session)."""
    count, at = 0, block.find(b"\n")
    while at >= 0:
        count, at = count + 1, block.find(b"\n", at + 1)
    return count


# Text with no backslash holds no escape: its literals are exactly what lies between its
# quotes taken in pairs (what _JSON_STRING finds, and an unclosed one's rest), their bytes are
# the strings' UTF-8, and they are cut, counted and compared in Arrow and numpy instead of
# one Python object per literal (the rounds file holds tens of millions of them).


def _quotes(block: bytes) -> np.ndarray:
    """Where a block with no backslash holds a quote, paired: literal i's content lies between
    quotes 2i and 2i+1 (an unclosed literal, not in a file of ours, is scanned to the end)."""
    quotes = np.flatnonzero(np.frombuffer(block, np.uint8) == ord('"'))
    return np.append(quotes, len(block)) if len(quotes) % 2 else quotes


def _quoted_pieces(block: bytes, quotes: np.ndarray) -> pa.Array:
    """The block cut at its quotes, without copying: element 2i is literal i's content,
    element 2i+1 what lies between it and the next literal, both quotes included."""
    offsets = quotes.astype(np.int64)
    offsets[0::2] += 1
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    return pa.Array.from_buffers(pa.large_binary(), max(len(offsets) - 1, 0), buffers)


def _literals(pieces: pa.Array) -> pa.Array:
    """The distinct literals, as strings (the cast fails on bytes that are not UTF-8, as
    decoding them as JSON does)."""
    every_other = pa.py_buffer(b"\x55" * (len(pieces) // 8 + 1))  # bits 0, 2, 4...
    even = pa.Array.from_buffers(pa.bool_(), len(pieces), [None, every_other])
    return pc.unique(pieces.filter(even)).cast(pa.large_string())


def _binary(value: bytes) -> pa.Scalar:
    return pa.scalar(value, pa.large_binary())


def _plain_name_fields(pieces: pa.Array) -> dict[str, set[str]]:
    """_NAME_FIELD in _quoted_pieces of a block that begins at a line start: a key literal,
    then `:` and a string, or `:[` and strings between commas."""

    def followed(key: bytes, by: bytes) -> np.ndarray:
        """Where a literal `key` is followed by `by` and another literal (a piece between
        two literals begins with a quote: it cannot equal a key)."""
        at = pc.indices_nonzero(pc.equal(pieces, _binary(key))).to_numpy().astype(np.int64)
        at = at[at + 2 < len(pieces)]
        return at[pc.indices_nonzero(pc.equal(pieces.take(at + 1), _binary(by))).to_numpy()]

    out: dict[str, set[str]] = {}
    for key, label in _NAME_FIELDS.items():
        values = pc.unique(pieces.take(followed(key, b'":"') + 2))
        if len(values):
            out.setdefault(label, set()).update(values.cast(pa.large_string()).to_pylist())
    for i in followed(b"models", b'":["') + 2:
        models = out.setdefault("steps.model", set())
        while True:
            models.add(pieces[i].as_py().decode())
            if i + 2 >= len(pieces) or pieces[i + 1].as_py() != b'","':
                break
            i += 2
    return out


# A name field of the JSON-lines files (Weka `model`/`models`, rounds `model`/`tool_name`) and
# the public column whose vocabulary it holds.
_NAME_FIELDS = {b"model": "steps.model", b"tool_name": "tool_calls.tool_name"}
_NAME_FIELD = re.compile(
    rb'"(model|tool_name)":('
    + _JSON_STRING.pattern
    + rb')|"models":\[((?:'
    + _JSON_STRING.pattern
    + rb",?)*)\]"
)


# Longer than any key with its value: a name over 1,000 characters is <LONG_TEXT>, and JSON
# escapes at most 6 bytes per character.
_NAME_OVERLAP = 8192


def listed_names(release_dir: str | Path) -> CheckOutcome:
    """Counts of unlisted names by file and field, never the names."""
    release = Path(release_dir)
    unlisted: Counter = Counter()
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        name = path.relative_to(release).as_posix()
        if path.suffix == ".parquet" and path.stem in RELEASE_TABLES:
            parquet = pq.ParquetFile(path)
            for column in parquet.schema_arrow.names:
                label = f"{path.stem}.{column}"
                if label in VOCABULARY:
                    values = pc.unique(parquet.read(columns=[column]).column(0)).drop_null()
                    bad = sum(not is_listed(label, v) for v in values.to_pylist())
                    if bad:
                        unlisted[f"{name}.{column}"] += bad
        elif path.name.endswith((".jsonl", ".jsonl.gz")):
            for label, values in _json_names(path).items():
                bad = sum(not is_listed(label, v) for v in values)
                if bad:
                    unlisted[f"{name}.{label.rpartition('.')[2]}"] += bad
    return CheckOutcome(
        name="only_listed_names_in_release",
        passed=not unlisted,
        description=RELEASE_CHECKS["only_listed_names_in_release"],
        metadata={"unlisted_values": dict(sorted(unlisted.items()))},
    )


def _line_blocks(path: Path):
    """A JSON-lines file (plain or gzip) in blocks cut at line ends, or, in a line longer than a
    block, between string literals (_outside_strings): no literal is split."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        tail = b""
        for block in iter(lambda: f.read(_BLOCK), b""):
            block = tail + block
            cut = block.rfind(b"\n") + 1 or _outside_strings(block)
            yield block[:cut]
            tail = block[cut:]
        yield tail


def _outside_strings(block: bytes) -> int:
    """A cut for a block with no line end (a Weka line holds a whole session: up to 100s of
    MB) that splits no literal: before the quote opening a literal the block does not close,
    or at the block's end when it closes every literal it opens. A cut between literals may
    fall inside a number or between a key and its `:`: the scan reads only literals, and
    _json_scan finds a name field cut there in the end of the previous block it keeps. The
    tail carried to the next block is then at most one literal's start, so it never grows
    past one literal plus a block."""
    if b"\\" not in block:  # no escape: quotes pair up in order, an odd one out is open
        return len(block) if block.count(b'"') % 2 == 0 else block.rfind(b'"')
    end = 0
    for match in _JSON_STRING.finditer(block):
        end = match.end()
    quote = block.find(b'"', end)
    return quote if quote >= 0 else len(block)


def _unsafe_literals(text: bytes) -> list[str]:
    literals = pa.array(
        [orjson.loads(s) for s in set(_JSON_STRING.findall(text))], type=pa.string()
    )
    return pc.filter(literals, pc.invert(_is_safe(literals))).to_pylist()


def private_contributors(private_root: str | Path) -> dict[str, list[str]]:
    """contributor -> months of its private steps partitions."""
    out: dict[str, list[str]] = {}
    for month_dir in sorted(Path(private_root, "steps").glob("contributor=*/month=*")):
        contributor = month_dir.parent.name.removeprefix("contributor=")
        out.setdefault(contributor, []).append(month_dir.name.removeprefix("month="))
    return out


def _private_needle_tables(
    private_root: str | Path, contributor: str, months: list[str]
) -> dict[str, pa.Table]:
    """The identifier, path and branch columns of all of a contributor's private partitions."""
    # what private_needles reads: ids, path columns, branches
    wanted = {t: {*ID_COLUMNS[t], *PATH_COLUMNS.get(t, ()), "git_branch"} for t in RELEASE_TABLES}
    columns = {t: tuple(c for c in schema.TABLES[t].names if c in wanted[t]) for t in wanted}
    parts = [read_partition(private_root, contributor, m, columns) for m in months]
    return {t: pa.concat_tables([p[t] for p in parts]) for t in RELEASE_TABLES}


def _ids_not_pseudonyms(release: Path) -> dict[str, int]:
    """Non-null values of the Parquet id columns that are not well-formed pseudonyms."""
    bad = {}
    for table in RELEASE_TABLES:
        path = release / parquet_file(table)
        if not path.is_file():
            continue
        ids = pq.read_table(path, columns=list(ID_COLUMNS[table]))
        for column in ids.column_names:
            values = ids.column(column).drop_null()
            ok = pc.sum(pc.match_substring_regex(values, PSEUDONYM_RE.pattern)).as_py() or 0
            if len(values) - ok:
                bad[f"{table}.{column}"] = len(values) - ok
    return bad
