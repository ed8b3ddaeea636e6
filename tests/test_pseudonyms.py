"""Keyed pseudonyms: stable across runs and partitions, rotated with the key, links preserved."""

from __future__ import annotations

import os
import stat

import pytest
from anonymize_helpers import CONTRIBUTOR, distinct, real_partition
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelab_pipeline.anonymize import Pseudonymizer, PseudonymKeyError, Scrubber, resolve_key
from tracelab_pipeline.anonymize.anonymize import anonymize_partition
from tracelab_pipeline.anonymize.pseudonyms import (
    ID_COLUMNS,
    KEY_ENV,
    KINDS,
    PSEUDONYM_RE,
    all_pseudonyms,
)

KEY_A = b"test-key-A-0123456789abcdef"
KEY_B = b"test-key-B-0123456789abcdef"


def _public(month: str, key: bytes):
    return anonymize_partition(real_partition(month), Pseudonymizer(key), Scrubber([])).tables


def test_same_key_same_pseudonyms_across_runs():
    # Two independent Pseudonymizers stand for two runs (separate processes share nothing).
    first, second = _public("2025-09", KEY_A), _public("2025-09", KEY_A)
    for name, columns in ID_COLUMNS.items():
        for column in columns:
            assert first[name].column(column).equals(second[name].column(column)), (name, column)


def test_contributor_pseudonym_is_the_same_in_every_partition():
    a, b = _public("2025-09", KEY_A), _public("2025-06", KEY_A)
    assert distinct(a["steps"], "contributor") == distinct(b["steps"], "contributor")
    assert distinct(a["steps"], "contributor") == {Pseudonymizer(KEY_A).contributor(CONTRIBUTOR)}
    # ...while the partitions' own ids stay apart.
    assert not distinct(a["steps"], "step_id") & distinct(b["steps"], "step_id")


def test_key_rotation_changes_every_pseudonym():
    a, b = _public("2026-04", KEY_A), _public("2026-04", KEY_B)
    compared = 0
    for name, columns in ID_COLUMNS.items():
        for column in columns:
            for x, y in zip(
                a[name].column(column).to_pylist(), b[name].column(column).to_pylist(), strict=True
            ):
                assert (x is None) == (y is None)
                if x is not None:
                    assert x != y, (name, column)
                    compared += 1
    assert compared > 500


def test_links_survive_sub_agents_tool_calls_and_events():
    private = real_partition("2025-09")
    public = anonymize_partition(private, Pseudonymizer(KEY_A), Scrubber([])).tables
    p_steps, steps = private["steps"], public["steps"]
    # The real fixture has sidechain threads linked to their parent session.
    private_parents = distinct(p_steps, "parent_session_id")
    assert private_parents and private_parents <= distinct(p_steps, "session_id")
    parents = distinct(steps, "parent_session_id")
    assert len(parents) == len(private_parents)
    assert parents <= distinct(steps, "session_id")
    assert distinct(steps, "root_session_id") <= distinct(steps, "session_id")
    # Tool calls and timing events still point at their steps and calls.
    assert distinct(public["tool_calls"], "step_id") <= distinct(steps, "step_id")
    assert distinct(public["timing_events"], "step_id") <= distinct(steps, "step_id")
    event_calls = distinct(public["timing_events"], "tool_call_id")
    assert event_calls and event_calls <= distinct(public["tool_calls"], "call_id")
    # Row-for-row: the sidechain rows still have a parent, the main chain rows still have none.
    for p_row, row in zip(p_steps.to_pylist(), steps.to_pylist(), strict=True):
        assert (p_row["parent_session_id"] is None) == (row["parent_session_id"] is None)
        assert p_row["is_sidechain"] == row["is_sidechain"]


def test_every_identifier_is_a_pseudonym_and_kinds_do_not_collide():
    p = Pseudonymizer(KEY_A)
    assert PSEUDONYM_RE.match(p.pseudonym("session", "abc"))
    assert p.pseudonym("session", "abc")[4:] != p.pseudonym("request", "abc")[4:]
    assert p.pseudonym("session", None) is None
    assert not PSEUDONYM_RE.match("ses_" + "g" * 20)
    assert not PSEUDONYM_RE.match("b3d1c0de-0000-4000-8000-000000000000")


def test_short_key_is_refused():
    with pytest.raises(PseudonymKeyError, match="at least 16"):
        Pseudonymizer(b"short")


def test_key_from_configuration_then_env(tmp_path):
    env = {KEY_ENV: "env-key-0123456789abcdef"}
    key, source = resolve_key(tmp_path, configured="configured-key-0123456789", env=env)
    assert key == b"configured-key-0123456789" and "configuration" in source
    key, source = resolve_key(tmp_path, env=env, production=True)
    assert key == b"env-key-0123456789abcdef" and KEY_ENV in source
    assert not (tmp_path / "pseudonym.key").exists()


def test_demo_creates_a_private_key_file_once(tmp_path):
    key, message = resolve_key(tmp_path / "data", env={})
    path = tmp_path / "data" / "pseudonym.key"
    assert "created a demo pseudonym key" in message and str(path) in message
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(key) >= 32
    again, message = resolve_key(tmp_path / "data", env={})
    assert again == key and "created" not in message
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.key"]  # no temp file left


