"""Brokered network egress: a host-side HTTP forward proxy per session on a Unix socket.

Containers keep ``network_mode="none"`` (no bridge, no address on any private range). A
session allowed egress gets a host directory ``<root>/<session>/run`` bind-mounted read-only
at ``/run/egress`` holding the socket ``p.sock``; inside the container ``socat`` (installed
into the persona image through the Debian-package pipeline) listens on 127.0.0.1:3128 and
forwards each connection to the socket, and ``HTTP_PROXY``/``HTTPS_PROXY`` (and lower-case)
point at it. The proxy here speaks ``CONNECT host:port`` and plain-http absolute-URI requests,
answers 403 to any destination not on the session's allowlist (names are matched as given),
and logs and counts every connection per session. A host *name* is resolved once by the proxy,
which connects to the address it checked; a name that resolves to a non-public address
(private, loopback, link-local ...) is refused, so only an IP literal on the allowlist can
reach such an address (no DNS-rebinding into private ranges).

Bandwidth: a session's ``bandwidth_mbps`` (0: unlimited) caps the bytes its proxy moves,
both directions together, by one token bucket shared by all its connections
(:class:`Throttle`, with a burst of ``BURST`` bytes).

Worker restarts: a proxy lives in the worker process, but its policy lives on disk
(``<root>/<session>/policy.json``). ``ensure`` is idempotent: a no-op when this process
serves the socket or another live process answers on it, otherwise the stale socket is
unlinked and served again. The session's egress step calls it, and so do every usage tick
(the workflow's durable cadence) and every command run, so after a worker restart a session's
egress is back by its next command or tick at the latest. ``stop`` closes the server and
removes the directory; the reconciler stops and removes directories of dead sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel

from personas.app.policy import egress_allows

log = logging.getLogger(__name__)

SOCKET = "p.sock"
CONTAINER_DIR = "/run/egress"
PROXY_PORT = 3128
PROXY_URL = f"http://127.0.0.1:{PROXY_PORT}"
PACKAGES = ("socat",)
HEAD_LIMIT = 64 * 1024
HOP_HEADERS = {"proxy-connection", "proxy-authorization", "connection", "keep-alive"}
BURST = 64 * 1024


def throttle_delay(now: float, free_at: float, size: int, rate: float) -> tuple[float, float]:
    """How long to wait before moving ``size`` bytes at ``rate`` bytes/s, and the new
    ``free_at`` (when the bucket is empty again); the first ``BURST`` bytes go at once."""
    start = max(free_at, now)
    free_at = start + size / rate
    return max(0.0, free_at - now - BURST / rate), free_at


class Throttle:
    """A token bucket over one session's connections (``rate`` bytes/s; 0: unlimited)."""

    def __init__(self, rate: float) -> None:
        """Cap at ``rate`` bytes per second."""
        self.rate = rate
        self.free_at = 0.0

    async def take(self, size: int) -> None:
        """Wait until ``size`` more bytes may move."""
        if self.rate <= 0:
            return
        wait, self.free_at = throttle_delay(time.monotonic(), self.free_at, size, self.rate)
        if wait > 0:
            await asyncio.sleep(wait)


def forwarder_command() -> list[str]:
    """The container's main process for an egress session: socat, loopback only."""
    return [
        "socat",
        f"TCP-LISTEN:{PROXY_PORT},bind=127.0.0.1,fork,reuseaddr",
        f"UNIX-CONNECT:{CONTAINER_DIR}/{SOCKET}",
    ]


def proxy_env() -> dict[str, str]:
    """Environment pointing HTTP clients in the container at the forwarder."""
    names = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
    return {n: PROXY_URL for n in names}


class EgressStats(BaseModel):
    """Connections a session's proxy let through or refused, and bytes moved."""

    allowed: int = 0
    refused: int = 0
    bytes_out: int = 0
    bytes_in: int = 0


