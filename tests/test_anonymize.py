"""Private -> public on real data with planted PII; the four blocking checks fail on real leaks."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from anonymize_helpers import (
    CONTRIBUTOR,
    CONTRIBUTOR_NAME,
    PLANTED_EMAIL,
    PLANTED_KEY,
    PLANTED_PROJECT,
    PLANTED_USER,
    all_strings,
    distinct,
    plant_pii,
    real_partition,
    replace_first,
    set_column,
)

from tracelab_pipeline import schema
from tracelab_pipeline.anonymize import Pseudonymizer, Scrubber, anonymize_partition
from tracelab_pipeline.anonymize.command_signature import command_signature, signature_of_command
from tracelab_pipeline.anonymize.public_checks import (
    blocking_checks,
    column_allowlist,
    deny_names,
    identifier_leaks,
    presidio_rescan,
    row_counts,
)

KEY = b"anonymize-test-key-0123456789"


def _run(private, configured=(CONTRIBUTOR_NAME,)):
    scrubber = Scrubber(deny_names(private, CONTRIBUTOR, configured))
    return anonymize_partition(private, Pseudonymizer(KEY), scrubber), scrubber


@pytest.fixture(scope="module")
def planted():
    private = plant_pii(real_partition("2025-09"))
    result, scrubber = _run(private)
    return private, result, scrubber


def test_planted_pii_is_gone_from_the_public_layer(planted):
    private, result, _ = planted
    # The plants really are in the private data...
    private_text = "\n".join(all_strings(private))
    for secret in (PLANTED_EMAIL, PLANTED_KEY, PLANTED_USER, "maria_gonzalez"):
        assert secret in private_text
    # ...and nowhere in the public data, not even in part.
    public_text = "\n".join(all_strings(result.tables)).lower()
    for secret in (
        PLANTED_EMAIL,
        "acme-robotics",
        PLANTED_KEY,
        "xq7lr9kp",
        PLANTED_USER,
        "maria",
        "gonzalez",
    ):
        assert secret.lower() not in public_text, secret
    # Names outside the known vocabulary are published as keyed pseudonyms (MCP tools keep
    # their prefix; a model keeps the price family it matched) or as <UNLISTED>.
    p = Pseudonymizer(KEY)
    tools = set(result.tables["tool_calls"].column("tool_name").to_pylist())
    planted_tools = (f"mcp__{PLANTED_EMAIL}__search_tickets", "mcp__maria_gonzalez_crm__lookup")
    assert {f"mcp__{p.pseudonym('tool', t)}" for t in planted_tools} <= tools
    model = f"claude-proxy/{PLANTED_KEY}/sonnet"
    assert (
        f"sonnet-{p.pseudonym('model', model)}"
        in result.tables["steps"].column("model").to_pylist()
    )
    assert "<UNLISTED>" in result.tables["steps"].column("stop_reason").to_pylist()


def test_replacements_are_counted_per_row_by_entity(planted):
    private, result, _ = planted
    events = private["timing_events"]
    planted_events = pc.sum(pc.match_substring(events.column("tool_name"), "mcp__")).as_py()
    assert result.scrubbed_values == {
        "tool_calls.tool_name": 2,
        "timing_events.tool_name": planted_events,
        "steps.model": 1,
        "steps.stop_reason": 1,
    }
    # names replaced whole: Presidio finds nothing left in them
    assert result.replacements == {"UNLISTED_NAME": sum(result.scrubbed_values.values())}
    assert result.distinct_strings_analyzed < 60  # distinct strings, not rows


def test_project_is_published_only_as_a_keyed_pseudonym(planted):
    private, result, _ = planted
    raw = private["steps"].column("project").to_pylist()
    public = result.tables["steps"].column("project").to_pylist()
    assert {PLANTED_PROJECT, "claude"} <= set(raw)
    p = Pseudonymizer(KEY)
    assert public == [p.pseudonym("project", v) for v in raw]
    assert len(distinct(result.tables["steps"], "project")) == 2
    assert all(v.startswith("prj_") for v in public)
    public_text = "\n".join(all_strings(result.tables))
    assert PLANTED_PROJECT not in public_text
    assert schema.public_schema("steps").field("project").nullable


def test_public_tables_follow_the_public_schema_and_keep_sizes(planted):
    private, result, _ = planted
    for name, table in result.tables.items():
        assert table.schema.names == schema.public_schema(name).names
        assert not set(schema.PRIVATE_FIELDS[name]) & set(table.column_names)
        assert table.schema.metadata[b"layer"] == b"public"
        assert table.num_rows == private[name].num_rows
    for name, columns in {
        "steps": ("input_tokens_total", "prefix_tokens", "output_tokens", "current_input_chars"),
        "tool_calls": ("input_chars", "result_chars", "wall_latency_ms"),
        "timing_events": ("content_chars", "result_chars", "timestamp"),
    }.items():
        for column in columns:
            assert result.tables[name].column(column).equals(private[name].column(column)), column


def test_command_signatures_from_real_shell_calls():
    private = real_partition("2025-06")
    result, _ = _run(private)
    calls = result.tables["tool_calls"]
    by_tool = {}
    for tool, sig in zip(
        calls.column("tool_name").to_pylist(),
        calls.column("command_signature").to_pylist(),
        strict=True,
    ):
        by_tool.setdefault(tool, set()).add(sig)
    assert by_tool["Bash"] >= {"git status", "git commit", "git push", "conda create", "python"}
    assert all(sig is None for tool, sigs in by_tool.items() if tool != "Bash" for sig in sigs)
    # A signature never carries an argument: every value is from the allow-list vocabulary.
    assert all(len(s.split()) <= 3 for s in by_tool["Bash"])


@pytest.mark.parametrize(
    ("tool", "payload", "expected"),
    [
        ("Bash", {"command": "cd /home/alice/app && FOO=1 pytest -x tests/"}, "pytest"),
        ("Bash", {"command": "git -C /repo status"}, "git"),
        ("Bash", {"command": "timeout 60 npm test -- --watch=false"}, "npm test"),
        ("Bash", {"command": "python3 -m pytest -q"}, "python -m pytest"),
        ("Bash", {"command": "python scripts/leak_alice.py"}, "python"),
        ("Bash", {"command": "./deploy_to_acme.sh --token sk-abc"}, "other"),
        ("Bash", {"command": "echo 'unterminated"}, "echo"),
        ("Bash", {"command": "cd 'unterminated"}, "other"),
        ("Bash", {"command": "cd repo\nuv run pytest -q"}, "uv run"),
        ("Bash", {"command": "(cd web && npm run build) > log.txt"}, "npm run"),
        (
            "Bash",
            {"command": "cat > notes.py <<'EOF'\n" + "x = 'unbalanced\n" * 500 + "EOF"},
            "cat",
        ),
        ("exec_command", {"cmd": "cargo build --release", "workdir": "/w"}, "cargo build"),
        ("shell", {"command": ["bash", "-lc", "git diff --stat"]}, "git diff"),
        ("shell", {"command": ["ls", "-la"]}, "ls"),
        ("local_shell", {"action": {"command": ["go", "test", "./..."]}}, "go test"),
        ("Read", {"file_path": "/home/alice/x"}, None),
    ],
)
def test_command_signature(tool, payload, expected):
    assert command_signature(tool, json.dumps(payload)) == expected


def test_command_signature_of_unparsable_input_is_other():
    assert command_signature("Bash", "{not json") == "other"
    assert command_signature("Bash", None) == "other"
    assert signature_of_command(["bash", "-c", "sudo make install"]) == "make"


def test_quoted_lines_decided_before_the_quote_agree_with_the_lexer():
    """The shortcut for lines with quotes (the words before the first quote decide) gives
    shlex's answer or none: checked on random lines built from shell-ish words."""
    import importlib
    import random

    # (the package exports the function under the module's name)
    cs = importlib.import_module("tracelab_pipeline.anonymize.command_signature")

    words = [
        "git", "status", "commit", "-m", "cd", "/tmp", "&&", "||", ";", "|", "&", "\n", "(", ")",
        ">", "2>&1", ">&", "<", "#", "x#y", "sudo", "timeout", "60", "env", "A=1", "python",
        "python3", "pytest", "bash", "-c", "-lc", "sh", "npm", "test", "run", "'", '"', "\\",
        "export", "ls", "-x", "--y", "make", "uv", "\t", "\r", "echo", "cargo", "build", ":",
        "true", "nice", "time", "go", "'git status'", '"npm test"', "B='x y'", 'a"b"c', "\\ ",
    ]  # fmt: skip
    rng = random.Random(0)
    decided = 0
    for _ in range(4000):
        line = "".join(
            rng.choice(words) + rng.choice(" \t") * rng.randint(0, 1)
            for _ in range(rng.randint(1, 14))
        )
        if not cs._QUOTING.search(line):
            continue
        fast = cs._decided_before_quoting(line, 0)
        if fast is not None:
            decided += 1
            assert fast == cs._lexed_signature(line, 0), line
    assert decided > 500  # the shortcut is taken, and checked, on many lines


