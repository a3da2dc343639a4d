"""A bounded load generator on loopback: replays a pattern against the testbed's nginx.

Bounded in count (``max_requests``), time (the pattern's duration plus the request timeout)
and concurrency; it refuses any host but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import numpy as np

from personas.fleet.config import FleetConfig
from personas.fleet.objective import Metrics, business
from personas.fleet.patterns import schedule

MAX_REQUESTS = 5000
TIMEOUT_S = 2.0
CONCURRENCY = 64


class LoadError(ValueError):
    """The load generator refused its arguments."""


async def _one(host: str, port: int, path: str, limit_s: float) -> bool:
    async def go() -> bool:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: fleet\r\n\r\n".encode())
            await writer.drain()
            status = await reader.readline()
            await reader.read()
            return b" 200 " in status
        finally:
            writer.close()

    try:
        return await asyncio.wait_for(go(), limit_s)
    except (OSError, TimeoutError):
        return False


async def generate(
    url: str,
    pattern: str,
    rate_rps: float,
    duration_s: float,
    config: FleetConfig,
    seed: int = 0,
    max_requests: int = MAX_REQUESTS,
) -> Metrics:
    """Replay ``pattern`` at ``rate_rps`` for ``duration_s`` and report metrics."""
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1" or parts.port is None:
        raise LoadError(f"load goes to 127.0.0.1 only, not {url}")
    if not 0 < duration_s <= 60 or not 0 < rate_rps <= 1000:
        raise LoadError("duration must be in (0, 60] s and rate in (0, 1000] rps")
    arrivals = schedule(pattern, rate_rps, duration_s, seed)[:max_requests]
    gate = asyncio.Semaphore(CONCURRENCY)
    results: list[tuple[float, str, bool]] = []
    start = time.perf_counter()

    async def visit(offset: float, key: int, device: str) -> None:
        await asyncio.sleep(max(0.0, start + offset - time.perf_counter()))
        async with gate:
            t0 = time.perf_counter()
            q = "?d=m" if device == "mobile" else ""
            ok = await _one("127.0.0.1", parts.port or 0, f"/item/k{key}{q}", TIMEOUT_S)
            results.append(((time.perf_counter() - t0) * 1000.0, device, ok))

    await asyncio.gather(*(visit(*a) for a in arrivals))
    elapsed = time.perf_counter() - start
    return summarize(results, elapsed, config)


def summarize(results: list[tuple[float, str, bool]], elapsed_s: float, c: FleetConfig) -> Metrics:
    """Metrics of (latency_ms, device, ok) visits over ``elapsed_s``."""
    ok = [r for r in results if r[2]]
    lat = np.array([r[0] for r in ok]) if ok else np.array([TIMEOUT_S * 1000.0])
    conv, rev = business(results)
    n = max(1, len(results))
    return Metrics(
        p50_ms=float(np.percentile(lat, 50)),
        p95_ms=float(np.percentile(lat, 95)),
        p99_ms=float(np.percentile(lat, 99)),
        throughput_rps=len(ok) / max(elapsed_s, 1e-9),
        error_rate=(len(results) - len(ok)) / n,
        mobile_share=sum(1 for r in results if r[1] == "mobile") / n,
        conversion=conv,
        revenue_per_visit=rev,
        cost_units=c.replicas * c.cpu_share,
        requests=len(results),
    )
