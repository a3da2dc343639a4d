"""Executors that apply a configuration: run a script, call a loopback URL (with timeouts)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from urllib.parse import urlsplit

import httpx

from activities.fleet.contracts import ExecutorSpec
from personas.fleet.config import FleetConfig


class ExecutorFailed(RuntimeError):
    """An executor failed or timed out (one-line message)."""


async def run_script(spec: ExecutorSpec, config: FleetConfig) -> None:
    """Run ``spec.command`` with the configuration's JSON as its last argument."""
    if not spec.command:
        raise ExecutorFailed("script executor without a command")
    proc = await asyncio.create_subprocess_exec(
        *spec.command,
        config.model_dump_json(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), spec.timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise ExecutorFailed(f"script timed out after {spec.timeout_s:g}s") from None
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise ExecutorFailed(f"script exited {proc.returncode}: {tail[0][:200]}")


async def call_url(spec: ExecutorSpec, config: FleetConfig) -> None:
    """POST the configuration's JSON to a loopback URL; any non-2xx is a failure."""
    host = urlsplit(spec.url).hostname
    if host != "127.0.0.1":
        raise ExecutorFailed(f"url executor calls 127.0.0.1 only, not {host!r}")
    try:
        async with httpx.AsyncClient(timeout=spec.timeout_s) as client:
            r = await client.post(spec.url, content=config.model_dump_json())
    except httpx.TimeoutException:
        raise ExecutorFailed(f"url timed out after {spec.timeout_s:g}s") from None
    except httpx.HTTPError as err:
        raise ExecutorFailed(f"url call failed: {err}") from None
    if not r.is_success:
        raise ExecutorFailed(f"url answered {r.status_code}")


def describe(spec: ExecutorSpec) -> str:
    """A short description of an executor."""
    return json.dumps(spec.model_dump(exclude_defaults=True)) or spec.kind
