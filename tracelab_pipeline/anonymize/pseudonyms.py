"""Keyed pseudonyms for every identifier that reaches the public layer.

HMAC-SHA256 with a secret key: the same raw id maps to the same pseudonym in every partition and
every run, nobody without the key can recompute a pseudonym from a guessed id (TraceLab uses a
public seed; we do not), and rotating the key changes every pseudonym.

Each identifier belongs to a *kind*; all columns of one kind share a namespace so links survive
(`parent_session_id` -> `session_id`, `tool_calls.step_id` -> `steps.step_id`,
`timing_events.tool_call_id` -> `tool_calls.call_id`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import numpy as np
import pyarrow as pa

from tracelab_pipeline import schema

KEY_ENV = "TRACELAB_PSEUDONYM_KEY"
KEY_FILE_NAME = "pseudonym.key"
MIN_KEY_BYTES = 16
DIGEST_HEX_CHARS = 20  # 80 bits: collisions stay negligible far beyond the paper's 432K tool calls

# kind -> short prefix that makes a pseudonym self-describing in the public data
KINDS: dict[str, str] = {
    "contributor": "usr",
    "session": "ses",
    "agent": "agt",
    "step": "stp",
    "round": "rnd",
    "request": "req",
    "turn": "trn",
    "call": "cal",
    "project": "prj",
    "file": "fil",
    # names a user chose, published in place of the name (anonymize.vocabulary)
    "tool": "tol",
    "model": "mdl",
}

# Which kind every identifier column belongs to, per table.
ID_COLUMNS: dict[str, dict[str, str]] = {
    "steps": {
        "step_id": "step",
        "contributor": "contributor",
        "session_id": "session",
        "root_session_id": "session",
        "parent_session_id": "session",
        "agent_id": "agent",
        "round_id": "round",
        "request_id": "request",
        "turn_id": "turn",
        "project": "project",
    },
    "tool_calls": {
        "step_id": "step",
        "contributor": "contributor",
        "session_id": "session",
        "call_id": "call",
    },
    "timing_events": {
        "step_id": "step",
        "contributor": "contributor",
        "tool_call_id": "call",
    },
    "ingest_accounting": {"contributor": "contributor", "file_sha256": "file"},
    "rejected_records": {"contributor": "contributor"},
}

PSEUDONYM_RE = re.compile(
    r"^(?:" + "|".join(sorted(set(KINDS.values()))) + rf")_[0-9a-f]{{{DIGEST_HEX_CHARS}}}$"
)
# Every pseudonym is this many bytes: a three-letter prefix, "_", the hex digits.
PSEUDONYM_BYTES = 4 + DIGEST_HEX_CHARS
assert {len(p) for p in KINDS.values()} == {3} and PSEUDONYM_BYTES == 24
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Which bytes are lowercase hex digits.
_HEX = np.zeros(256, dtype=bool)
_HEX[_HEX_DIGITS] = True
# "usr_", "ses_", ...: a pseudonym's first four bytes read as a little-endian number
_PREFIXES = np.array(
    [int.from_bytes(f"{p}_".encode(), "little") for p in sorted(set(KINDS.values()))],
    dtype=np.uint32,
)


def all_pseudonyms(values: pa.Array | pa.ChunkedArray) -> bool:
    """Whether every non-null value matches PSEUDONYM_RE (as Arrow's regex matches it).

    A regex match per value costs ~0.35 µs in Arrow; a partition has ~10k ids, the paper
    preset millions. When every value is PSEUDONYM_BYTES long, the values are rows of a byte
    matrix and are tested with numpy (_pseudonym_words); otherwise, or if that test fails,
    the regex decides, so the answer is always the regex's (tests compare them).
    """
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = pa.concat_arrays(values.chunks) if values.num_chunks else pa.array([], pa.string())
    if len(values) == values.null_count or _pseudonym_words(values):
        return True
    values = values.drop_null()
    return pc.all(pc.match_substring_regex(values, PSEUDONYM_RE.pattern)).as_py()


def _pseudonym_words(values: pa.Array) -> bool:
    """True if every non-null value of a string array is PSEUDONYM_BYTES of ASCII with a
    known prefix and lowercase hex digits (and every null is empty, as Arrow makes them);
    False only means: ask the regex."""
    if values.type != pa.string():
        return False
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], np.int32, count=n + 1, offset=4 * values.offset)
    widths = PSEUDONYM_BYTES
    if values.null_count:
        widths = values.is_valid().to_numpy(zero_copy_only=False) * PSEUDONYM_BYTES
    if not (np.diff(offsets) == widths).all():
        return False
    # the non-null values, back to back: one row of bytes each
    rows = np.frombuffer(
        values.buffers()[2],
        np.uint8,
        count=PSEUDONYM_BYTES * (n - values.null_count),
        offset=int(offsets[0]),
    ).reshape(-1, PSEUDONYM_BYTES)
    prefixes = rows[:, :4].copy().view("<u4").ravel()
    return bool(_HEX[rows[:, 4:]].all() and np.isin(prefixes, _PREFIXES).all())


def public_column_docs(table: str) -> dict[str, str]:
    """Each public column's meaning, from the data contract's docs; an id column's doc
    describes the raw id, so it is said to hold that id's pseudonym."""
    docs = {}
    for f in schema.public_schema(table):
        doc = (f.metadata or {}).get(b"doc", b"").decode()
        kind = ID_COLUMNS.get(table, {}).get(f.name)
        if kind and not doc.startswith("keyed pseudonym"):
            doc = f"keyed pseudonym ({KINDS[kind]}_<{DIGEST_HEX_CHARS} hex>) of: {doc or f.name}"
        docs[f.name] = doc
    return docs


class PseudonymKeyError(RuntimeError):
    """No usable pseudonym key: a production run must be given one explicitly."""


class Pseudonymizer:
    """Maps raw identifiers to keyed pseudonyms (HMAC-SHA256, RFC 2104)."""

    def __init__(self, key: bytes):
        if len(key) < MIN_KEY_BYTES:
            raise PseudonymKeyError(
                f"pseudonym key is {len(key)} bytes; at least {MIN_KEY_BYTES} are required"
            )
        self._key = key
        # HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)). The padded-key states, and the inner
        # one with the kind header absorbed, are hashed once here; each id then costs two
        # copies and two short updates (2.3x faster than a one-shot HMAC per id, same bytes).
        block = hashlib.sha256().block_size
        padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._inner: dict[str, object] = {}
        for kind in KINDS:
            # The kind is part of the message, so equal raw strings of different kinds do not
            # produce linkable pseudonyms.
            state = inner.copy()
            state.update(f"{kind}\x00".encode())
            self._inner[kind] = state

    @property
    def fingerprint(self) -> str:
        """Names the key without revealing it: layers built with different keys are told apart."""
        return hmac.new(self._key, b"tracelab key fingerprint", hashlib.sha256).hexdigest()[:12]

    def pseudonym(self, kind: str, raw: str | None) -> str | None:
        if raw is None:
            return None
        return self.pseudonyms(kind, [raw])[0]

    def pseudonyms(self, kind: str, raws: list[str | None]) -> list[str | None]:
        """Pseudonyms of many ids of one kind (None stays None)."""
        prefix = KINDS[kind] + "_"
        digests = iter(self._digests(kind, [r.encode() for r in raws if r is not None]))
        return [
            None if r is None else prefix + next(digests).hex()[:DIGEST_HEX_CHARS] for r in raws
        ]

    def _digests(self, kind: str, raws: list[bytes]) -> list[bytes]:
        """HMAC-SHA256 of each raw id of one kind: one loop, locals bound once."""
        inner = self._inner[kind]
        outer = self._outer
        digests = []
        add = digests.append
        for raw in raws:
            h = inner.copy()
            h.update(raw)
            o = outer.copy()
            o.update(h.digest())
            add(o.digest())
        return digests

    def pseudonym_array(self, kind: str, raws: pa.Array) -> pa.Array:
        """pseudonyms() of a string array, as a string array (the same values). Only the
        digests are computed per id; hex digits and prefixes are laid out by numpy, so no
        Python string is made per id, in or out."""
        width = PSEUDONYM_BYTES
        if raws.null_count or len(raws) * width >= 2**31:
            return pa.array(self.pseudonyms(kind, raws.to_pylist()), type=pa.string())
        digests = self._digests(kind, raws.cast(pa.binary()).to_pylist())
        n = len(digests)
        head = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(n, 32)
        head = head[:, : DIGEST_HEX_CHARS // 2]
        out = np.empty((n, width), dtype=np.uint8)
        out[:, :4] = np.frombuffer(f"{KINDS[kind]}_".encode(), dtype=np.uint8)
        out[:, 4::2] = _HEX_DIGITS[head >> 4]
        out[:, 5::2] = _HEX_DIGITS[head & 15]
        offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))

    def contributor(self, handle: str) -> str:
        return self.pseudonym("contributor", handle)


