"""What renderers share besides style: the not-enough-data signal and minimum sizes."""

from __future__ import annotations


class NotEnoughData(Exception):
    """Raised by a renderer whose table is too small to show anything meaningful."""


def require(count: int, minimum: int, what: str) -> None:
    if count < minimum:
        raise NotEnoughData(f"{count:,} {what} (need at least {minimum:,})")
