"""The blocking checks a public partition must pass before it is published.

1. Presidio re-scan: no finding in any content string; every identifier is a well-formed pseudonym.
2. No identifier, user name or path of the private partition appears in the public one.
3. Only allow-listed tables and columns (schema.public_schema) exist.
4. Row counts equal the private partition's (nothing lost in anonymization).
5. Name columns (tool, model, client version, stop reason, record kinds) hold only listed
   vocabulary or pseudonyms (anonymize.vocabulary): Presidio does not see a company's MCP
   server or an AWS account in a model ARN as PII.

Outcomes carry counts by table, column and kind only, never the offending values.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline import schema
from tracelab_pipeline.anonymize.anonymize import (
    PUBLIC_TABLES,
    VOCABULARY,
    KindIds,
    private_ids,
)
from tracelab_pipeline.anonymize.presidio_engine import (
    GENERIC_HANDLES,
    Scrubber,
    name_regex,
    scrubber_for,
)
from tracelab_pipeline.anonymize.pseudonyms import ID_COLUMNS, PSEUDONYM_RE, all_pseudonyms
from tracelab_pipeline.anonymize.vocabulary import is_fixed_value, is_listed, scanned_part

PATH_COLUMNS: dict[str, tuple[str, ...]] = {
    "steps": ("project", "cwd", "source_file"),
    "ingest_accounting": ("source_file",),
    "rejected_records": ("source_file",),
}
GENERIC_BRANCHES = frozenset({"main", "master", "develop", "development", "trunk", "head", "dev"})
# Needles shorter than this are matched as whole words only; longer ones also as substrings.
SUBSTRING_MIN = 8
# (case-insensitive: Windows also writes `c:\users\name`)
_USER_IN_PATH = re.compile(
    r"(?:^|[/\\])(?:home|Users|var/home)[/\\]([^/\\\s]+)|(?:^|[^A-Za-z0-9])-(?:Users|home)-([A-Za-z0-9._]+?)(?:-|$)",
    re.IGNORECASE,
)
_TOKEN_SPLIT = re.compile(r"[\s\"'<>,;()\[\]{}|=/\\]+|__|::")


# name -> what passing means; the asset declares one blocking Dagster check per entry.
BLOCKING_CHECKS: dict[str, str] = {
    "presidio_rescan_clean": "Presidio finds nothing in any public string; every id is a pseudonym",
    "no_private_identifiers": "no identifier, user name or path of the private partition is public",
    "only_allowlisted_columns": "exactly schema.public_schema's columns, with its types",
    "row_counts_match": "every public table has as many rows as its private table",
    "only_listed_names": "tool, model, version, stop reason and record kind names are known "
    "vocabulary or keyed pseudonyms",
}


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict = field(default_factory=dict)


@dataclass
class PrivateNeedles:
    """What must never reappear: exact strings (ids, paths, branches) and words (user names)."""

    exact: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    kind_of: dict[str, str] = field(default_factory=dict)
    # Identifiers (most needles: every id of the partition) stay in Arrow, distinct; they are
    # added first and their kind wins over any later one. `exact` holds the other needles.
    identifiers: pa.Array = field(default_factory=lambda: pa.array([], type=pa.string()))
    # Raw project names, searched in the identifier columns only: a Claude project named after
    # its folder ("claude") is a word that may legitimately appear in a tool or model name (a
    # path-shaped project is also an `exact` needle, searched everywhere).
    projects: pa.Array = field(default_factory=lambda: pa.array([], type=pa.string()))

    def set_identifiers(self, distinct_by_kind: list[pa.Array]) -> None:
        """The ids of every kind, each kind's distinct non-null values (an id that is also
        another kind's counts once per kind: set lookups do not mind the repeat, and not
        de-duplicating across kinds spares hashing every id of the partition again)."""
        ids = pa.concat_arrays(distinct_by_kind) if distinct_by_kind else pa.array([], pa.string())
        # an empty id is no needle (it would match the empty token of every split)
        self.identifiers = pc.filter(ids, pc.greater(pc.binary_length(ids), 0))

    def all_exact(self) -> tuple[pa.Array, int]:
        """Every exact needle (ids first, then the others), and how many there are (ids
        counted per kind). An id may also be a path or branch: counted once."""
        others = pa.array(sorted(self.exact), type=pa.string())
        repeated = (
            pc.sum(pc.is_in(self.identifiers, value_set=others)).as_py() if len(others) else 0
        )
        return (
            pa.concat_arrays([self.identifiers, others]),
            len(self.identifiers) + len(others) - (repeated or 0),
        )

    def kind(self, value: str) -> str:
        if pc.any(pc.equal(self.identifiers, value)).as_py():
            return "identifier"
        if value not in self.kind_of and pc.any(pc.equal(self.projects, value)).as_py():
            return "project"
        return self.kind_of.get(value, "identifier")

    def add_exact(self, value: str | None, kind: str) -> None:
        if value:
            self.exact.add(value)
            self.kind_of.setdefault(value, kind)

    def add_word(self, value: str | None, kind: str) -> None:
        if value and len(value) >= 3 and value.lower() not in GENERIC_HANDLES:
            self.words.add(value)
            self.kind_of.setdefault(value, kind)


def _squash(name: str) -> str:
    return re.sub(r"[\s._\-]+", "", name.lower())


def _distinct(table: pa.Table, column: str) -> list:
    if column not in table.column_names or table.num_rows == 0:
        return []
    return [v for v in pc.unique(table.column(column)).to_pylist() if v is not None]


def _glued_needles(exact: pa.Array, text: str) -> list[str]:
    """Long private strings that occur anywhere inside `text` (ids glued into other words).

    An index of the text's 8-grams filters the needles by prefix in one vectorized step, so
    the cost is linear in text + needles instead of their product.
    """
    if len(text) < SUBSTRING_MIN or len(exact) == 0:
        return []
    long = pc.filter(exact, pc.greater_equal(pc.utf8_length(exact), SUBSTRING_MIN))
    grams = pa.array(
        list({text[i : i + SUBSTRING_MIN] for i in range(len(text) - SUBSTRING_MIN + 1)})
    )
    prefixes = pc.utf8_slice_codeunits(long, 0, SUBSTRING_MIN)
    candidates = pc.filter(long, pc.is_in(prefixes, value_set=grams)).to_pylist()
    return [n for n in candidates if n in text]


def _of_lengths(needles: pa.Array, haystack: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The needles whose byte length some haystack value has: only they can equal one.

    Exact lookups build a hash set of the needles (every private id, ~1M in a large
    partition); lengths come from the offsets, so this pre-filter costs no hashing, and the
    set is built from the few needles that could match at all.
    """
    lengths = pc.unique(pc.binary_length(haystack))
    return pc.filter(needles, pc.is_in(pc.binary_length(needles), value_set=lengths))