def resolve_key(
    data_dir: str | Path | None = None,
    *,
    configured: str | None = None,
    production: bool = False,
    env: dict[str, str] | None = None,
    create: bool = True,
) -> tuple[bytes | None, str]:
    """Find the pseudonym key; return it with a sentence saying where it came from.

    Order: explicit configuration, then env `TRACELAB_PSEUDONYM_KEY`, then (demo only) the local
    key file `<data_dir>/pseudonym.key`, created with mode 0600 when missing. A production run
    without a configured key refuses: a generated key would silently fork the pseudonym space.
    With `create=False` (a reader of what was built, e.g. `forget`) nothing is ever written:
    without a key the result is (None, why); the key is never None otherwise.
    """
    env = os.environ if env is None else env
    if configured:
        return configured.encode(), "pseudonym key from configuration"
    if env.get(KEY_ENV):
        return env[KEY_ENV].encode(), f"pseudonym key from env {KEY_ENV}"
    if production:
        raise PseudonymKeyError(
            f"no pseudonym key configured: set env {KEY_ENV} (at least {MIN_KEY_BYTES} bytes, "
            "kept secret, the same for every run) or the anonymization resource's "
            "pseudonym_key. A production run never generates one."
        )
    path = None if data_dir is None else Path(data_dir) / KEY_FILE_NAME
    if path is not None and path.exists():
        return path.read_bytes().strip(), f"demo pseudonym key from {path}"
    if not create:
        return None, f"no pseudonym key: env {KEY_ENV} is not set and there is no {path}"
    if path is None:
        raise PseudonymKeyError("no pseudonym key configured and no data dir for a demo key file")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temp file, then hard-link it into place: the link fails if another process
    # won the race, and nobody ever reads a half-written key.
    tmp = path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)
        message = (
            f"created a demo pseudonym key at {path} (mode 0600); set {KEY_ENV} for production"
        )
    except FileExistsError:
        message = f"demo pseudonym key from {path}"
    finally:
        tmp.unlink()
    return path.read_bytes().strip(), message
