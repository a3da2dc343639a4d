"""Robustness benchmark (issue 11): hostile input, limits under concurrency, app sandboxes.

1. **Hostile input.** On the dev server, one long-lived workflow of each type (persona life,
   room, funding cycle, fleet adaptation) receives hostile payloads (``tests/hostile.py``)
   for every signal and update, and a few workflows of every type are started with hostile
   start inputs. A workflow is *wedged* when afterwards it does not answer its query or
   does not finish on ``stop``; every ``WORKFLOW_TASK_FAILED`` event in a history counts.
2. **Limits.** 50 concurrent attempts against a limit that admits 10, for the manual
   top-up, the contribution, the hold and the cycle top-up, on SQLite and PostgreSQL
   (``PERSONAS_TEST_POSTGRES_URL``); an overshoot is each success (or micro-unit of balance)
   beyond what the limit admits.
3. **App sandboxes.** When ``bench/robustness_app.py`` exists, its figures are merged in
   (its ``measure()`` returns them as a dict).

Run it as a module from the repository: ``.venv/bin/python -m bench.robustness``.
Prints progress, then one JSON line: ``hostile_payloads``, ``wedged_workflows``,
``failed_workflow_tasks``, ``limit_overshoots``, ``foreign_objects_removed``,
``own_orphans_left``, ``zombie_sessions``, ``zombie_release_s``,
``unauthorised_actions_allowed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RawValue
from temporalio.service import RPCError

from activities.funding.db import Database
from activities.funding.ledger import entity_budget, persona_balance
from activities.funding.service import Funding
from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from bench import robustness_app
from bench._common import emit, log
from clients.api import PersonaClient
from personas import messages
from personas.fleet.config import DEFAULT_CONFIG
from personas.fleet.simulator import Scenario
from personas.funding.cycle import CycleConfig, FundingCycleInput
from personas.funding.money import MICROS
from personas.funding.topup import TopUpPolicy
from personas.ids import fleet_workflow_id, funding_workflow_id, persona_workflow_id
from personas.life import PersonaLifeInput
from personas.models import AIPersonaProfile
from personas.rooms import RoomInput
from runtime.servers import dev_server_env
from tests.helpers import fresh_postgres_database
from tests.hostile import NULL, Hostile, draw, hostile_payloads
from tests.workflow.fleet_support import acme_fleet
from workers.main import build_worker
from workflows.fleet_ab import FleetABTest, FleetVariant
from workflows.fleet_adaptation import FleetAdaptation
from workflows.funding_cycle import FundingCycle, KeyRotation
from workflows.persona_life import PersonaLife
from workflows.room_coordinator import RoomCoordinator

POSTGRES_URL = os.environ.get(
    "PERSONAS_TEST_POSTGRES_URL",
    "postgresql+psycopg://personas:personas@127.0.0.1:5432/personas_test",
)
PER_MESSAGE = 30
PER_START = 5
ATTEMPTS = 50
ADMITTED = 10
LIMIT = ADMITTED * MICROS
APP_KEYS = (
    "foreign_objects_removed",
    "own_orphans_left",
    "zombie_sessions",
    "zombie_release_s",
    "unauthorised_actions_allowed",
)
ITEM = {"item_id": "i-1", "sender_id": "bob", "sent_at": "2026-01-01T00:00:00Z"}


# ----------------------------------------------------------------------------- hostile input
class Tally:
    """What the hostile part sent and found."""

    def __init__(self) -> None:
        self.sent = 0
        self.handles: list[WorkflowHandle[Any, Any]] = []
        self.wedged = 0
        self.failed = 0


async def _send(tally: Tally, call: Callable[[RawValue], Any], payloads: list[Hostile]) -> None:
    for p in payloads:
        tally.sent += 1
        with contextlib.suppress(Exception):  # refusals are the point; wedges are counted later
            await call(p.raw())


async def _messages(
    tally: Tally, handle: WorkflowHandle[Any, Any], signals: list[str], updates: list[str]
) -> None:
    for name in signals:
        await _send(tally, partial(handle.signal, name), _payloads())
    for name in updates:
        await _send(tally, partial(handle.execute_update, name), _payloads())


def _payloads(valid: dict[str, Any] | None = None) -> list[Hostile]:
    return [*draw(hostile_payloads(valid or ITEM), PER_MESSAGE), NULL]


async def _finishes(tally: Tally, handle: WorkflowHandle[Any, Any], query: str) -> None:
    """Wedged unless it answers its query and finishes on stop within a minute."""
    try:
        await asyncio.wait_for(handle.query(query), 30)
        await handle.signal(messages.STOP)
        await asyncio.wait_for(handle.result(), 60)
    except Exception as err:
        log(f"wedged: {handle.id}: {str(err)[:120]}")
        tally.wedged += 1


async def _starts(
    tally: Tally, client: Client, queue: str, run: Any, valid: dict[str, Any]
) -> None:
    for p in [*draw(hostile_payloads(valid), PER_START), NULL]:
        tally.sent += 1
        wid = f"hostile-start-{uuid.uuid4().hex[:8]}"
        try:
            handle = await client.start_workflow(
                run, p.raw(), id=wid, task_queue=queue, execution_timeout=timedelta(minutes=2)
            )
        except RPCError:
            continue
        tally.handles.append(handle)
        try:
            await asyncio.wait_for(handle.result(), 20)
        except TimeoutError:
            await handle.terminate("valid after all")  # a harmless mutation: it runs
        except Exception:
            pass


async def _task_failures(handle: WorkflowHandle[Any, Any]) -> int:
    failed = 0
    async for event in handle.fetch_history_events():
        failed += event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    return failed


def _profile() -> AIPersonaProfile:
    return AIPersonaProfile(
        entity_id="acme",
        name="Ada",
        base_persona="llama3",
        specialization="python code review",
        activation_triggers=("shift_start",),
        deactivation_triggers=("shift_end",),
    )


async def hostile(tmp: Path) -> Tally:
    """Send hostile payloads to every workflow type; count wedges and failed tasks."""
    tally = Tally()
    store = Store(f"sqlite:///{tmp / 'hostile.db'}")
    store.migrate()
    store.upsert_entity("acme", "Acme", [])
    async with dev_server_env() as env:
        queue = f"robust-{uuid.uuid4().hex[:8]}"
        async with build_worker(env.client, store, OfflineDeterministicProvider(), queue):
            client = env.client
            personas = PersonaClient(client, store, queue)
            record = await personas.create_persona(_profile(), created_by="bench")
            await personas.start_life(record.persona_id)
            life = client.get_workflow_handle(persona_workflow_id(record.persona_id))
            room = await client.start_workflow(
                RoomCoordinator.run,
                RoomInput(room_id="r1", members=[record.persona_id]),
                id="room-r1",
                task_queue=queue,
            )
            pid = uuid.uuid4().hex
            funding = await client.start_workflow(
                FundingCycle.run,
                FundingCycleInput(
                    persona_id=pid,
                    entity_id="acme",
                    funding_limit=LIMIT,
                    allocation=MICROS,
                    config=CycleConfig(period_s=3_600),
                ),
                id=funding_workflow_id(pid),
                task_queue=queue,
            )
            fid = f"f{uuid.uuid4().hex[:8]}"
            fleet = await client.start_workflow(
                FleetAdaptation.run,
                acme_fleet(
                    fid,
                    cadence_s=3_600,
                    scenario=Scenario(rate_rps=50, duration_s=0.5),
                ),
                id=fleet_workflow_id(fid),
                task_queue=queue,
            )
            tally.handles += [life, room, funding, fleet]
            life_signals = [
                messages.DELIVER,
                messages.SUBSCRIBE,
                messages.DEPENDENCY_DONE,
                messages.FLOOR_GRANTED,
            ]
            life_updates = ["post", messages.FIRE_TRIGGER, messages.SET_COMPUTE_BUDGET]
            await _messages(tally, life, life_signals, [*life_updates, messages.SET_METERING])
            await _messages(tally, room, ["post", messages.BIDS], ["join", "leave"])
            await _messages(tally, funding, ["run_cycle", "funds_arrived"], ["set_allocation"])
            await _messages(
                tally,
                fleet,
                [messages.RISK, "observe_now"],
                ["set_risk", "set_shadow", "set_context", "set_persona"],
            )
            log(f"sent {tally.sent} hostile messages")
            for handle, query in [(life, "view"), (funding, "view"), (fleet, "view")]:
                await _finishes(tally, handle, query)
            try:
                await asyncio.wait_for(room.query("view"), 30)
            except Exception:
                tally.wedged += 1
            with contextlib.suppress(RPCError):
                await room.terminate("bench over")
            config = DEFAULT_CONFIG.model_dump()
            starts: list[tuple[Any, dict[str, Any]]] = [
                (PersonaLife.run, PersonaLifeInput(profile=_profile()).model_dump(mode="json")),
                (RoomCoordinator.run, RoomInput(room_id="r2").model_dump()),
                (FundingCycle.run, {"persona_id": "p", "entity_id": "acme"}),
                (KeyRotation.run, {"persona_id": "p", "overlap_s": 60}),
                (FleetAdaptation.run, {"fleet_id": "f", "entity_id": "acme"}),
                (FleetABTest.run, {"ab_id": "a", "fleet_id": "f", "variants": {"a": config}}),
                (FleetVariant.run, {"ab_id": "a", "fleet_id": "f", "name": "a", "config": config}),
            ]
            for run, valid in starts:
                await _starts(tally, client, queue, run, valid)
            log(f"sent {tally.sent} hostile payloads in all")
            tally.failed = sum([await _task_failures(h) for h in tally.handles])
    store.dispose()
    return tally


# ----------------------------------------------------------------------------- limits
def _race(fn: Callable[[int], object]) -> int:
    """How many of ``ATTEMPTS`` concurrent calls of ``fn`` (released together) succeeded."""
    barrier = threading.Barrier(ATTEMPTS)

    def run(i: int) -> bool:
        barrier.wait(timeout=60)
        try:
            fn(i)
        except Exception:
            return False
        return True

    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        return sum(pool.map(run, range(ATTEMPTS)))


def _funding(url: str, tag: str) -> tuple[Funding, Database]:
    db = Database(url)
    funding = Funding(db)
    funding.setup_persona("e1", tag)
    funding.deposit(f"seed-{tag}", entity_budget("e1"), 1_000 * MICROS)
    return funding, db


def overshoots(url: str) -> dict[str, int]:
    """Successes beyond the limit for each funding path on the database at ``url``."""
    store = Store(url)
    store.migrate()
    store.dispose()
    out: dict[str, int] = {}
    f, db = _funding(url, "pm")
    done = _race(lambda i: f.manual_top_up(f"m{i}", "pm", entity_budget("e1"), MICROS, LIMIT))
    out["manual_top_up"] = max(0, done - ADMITTED)
    f.setup_persona("e1", "pc")
    f.deposit("seed-gift", f.add_source("e1", "gift", 1), 100 * MICROS)
    done = _race(lambda i: f.contribute(f"c{i}", "gift", "pc", MICROS, "user", LIMIT))
    out["contribution"] = max(0, done - ADMITTED)
    f.setup_persona("e1", "ph")
    f.deposit("d-ph", persona_balance("ph"), ADMITTED * MICROS)
    done = _race(lambda i: f.ledger.hold(f"h{i}", "ph", MICROS, timedelta(minutes=5)))
    out["hold"] = max(0, done - ADMITTED)
    f.setup_persona("e1", "pt")
    policy = TopUpPolicy(threshold=100 * MICROS, target=100 * MICROS)
    _race(lambda i: f.top_up(f"cycle-{i}", "pt", policy, LIMIT))
    out["cycle_top_up"] = max(0, f.ledger.balance(persona_balance("pt")) - LIMIT) // MICROS
    db.dispose()
    return out


def postgres_url() -> contextlib.AbstractContextManager[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    base = make_url(POSTGRES_URL)
    name = f"{base.database or 'personas'}_robust_{uuid.uuid4().hex[:8]}"
    return fresh_postgres_database(POSTGRES_URL, name)


# ----------------------------------------------------------------------------- app figures
async def app_figures() -> dict[str, Any]:
    """The app sandbox figures of ``bench/robustness_app.py`` (two deployments on one engine,
    containers killed from outside, unauthorised actions)."""
    figures = await robustness_app.measure()
    return {key: figures.get(key) for key in APP_KEYS}


async def main_async() -> dict[str, Any]:
    """Every part, in turn."""
    with tempfile.TemporaryDirectory() as tmp:
        tally = await hostile(Path(tmp))
        log(f"hostile: {tally.wedged} wedged, {tally.failed} failed workflow tasks")
        sqlite = overshoots(f"sqlite:///{Path(tmp) / 'limits.db'}")
        log(f"sqlite overshoots: {sqlite}")
    with postgres_url() as url:
        postgres = overshoots(url)
    log(f"postgres overshoots: {postgres}")
    return {
        "hostile_payloads": tally.sent,
        "wedged_workflows": tally.wedged,
        "failed_workflow_tasks": tally.failed,
        "limit_overshoots": sum(sqlite.values()) + sum(postgres.values()),
        **await app_figures(),
    }


def main() -> None:
    """Run the benchmark and print its JSON line last."""
    emit(asyncio.run(main_async()))


if __name__ == "__main__":
    main()
