"""The persona worker: persona lives and room coordinators, and their activities."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.app import app_activities, app_workflows
from activities.fleet import fleet_activities, fleet_workflows
from activities.fleet.drivers import FleetDriver, driver_from_settings
from activities.funding.worker import funding_activities
from activities.instance import instance_activities, instance_workflows
from activities.persona_activities import PersonaActivities
from activities.providers import ModelProvider, provider_from_settings
from activities.store import Store
from activities.store.db import make_engine
from clients.api import connect
from clients.app_api import AppClient
from runtime.settings import Settings, get_settings
from workflows.funding_cycle import FUNDING_WORKFLOWS
from workflows.persona_life import PersonaLife
from workflows.room_coordinator import RoomCoordinator

WORKFLOWS = [PersonaLife, RoomCoordinator, *FUNDING_WORKFLOWS]


def build_worker(
    client: Client,
    store: Store,
    provider: ModelProvider,
    task_queue: str,
    fleet_driver: FleetDriver | None = None,
) -> Worker:
    """A worker for every persona workflow and activity on ``task_queue`` (fleet activities on
    ``fleet_driver``, the simulated fleet by default); every store shares ``store.engine``."""
    acts = PersonaActivities(store, provider, client, task_queue)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[*WORKFLOWS, *instance_workflows(), *fleet_workflows(), *app_workflows()],
        activities=[
            acts.think,
            acts.record_shed,
            acts.post_to_room,
            acts.deliver,
            acts.signal_persona,
            *instance_activities(store),
            *funding_activities(store, client),
            *fleet_activities(store, fleet_driver),
            *app_activities(store),
        ],
        activity_executor=ThreadPoolExecutor(max_workers=16),
        max_cached_workflows=2_000,
    )


async def run_worker(settings: Settings) -> None:
    """Connect, migrate the store and serve until cancelled, on one engine (one connection
    pool) that every store of the process shares, disposed at shutdown."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    store = Store(engine)
    store.migrate()
    client = await connect(settings)
    driver = driver_from_settings(settings)
    worker = build_worker(
        client, store, provider_from_settings(settings), settings.task_queue, driver
    )
    await AppClient(client, store, settings.task_queue).ensure_reconciler()
    logging.info("worker on %s, task queue %s", settings.temporal_address, settings.task_queue)
    try:
        await worker.run()
    finally:
        await driver.close()
        engine.dispose()


def main() -> None:
    """``personas-worker``: run the worker with the settings from the environment."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(get_settings()))


if __name__ == "__main__":
    main()