class _Refused(Exception):
    def __init__(self, status: str, why: str) -> None:
        super().__init__(why)
        self.status = status


def parse_head(head: bytes) -> tuple[str, int, bytes | None]:
    """Destination of a proxy request head, and the head to send upstream (None: CONNECT)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise _Refused("400 Bad Request", f"malformed request line {lines[0][:80]!r}")
    method, target, version = parts
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            raise _Refused("400 Bad Request", f"malformed CONNECT target {target[:80]!r}")
        return host.strip("[]"), int(port), None
    url = urlsplit(target)
    if url.scheme != "http" or not url.hostname:
        raise _Refused("400 Bad Request", f"only absolute http URLs are proxied: {target[:80]!r}")
    try:
        url_port = url.port or 80
    except ValueError:
        raise _Refused("400 Bad Request", f"bad port in {target[:80]!r}") from None
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    kept = [ln for ln in lines[1:] if ln and ln.split(":", 1)[0].lower() not in HOP_HEADERS]
    upstream = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""])
    return url.hostname, url_port, upstream.encode("latin-1")


class EgressProxies:
    """The egress proxies this worker serves, one Unix socket per session under ``root``."""

    def __init__(self, root: Path, app_uid: int = 10001) -> None:
        """Serve sockets under ``root``; the socket is owned by the sandbox user ``app_uid``."""
        self.root = root
        self.app_uid = app_uid
        self.stats: dict[str, EgressStats] = {}
        self._throttles: dict[str, Throttle] = {}
        self._servers: dict[str, asyncio.AbstractServer] = {}
        self._lock = asyncio.Lock()

    def session_dir(self, session_id: str) -> Path:
        """The host directory of a session's proxy (policy and mounted socket dir)."""
        return self.root / session_id

    def mount_dir(self, session_id: str) -> Path:
        """The directory mounted at /run/egress in the container."""
        return self.session_dir(session_id) / "run"

    def sessions(self, deployment: str | None = None) -> set[str]:
        """Sessions that have a proxy directory on disk (only ``deployment``'s when given: the
        root may be shared by deployments on one host)."""
        if not self.root.is_dir():
            return set()
        found = {p.name for p in self.root.iterdir() if p.is_dir()}
        if deployment is None:
            return found
        return {s for s in found if (self._policy(s) or {}).get("deployment") == deployment}

    async def start(
        self,
        session_id: str,
        allow: tuple[str, ...],
        bandwidth_mbps: int = 0,
        deployment: str = "",
    ) -> str:
        """Record the session's allowlist, bandwidth cap and owning deployment and serve its
        socket (idempotent); returns the socket's path."""
        run = self.mount_dir(session_id)
        run.mkdir(parents=True, exist_ok=True)
        for d in (self.root, self.session_dir(session_id), run):
            d.chmod(0o711)
        policy = self.session_dir(session_id) / "policy.json"
        tmp = policy.with_suffix(".tmp")
        policy_body = {
            "allow": list(allow),
            "bandwidth_mbps": bandwidth_mbps,
            "deployment": deployment,
        }
        tmp.write_text(json.dumps(policy_body))
        tmp.replace(policy)
        await self.ensure(session_id)
        return str(run / SOCKET)

    def _policy(self, session_id: str) -> dict[str, object] | None:
        try:
            data = json.loads((self.session_dir(session_id) / "policy.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _allow(self, session_id: str) -> tuple[str, ...] | None:
        policy = self._policy(session_id)
        if policy is None:
            return None
        allow = policy.get("allow", [])
        return tuple(str(r) for r in allow) if isinstance(allow, list) else ()

    def _throttle(self, session_id: str) -> Throttle:
        if session_id not in self._throttles:
            mbps = (self._policy(session_id) or {}).get("bandwidth_mbps", 0)
            rate = float(mbps) * 125_000 if isinstance(mbps, int | float) else 0.0
            self._throttles[session_id] = Throttle(rate)
        return self._throttles[session_id]

    async def ensure(self, session_id: str) -> bool:
        """Serve the session's socket unless served already; False when it has no proxy."""
        async with self._lock:
            server = self._servers.get(session_id)
            if server is not None and server.is_serving():
                return True
            if self._allow(session_id) is None:
                return False
            path = self.mount_dir(session_id) / SOCKET
            if await _answers(path):
                return True  # another live worker process serves it
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._servers[session_id] = await asyncio.start_unix_server(
                lambda r, w: self._handle(session_id, r, w), path=str(path), limit=HEAD_LIMIT
            )
            try:
                os.chown(path, self.app_uid, self.app_uid)
                path.chmod(0o600)
            except PermissionError:
                path.chmod(0o666)
            self.stats.setdefault(session_id, EgressStats())
            log.info("egress proxy of session %s serves %s", session_id, path)
            return True

    async def stop(self, session_id: str) -> bool:
        """Stop serving and remove the session's directory (idempotent); True if anything was."""
        async with self._lock:
            server = self._servers.pop(session_id, None)
            self._throttles.pop(session_id, None)
            if server is not None:
                server.close()
            found = self.session_dir(session_id).exists()
            await asyncio.to_thread(shutil.rmtree, self.session_dir(session_id), True)
            return server is not None or found

    async def close(self) -> None:
        """Stop serving every socket (the directories stay: sessions outlive a worker)."""
        for server in self._servers.values():
            server.close()
        self._servers.clear()

    async def _handle(
        self, session_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        stats = self.stats.setdefault(session_id, EgressStats())
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            host, port, upstream = parse_head(head)
            allow = self._allow(session_id) or ()
            if not egress_allows(allow, host, port):
                raise _Refused("403 Forbidden", f"{host}:{port} is not on the allowlist")
            address = await _address(host, port)
            try:
                up_r, up_w = await asyncio.wait_for(asyncio.open_connection(address, port), 10)
            except (OSError, TimeoutError) as exc:
                raise _Refused("502 Bad Gateway", f"{host}:{port} unreachable: {exc}") from None
        except _Refused as refusal:
            stats.refused += 1
            log.info("egress %s refused: %s", session_id, refusal)
            body = f"{refusal}\n".encode()
            writer.write(
                f"HTTP/1.1 {refusal.status}\r\nContent-Type: text/plain\r\nContent-Length: "
                f"{len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await _close(writer)
            return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            await _close(writer)
            return
        stats.allowed += 1
        log.info("egress %s to %s:%s", session_id, host, port)
        if upstream is None:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            up_w.write(upstream)
        throttle = self._throttle(session_id)
        out, back = await asyncio.gather(
            _pipe(reader, up_w, throttle), _pipe(up_r, writer, throttle), return_exceptions=True
        )
        stats.bytes_out += out if isinstance(out, int) else 0
        stats.bytes_in += back if isinstance(back, int) else 0
        await _close(up_w)
        await _close(writer)


async def _address(host: str, port: int) -> str:
    """The address to connect to: an IP literal as is, a name resolved to a public address."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _Refused("502 Bad Gateway", f"{host} does not resolve: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(ipaddress.ip_address(a).is_global for a in addresses):
        raise _Refused("403 Forbidden", f"{host} resolves to a non-public address")
    return addresses[0]


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, throttle: Throttle) -> int:
    moved = 0
    try:
        while chunk := await src.read(16384):
            await throttle.take(len(chunk))
            dst.write(chunk)
            await dst.drain()
            moved += len(chunk)
        if dst.can_write_eof():
            dst.write_eof()
    except (OSError, RuntimeError):
        pass
    return moved


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, RuntimeError):
        await writer.wait_closed()


async def _answers(path: Path) -> bool:
    try:
        _, w = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 1.0)
    except (OSError, TimeoutError):
        return False
    await _close(w)
    return True
