"""One replica of the testbed's service: ``python -m activities.fleet.service PORT SHARE CACHE``.

Each request ``GET /item/<key>`` costs ``WORK_S`` seconds of CPU work (hashing) unless its key
is cached. The work is fixed in time, not in hash rounds, so a replica's capacity is the same on
a fast machine and a slow one (a fixed round count made a quarter-CPU replica four times
faster on a fast CI machine than here, and an A/B test of it against a full one undecided); it
matches the simulator's calibrated ``work_ms``. The CPU share emulates a CPU quota: after ``t``
seconds of work the replica stays busy ``t * (1 / share - 1)`` more seconds, so a replica at
share 0.25 serves four times slower.
Caching: ``none``; ``lru`` (``LRU_SIZE`` keys); ``ttl`` (every key for ``TTL_S`` seconds).
Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from collections import OrderedDict

WORK_S = 0.0025
RESULT_ROUNDS = 64
LRU_SIZE = 16
TTL_S = 1.0


class Cache:
    """The replica's cache of computed results."""

    def __init__(self, strategy: str) -> None:
        self.strategy = strategy
        self.lru: OrderedDict[str, bytes] = OrderedDict()
        self.ttl: dict[str, tuple[float, bytes]] = {}

    def get(self, key: str) -> bytes | None:
        """The cached value, or None."""
        if self.strategy == "lru" and key in self.lru:
            self.lru.move_to_end(key)
            return self.lru[key]
        if self.strategy == "ttl" and key in self.ttl:
            at, value = self.ttl[key]
            if time.monotonic() - at < TTL_S:
                return value
        return None

    def put(self, key: str, value: bytes) -> None:
        """Remember a value under the strategy."""
        if self.strategy == "lru":
            self.lru[key] = value
            while len(self.lru) > LRU_SIZE:
                self.lru.popitem(last=False)
        elif self.strategy == "ttl":
            self.ttl[key] = (time.monotonic(), value)


def work(key: str) -> bytes:
    """The request's result (a function of the key), after ``WORK_S`` seconds of hashing."""
    deadline = time.perf_counter() + WORK_S
    h = key.encode()
    for _ in range(RESULT_ROUNDS):
        h = hashlib.sha256(h).digest()
    burn = h
    while time.perf_counter() < deadline:
        for _ in range(RESULT_ROUNDS):
            burn = hashlib.sha256(burn).digest()
    return h.hex().encode()


class Replica:
    """The request handler of one replica."""

    def __init__(self, share: float, strategy: str) -> None:
        self.share = share
        self.cache = Cache(strategy)
        self.cpu = asyncio.Lock()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one HTTP/1.0 request and close."""
        try:
            line = (await reader.readline()).decode(errors="replace")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
            key = path.split("?")[0].rsplit("/", 1)[-1]
            body = self.cache.get(key)
            if body is None:
                async with self.cpu:
                    t0 = time.perf_counter()
                    body = work(key)
                    spent = time.perf_counter() - t0
                    await asyncio.sleep(spent * (1.0 / self.share - 1.0))
                self.cache.put(key, body)
            head = f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (ConnectionError, IndexError):
            pass
        finally:
            writer.close()


async def serve(port: int, share: float, strategy: str) -> None:
    """Serve forever on 127.0.0.1:port."""
    replica = Replica(share, strategy)
    server = await asyncio.start_server(replica.handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]))
