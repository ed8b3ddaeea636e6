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


def new_handle_problem(handle: str) -> str | None:
    """Why a handle is refused for a contributor who has none yet (nothing landed under it),
    or None: handle_problem's reasons, and a handle without a letter. The leak checks search
    the public data for the handle, and a handle of digits (`6`, `2024`, `1.5`) is a number
    like the counts, sizes, months and versions in it: they cannot tell one from the other.
    A handle already in use keeps working (partitions, consent lists, releases)."""
    problem = handle_problem(handle)
    if problem or _LETTER.search(handle):
        return problem
    return (
        f"contributor handle {handle!r} has no letter: a handle of digits cannot be told from "
        "the counts, sizes and months of the public data, so the leak checks do not search "
        f"for it there; pick one with a letter (your name, or e.g. 'c{handle[:63]}')"
    )


_LETTER = re.compile(r"[a-z]")


def handle_from(name: str, fallback: str = "local", kept=lambda handle: False) -> str:
    """A handle made from a free-form name (an OS user name): lower-cased, every run of other
    characters a '-'; `fallback` if nothing usable is left, or if it is no handle a new
    contributor may take (new_handle_problem: `USER=1000` in a container) and not `kept`
    (kept(handle): in use before the rule, so it keeps working; the same logs under two
    handles would count twice)."""
    handle = re.sub(r"[^a-z0-9._-]+", "-", name.lower())
    handle = re.sub(r"\.{2,}", ".", handle).strip("._-")[:64].rstrip("._-")
    return fallback if refusal(handle, kept) else handle


def refusal(handle: str, kept) -> str | None:
    """Why `handle` is refused, or None: new_handle_problem, unless it is only the rule for
    new handles and kept(handle) says the handle was in use before it (asked only then)."""
    problem = new_handle_problem(handle)
    if problem and is_valid_handle(handle) and kept(handle):
        return None
    return problem


# Partition keys are "<contributor>|<YYYY-MM>"; every module that builds or splits one uses this.
PARTITION_SEPARATOR = "|"