def user_names_in_paths(paths: Iterable[str]) -> set[str]:
    found = set()
    for path in paths:
        for m in _USER_IN_PATH.finditer(path):
            name = m.group(1) or m.group(2)
            if name and name not in (".", ".."):
                found.add(name)
    return found


def private_needles(
    private: dict[str, pa.Table], contributor: str, ids: dict[str, KindIds] | None = None
) -> PrivateNeedles:
    """`ids`: anonymize.private_ids(private), when the caller already has it (the distinct
    ids of each kind: the id columns are not hashed row by row a second time)."""
    needles = PrivateNeedles()
    paths: set[str] = set()
    ids = private_ids(private) if ids is None else ids
    needles.set_identifiers([found.distinct for kind, found in ids.items() if kind != "project"])
    for name, table in private.items():
        for column in PATH_COLUMNS.get(name, ()):
            paths.update(_distinct(table, column))
    if "project" in ids:
        projects = ids["project"].distinct
        needles.projects = pc.filter(projects, pc.greater(pc.utf8_length(projects), 0))
    for path in paths:
        # Only path-shaped values: a Claude project named after its folder ("claude") is a word
        # that may legitimately appear in a model name.
        if any(sep in path for sep in "/\\") or path.startswith("-"):
            needles.add_exact(path, "path")
    if "steps" in private:
        for branch in _distinct(private["steps"], "git_branch"):
            if len(branch) >= 6 and branch.lower() not in GENERIC_BRANCHES:
                needles.add_exact(branch, "branch")
    for user in user_names_in_paths(paths):
        needles.add_word(user, "user_name")
    needles.add_word(contributor, "contributor")
    if contributor.lower() not in GENERIC_HANDLES:
        needles.exact.add(contributor)
        needles.kind_of.setdefault(contributor, "contributor")
    return needles


def deny_names(
    private: dict[str, pa.Table], contributor: str, configured: Iterable[str]
) -> list[str]:
    """Deny-list for one partition: configured names, the handle, and user names in its paths."""
    paths: set[str] = set()
    for name, table in private.items():
        for column in PATH_COLUMNS.get(name, ()):
            paths.update(_distinct(table, column))
    return sorted({*configured, contributor, *user_names_in_paths(paths)})


def _content_strings(col: pa.ChunkedArray) -> list[str]:
    if len(col) == 0:
        return []
    if pa.types.is_map(col.type):
        keys = pa.concat_arrays([chunk.keys for chunk in col.chunks]) if col.num_chunks else []
        return [v for v in pc.unique(keys).to_pylist() if v is not None] if len(keys) else []
    return [v for v in pc.unique(col).to_pylist() if v is not None]


