"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from personas.models import AIPersonaProfile

T = TypeVar("T")


def profile(name: str = "Ada", **overrides: Any) -> AIPersonaProfile:
    """A valid AI persona profile of entity ``acme``."""
    fields: dict[str, Any] = {
        "entity_id": "acme",
        "name": name,
        "base_persona": "llama3",
        "specialization": "python code review",
        "access_scope": ("repo:web",),
        "activation_triggers": ("shift_start", "funds_available"),
        "deactivation_triggers": ("shift_end", "funds_exhausted"),
    }
    fields.update(overrides)
    return AIPersonaProfile.model_validate(fields)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    timeout_s: float = 30.0,
    advance: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """Poll ``probe`` until ``until`` holds (optionally advancing time between polls)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout_s}s; last value: {value!r}")
        if advance is not None:
            await advance()
        else:
            await asyncio.sleep(0.05)