def test_all_blocking_checks_pass_on_clean_anonymization(planted):
    private, result, scrubber = planted
    outcomes = blocking_checks(private, result.tables, CONTRIBUTOR, scrubber)
    assert [(o.name, o.passed) for o in outcomes] == [
        ("presidio_rescan_clean", True),
        ("no_private_identifiers", True),
        ("only_allowlisted_columns", True),
        ("row_counts_match", True),
        ("only_listed_names", True),
    ]


def test_presidio_rescan_fails_on_a_leaked_email_and_on_a_raw_id(planted):
    private, result, scrubber = planted
    public = dict(result.tables)
    public["steps"] = replace_first(public["steps"], "model", f"model-for-{PLANTED_EMAIL}")
    outcome = presidio_rescan(public, scrubber)
    assert not outcome.passed
    assert outcome.metadata["findings"] == {"steps.model:EMAIL_ADDRESS": 1}
    assert PLANTED_EMAIL not in json.dumps(outcome.metadata)

    public = dict(result.tables)
    raw_session = private["steps"].column("session_id")[0].as_py()
    public["steps"] = replace_first(public["steps"], "session_id", raw_session)
    outcome = presidio_rescan(public, scrubber)
    assert outcome.metadata["findings"] == {"steps.session_id:NOT_A_PSEUDONYM": 1}