def content_strings(public: dict[str, pa.Table]) -> list[tuple[str, str, list[str]]]:
    """(table, column, distinct non-null values) of every content column: each string or map
    column the table holds that is not an id. Read from the table itself, not from the
    anonymizer's `scrubbed_columns`: a bug there (a column left out) skipped its scrubbing
    and its re-scan alike, and the leak was published with every check passing."""
    return [
        (name, field.name, _content_strings(table.column(i)))
        for name, table in public.items()
        for i, field in enumerate(table.schema)
        if field.name not in ID_COLUMNS.get(name, {}) and _holds_text(field.type)
    ]


def _holds_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_map(t)


def public_ids(public: dict[str, pa.Table]) -> list[tuple[str, str, pa.ChunkedArray]]:
    """(table, column, values) of every identifier column present, every row: what the
    checks ask of an id (pseudonym-shaped, not a private value) is asked of each value,
    so repeats change no verdict, and not de-duplicating spares hashing every public id
    (millions in the paper preset); values are de-duplicated only to count a failure."""
    out = []
    for name, table in public.items():
        present = set(table.schema.names)  # (column_names is a new list per access)
        out += [
            (name, column, table.column(column))
            for column in ID_COLUMNS.get(name, {})
            if column in present and table.num_rows
        ]
    return out


def _every_id(id_columns: list[tuple[str, str, pa.ChunkedArray]]) -> pa.ChunkedArray:
    """The values of every column of public_ids as one array, without copying them."""
    return pa.chunked_array([c for *_, values in id_columns for c in values.chunks], pa.string())


def presidio_rescan(
    public: dict[str, pa.Table],
    scrubber: Scrubber,
    ids: list | None = None,
    content: list | None = None,
) -> CheckOutcome:
    """`ids`: public_ids(public), `content`: content_strings(public), when the caller
    already has them."""
    findings: Counter = Counter()
    scanned = 0
    no_deny = scrubber_for(())
    for name, column, values in content_strings(public) if content is None else content:
        for value in values:
            # Fixed vocabulary without the deny list, which would find a word handle in it.
            label = f"{name}.{column}"
            fixed = is_fixed_value(label, value)
            scanner = no_deny if fixed else scrubber
            scanned += 1
            # scrub() caches by text: a string that came through anonymization unchanged
            # was analyzed then and had no finding; only new strings are analyzed now.
            for entity in scanner.scrub(scanned_part(label, value) if fixed else value)[1]:
                findings[f"{name}.{column}:{entity}"] += 1
    id_columns = public_ids(public) if ids is None else ids
    # One test over every id of the partition; per column only when something failed.
    every_id = _every_id(id_columns)
    if not all_pseudonyms(every_id):
        for name, column, values in id_columns:
            # counted per distinct value, as the other findings
            distinct = pc.unique(values).drop_null()
            ok = pc.sum(pc.match_substring_regex(distinct, PSEUDONYM_RE.pattern)).as_py()
            if len(distinct) - (ok or 0):
                findings[f"{name}.{column}:NOT_A_PSEUDONYM"] += len(distinct) - (ok or 0)
    return CheckOutcome(
        name="presidio_rescan_clean",
        passed=not findings,
        description=BLOCKING_CHECKS["presidio_rescan_clean"],
        metadata={"distinct_strings_scanned": scanned, "findings": dict(findings)},
    )


