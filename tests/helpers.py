"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from clients.api import PersonaClient
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


@dataclass
class CliContext:
    """The part of the CLI's context that subcommands use, capturing what they print."""

    personas_client: PersonaClient
    as_json: bool = False
    out: list[Any] = field(default_factory=list)

    async def personas(self) -> PersonaClient:
        """The persona client the commands use."""
        return self.personas_client

    def emit(self, data: Any, text: str) -> None:
        """Record what a command shows."""
        self.out.append((data, text))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def race(fn: Callable[[int], T], n: int, barrier_timeout_s: float) -> list[T | BaseException]:
    """``fn(0) .. fn(n - 1)`` on ``n`` threads released together; exceptions returned."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T | BaseException:
        barrier.wait(timeout=barrier_timeout_s)
        try:
            return fn(i)
        except Exception as err:
            return err

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))
