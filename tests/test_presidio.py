"""The Presidio scrubber: offline, our recognizers, no false positives on real log vocabulary."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from anonymize_helpers import all_strings, real_partition
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelab_pipeline.anonymize.anonymize import scrubbed_columns
from tracelab_pipeline.anonymize.presidio_engine import (
    MIN_PHONE_DIGITS,
    Scrubber,
    analyzer,
    usable_deny_list,
)


@pytest.fixture(scope="module")
def scrubber():
    return Scrubber(["Maria Gonzalez", "mgonzalez", "local"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mcp__maria.g@acme-robotics.com__search", "<EMAIL>__search"),
        ("x@y.co", "<EMAIL>"),
        ("proxy/sk-ant-api03-Xq7Lr9KpT2vB8mN4cD1fG6hJ0sW3eZ5y", "proxy/<SECRET>"),
        ("sk-proj-abc123DEF456ghi789JKL012mno", "<SECRET>"),
        ("ghp_1234567890abcdefghijABCDEFGHIJ123456", "<SECRET>"),
        ("AKIAIOSFODNN7EXAMPLE", "<SECRET>"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "<SECRET>",
        ),
        ("token d41d8cd98f00b204e9800998ecf8427e1234abcd", "token <SECRET>"),
        ("api_key=abcd1234efgh", "<SECRET>"),
        ("/home/jdoe42/projects/x", "<PATH>"),
        ("/Users/alice/code", "<PATH>"),
        ("C:\\Users\\bob\\src", "<PATH>"),
        ("see /srv/data/raw", "see <PATH>"),
        ("https://internal.example.com/wiki?id=3", "<URL>"),
        ("build01.internal.corp", "<HOST>"),
        ("Marias-MacBook-Pro", "<HOST>"),
        ("10.12.0.7", "<IP>"),
        ("mcp__maria_gonzalez_crm__lookup", "mcp__<PERSON>_crm__lookup"),
        ("mcp__MariaGonzalez__x", "mcp__<PERSON>__x"),
        ("agent-mgonzalez", "agent-<PERSON>"),
        ("550e8400-e29b-41d4-a716-446655440000", "<ID>"),
    ],
)
def test_findings_become_typed_placeholders(scrubber, text, expected):
    assert scrubber.scrub(text)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "app.py",
        "README.md",
        "build.sh",
        "main.rs",
        "claude-sonnet-4-20250514",
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "openrouter/anthropic/claude-sonnet-4",
        "mcp__github__create_pull_request",
        "local_shell",
        "response_item.function_call",
        "/compact",
        "2.1.157",
        "0.120.0",
        "toolu_01ABCDEFGHIJKLMNOPQRSTUV",
        "task-runner-abcdefghijklmnopqrstu",
    ],
)
def test_code_log_vocabulary_is_not_flagged(scrubber, text):
    assert scrubber.scrub(text) == (text, ())


def test_no_false_positive_on_any_kept_string_of_the_real_fixtures(scrubber):
    kept = set()
    for month in ("2025-09", "2025-06", "2026-04"):
        private = real_partition(month)
        for name, table in private.items():
            columns = [c for c in scrubbed_columns(name) if c in table.column_names]
            kept.update(all_strings({name: table.select(columns)}))
    assert len(kept) > 40  # models, tool names, versions, stop reasons, event sources
    flagged = {s: scrubber.scrub(s)[0] for s in kept if scrubber.scrub(s)[1]}
    assert flagged == {}


def test_each_distinct_string_is_analyzed_once(scrubber):
    from tracelab_pipeline.anonymize.presidio_engine import _shared_findings

    # Analyses are shared by every Scrubber of the process; start from none.
    _shared_findings.cache_clear()
    calls = []
    engine = scrubber._engine
    real_analyze = engine.analyze

    def counting(*args, **kwargs):
        calls.append(args[0] if args else kwargs["text"])
        return real_analyze(*args, **kwargs)

    engine.analyze = counting
    try:
        fresh = Scrubber(["Maria Gonzalez"])
        for _ in range(200):
            fresh.scrub("mcp__maria_gonzalez__x")
            fresh.scrub("Bash")
    finally:
        del engine.analyze
    # (a text with "_" is analyzed once more with spaces in its place, once too)
    assert sorted(calls) == ["Bash", "mcp  maria gonzalez  x", "mcp__maria_gonzalez__x"]
    assert fresh.distinct_analyzed == 2


def test_engine_is_built_once_per_process():
    assert analyzer() is analyzer()
    assert Scrubber([])._engine is Scrubber(["x y z"])._engine


def test_deny_list_skips_generic_and_tiny_handles():
    assert usable_deny_list(["local", "al", "Maria Gonzalez", "  jdoe ", "maria gonzalez"]) == (
        "jdoe",
        "Maria Gonzalez",
    )
    assert Scrubber(["local"]).scrub("local_shell") == ("local_shell", ())


def test_overlapping_findings_get_one_placeholder_typed_by_the_widest():
    s = Scrubber(["jdoe42"])
    assert s.scrub("/home/jdoe42/x") == ("<PATH>", ("PATH",))
    assert s.scrub("jdoe42") == ("<PERSON>", ("PERSON",))


def test_analyzer_works_with_the_network_blocked():
    """Build the engine in a fresh process where any socket use raises."""
    script = textwrap.dedent(
        """
        import socket
        def refuse(*a, **k):
            raise OSError("network disabled by test")
        socket.getaddrinfo = refuse
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from tracelab_pipeline.anonymize.presidio_engine import Scrubber
        out = Scrubber(["Maria Gonzalez"]).scrub("mail jane.doe@example.org as Maria Gonzalez")
        print(out[0])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "mail <EMAIL> as <PERSON>"
    assert "Traceback" not in done.stderr


