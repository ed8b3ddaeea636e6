"""Fake identifiers in the shapes the clients use, drawn from the seeded RNG (never uuid4())."""

from __future__ import annotations

import random

_B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"


def b62(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(_B62, k=n))


def hexs(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(_HEX, k=n))


def uuid4_like(rng: random.Random) -> str:
    h = hexs(rng, 32)
    variant = "89ab"[rng.randrange(4)]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def uuid7_like(rng: random.Random, ms: int) -> str:
    """Time-ordered like Codex thread/turn ids: the first 48 bits are the Unix time in ms."""
    t = f"{ms:012x}"
    h = hexs(rng, 20)
    variant = "89ab"[rng.randrange(4)]
    return f"{t[:8]}-{t[8:]}-7{h[:3]}-{variant}{h[3:6]}-{h[6:18]}"


def claude_message_id(rng: random.Random) -> str:
    return "msg_01" + b62(rng, 22)


def claude_tool_id(rng: random.Random) -> str:
    return "toolu_01" + b62(rng, 22)


def claude_request_id(rng: random.Random) -> str:
    return "req_011C" + b62(rng, 20)


def codex_call_id(rng: random.Random) -> str:
    return "call_" + b62(rng, 24)


def agent_id(rng: random.Random) -> str:
    return hexs(rng, 17)