def identifier_leaks(
    private: dict[str, pa.Table],
    public: dict[str, pa.Table],
    contributor: str,
    ids: list | None = None,
    content: list | None = None,
    private_kind_ids: dict[str, KindIds] | None = None,
) -> CheckOutcome:
    """`ids`: public_ids(public), `content`: content_strings(public), `private_kind_ids`:
    anonymize.private_ids(private), when the caller already has them."""
    needles = private_needles(private, contributor, private_kind_ids)
    exact, exact_count = needles.all_exact()
    words = {_squash(w): w for w in needles.words}
    word_re = re.compile("|".join(name_regex(w) for w in words.values()), re.I) if words else None
    leaks: Counter = Counter()

    def record(table: str, column: str, needle: str) -> None:
        leaks[f"{table}.{column}:{needles.kind(needle)}"] += 1

    content = content_strings(public) if content is None else content
    # Fixed vocabulary is not scanned (is_fixed_value); every other value is.
    content = [
        (name, column, [v for v in values if not is_fixed_value(f"{name}.{column}", v)])
        for name, column, values in content
    ]
    glued = _glued_needles(exact, "\n".join(v for *_, values in content for v in values))
    # Identifier columns hold fixed-format hex pseudonyms: exact match is the meaningful test
    # (a substring scan of random hex against thousands of ids would hit by chance). One set
    # lookup over every public id, if any needle has the length of an id at all (a raw id
    # rarely has a pseudonym's); per column only when something matched.
    id_columns = public_ids(public) if ids is None else ids
    if id_columns:
        every_id = _every_id(id_columns)
        id_needles = pa.concat_arrays([_of_lengths(n, every_id) for n in (exact, needles.projects)])
        if len(id_needles) and pc.any(pc.is_in(every_id, value_set=id_needles)).as_py():
            for name, column, values in id_columns:
                found = pc.filter(values, pc.is_in(values, value_set=id_needles))
                for value in pc.unique(found).to_pylist():
                    record(name, column, value)
    # Content strings: the value itself or one of its tokens equal to a needle (one lookup for
    # all tokens), a user name as a word, or a long needle glued into it.
    tokens_of = {
        value: [value, *_TOKEN_SPLIT.split(value)] for *_, values in content for value in values
    }
    every_token = pa.array(
        list({t for tokens in tokens_of.values() for t in tokens}), type=pa.string()
    )
    # Equal tokens and needles: the hash set is built from the tokens (a few thousand) and
    # probed with the needles of a token's length (up to every private id), not the reverse.
    candidates = _of_lengths(exact, every_token)
    hit_tokens = set(pc.filter(candidates, pc.is_in(candidates, value_set=every_token)).to_pylist())
    for name, column, values in content:
        leaked: dict[str, str] = {}  # public value -> the private needle found in it
        for value in values:
            hit = next((t for t in tokens_of[value] if t in hit_tokens), None)
            if hit is None and word_re is not None:
                m = word_re.search(value)
                hit = m and words.get(_squash(m.group(0)), m.group(0))
            if hit is None:
                hit = next((n for n in glued if n in value), None)
            if hit:
                leaked[value] = hit
        for needle in leaked.values():
            record(name, column, needle)
    return CheckOutcome(
        name="no_private_identifiers",
        passed=not leaks,
        description=BLOCKING_CHECKS["no_private_identifiers"],
        metadata={
            # (ids counted per kind)
            "private_values_checked": exact_count + len(needles.words) + len(needles.projects),
            "leaks": dict(leaks),
        },
    )


def column_allowlist(public: dict[str, pa.Table]) -> CheckOutcome:
    problems: dict[str, dict[str, list[str]]] = {}
    for name, table in public.items():
        if name not in PUBLIC_TABLES:
            problems[name] = {"unexpected_table": [name]}
            continue
        allowed = schema.public_schema(name)
        allowed_names, present = set(allowed.names), set(table.column_names)
        unexpected = [c for c in table.column_names if c not in allowed_names]
        missing = [c for c in allowed.names if c not in present]
        wrong_type = [
            c
            for c in allowed.names
            if c in present and table.schema.field(c).type != allowed.field(c).type
        ]
        if unexpected or missing or wrong_type:
            problems[name] = {
                "unexpected": unexpected,
                "missing": missing,
                "wrong_type": wrong_type,
            }
    return CheckOutcome(
        name="only_allowlisted_columns",
        passed=not problems,
        description=BLOCKING_CHECKS["only_allowlisted_columns"],
        metadata={"problems": problems},
    )


def row_counts(private: dict[str, pa.Table], public: dict[str, pa.Table]) -> CheckOutcome:
    counts = {}
    mismatched = []
    for name in sorted(set(private) | set(public)):
        p = private[name].num_rows if name in private else None
        q = public[name].num_rows if name in public else None
        counts[name] = {"private": p, "public": q}
        if p != q:
            mismatched.append(name)
    return CheckOutcome(
        name="row_counts_match",
        passed=not mismatched,
        description=BLOCKING_CHECKS["row_counts_match"],
        metadata={"counts": counts, "mismatched": mismatched},
    )


def unlisted_names(content: list[tuple[str, str, list[str]]]) -> CheckOutcome:
    """`content`: content_strings(public). Counts of unlisted values per column, never the
    values."""
    unlisted: Counter = Counter()
    for name, column, values in content:
        label = f"{name}.{column}"
        if label in VOCABULARY:
            unlisted[label] += sum(not is_listed(label, v) for v in values)
    return CheckOutcome(
        name="only_listed_names",
        passed=not +unlisted,
        description=BLOCKING_CHECKS["only_listed_names"],
        metadata={"unlisted_values": dict(+unlisted)},
    )


def blocking_checks(
    private: dict[str, pa.Table],
    public: dict[str, pa.Table],
    contributor: str,
    scrubber: Scrubber,
    private_kind_ids: dict[str, KindIds] | None = None,
) -> list[CheckOutcome]:
    """`private_kind_ids`: anonymize.private_ids(private), when the caller already has it."""
    ids = public_ids(public)
    content = content_strings(public)
    return [
        presidio_rescan(public, scrubber, ids, content),
        identifier_leaks(private, public, contributor, ids, content, private_kind_ids),
        column_allowlist(public),
        row_counts(private, public),
        unlisted_names(content),
    ]
