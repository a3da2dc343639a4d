"""Benchmark of app session provisioning on the real Docker engine and a Temporal dev server.

    .venv/bin/python bench/provisioning.py --quick   # under a minute once images are cached

Provision latency (request until the sandbox answers health checks) and release latency
(release until container, volumes and reservation are gone) with the image already built;
sessions per minute of concurrent request/release cycles; and what is left after sessions
whose saga fails at each step in turn (and at the egress-proxy step of a persona allowed
egress). The last line printed is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from activities.app.contracts import STEPS
from activities.app.images import ImageBuilder
from activities.app.resources import ResourceManager
from activities.app.sandbox import Sandboxes
from activities.app.settings import AppSettings
from activities.funding.admins import AdminStore
from activities.funding.db import Database
from bench._common import emit, log, percentile, rounded, temp_store
from clients.api import PersonaError
from clients.app_api import AppClient
from runtime.servers import dev_server_env as dev_env
from workers import registry

APPS = ["jq"]
PERSONA: dict[str, object] = {
    "persona_id": "bench-reviewer",
    "persona_name": "Bench Reviewer",
    "required_applications": APPS,
    "application_configuration": {"default": {"files": {"/config/a.json": "{}"}}},
    "resource_requirements": {
        "cpu_millis": 250,
        "memory_mb": 32,
        "storage_mb": 8,
        "tmp_mb": 4,
        "home_mb": 4,
    },
}

EGRESS_PERSONA: dict[str, object] = {
    **PERSONA,
    "persona_id": "bench-fetcher",
    "persona_name": "Bench Fetcher",
    "access_controls": {"network_egress": True, "egress_allowlist": ["127.0.0.1:9"]},
}


class Tracked(AppClient):
    """A broker client that remembers the sessions it starts."""

    started: set[str]

    def new_session_id(self) -> str:
        """A fresh session id, remembered."""
        sid = super().new_session_id()
        self.started.add(sid)
        return sid


async def cycle(app: AppClient, token: str) -> tuple[float, float]:
    """One request/release cycle; returns (provision seconds, release seconds)."""
    t0 = time.perf_counter()
    view = await app.request(str(PERSONA["persona_id"]), token)
    t1 = time.perf_counter()
    await app.release(view.session_id, token)
    return t1 - t0, time.perf_counter() - t1


def leaked(app: Tracked, settings: AppSettings) -> int:
    """Containers/volumes and egress proxy dirs of this run's sessions plus live
    reservations."""
    sandboxes = Sandboxes(settings.data_root, egress_root=settings.egress_root)
    sandboxes.deployment = app.deployment()
    on_docker = (sandboxes.managed_sessions() | sandboxes.egress.sessions()) & app.started
    rm = ResourceManager(app.store.url)
    try:
        held = rm.live_sessions() & app.started
    finally:
        rm.dispose()
    return len(on_docker) + len(held)


async def run(quick: bool) -> dict[str, float | int | None]:
    """Run every phase and return the figures."""
    n_seq, n_conc, width = (8, 12, 6) if quick else (30, 60, 12)
    with TemporaryDirectory(prefix="bench-app-") as tmp, temp_store() as store:
        settings = AppSettings(
            jwt_keys=[SecretStr(uuid.uuid4().hex * 2)],
            host_id=f"bench-{uuid.uuid4().hex[:8]}",
            host_cpu_millis=64_000,
            host_memory_mb=64_000,
            cache_dir=Path("/var/tmp/persona-app-cache"),
            data_root=Path(tmp),
        )
        started = time.perf_counter()
        image = await asyncio.to_thread(ImageBuilder(settings.cache_dir).persona, APPS)
        log(f"image {image} ready in {time.perf_counter() - started:.1f} s")
        async with dev_env() as env:
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            app = Tracked(env.client, store, queue, settings)
            app.started = set()
            admin = AdminStore(Database(store.engine)).create("bench", None)
            await app.define("acme", "bench", admin, **PERSONA)
            await app.grant(str(PERSONA["persona_id"]), "bench-user", admin)
            await app.define("acme", "bench", admin, **EGRESS_PERSONA)
            await app.grant(str(EGRESS_PERSONA["persona_id"]), "bench-user", admin)
            token = app.broker.issue("bench-user")
            async with registry.Workers(
                env.client,
                queue,
                registry.app(store, settings),
                max_concurrent_activities=64,
            ):
                await cycle(app, token)  # warm-up
                prov, rel = [], []
                for _ in range(n_seq):
                    p, r = await cycle(app, token)
                    prov.append(p)
                    rel.append(r)
                log(f"{n_seq} sequential cycles: provision p50 {percentile(prov, 50):.3f} s")
                sem = asyncio.Semaphore(width)

                async def bounded() -> None:
                    async with sem:
                        await cycle(app, token)

                t0 = time.perf_counter()
                await asyncio.gather(*(bounded() for _ in range(n_conc)))
                per_min = n_conc / (time.perf_counter() - t0) * 60
                log(f"{n_conc} concurrent cycles ({width} at a time): {per_min:.1f}/min")
            faults = [(step, PERSONA) for step in STEPS] + [("egress", EGRESS_PERSONA)]
            for step, persona in faults:
                async with registry.Workers(
                    env.client,
                    f"{queue}-{step}",
                    registry.app(store, settings, faults={step: "fail"}),
                ):
                    faulty = Tracked(env.client, store, f"{queue}-{step}", settings)
                    faulty.started = app.started
                    try:
                        await faulty.request(str(persona["persona_id"]), token)
                    except PersonaError as err:
                        log(f"fault at {step}: {err}")
            leaks = await asyncio.to_thread(leaked, app, settings)
            log(f"{len(app.started)} sessions in all; leaked after faults: {leaks}")
    return {
        "provision_p50_s": rounded(percentile(prov, 50), 3),
        "provision_p95_s": rounded(percentile(prov, 95), 3),
        "release_p50_s": rounded(percentile(rel, 50), 3),
        "sessions_per_min": round(per_min, 1),
        "leaked_after_faults": leaks,
        "sessions": len(app.started),
    }


def main() -> None:
    """Parse arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cycles, under a minute")
    args = parser.parse_args()
    emit(asyncio.run(run(args.quick)))


if __name__ == "__main__":
    main()
