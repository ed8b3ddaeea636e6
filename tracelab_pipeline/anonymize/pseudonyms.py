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
        """Pseudonyms of many ids of one kind (None stays None): one loop, locals bound once."""
        inner = self._inner[kind]
        outer = self._outer
        prefix = KINDS[kind] + "_"
        out: list[str | None] = []
        for raw in raws:
            if raw is None:
                out.append(None)
                continue
            h = inner.copy()
            h.update(raw.encode())
            o = outer.copy()
            o.update(h.digest())
            out.append(prefix + o.hexdigest()[:DIGEST_HEX_CHARS])
        return out

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
