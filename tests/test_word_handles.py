"""A contributor handle that is an ordinary word (`root`, the handle of every container, or
`shell`, `read`, `claude`, `local`...): the text our own code writes whatever the data (the
datasheet's wording, file, field and key names, allow-listed tool and model names, fixed
values) is no leak of it, while the handle planted where the data goes still is."""

import ast
import gzip
import json
import os
import re
import shutil
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from anonymize_helpers import REAL, real_partition, released, replace_first, set_column

from tracelab_pipeline import formats
from tracelab_pipeline.anonymize import Pseudonymizer, Scrubber, anonymize_partition
from tracelab_pipeline.anonymize.public_checks import (
    blocking_checks,
    deny_names,
    identifier_leaks,
)
from tracelab_pipeline.anonymize.vocabulary import reader_flags, reader_ingest_keys
from tracelab_pipeline.normalize import normalize_files
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig
from tracelab_pipeline.partitioned.store import write_partition
from tracelab_pipeline.release import checks
from tracelab_pipeline.release.build import write_release
from tracelab_pipeline.release.checks import no_private_values
from tracelab_pipeline.release.datasheet import render_readme

MONTHS = ("2025-09", "2026-04")  # the second holds a Codex session (tool `shell`...)
# Handles that are words of our fixed text: the datasheet (`root`, `project`, `code`), JSON
# keys (`model`, `status`, `source`), fixed values (`local`, `completed`, `tool`, `user`,
# `text`; `wall`, `output` of latency sources), built-in tool and model names (`shell`,
# `read`, `bash`, `task`, `grep`, `claude`, `codex`, `gpt`, `opus`), stop reasons
# (`end_turn`), command signatures (`git`, `dev`).
WORD_HANDLES = (
    "root",
    "shell",
    "read",
    "bash",
    "task",
    "grep",
    "claude",
    "codex",
    "gpt",
    "opus",
    "sonnet",
    "local",
    "user",
    "tool",
    "text",
    "none",
    "model",
    "models",
    "status",
    "source",
    "project",
    "code",
    "completed",
    "end_turn",
    "tool_use",
    "git",
    "dev",
    "other",
    "steps",
    "rows",
    "ms",
    "wall",
    "output",
    # 1-2 characters: not on the deny list, matched only as a whole value or token (`t`, `in`
    # and `id` are Weka keys)
    "t",
    "in",
    "id",
    "x",
)
KEY = "word-handle-test-key-0123456789abcdef"


