"""Contributor handles: the first path component under the inbox."""

from __future__ import annotations

import re

# Lower-case letters, digits, '.', '_', '-'; 1-64 chars, starting with a letter or digit.
# No '|' (partition key separator), no '/', no upper case (case-insensitive file systems
# would merge `Alice/` and `alice/`), no '..' (Dagster refuses '...' in partition keys).
HANDLE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def is_valid_handle(handle: str) -> bool:
    return bool(HANDLE_RE.match(handle)) and ".." not in handle


def handle_problem(handle: str) -> str | None:
    """Why a handle is refused, or None when it is fine."""
    if is_valid_handle(handle):
        return None
    return (
        f"invalid contributor handle {handle!r}: use 1-64 lower-case letters, digits, "
        "'.', '_' or '-', starting with a letter or digit, no '..'"
    )


def handle_from(name: str, fallback: str = "local") -> str:
    """A valid handle made from a free-form name (an OS user name): lower-cased, every run of
    other characters a '-'; `fallback` if nothing usable is left."""
    handle = re.sub(r"[^a-z0-9._-]+", "-", name.lower())
    handle = re.sub(r"\.{2,}", ".", handle).strip("._-")[:64].rstrip("._-")
    return handle if is_valid_handle(handle) else fallback


# Partition keys are "<contributor>|<YYYY-MM>"; every module that builds or splits one uses this.
PARTITION_SEPARATOR = "|"