def test_identifier_leak_check_finds_raw_ids_user_names_and_paths(planted):
    private, result, _ = planted
    # a branch named after private work (the fixtures' branches are all generic: "main")
    private = {**private, "steps": replace_first(private["steps"], "git_branch", "acme-merger-q3")}
    steps = private["steps"]
    raw_call = private["tool_calls"].column("call_id")[3].as_py()
    leaks = [
        ("steps", "request_id", steps.column("session_id")[0].as_py(), "identifier"),
        ("tool_calls", "tool_name", f"mcp__{raw_call}__x", "identifier"),
        ("steps", "stop_reason", f"Timeout_{PLANTED_USER.upper()}", "user_name"),
        ("timing_events", "source", f"read {steps.column('source_file')[0].as_py()}", "path"),
        ("steps", "stop_reason", "end_turn_acme-merger-q3", "branch"),
        # a raw project in its own column, a path-shaped one anywhere
        ("steps", "project", "claude", "project"),
        ("steps", "project", PLANTED_PROJECT, "path"),
        ("tool_calls", "tool_name", f"mcp__{PLANTED_PROJECT}", "path"),
    ]
    for table, column, value, kind in leaks:
        public = dict(result.tables)
        public[table] = replace_first(public[table], column, value)
        outcome = identifier_leaks(private, public, CONTRIBUTOR)
        assert not outcome.passed, (table, column)
        assert outcome.metadata["leaks"] == {f"{table}.{column}:{kind}": 1}
        assert value not in json.dumps(outcome.metadata)


def test_identifier_leak_check_ignores_generic_words():
    private = real_partition("2025-09", contributor="local")
    result, _ = _run(private, configured=())
    public = dict(result.tables)
    public["tool_calls"] = replace_first(public["tool_calls"], "tool_name", "local_shell")
    assert identifier_leaks(private, public, "local").passed