def _resources(data):
    return {
        "tracelab": TraceLabConfig(data_dir=str(data)),
        "anonymization": AnonymizationConfig(pseudonym_key=KEY),
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The real pipeline (anonymized_steps, then release) on real logs of contributor `root`."""
    data = tmp_path_factory.mktemp("data")
    result = released(data, "root", MONTHS, _resources(data))
    # the same files as staged, kept whatever the checks said
    write_release(data / "public", data / "built")
    return data, result


def _private_of(handle, tmp_path):
    """The same real logs as the private layer of contributor `handle` (the release holds no
    raw handle: the one built for `root` is the release of any handle)."""
    private = tmp_path / f"private-{handle}"
    for month in MONTHS:
        write_partition(private, handle, month, real_partition(month, handle), {})
    return private


def test_the_release_of_contributor_root_is_published(built):
    data, result = built
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == dict.fromkeys(checks, True), checks
    assert result.success
    # the datasheet's fixed wording holds the word, as a word
    assert " root session" in (data / "release" / "README.md").read_text()


@pytest.mark.parametrize("handle", WORD_HANDLES)
def test_fixed_text_of_the_release_is_no_leak_of_a_word_handle(built, tmp_path, handle):
    data, _ = built
    outcome = no_private_values(data / "built", _private_of(handle, tmp_path))
    assert outcome.passed, outcome.metadata["leaks"]


def _copy(data, tmp_path):
    rel = tmp_path / "release"
    shutil.copytree(data / "built", rel)
    return rel


def _append_json_line(path, line):
    with gzip.open(path, "ab") as f:
        f.write(orjson.dumps(line) + b"\n")


def test_a_datasheet_edited_to_hold_the_handle_fails(built, tmp_path):
    data, _ = built
    rel = _copy(data, tmp_path)
    readme = rel / "README.md"
    original = readme.read_text()
    readme.write_text(original.replace("# TraceLab pipeline release", "# root's logs"))
    outcome = no_private_values(rel, data / "private")
    assert not outcome.passed
    # a datasheet that is not ours is scanned line by line: the edit and the wording's
    # " root session" both count
    assert outcome.metadata["leaks"] == {"README.md.text:identifier": 2}
    readme.write_text(original + "\n")  # one byte off is enough
    assert not no_private_values(rel, data / "private").passed
    readme.write_text(original)
    assert no_private_values(rel, data / "private").passed


def test_a_word_handle_where_data_goes_fails(built, tmp_path):
    """The handle as a value of a name field that is not allow-listed, as a JSON value of a
    field that is not a fixed one, as a JSON key, and in the manifest: each is found."""
    data, _ = built
    private = data / "private"
    for name, plant, where in (
        ("tool_calls", "tool_name", "parquet/tool_calls.parquet.tool_name"),
        ("steps", "model", "parquet/steps.parquet.model"),
        ("steps", "trigger", "parquet/steps.parquet.trigger"),
        ("tool_calls", "command_signature", "parquet/tool_calls.parquet.command_signature"),
        ("timing_events", "source", "parquet/timing_events.parquet.source"),
    ):
        rel = _copy(data, tmp_path / plant)
        path = rel / "parquet" / f"{name}.parquet"
        table = pq.read_table(path)
        pq.write_table(_set_first(table, plant, "root"), path)
        leaks = no_private_values(rel, private).metadata["leaks"]
        assert leaks == {f"{where}:identifier": 1}, plant

    rel = _copy(data, tmp_path / "weka")
    with gzip.open(rel / "weka.jsonl.gz") as f:
        session = orjson.loads(f.readline())
    session["requests"][0]["type"] = "root"  # a fixed field's value, not the fixed one
    _append_json_line(rel / "weka.jsonl.gz", session)
    assert not no_private_values(rel, private).passed

    rel = _copy(data, tmp_path / "key")
    _append_json_line(rel / "mooncake.jsonl.gz", {"root": 1})
    assert not no_private_values(rel, private).passed

    rel = _copy(data, tmp_path / "manifest")
    manifest = orjson.loads((rel / "MANIFEST.json").read_bytes())
    manifest["weka"]["hash_id_scope"] = "root"
    (rel / "MANIFEST.json").write_bytes(orjson.dumps(manifest))
    assert not no_private_values(rel, private).passed


def _write_as_the_builder(rel, manifest):
    """README and MANIFEST exactly as write_release writes them: the check takes only their
    data values, not every line."""
    (rel / "README.md").write_text(render_readme(manifest["counts"], manifest["files"]))
    (rel / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _exact_copy(data, tmp_path):
    rel = _copy(data, tmp_path)
    manifest = json.loads((rel / "MANIFEST.json").read_text())
    _write_as_the_builder(rel, manifest)
    for name in ("README.md", "MANIFEST.json"):
        assert (rel / name).read_bytes() == (data / "built" / name).read_bytes()
    assert no_private_values(rel, data / "private").passed
    return rel, manifest


def test_a_handle_in_the_manifest_data_as_the_builder_writes_it_fails(built, tmp_path):
    """The handle as MANIFEST values the data gives (the first month, a parameter), with both
    files exactly as the builder writes them: found in their data values (one distinct string
    each; the line scan would also count the README's " root session" and two MANIFEST
    lines)."""
    data, _ = built
    rel, manifest = _exact_copy(data, tmp_path)
    manifest["counts"]["months"]["first"] = "root"
    manifest["weka"]["hash_id_scope"] = "root"
    _write_as_the_builder(rel, manifest)
    leaks = no_private_values(rel, data / "private").metadata["leaks"]
    assert leaks == {"MANIFEST.json.text:identifier": 1, "README.md.text:identifier": 1}


def test_a_handle_as_a_manifest_key_as_the_builder_writes_it_fails(built, tmp_path):
    """A key the builder did not write (a provider of the counts, a count of the replay
    traces) is scanned; the builder's own keys are not (none is a data value of the real
    release's MANIFEST)."""
    data, _ = built
    rel, manifest = _exact_copy(data, tmp_path)
    assert checks._keys(manifest) <= checks._BUILDER_KEYS
    manifest["counts"]["steps_by_provider"]["root"] = 0  # the README lists it too
    _write_as_the_builder(rel, manifest)
    leaks = no_private_values(rel, data / "private").metadata["leaks"]
    assert leaks == {"MANIFEST.json.text:identifier": 1, "README.md.text:identifier": 1}

    del manifest["counts"]["steps_by_provider"]["root"]
    manifest["mooncake_sessions"]["root"] = 1
    _write_as_the_builder(rel, manifest)
    leaks = no_private_values(rel, data / "private").metadata["leaks"]
    assert leaks == {"MANIFEST.json.text:identifier": 1}


def test_a_json_lines_file_rewritten_with_its_size_and_time_is_read_again(built, tmp_path):
    """The checks share each JSON-lines file's scan: a rewrite of the same size with its
    modification time set back (os.utime, cp -p), or a replacement by rename, is a new
    file to them."""
    data, _ = built
    private = data / "private"
    rel = _copy(data, tmp_path)
    extra = rel / "extra.jsonl"
    extra.write_bytes(b'{"a":"xxxx"}\n{"b":"yyyy"}\n')
    before = extra.stat()
    assert no_private_values(rel, private).passed

    extra.write_bytes(b'{"a":"xxxx"}\n{"b":"root"}\n')
    os.utime(extra, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = extra.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    leaks = no_private_values(rel, private).metadata["leaks"]
    assert leaks == {"extra.jsonl.json:identifier": 1}

    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b'{"a":"xxxx"}\n{"b":"yyyy"}\n')
    os.utime(clean, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(clean, extra)
    assert no_private_values(rel, private).passed

    # the row check: a line lost from a compressed file padded back to its size (gzip
    # readers skip the zeros after the last member)
    mooncake = rel / "mooncake.jsonl.gz"
    assert checks.matches_public(rel, data / "public").metadata["mismatched"] == []
    before = mooncake.stat()
    lines = gzip.decompress(mooncake.read_bytes()).splitlines(keepends=True)
    shorter = gzip.compress(b"".join(lines[:-1]), mtime=0)
    assert len(shorter) < before.st_size
    mooncake.write_bytes(shorter + bytes(before.st_size - len(shorter)))
    os.utime(mooncake, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert mooncake.stat().st_size == before.st_size
    outcome = checks.matches_public(rel, data / "public")
    assert outcome.metadata["mismatched"] == ["mooncake.jsonl.gz"]


def test_count_names_only_the_manifest_holds_are_scanned_in_json_lines(built, tmp_path):
    """weka.COUNTS names the MANIFEST's Weka counts: of them only `requests` and
    `steps_without_time` (a key of every line's `totals`) are words of the Weka file, so a
    handle `steps_without_time` is no leak, while a handle `subagents` planted as a value
    is one."""
    data, _ = built
    assert no_private_values(data / "built", _private_of("steps_without_time", tmp_path)).passed
    private = _private_of("subagents", tmp_path)
    assert no_private_values(data / "built", private).passed
    rel = _copy(data, tmp_path)
    _append_json_line(rel / "mooncake.jsonl.gz", {"hash_ids": "subagents"})
    leaks = no_private_values(rel, private).metadata["leaks"]
    assert leaks == {"mooncake.jsonl.gz.json:identifier": 1}


# ---------------------------------------------------------------------------------------------
# The anonymize stage's leak check, on the real partitions of each word handle


@pytest.fixture(scope="module")
def anonymized():
    return _runs(WORD_HANDLES, MONTHS)


def _runs(handles, months) -> dict:
    """{(handle, month): (private, public, scrubber)} of the real logs of each month."""
    out = {}
    for handle in handles:
        for month in months:
            private = real_partition(month, handle)
            out[handle, month] = private, *_anonymized(private, handle)
    return out


@pytest.mark.parametrize("handle", WORD_HANDLES)
def test_allow_listed_public_names_are_no_leak_of_a_word_handle(anonymized, handle):
    for month in MONTHS:
        private, public, scrubber = anonymized[handle, month]
        jdoe = _anonymized(real_partition(month, "jdoe"), "jdoe")[0]
        _assert_publishes_as_jdoe(private, public, handle, scrubber, jdoe, month)


def _anonymized(private: dict[str, pa.Table], handle: str):
    """(public tables, scrubber) of a partition anonymized with the handle's deny list."""
    scrubber = Scrubber(deny_names(private, handle, ()))
    return anonymize_partition(private, Pseudonymizer(KEY.encode()), scrubber).tables, scrubber


def _assert_publishes_as_jdoe(private, public, handle, scrubber, jdoe, month):
    """Every blocking check passes, and the deny list left the listed names alone
    (`claude-sonnet-4-...`, `Task`, `Read`): the same model and tool names as `jdoe`'s."""
    outcomes = blocking_checks(private, public, handle, scrubber)
    failed = {c.name: c.metadata for c in outcomes if not c.passed}
    assert not failed, (month, failed)
    for table, column in (("steps", "model"), ("tool_calls", "tool_name")):
        names = set(public[table].column(column).drop_null().to_pylist())
        assert names == set(jdoe[table].column(column).drop_null().to_pylist())


def _set_first(table: pa.Table, column: str, value: str) -> pa.Table:
    return replace_first(table, column, value, where=lambda v: v is not None)


@pytest.mark.parametrize("handle", ["root", "shell", "claude", "local"])
def test_a_word_handle_in_a_public_field_that_is_not_vocabulary_fails(anonymized, handle):
    private, public, _ = anonymized[handle, "2026-04"]
    for table, column, value in (
        ("tool_calls", "tool_name", f"mcp__{handle}__x"),
        ("steps", "model", f"model/{handle}"),
        ("tool_calls", "command_signature", f"{handle} x"),
        ("steps", "client_version", f"1.0 {handle}"),
        ("timing_events", "source", f"x/{handle}"),
        ("timing_events", "event_type", handle),
    ):
        leaked = dict(public)
        leaked[table] = _set_first(public[table], column, value)
        outcome = identifier_leaks(private, leaked, handle)
        assert outcome.metadata["leaks"] == {f"{table}.{column}:identifier": 1}, (column, value)
    # an ingest key of the shape Codex's role keys have, with the handle as the role
    key = f"response_item.message(role={handle})"
    accounting = _with_key(public["ingest_accounting"], "ignored_by_type", key)
    leaked = dict(public, ingest_accounting=accounting)
    outcome = identifier_leaks(private, leaked, handle)
    assert outcome.metadata["leaks"] == {"ingest_accounting.ignored_by_type:identifier": 1}
    # and the handle alone in a fixed column that does not hold it
    leaked = dict(public)
    leaked["steps"] = _set_first(public["steps"], "stop_reason", handle)
    assert not identifier_leaks(private, leaked, handle).passed


@pytest.mark.parametrize("handle", ["claude", "jdoe"])
def test_listed_names_still_pass_presidio_and_raw_pseudonym_shapes_are_replaced(handle):
    """Only the deny list skips fixed vocabulary: a listed model id can hold a phone number,
    and a raw name shaped like our pseudonyms is a name the user chose, not ours."""
    private = real_partition("2026-04", handle)
    planted = {
        ("steps", "model"): "gpt-212-555-0143",
        ("tool_calls", "tool_name"): "tol_0123456789abcdef0123",
    }
    for (table, column), value in planted.items():
        private[table] = _set_first(private[table], column, value)
    public, scrubber = _anonymized(private, handle)
    for (table, column), value in planted.items():
        published = set(public[table].column(column).drop_null().to_pylist())
        assert value not in published, column
    assert "gpt-<PHONE>" in set(public["steps"].column("model").to_pylist())
    outcomes = {c.name: c for c in blocking_checks(private, public, handle, scrubber)}
    assert outcomes["presidio_rescan_clean"].passed
    assert not outcomes["only_listed_names"].passed  # `gpt-<PHONE>` is not a model id


# ---------------------------------------------------------------------------------------------
# Handles of digits: landing refuses new ones (test_digit_handles.py); those in use before
# keep working, so the release check must not find them in the builder's numbers


def _numbers_and_months(manifest) -> set[str]:
    if isinstance(manifest, dict):
        return {s for v in manifest.values() for s in _numbers_and_months(v)}
    if isinstance(manifest, list):
        return {s for v in manifest for s in _numbers_and_months(v)}
    if isinstance(manifest, bool) or manifest is None:
        return set()
    if isinstance(manifest, int | float):
        return {str(manifest)}
    return {manifest, manifest[:4]} if re.fullmatch(r"\d{4}-\d\d", manifest) else set()


def test_the_numbers_and_months_of_a_release_are_no_leak_of_a_handle_of_digits(built, tmp_path):
    """Every count, row number, size, parameter, month and year the MANIFEST and README hold
    (`1` contributor, `206` steps, `2025-09`) as the handle of a contributor who landed before
    the rule: no leak (each of them failed the check before)."""
    data, _ = built
    manifest = json.loads((data / "built" / "MANIFEST.json").read_text())
    handles = _numbers_and_months(manifest)
    counts = manifest["counts"]
    assert {"1", str(counts["steps"]), counts["months"]["first"], "2025"} <= handles
    failed = {}
    for handle in sorted(handles):
        outcome = no_private_values(data / "built", _private_of(handle, tmp_path))
        if not outcome.passed:
            failed[handle] = outcome.metadata["leaks"]
    assert not failed


@pytest.mark.parametrize("which", ("steps", "first month"))
def test_a_handle_of_digits_where_data_goes_fails(built, tmp_path, which):
    """The steps count or the first month (`2025-09`, a handle of DIGITS in
    test_digit_handles.py) as the handle: planted as a string in a name column, a JSON-lines
    value, the MANIFEST as the builder writes it, or an edited README, it is found (a month
    is skipped only where the builder writes months)."""
    data, _ = built
    counts = json.loads((data / "built" / "MANIFEST.json").read_text())["counts"]
    handle = str(counts["steps"]) if which == "steps" else counts["months"]["first"]
    private = _private_of(handle, tmp_path)
    assert no_private_values(data / "built", private).passed

    rel = _copy(data, tmp_path / "parquet")
    path = rel / "parquet" / "tool_calls.parquet"
    table = pq.read_table(path)
    pq.write_table(_set_first(table, "tool_name", handle), path)
    leaks = no_private_values(rel, private).metadata["leaks"]
    assert leaks == {"parquet/tool_calls.parquet.tool_name:identifier": 1}

    rel = _copy(data, tmp_path / "json")
    _append_json_line(rel / "mooncake.jsonl.gz", {"hash_ids": handle})
    leaks = no_private_values(rel, private).metadata["leaks"]
    assert leaks == {"mooncake.jsonl.gz.json:identifier": 1}

    rel, manifest = _exact_copy(data, tmp_path / "manifest")
    manifest["weka"]["hash_id_scope"] = handle  # a string where the builder writes `local`
    _write_as_the_builder(rel, manifest)
    leaks = no_private_values(rel, private).metadata["leaks"]
    assert leaks == {"MANIFEST.json.text:identifier": 1}

    # a README that is not the datasheet is scanned line by line: the edit is found (and so
    # are the lines that give the steps count: a number there cannot be told from the handle)
    rel = _copy(data, tmp_path / "readme")
    readme = rel / "README.md"
    readme.write_text(readme.read_text() + f"\nlogs of {handle}\n")
    assert no_private_values(rel, private).metadata["leaks"]["README.md.text:identifier"] >= 1


# ---------------------------------------------------------------------------------------------
# Handles equal to the words of record kinds the readers count (`summary`, `mode`: Claude Code
# record types; `message`, `token_count`: Codex kinds; `type`, `content`, `name`: log keys)

KEY_MONTHS = ("2025-09", "2026-04", "2026-06")
KEY_HANDLES = (
    "summary",
    "mode",
    "type",
    "message",
    "content",
    "name",
    "role",
    "attachment",
    "permission-mode",
    "file-history-snapshot",
    "ai-title",
    "turn_duration",
    "hook",
    "system",
    "event_msg",
    "response_item",
    "token_count",
    "repeat",
    "dropped_at_eof",
    "web_search_call",
    "unlisted",
)


def _ingest_keys(tables) -> set[str]:
    rows = tables["ingest_accounting"].column("ignored_by_type").to_pylist()
    return {key for row in rows for key, _ in row}


def test_every_record_kind_the_real_logs_hold_is_a_reader_key():
    """The keys the readers wrote for every real log, published: each is one of the readers'
    words (vocabulary.reader_ingest_keys), which the deny list and the leak check leave alone."""
    files = sorted(REAL.glob("*/*.jsonl"))
    private = normalize_files(files, "jdoe").tables()
    public = anonymize_partition(private, Pseudonymizer(KEY.encode()), Scrubber(["jdoe"])).tables
    keys = _ingest_keys(public)
    assert {"summary", "mode", "system:stop_hook_summary", "event_msg.token_count(repeat)"} <= keys
    assert keys == _ingest_keys(private)  # all known kinds: none was replaced
    assert keys <= reader_ingest_keys()


def _flag_calls(path):
    """The message of every `flag(...)`, `flags.append(...)` and `reasons.append(...)` call
    of a reader: a literal, a module constant (by its value), an f-string (as a pattern), or
    None for a variable (a loop over the appended messages)."""
    tree = ast.parse(path.read_text())
    constants = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        appended = node.func.attr == "append" and getattr(owner, "id", "") in ("flags", "reasons")
        if node.func.attr != "flag" and not appended:
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant):
            yield arg.value
        elif isinstance(arg, ast.Name):
            yield constants.get(arg.id)
        elif isinstance(arg, ast.JoinedStr):
            yield re.compile(
                "".join(
                    re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in arg.values
                )
            )
        else:
            raise AssertionError(ast.dump(arg))


def test_every_flag_of_the_readers_is_a_reader_flag():
    """What `flag` is given in formats/ (the ingest accounting's `flagged_by_reason`) is
    exactly vocabulary.reader_flags, which the deny list and the leak check leave alone."""
    messages, patterns = set(), []
    for path in sorted(Path(formats.__file__).parent.glob("*.py")):
        for message in _flag_calls(path):
            if isinstance(message, re.Pattern):
                patterns.append(message)
            elif message is not None:
                messages.add(message)
    flags = reader_flags()
    assert messages <= flags
    assert all(any(p.fullmatch(f) for f in flags) for p in patterns)
    assert all(f in messages or any(p.fullmatch(f) for p in patterns) for f in flags)


@pytest.mark.parametrize("handle", ["claude", "events", "closing", "token_count"])
def test_a_handle_equal_to_a_word_of_a_flag_leaves_the_flag_as_it_is(handle):
    private = real_partition("2026-04", handle)
    flagged = private["ingest_accounting"].column("flagged_by_reason").to_pylist()
    keys = {k for row in flagged if row for k, _ in row}
    assert "events dropped at end of file (no closing token_count)" in keys
    # and a Claude flag, as a real log with a tool_use left without its result would give
    accounting = _with_key(
        private["ingest_accounting"],
        "flagged_by_reason",
        "claude: input events pending at end of file",
    )
    private["ingest_accounting"] = accounting
    public, scrubber = _anonymized(private, handle)
    published = public["ingest_accounting"].column("flagged_by_reason").to_pylist()
    assert {k for row in published if row for k, _ in row} == keys | {
        "claude: input events pending at end of file"
    }
    outcomes = blocking_checks(private, public, handle, scrubber)
    assert all(c.passed for c in outcomes), [c.name for c in outcomes if not c.passed]


@pytest.fixture(scope="module")
def key_anonymized():
    return _runs(("jdoe", *KEY_HANDLES), KEY_MONTHS)


@pytest.mark.parametrize("handle", KEY_HANDLES)
def test_a_handle_equal_to_a_record_kind_publishes_as_any_other(key_anonymized, handle):
    """Every blocking check passes, and the public names and ingest keys are those of
    contributor `jdoe` (the deny list had made the key `summary` `<PERSON>`, and for the
    handle `turn_duration` `system:turn_duration` `system:<PERSON>`, which failed
    only_listed_names)."""
    for month in KEY_MONTHS:
        private, public, scrubber = key_anonymized[handle, month]
        jdoe = key_anonymized["jdoe", month][1]
        _assert_publishes_as_jdoe(private, public, handle, scrubber, jdoe, month)
        assert _ingest_keys(public) == _ingest_keys(jdoe), month


@pytest.mark.parametrize("handle", KEY_HANDLES)
def test_a_record_kind_handle_is_no_leak_in_the_release(built, tmp_path, handle):
    data, _ = built
    outcome = no_private_values(data / "built", _private_of(handle, tmp_path))
    assert outcome.passed, outcome.metadata["leaks"]


def _with_key(table: pa.Table, column: str, key: str) -> pa.Table:
    rows = table.column(column).to_pylist()
    rows[0] = [*(rows[0] or []), (key, 1)]
    return set_column(table, column, rows)


@pytest.mark.parametrize("handle", ["summary", "mode", "message", "token_count", "turn_duration"])
def test_a_record_kind_handle_in_a_key_the_readers_do_not_write_fails(key_anonymized, handle):
    """The handle in an ingest key of another shape (as a kind of its own, glued to one of
    ours, in the `unknown:` slot the anonymizer fills with `<UNLISTED>`), a flag or rejection
    reason, or a tool name: found."""
    private, public, _ = key_anonymized[handle, "2026-04"]
    accounting = public["ingest_accounting"]
    for column, key in (
        ("ignored_by_type", f"{handle}(x)"),
        ("ignored_by_type", f"event_msg.agent_message.{handle}"),
        ("ignored_by_type", f"unknown:{handle}"),
        ("flagged_by_reason", f"no {handle} here"),
        ("rejected_by_reason", f"bad {handle}"),
    ):
        leaked = dict(public, ingest_accounting=_with_key(accounting, column, key))
        outcome = identifier_leaks(private, leaked, handle)
        assert outcome.metadata["leaks"] == {f"ingest_accounting.{column}:identifier": 1}, key
    leaked = dict(
        public, tool_calls=_set_first(public["tool_calls"], "tool_name", f"mcp__{handle}__x")
    )
    outcome = identifier_leaks(private, leaked, handle)
    assert outcome.metadata["leaks"] == {"tool_calls.tool_name:identifier": 1}
