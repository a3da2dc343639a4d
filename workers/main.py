"""The persona worker: ``personas-worker --role life|solver|host|all``.

``life`` runs every workflow and the activities of the store, the ledger and the models;
``solver`` the CPU-bound solver and learning activities; ``host`` everything bound to this
machine (Docker, testbeds, egress); ``all`` (the default, the embedded setup) every role in one
process. Each role polls its own task queue, derived from ``PERSONAS_TASK_QUEUE``
(``activities/queues.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client

from activities.app.broker import BrokerNotConfigured, broker_keys
from activities.app.capacity import register_host
from activities.app.settings import AppSettings, get_app_settings
from activities.fleet.drivers import FleetDriver, driver_from_settings
from activities.host import check_host_id
from activities.instance.providers import LocalDockerProvider
from activities.instance.reconcile import reconcile_instances_every
from activities.providers import ModelProvider, provider_from_settings
from activities.queues import ROLES, Role
from activities.store import Store
from activities.store.db import make_engine
from clients.app_api import AppClient
from runtime.settings import Settings, get_settings
from runtime.temporal import connect
from workers import registry, telemetry

#: Workflow tasks a worker holds at once. Its workflow code runs on one interpreter, one
#: activation at a time, and a task's 10 s timeout runs from when the worker took it: holding
#: the SDK's default of 100 while thousands of lives started, the last waited behind the other
#: 99, over 5 s and past the timeout (then done again). Each slot also waits for the server's
#: answer to the task it completed, so too few leave the interpreter idle (8 halved the
#: throughput of a wake-up). 32 at most 150 ms an activation is under 5 s of waiting.
WORKFLOW_TASK_SLOTS = 32
#: How long a cached workflow's task waits on the worker's sticky queue before any worker may
#: take it (then replaying its whole history): a busy worker keeps its lives rather than
#: paying a replay for each; a worker that is gone is detected by the server sooner.
STICKY_TIMEOUT = timedelta(seconds=30)


def build_worker(
    client: Client,
    store: Store,
    provider: ModelProvider,
    task_queue: str,
    fleet_driver: FleetDriver | None = None,
    roles: Iterable[Role] = ROLES,
    app_settings: AppSettings | None = None,
) -> registry.Workers:
    """Workers for ``roles`` (every one by default) of every persona workflow and activity, on
    the queues derived from ``task_queue`` (fleet activities on ``fleet_driver``, the simulated
    fleet by default; the host's id from ``app_settings``); every store shares
    ``store.engine``."""
    app_settings = app_settings or get_app_settings()
    registered = (
        registry.life(store, provider, client, task_queue)
        + registry.instance(store, host_id=app_settings.host_id)
        + registry.funding(store, client)
        + registry.fleet(store, fleet_driver)
        + registry.app(store, app_settings)
    )
    return registry.Workers(
        client,
        task_queue,
        registered,
        roles,
        activity_executor=ThreadPoolExecutor(max_workers=16),
        max_cached_workflows=2_000,
        max_concurrent_workflow_tasks=WORKFLOW_TASK_SLOTS,
        sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
        interceptors=[telemetry.MetricsInterceptor()],
    )


async def run_worker(settings: Settings, role: str = "all", host_id: str | None = None) -> None:
    """Connect, migrate the store and serve until cancelled, on one engine (one connection
    pool) that every store of the process shares, disposed at shutdown.

    Refuses to start (BrokerNotConfigured, saying what to set) when no app JWT keys are
    configured outside PERSONAS_APP_DEV_MODE (any role: the app activities are registered
    on their role's worker)."""
    roles = registry.roles_of(role)
    app_settings = get_app_settings()
    if host_id:
        app_settings = app_settings.model_copy(update={"host_id": check_host_id(host_id)})
    broker_keys(app_settings)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    store = Store(engine)
    store.migrate()
    client = await connect(
        settings,
        runtime=telemetry.sdk_runtime(settings),
        interceptors=telemetry.tracing_interceptors(f"personas-worker-{role}"),
    )
    metrics = telemetry.serve_domain_metrics(settings, engine)
    driver = driver_from_settings(settings)
    provider = provider_from_settings(settings)
    worker = build_worker(client, store, provider, settings.task_queue, driver, roles, app_settings)
    apps = AppClient(client, store, settings.task_queue, app_settings)
    if "life" in roles:
        await apps.ensure_reconciler()
    if "host" in roles:  # register this host's capacity, then remove what it left before
        await asyncio.to_thread(register_host, store, app_settings)
        await apps.reconcile_host(app_settings.host_id)
    logging.info(
        "worker (role %s, host %s) on %s, task queues %s; metrics on %s:%s (SDK) and :%s (domain)",
        role,
        app_settings.host_id,
        settings.temporal_address,
        ", ".join(worker.task_queues.values()),
        settings.metrics_host,
        settings.sdk_metrics_port or "off",
        metrics.server_port if metrics else "off",
    )
    instances = None
    if "host" in roles:
        instances = asyncio.create_task(
            reconcile_instances_every(
                client,
                LocalDockerProvider(host_id=app_settings.host_id),
                settings.instance_reconcile_every_s,
            )
        )
    try:
        await worker.run()
    finally:
        if instances is not None:
            instances.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await instances
        await driver.close()
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """``personas-worker [--role ROLE]``: run the worker with the settings from the
    environment."""
    parser = argparse.ArgumentParser(prog="personas-worker", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--role",
        choices=registry.ROLE_CHOICES,
        default="all",
        help="which task queues this process serves (default: all, the embedded setup)",
    )
    parser.add_argument(
        "--host-id",
        default=None,
        help="this host's id (default $PERSONAS_HOST_ID, else local): a host worker polls"
        " <queue>-host and its pinned <queue>-host-<id>",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_worker(get_settings(), args.role, args.host_id))
    except BrokerNotConfigured as err:
        logging.error("worker not started: %s", err)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
