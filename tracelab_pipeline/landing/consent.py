"""Who may land: the contributors who gave consent.

A drop from a handle not on the list is held: left in the inbox, not recorded as seen, so it
lands on a later landing once the handle is added. Production refuses to land without a
list; a demo without one takes everyone. `*` on the list takes everyone explicitly.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tracelab_pipeline.landing.handles import handle_problem

CONTRIBUTORS_ENV = "TRACELAB_CONTRIBUTORS"
CONTRIBUTORS_FILE_ENV = "TRACELAB_CONTRIBUTORS_FILE"
EVERYONE = "*"


class ConsentError(RuntimeError):
    """No usable list of consenting contributors: nothing may land."""


@dataclass(frozen=True)
class Consent:
    handles: frozenset[str]
    everyone: bool
    source: str  # where the list came from, for the UI and messages

    def allows(self, handle: str) -> bool:
        # Exact: landing takes the directory name as it is (lower case, or refused).
        return self.everyone or handle in self.handles

    def describe(self) -> str:
        if self.everyone:
            return f"everyone ({self.source})"
        return f"{len(self.handles)} contributor(s) from {self.source}"


DEMO = Consent(frozenset(), True, "demo: no list configured")


def resolve_consent(
    configured: list[str] | None = None,
    file: str | None = None,
    *,
    production: bool,
    env: dict[str, str] | None = None,
) -> Consent:
    """The list from configuration, env TRACELAB_CONTRIBUTORS (comma/whitespace-separated)
    and files (configuration's and env TRACELAB_CONTRIBUTORS_FILE: handles separated the same
    way, `#` starts a comment), all together. Files are read on every call, so a handle
    added there lands on the next landing without a restart."""
    env = os.environ if env is None else env
    sources: list[tuple[str, list[str]]] = []
    if configured is not None:
        sources.append(("configuration", list(configured)))
    if env.get(CONTRIBUTORS_ENV, "").strip():
        sources.append((f"env {CONTRIBUTORS_ENV}", _split(env[CONTRIBUTORS_ENV])))
    for path in dict.fromkeys(p for p in (file, env.get(CONTRIBUTORS_FILE_ENV, "").strip()) if p):
        sources.append((f"file {path}", _read_list(path)))
    if not sources:
        if production:
            raise ConsentError(
                "no list of consenting contributors configured: set env "
                f"{CONTRIBUTORS_ENV} (handles separated by commas or spaces, or '*' for "
                f"everyone) or {CONTRIBUTORS_FILE_ENV} (a file of handles), or the "
                "anonymization resource's contributors. A production landing takes no one "
                "without it."
            )
        return DEMO
    handles: set[str] = set()
    for where, names in sources:
        for name in names:
            problem = name != EVERYONE and handle_problem(name)
            if problem:
                raise ConsentError(f"{where}: {problem}; nothing lands until it is fixed")
            handles.add(name)
    where = " and ".join(w for w, _ in sources)
    if EVERYONE in handles:
        return Consent(frozenset(), True, f"'{EVERYONE}' in {where}")
    return Consent(frozenset(handles), False, where)


def _read_list(path: str) -> list[str]:
    try:
        # -sig: a list saved by Notepad starts with a byte order mark, which would make
        # its first handle invalid and so stop all landing.
        text = Path(path).expanduser().read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConsentError(
            f"cannot read the list of consenting contributors {path} "
            f"({CONTRIBUTORS_FILE_ENV}): {exc}; nothing lands until it can be read"
        ) from exc
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return [h for line in lines for h in _split(line)]


def _split(text: str) -> list[str]:
    return [h for h in re.split(r"[\s,]+", text) if h]


def held_message(held: dict[str, int], consent: Consent) -> str:
    """One sentence on uploads held for want of consent (handles and counts, no paths)."""
    who = ", ".join(f"{h} ({n})" for h, n in sorted(held.items()))
    return (
        f"{sum(held.values())} upload(s) held, from contributor(s) not on the list of "
        f"consenting contributors ({consent.source}): {who}. They stay in the inbox and land "
        f"once the handle is added ({CONTRIBUTORS_ENV} or {CONTRIBUTORS_FILE_ENV}). Removing "
        "a handle keeps what already landed: `tracelab forget HANDLE` erases it."
    )