def test_read_only_lookup_finds_the_same_key_and_never_creates_one(tmp_path):
    key, message = resolve_key(tmp_path, env={}, create=False)
    assert key is None and str(tmp_path / "pseudonym.key") in message
    assert not (tmp_path / "pseudonym.key").exists()
    assert resolve_key(None, env={}, create=False)[0] is None
    created, _ = resolve_key(tmp_path, env={})
    assert resolve_key(tmp_path, env={}, create=False)[0] == created
    env = {KEY_ENV: "env-key-0123456789abcdef"}
    assert resolve_key(tmp_path, env=env, create=False)[0] == b"env-key-0123456789abcdef"


def test_production_without_key_refuses_clearly(tmp_path):
    with pytest.raises(PseudonymKeyError, match=KEY_ENV) as err:
        resolve_key(tmp_path, env={}, production=True)
    assert "production" in str(err.value)
    assert not (tmp_path / "pseudonym.key").exists()


def test_pseudonym_is_the_standard_hmac_sha256_of_kind_and_id():
    import hashlib
    import hmac

    for key in (b"k" * 16, b"a-64-byte-key".ljust(64, b"!"), b"longer-than-a-block" * 5):
        p = Pseudonymizer(key)
        for kind, raw in (("step", "s-1"), ("session", "ünïcode-id"), ("call", "")):
            digest = hmac.new(key, f"{kind}\x00{raw}".encode(), hashlib.sha256).hexdigest()
            assert p.pseudonym(kind, raw) == f"{KINDS[kind]}_{digest[:20]}"


def test_pseudonym_array_is_the_standard_hmac_of_every_value():
    import hashlib
    import hmac

    import pyarrow as pa

    raws = ["s-1", "ünïcode-id", "", "x" * 300, "a\x00b", "漢字"]
    for key in (b"k" * 16, b"longer-than-a-block" * 5):
        p = Pseudonymizer(key)
        for kind in KINDS:
            expected = [
                f"{KINDS[kind]}_"
                + hmac.new(key, f"{kind}\x00{raw}".encode(), hashlib.sha256).hexdigest()[:20]
                for raw in raws
            ]
            got = p.pseudonym_array(kind, pa.array(raws))
            assert got.type == pa.string() and got.to_pylist() == expected
            # a slice (offsets not starting at 0) and nulls
            assert p.pseudonym_array(kind, pa.array(raws).slice(2)).to_pylist() == expected[2:]
            with_null = p.pseudonym_array(kind, pa.array(["s-1", None]))
            assert with_null.to_pylist() == [expected[0], None]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=30),
            # near misses: a pseudonym with one byte changed, cut or extended
            st.builds(
                lambda kind, hexes, i, c, cut: (
                    f"{kind}_{hexes}"[:i] + c + f"{kind}_{hexes}"[i + cut :]
                ),
                st.sampled_from(sorted(set(KINDS.values())) + ["abc", "USR", "ses"]),
                st.text("0123456789abcdefABCDEFg", min_size=20, max_size=20),
                st.integers(0, 24),
                st.text("_0aAfgz-\u00e9\n", max_size=2),
                st.integers(0, 2),
            ),
        ),
        max_size=8,
    ),
    st.integers(0, 3),
)
def test_all_pseudonyms_answers_as_the_regex(values, start):
    import pyarrow as pa

    p = Pseudonymizer(KEY_A)
    real = [p.pseudonym("step", f"s{i}") for i in range(3)]
    column = pa.chunked_array([pa.array(real + values).slice(start), pa.array(real)])
    expected = all(
        v is None or PSEUDONYM_RE.fullmatch(v) is not None
        for v in [*(real + values)[start:], *real]
    )
    assert all_pseudonyms(column) == expected


def test_all_pseudonyms_rejects_every_byte_outside_the_format():
    import pyarrow as pa

    from tracelab_pipeline.anonymize import pseudonyms

    good = Pseudonymizer(KEY_A).pseudonym("call", "c-1")
    assert all_pseudonyms(pa.array([good, None, good]))
    assert pseudonyms._pseudonym_words(pa.array([good] * 3))  # the word test decides these
    for position in range(24):
        for byte in range(256):
            value = bytearray(good.encode())
            value[position] = byte
            # (a lone byte >= 0x80 is no UTF-8: Arrow is given valid strings only)
            text = value.decode("utf-8", errors="replace")
            expected = PSEUDONYM_RE.fullmatch(text) is not None
            # unaligned too: after a 1-byte value, and after a pseudonym (a word test that
            # read from the buffer's start, not the slice's, would see `good` there)
            assert all_pseudonyms(pa.array(["x", text]).slice(1)) == expected, (position, byte)
            assert all_pseudonyms(pa.array([good, text]).slice(1)) == expected, (position, byte)
    assert not all_pseudonyms(pa.array([good[:-2] + "é"]))  # 24 bytes, 23 characters
    assert not all_pseudonyms(pa.array([good, good[:-1] + "Z"]).slice(1))
