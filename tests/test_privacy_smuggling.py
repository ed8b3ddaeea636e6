"""Adversarial review of the public layer: private strings smuggled through the fields that
survive anonymization, each seen to be removed (or the blocking checks to fail)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from anonymize_helpers import all_strings

from tracelab_pipeline.anonymize.partition import prepare_partition
from tracelab_pipeline.anonymize.presidio_engine import Scrubber
from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
from tracelab_pipeline.anonymize.public_checks import user_names_in_paths
from tracelab_pipeline.normalize import normalize_files

CONTRIBUTOR = "jdoe"


@pytest.fixture(scope="module")
def scrubber():
    return Scrubber([CONTRIBUTOR, "bsmith", "mary-jane", "mary"])


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        # Paths glued to a word by "_" (MCP server/tool names are snake_case).
        ("mcp__fs_/Users/carol/secret__read", "carol"),
        ("mcp__fs_/srv/clients/acmecorp/data__read", "acmecorp"),
        ("error_/home/carol/.config/x", "carol"),
        ("system:hook_/Users/carol/x", "carol"),
        ("mcp__C:\\Users\\carol\\x__read", "carol"),
        # Windows home paths as Python's repr writes them (rejection reasons use repr).
        ("user record with message role 'C:\\\\Users\\\\carol'", "carol"),
        ("role 'c:\\\\users\\\\carol\\\\src'", "carol"),
        # Built-in recognizers need a word boundary, which "_" is not.
        ("mcp__redis_10.0.0.5__get", "10.0.0.5"),
        ("mcp__redis_fe80::1ff:fe23:4567:890a__get", "fe80::1ff:fe23:4567:890a"),
        # Keys glued to letters, and well-known formats the patterns missed.
        ("mcp__awsAKIAIOSFODNN7EXAMPLE__s3", "AKIAIOSFODNN7EXAMPLE"),
        ("mcp__stripe_sk_live_4eC39HqLyjWDarjtT1zdp7dc__charge", "4eC39HqLyjWDarjtT1zdp7dc"),
        # E-mail addresses cut short by a reader's truncation (no complete TLD left).
        ("unknown:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxmaria.gonzalez@acme-ro", "maria.gonzalez"),
        ("unparseable timestamp 'xxxxxxxxxxxxxxx maria.gonzalez@acme'", "maria.gonzalez"),
        ("unknown:response_item.Quarterly plan of maria.gonzalez@", "maria.gonzalez"),
        # The contributor handle hidden by invisible or lookalike characters.
        ("mcp__j\u200bdoe_tools__x", "doe"),
        ("mcp__jd\u00adoe_tools__x", "doe"),
        ("mcp__\uff4a\uff44\uff4f\uff45_tools__x", "\uff44\uff4f\uff45"),
        ("mcp__jd\u043e\u0435_tools__x", "jd\u043e"),
        ("mcp__J\u2060DOE__x", "DOE"),
        ("mcp__jdo\u0308e__x", "jdo"),
        # Generated host names.
        ("mcp__ssh__DESKTOP-4F2K9QH", "4F2K9QH"),
        ("LAPTOP-8H3JK2L", "8H3JK2L"),
        ("ssh ip-172-31-5-9 failed", "172-31"),
        # An id of no RFC 4122 version (Presidio's UuidRecognizer wants one).
        ("agent-1234abcd-1234-1234-1234-1234567890ab", "1234567890ab"),
        # A longer deny-listed name that starts with a shorter one is replaced whole.
        ("mcp__mary-jane__x", "jane"),
    ],
)
def test_smuggled_private_value_is_replaced(scrubber, text, leaked):
    out, entities = scrubber.scrub(text)
    assert leaked not in out, out
    assert entities
    # what anonymization keeps is clean for the re-scan of the blocking checks
    assert scrubber.scrub(out)[1] == ()


@pytest.mark.parametrize(
    "text",
    [
        "claude-3-5-sonnet-v2@20241022",
        # dated model ids: the phone recognizer took `4-5-20250929` for a number
        "claude-sonnet-4-5-20250929",
        "claude-opus-4-1-20250805",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "gpt-4.1-2025-04-14",
        "mcp__node_repl__run",
        "mcp__claude_ai_Google_Drive__search",
        "unknown:response_item.ghost_snapshot",
        "2025/09/07",
        "Café",
    ],
)
def test_review_fixes_leave_log_vocabulary_alone(scrubber, text):
    assert scrubber.scrub(text) == (text, ())


def test_user_names_are_found_in_lowercase_windows_home_paths():
    assert user_names_in_paths(["c:\\users\\bsmith\\proj"]) == {"bsmith"}
    assert user_names_in_paths(["/mnt/c/Users/carol/x", "/HOME/dave"]) == {"carol", "dave"}


# -- end to end: crafted raw logs -> normalize -> anonymize + blocking checks ------------------


def _claude(tool: str, *, cwd: str, extra: tuple = ()) -> list[str]:
    base = {"isSidechain": False, "userType": "external", "cwd": cwd, "version": "2.0.1"}
    base |= {"sessionId": "11111111-2222-3333-4444-555555555555", "gitBranch": "main"}
    usage = {"input_tokens": 4, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 0}
    records = [
        base
        | {"type": "user", "uuid": "u1", "parentUuid": None}
        | {"timestamp": "2025-09-07T09:52:03.071Z", "message": {"role": "user", "content": "hi"}},
        base
        | {"type": "assistant", "uuid": "a1", "parentUuid": "u1", "requestId": "req_01"}
        | {"timestamp": "2025-09-07T09:52:05.071Z"}
        | {
            "message": {
                "id": "msg_1",
                "role": "assistant",
                "model": "claude-sonnet-4-20250514",
                "stop_reason": "tool_use",
                "usage": usage | {"output_tokens": 5},
                "content": [{"type": "tool_use", "id": "toolu_1", "name": tool, "input": {}}],
            }
        },
        *extra,
    ]
    return [json.dumps(r) for r in records]


def _codex(extra: list[dict]) -> list[str]:
    t = "2026-04-20T10:18:52.164Z"
    meta = {"id": "019daa66-5b7b-7b01-b9ce-b527014cc09f", "timestamp": t, "cwd": "/Users/jdoe"}
    records = [
        {"timestamp": t, "type": "session_meta", "payload": meta | {"cli_version": "0.120.0"}},
        {"timestamp": t, "type": "turn_context", "payload": {"turn_id": "t1", "model": "gpt-5"}},
        *({"timestamp": t} | r for r in extra),
    ]
    return [json.dumps(r) for r in records]


def _public(tmp_path, files: dict[str, list[str]], month: str, more: list = ()):
    paths = list(more)
    for name, lines in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    private = normalize_files(paths, CONTRIBUTOR).tables()
    key = Pseudonymizer(b"privacy-review-key-0123456789")
    prepared = prepare_partition(private, CONTRIBUTOR, month, key, gx=False)
    failed = [c.name for c in prepared.checks if not c.passed]
    return " ".join(all_strings(prepared.anonymized.tables)), failed


def test_crafted_claude_log_leaks_nothing(tmp_path):
    """Glued paths, an IP, a hidden handle, a repr'd Windows home path and a long system
    subtype in a Claude log."""
    bad_role = {"type": "user", "timestamp": "2025-09-07T09:52:06.071Z"}
    bad_role |= {"message": {"role": "C:\\Users\\carol", "content": "x"}}
    # a system record's subtype becomes an ignored-count key: cut like unknown record types
    system = {"type": "system", "subtype": "x" * 60 + " layoffs plan"}
    system |= {"timestamp": "2025-09-07T09:52:06.071Z"}
    files = {
        "a.jsonl": _claude("mcp__fs_/Users/carol/notes__read", cwd="/home/jdoe/p"),
        "b.jsonl": _claude(
            "mcp__redis_10.0.0.5__get", cwd="/home/jdoe/p", extra=(bad_role, system)
        ),
        "c.jsonl": _claude("mcp__j\u200bdoe_crm__x", cwd="c:\\users\\mary-jane\\p"),
        "d.jsonl": _claude("mcp__mary-jane_crm__x", cwd="c:\\users\\mary-jane\\p"),
    }
    for i, name in enumerate(files):
        sid = f"11111111-2222-3333-4444-55555555555{i}"
        files[name] = [
            line.replace("11111111-2222-3333-4444-555555555555", sid) for line in files[name]
        ]
    public, failed = _public(tmp_path, files, "2025-09")
    assert failed == []
    for leaked in ("carol", "10.0.0.5", "doe_crm", "mary", "jane", "layoffs"):
        assert leaked not in public.lower(), leaked


def test_crafted_codex_record_content_does_not_reach_the_ignored_counts(tmp_path):
    """A non-string message role (an object holding text) and a long unknown record type."""
    text = "Quarterly layoffs plan for the Berlin office"
    extra = [
        {"type": "response_item", "payload": {"type": "message", "role": {"text": text}}},
        {"type": "response_item", "payload": {"type": "message", "role": "x" * 60 + text}},
        {"type": "event_msg", "payload": {"type": "y" * 60 + text}},
        {"type": "z" * 60 + text, "payload": {}},
    ]
    name = "rollout-2026-04-20T10-18-48-019daa66-5b7b-7b01-b9ce-b527014cc09f.jsonl"
    public, failed = _public(tmp_path, {name: _codex(extra)}, "2026-04")
    assert failed == []
    for word in ("Quarterly", "layoffs", "Berlin"):
        assert word not in public
    assert "response_item.message(role=dict)" in public


def test_all_strings_helper_sees_map_keys():
    # (the end-to-end tests above rely on it for ignored_by_type keys)
    table = pa.table({"m": pa.array([[("k", 1)]], type=pa.map_(pa.string(), pa.int64()))})
    assert all_strings({"t": table}) == ["k"]


def test_values_quoted_in_rejection_reasons_and_errors_are_not_published(tmp_path):
    """Readers quote the offending value (40 characters of whatever the field held); the public
    reason keeps the category only."""
    bad_ts = {"type": "user", "timestamp": "lunch w/ Anna Berg, Berlin"}
    bad_ts |= {"message": {"role": "user", "content": "x"}}
    files = {"a.jsonl": _claude("Bash", cwd="/home/jdoe/p", extra=(bad_ts,))}
    (tmp_path / "gone.jsonl").symlink_to(tmp_path / "nowhere" / "x.jsonl")
    paths = [tmp_path / "gone.jsonl"]
    public, failed = _public(tmp_path, files, "2025-09", more=paths)
    assert failed == []
    assert "unparseable timestamp <VALUE>" in public
    assert "No such file or directory: <VALUE>" in public
    for leaked in ("Berg", "Berlin", "nowhere"):
        assert leaked not in public


def test_long_strings_are_published_as_long_text_without_analysis(scrubber):
    # (a-a-a-... took 84 s in the machine-name pattern at 40k characters)
    assert scrubber.scrub("a-" * 20_000) == ("<LONG_TEXT>", ("LONG_TEXT",))
    assert scrubber.scrub("x" * 990 + " jdoe") == ("x" * 990 + " <PERSON>", ("PERSON",))
    assert scrubber.scrub("a-" * 499)[1] == ()


def test_text_in_a_name_column_is_published_as_text_placeholder(tmp_path):
    """Tool names, models, versions and stop reasons are names; a sentence there is text no
    recognizer can vouch for (no name model offline)."""
    files = {"a.jsonl": _claude("call Maria Lopez about the merger", cwd="/home/jdoe/p")}
    files["a.jsonl"] = [
        line.replace("claude-sonnet-4-20250514", "Lopez\\tdraft") for line in files["a.jsonl"]
    ]
    public, failed = _public(tmp_path, files, "2025-09")
    assert failed == []
    assert "<TEXT>" in public
    for leaked in ("Maria", "Lopez", "merger", "draft"):
        assert leaked not in public
    # a name with no whitespace is no text: an MCP tool's is published as its pseudonym
    # (claude.ai names custom connectors too: `claude_ai_<name the user gave>`)
    files = {"b.jsonl": _claude("mcp__claude_ai_Google_Drive__search", cwd="/home/jdoe/p")}
    public, failed = _public(tmp_path, files, "2025-09")
    assert "mcp__tol_" in public and "Google" not in public and "<TEXT>" not in public


def test_paths_in_record_kinds_do_not_reach_the_ignored_counts(tmp_path):
    """A record's kind becomes an ignored-count key after a '.' or ':' (`legacy.event_msg.`,
    `unknown:event_msg.`, `unknown:`, `system:`), where the path recognizers do not look: a
    path written there was published whole."""
    extra = [
        {"record_type": "event", "msg": {"type": "/srv/acmecorp/plan-q3.txt"}},
        {"type": "event_msg", "payload": {"type": "/srv/acmecorp/plan-q4.txt"}},
    ]
    odd_kind = {"type": "/opt/acmecorp/notes", "timestamp": "2025-09-07T09:52:06.071Z"}
    odd_system = {"type": "system", "subtype": "D:\\acmecorp\\hooks"}
    name = "rollout-2026-04-20T10-18-48-019daa66-5b7b-7b01-b9ce-b527014cc09f.jsonl"
    public, failed = _public(tmp_path, {name: _codex(extra)}, "2026-04")
    assert failed == []
    assert "acmecorp" not in public, public
    files = {"a.jsonl": _claude("Bash", cwd="/home/jdoe/p", extra=(odd_kind, odd_system))}
    public, failed = _public(tmp_path / "claude", files, "2025-09")
    assert failed == []
    assert "acmecorp" not in public, public
