"""Egress policy (allowlist validation and matching), the proxy on a real Unix socket with
real loopback servers, and the usage cadence."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from activities.app.egress import (
    BURST,
    SOCKET,
    EgressProxies,
    _Refused,
    parse_head,
    throttle_delay,
)
from personas.app.models import AccessControls
from personas.app.policy import egress_allows
from workflows.app_session import MAX_SAMPLES, sampling_interval


def test_allowlist_is_validated() -> None:
    ok = AccessControls(
        network_egress=True, egress_allowlist=("pypi.org:443", "*.debian.org:*", "10.0.0.1:80")
    )
    assert ok.egress_allowlist == ("*.debian.org:*", "10.0.0.1:80", "pypi.org:443")
    with pytest.raises(ValidationError, match="needs a non-empty egress_allowlist"):
        AccessControls(network_egress=True)
    with pytest.raises(ValidationError, match="network_egress is false"):
        AccessControls(egress_allowlist=("pypi.org:443",))
    for bad in ("pypi.org", "PyPI.org:443", "*:443", "a.*.org:1", "x.org:0", "x.org:70000", ""):
        with pytest.raises(ValidationError, match="egress destination"):
            AccessControls(network_egress=True, egress_allowlist=(bad,))


def test_allowlist_matching() -> None:
    rules = ("*.debian.org:*", "pypi.org:443", "127.0.0.1:8080")
    assert egress_allows(rules, "deb.debian.org", 80)
    assert egress_allows(rules, "Security.Debian.org.", 443)
    assert not egress_allows(rules, "debian.org", 80)
    assert not egress_allows(rules, "evildebian.org", 80)
    assert egress_allows(rules, "pypi.org", 443)
    assert not egress_allows(rules, "pypi.org", 80)
    assert not egress_allows(rules, "files.pypi.org", 443)
    assert egress_allows(rules, "127.0.0.1", 8080)
    assert not egress_allows(rules, "127.0.0.2", 8080)
    assert not egress_allows((), "pypi.org", 443)


def test_parse_head() -> None:
    assert parse_head(b"CONNECT pypi.org:443 HTTP/1.1\r\nHost: x\r\n\r\n") == (
        "pypi.org",
        443,
        None,
    )
    host, port, up = parse_head(
        b"GET http://a.org:81/p?q=1 HTTP/1.1\r\nHost: a.org\r\nProxy-Connection: keep-alive\r\n\r\n"
    )
    assert (host, port) == ("a.org", 81)
    assert up == b"GET /p?q=1 HTTP/1.1\r\nHost: a.org\r\nConnection: close\r\n\r\n"
    for bad in (b"GET /local HTTP/1.1\r\n\r\n", b"CONNECT nohost HTTP/1.1\r\n\r\n", b"x\r\n\r\n"):
        with pytest.raises(_Refused):
            parse_head(bad)


def test_sampling_interval_bounds_the_history() -> None:
    assert sampling_interval(60, 3600) == timedelta(seconds=60)
    week = 7 * 24 * 3600
    assert week / sampling_interval(60, week).total_seconds() <= MAX_SAMPLES


async def ask(sock: str, request: bytes) -> bytes:
    r, w = await asyncio.open_unix_connection(sock)
    w.write(request)
    await w.drain()
    out = await asyncio.wait_for(r.read(), 10)
    w.close()
    return out


async def test_proxy_allows_listed_and_refuses_the_rest(
    origin: tuple[int, list[bytes]],
) -> None:
    port, heads = origin
    root = Path(f"/tmp/pae-unit-{uuid.uuid4().hex[:8]}")
    proxies = EgressProxies(root)
    sock = await proxies.start("s1", (f"127.0.0.1:{port}", f"localhost:{port}"))
    try:
        assert Path(sock) == root / "s1" / "run" / SOCKET
        got = await ask(sock, f"GET http://127.0.0.1:{port}/a HTTP/1.1\r\nHost: h\r\n\r\n".encode())
        assert got.endswith(b"from-origin\n")
        assert heads[-1].startswith(b"GET /a HTTP/1.1\r\n")
        got = await ask(
            sock,
            f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\n\r\n".encode(),
        )
        assert got.startswith(b"HTTP/1.1 200 Connection established")
        assert got.endswith(b"from-origin\n")
        refused = await ask(sock, b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n")
        assert refused.startswith(b"HTTP/1.1 403 Forbidden")
        bad = await ask(sock, b"GET /relative HTTP/1.1\r\n\r\n")
        assert bad.startswith(b"HTTP/1.1 400")
        by_name = await ask(sock, f"CONNECT localhost:{port} HTTP/1.1\r\n\r\n".encode())
        assert by_name.startswith(b"HTTP/1.1 403")  # allowlisted, but a name for loopback
        assert b"non-public address" in by_name
        assert len(heads) == 2
        stats = proxies.stats["s1"]
        assert (stats.allowed, stats.refused) == (2, 3)
        # a fresh process (a restarted worker) finds the socket served and leaves it
        assert await EgressProxies(root).ensure("s1")
        await proxies.close()  # the worker stops: the socket is stale until ensured again
        revived = EgressProxies(root)
        assert await revived.ensure("s1")
        assert (await ask(sock, b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n")).startswith(
            b"HTTP/1.1 403"
        )
        assert revived.stats["s1"].refused == 1
        assert await revived.stop("s1")
        assert not (root / "s1").exists()
        assert not await revived.ensure("s1")  # no policy: no proxy
        assert not await revived.stop("s1")
    finally:
        await proxies.close()
        await proxies.stop("s1")
        await asyncio.to_thread(root.rmdir)


def test_throttle_lets_a_burst_through_then_paces_at_the_rate() -> None:
    rate = 100_000.0  # bytes per second
    wait, free_at = throttle_delay(10.0, 0.0, BURST, rate)
    assert wait == 0.0  # an idle bucket lets a burst through at once
    wait, free_at = throttle_delay(10.0, free_at, 50_000, rate)
    assert wait == pytest.approx(0.5)  # then bytes wait their turn
    wait, _ = throttle_delay(20.0, free_at, 50_000, rate)
    assert wait == 0.0  # idle long enough: the bucket refilled


async def test_the_proxy_holds_a_session_to_its_bandwidth() -> None:
    size = 400_000

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * size)
        await w.drain()
        w.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    root = Path(f"/tmp/pae-unit-{uuid.uuid4().hex[:8]}")
    proxies = EgressProxies(root)
    try:
        sock = await proxies.start("s1", (f"127.0.0.1:{port}",), bandwidth_mbps=1)
        started = time.monotonic()
        got = await ask(sock, f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\n\r\n".encode())
        elapsed = time.monotonic() - started
        assert got.endswith(b"x" * 1000)
        assert len(got) > size
        # 1 Mbit/s is 125,000 bytes/s: whatever the machine, the body cannot come faster
        assert elapsed >= (size - BURST) / 125_000
    finally:
        server.close()
        await proxies.close()
        await proxies.stop("s1")
        await asyncio.to_thread(root.rmdir)