def test_no_region_has_a_valid_phone_number_shorter_than_the_digit_gate():
    from phonenumbers import PhoneMetadata
    from phonenumbers.phonenumberutil import COUNTRY_CODES_FOR_NON_GEO_REGIONS, SUPPORTED_REGIONS

    metadata = [PhoneMetadata.metadata_for_region(r) for r in SUPPORTED_REGIONS] + [
        PhoneMetadata.metadata_for_nongeo_region(c) for c in COUNTRY_CODES_FOR_NON_GEO_REGIONS
    ]
    shortest = min(n for m in metadata for n in m.general_desc.possible_length if n > 0)
    assert shortest >= MIN_PHONE_DIGITS


@given(
    st.lists(
        st.one_of(
            st.sampled_from("+-() ./x_#*ext"),
            st.characters(categories=["Lu", "Ll"]),
            st.characters(categories=["Nd"]),
        ),
        max_size=40,
    )
)
@settings(max_examples=300, deadline=None)
def test_presidio_finds_no_phone_number_in_a_text_below_the_digit_gate(chars):
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    digits = 0
    kept = []
    for c in chars:
        if c.isdecimal():
            if digits == MIN_PHONE_DIGITS - 1:
                continue
            digits += 1
        kept.append(c)
    assert PhoneRecognizer().analyze("".join(kept), ["PHONE_NUMBER"]) == []


def test_phone_numbers_are_still_found():
    assert (
        Scrubber([]).scrub("call +49 30 1234567 or (415) 555-0134")[0] == "call <PHONE> or <PHONE>"
    )


def test_a_pseudonymized_name_presidio_would_misread_is_published_and_passes_the_checks():
    """A keyed pseudonym's hex digest can match Presidio's MEDICAL_LICENSE (two letters and
    seven digits, ~0.7 % of digests): such a tool name was published as
    `tol_<MEDICAL_LICENSE>...`, failing only_listed_names and the re-scan, which blocked the
    partition for good under that key. The digest is ours and is not scanned."""
    import pyarrow as pa

    from tracelab_pipeline.anonymize.anonymize import _scrub
    from tracelab_pipeline.anonymize.presidio_engine import scrubber_for
    from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
    from tracelab_pipeline.anonymize.public_checks import presidio_rescan, unlisted_names
    from tracelab_pipeline.anonymize.vocabulary import public_tool_name

    p = Pseudonymizer(b"k" * 32)
    scrubber = scrubber_for(["jdoe"])
    raw = next(
        name
        for name in (f"internal_tool_{i}" for i in range(5000))
        if scrubber_for(()).scrub(public_tool_name(name, lambda r: p.pseudonym("tool", r)))[1]
    )
    published, _ = _scrub(scrubber, raw, "tool_calls.tool_name", p)
    assert published == p.pseudonym("tool", raw)
    public = {"tool_calls": pa.table({"tool_name": [published]})}
    content = [("tool_calls", "tool_name", [published])]
    assert unlisted_names(content).passed
    assert presidio_rescan(public, scrubber, ids=[], content=content).passed