def test_column_allowlist_fails_on_an_extra_or_missing_column(planted):
    _, result, _ = planted
    public = dict(result.tables)
    public["steps"] = public["steps"].append_column(
        "cwd", pa.array(["x"] * public["steps"].num_rows)
    )
    outcome = column_allowlist(public)
    assert not outcome.passed
    assert outcome.metadata["problems"] == {
        "steps": {"unexpected": ["cwd"], "missing": [], "wrong_type": []}
    }
    public = dict(result.tables)
    public["tool_calls"] = public["tool_calls"].drop_columns(["command_signature"])
    assert column_allowlist(public).metadata["problems"] == {
        "tool_calls": {"unexpected": [], "missing": ["command_signature"], "wrong_type": []}
    }
    public = dict(result.tables)
    steps = public["steps"]
    i = steps.schema.get_field_index("output_tokens")
    public["steps"] = steps.set_column(i, "output_tokens", steps.column(i).cast(pa.float64()))
    assert column_allowlist(public).metadata["problems"] == {
        "steps": {"unexpected": [], "missing": [], "wrong_type": ["output_tokens"]}
    }


def test_row_count_check_fails_when_a_row_is_lost(planted):
    private, result, _ = planted
    public = dict(result.tables)
    public["timing_events"] = public["timing_events"].slice(1)
    outcome = row_counts(private, public)
    assert not outcome.passed and outcome.metadata["mismatched"] == ["timing_events"]
    assert (
        outcome.metadata["counts"]["timing_events"]["public"]
        == private["timing_events"].num_rows - 1
    )


def test_map_keys_are_scrubbed():
    private = real_partition("2026-04")
    acc = private["ingest_accounting"]
    rows = acc.column("ignored_by_type").to_pylist()
    rows[0] = [*(rows[0] or []), ("debug-from-/Users/mgonzalez/x", 2), ("file-history-snapshot", 1)]
    private["ingest_accounting"] = set_column(acc, "ignored_by_type", rows)
    result, scrubber = _run(private)
    keys = {k for k, _ in result.tables["ingest_accounting"].column("ignored_by_type")[0].as_py()}
    assert "debug-from-<PATH>" in keys and "file-history-snapshot" in keys
    assert result.replacements["PATH"] == 1
    assert presidio_rescan(result.tables, scrubber).passed


def test_publish_refuses_to_mix_pseudonym_keys(tmp_path):
    from tracelab_pipeline.anonymize.partition import prepare_partition, publish_partition
    from tracelab_pipeline.anonymize.public_store import KeyMismatchError

    private = real_partition("2025-06")
    first = prepare_partition(private, CONTRIBUTOR, "2025-06", Pseudonymizer(KEY))
    assert first.passed
    assert [c.name for c in first.checks][0] == "gx_private_suite"
    publish_partition(first, tmp_path / "public")
    files = sorted((tmp_path / "public").rglob("*.parquet"))
    assert len(files) == 5 and not any(CONTRIBUTOR in str(f.relative_to(tmp_path)) for f in files)
    assert [f.name for f in (tmp_path / "public").rglob("*") if f.is_file()].count(
        "part.parquet"
    ) == 5  # no temporary file left behind

    rotated = Pseudonymizer(b"a-rotated-key-0123456789")
    second = prepare_partition(private, CONTRIBUTOR, "2025-06", rotated)
    with pytest.raises(KeyMismatchError, match="delete .* and re-materialize every partition"):
        publish_partition(second, tmp_path / "public")
    assert sorted((tmp_path / "public").rglob("*.parquet")) == files


def test_publish_refuses_a_partition_that_failed(tmp_path):
    from tracelab_pipeline.anonymize.partition import (
        gx_layer_outcomes,
        prepare_partition,
        publish_partition,
    )

    private = real_partition("2025-06")
    prepared = prepare_partition(private, CONTRIBUTOR, "2025-06", Pseudonymizer(KEY))
    prepared.anonymized.tables["steps"] = replace_first(
        prepared.anonymized.tables["steps"], "output_tokens", -1
    )
    public = {"2025-06": (prepared.anonymized.tables, "2025-06")}
    prepared.checks.append(gx_layer_outcomes({"public": public})["public"]["2025-06"])
    assert not prepared.passed
    with pytest.raises(ValueError, match="failed its checks"):
        publish_partition(prepared, tmp_path / "public")
    assert not (tmp_path / "public").exists() or not any((tmp_path / "public").rglob("*.parquet"))
