"""A bounded load generator on loopback: replays a pattern against the testbed's nginx.

Bounded in count (``max_requests``), time (the pattern's duration plus the request timeout)
and concurrency; it refuses any host but 127.0.0.1. ``generate_split`` sends one stream to
several fleets (A/B variations), each visit to one of them drawn by the traffic split. A
context (``personas.fleet.context``) is emulated as the simulator models it: its region's
network latency is added to each visit and a campaign raises the value of a conversion (the
caller scales the rate).
"""

from __future__ import annotations

import asyncio
import random
import time
from urllib.parse import urlsplit

import numpy as np

from personas.fleet.config import FleetConfig
from personas.fleet.context import FleetContext, network_ms, value_factor
from personas.fleet.objective import Metrics, business
from personas.fleet.patterns import schedule

Visit = tuple[float, str, bool]  # (latency_ms, device, ok)

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
    context: FleetContext | None = None,
) -> Metrics:
    """Replay ``pattern`` at ``rate_rps`` for ``duration_s`` and report metrics."""
    visits, elapsed = await generate_split(
        {"all": url}, {"all": 1.0}, pattern, rate_rps, duration_s, seed, max_requests, context
    )
    return summarize(visits["all"], elapsed, config, context)


def _port(url: str) -> int:
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1" or parts.port is None:
        raise LoadError(f"load goes to 127.0.0.1 only, not {url}")
    return parts.port


async def generate_split(
    urls: dict[str, str],
    weights: dict[str, float],
    pattern: str,
    rate_rps: float,
    duration_s: float,
    seed: int = 0,
    max_requests: int = MAX_REQUESTS,
    context: FleetContext | None = None,
) -> tuple[dict[str, list[Visit]], float]:
    """One stream of ``pattern``, each visit sent to one of ``urls`` drawn by ``weights``
    (seeded); the visits per target and the elapsed seconds."""
    ports = {name: _port(url) for name, url in urls.items()}
    if not 0 < duration_s <= 60 or not 0 < rate_rps <= 1000:
        raise LoadError("duration must be in (0, 60] s and rate in (0, 1000] rps")
    if set(weights) != set(urls) or any(w < 0 for w in weights.values()):
        raise LoadError("the split needs a non-negative weight for every target")
    if sum(weights.values()) <= 0:
        raise LoadError("the split needs a positive total weight")
    arrivals = schedule(pattern, rate_rps, duration_s, seed)[:max_requests]
    rng = random.Random(seed + 1)
    names = list(urls)
    route = rng.choices(names, [weights[n] for n in names], k=len(arrivals))
    net = network_ms(context) if context is not None else 0.0
    gate = asyncio.Semaphore(CONCURRENCY)
    results: dict[str, list[Visit]] = {n: [] for n in names}
    start = time.perf_counter()

    async def visit(offset: float, key: int, device: str, target: str) -> None:
        await asyncio.sleep(max(0.0, start + offset - time.perf_counter()))
        async with gate:
            t0 = time.perf_counter()
            q = "?d=m" if device == "mobile" else ""
            ok = await _one("127.0.0.1", ports[target], f"/item/k{key}{q}", TIMEOUT_S)
            results[target].append(((time.perf_counter() - t0) * 1000.0 + net, device, ok))

    await asyncio.gather(*(visit(*a, t) for a, t in zip(arrivals, route, strict=True)))
    return results, time.perf_counter() - start


def summarize(
    results: list[Visit], elapsed_s: float, c: FleetConfig, context: FleetContext | None = None
) -> Metrics:
    """Metrics of (latency_ms, device, ok) visits over ``elapsed_s`` (network latency is
    already in the visits; the context's campaign scales the revenue)."""
    ok = [r for r in results if r[2]]
    lat = np.array([r[0] for r in ok]) if ok else np.array([TIMEOUT_S * 1000.0])
    conv, rev = business(results)
    rev *= value_factor(context) if context is not None else 1.0
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
