"""The persona worker: persona lives and room coordinators, and their activities."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.app.broker import BrokerNotConfigured, broker_keys
from activities.app.settings import get_app_settings
from activities.fleet.drivers import FleetDriver, driver_from_settings
from activities.providers import ModelProvider, provider_from_settings
from activities.store import Store
from activities.store.db import make_engine
from clients.app_api import AppClient
from runtime.settings import Settings, get_settings
from runtime.temporal import connect
from workers import registry


def build_worker(
    client: Client,
    store: Store,
    provider: ModelProvider,
    task_queue: str,
    fleet_driver: FleetDriver | None = None,
) -> Worker:
    """A worker for every persona workflow and activity on ``task_queue`` (fleet activities on
    ``fleet_driver``, the simulated fleet by default); every store shares ``store.engine``."""
    registered = (
        registry.life(store, provider, client, task_queue)
        + registry.instance(store)
        + registry.funding(store, client)
        + registry.fleet(store, fleet_driver)
        + registry.app(store)
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=registered.workflows,
        activities=registered.activities,
        activity_executor=ThreadPoolExecutor(max_workers=16),
        max_cached_workflows=2_000,
    )


async def run_worker(settings: Settings) -> None:
    """Connect, migrate the store and serve until cancelled, on one engine (one connection
    pool) that every store of the process shares, disposed at shutdown.

    Refuses to start (BrokerNotConfigured, saying what to set) when no app JWT keys are
    configured outside PERSONAS_APP_DEV_MODE."""
    broker_keys(get_app_settings())
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
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_worker(get_settings()))
    except BrokerNotConfigured as err:
        logging.error("worker not started: %s", err)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
