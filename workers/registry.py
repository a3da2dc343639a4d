"""What a worker registers: one function per domain returning its workflows and activities.

Workers, tests and benchmarks build their workers from these, so a new activity is
registered in one place and no copied list can miss it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, get_args

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities import ownership
from activities.agent.activities import AgentActivities
from activities.app.activities import AppActivities
from activities.app.settings import AppSettings, get_app_settings
from activities.fleet.activities import FleetActivities
from activities.fleet.drivers import FleetDriver, SimFleet
from activities.funding.activities import FundingActivities
from activities.funding.db import Database
from activities.funding.service import Funding
from activities.host import HostInfo, claim_activity
from activities.instance.activities import InstanceActivities
from activities.instance.providers import InstanceProvider, LocalDockerProvider
from activities.persona_activities import PersonaActivities
from activities.providers import ModelProvider
from activities.queues import (
    HOST_ACTIVITIES,
    PLACEMENT_ACTIVITIES,
    ROLES,
    Role,
    host_queue,
    queue_name,
    role_of,
)
from activities.store import Store
from personas.fleet.simulator import SimParams
from personas.funding.pricing import PriceTable
from workers.bytecode import cache_workflow_bytecode
from workflows.agent_turn import AgentTurn
from workflows.app_reconciler import AppReconciler
from workflows.app_session import AppSession
from workflows.fleet_ab import FleetABTest, FleetVariant
from workflows.fleet_adaptation import FleetAdaptation
from workflows.funding_cycle import FUNDING_WORKFLOWS
from workflows.negotiation import InstanceNegotiation
from workflows.persona_life import PersonaLife
from workflows.room_coordinator import RoomCoordinator


@dataclass(frozen=True)
class Registration:
    """Workflows and activities a worker registers for one domain (or several, added)."""

    workflows: list[type] = field(default_factory=list)
    activities: list[Callable[..., Any]] = field(default_factory=list)
    host: HostInfo | None = None
    """The host the host-bound activities' objects live on (the app activities' settings)."""

    def worker_options(self) -> dict[str, Any]:
        """``workflows=`` and ``activities=`` for :class:`temporalio.worker.Worker`."""
        return {"workflows": self.workflows, "activities": self.activities}

    def __add__(self, other: Registration) -> Registration:
        if self.host and other.host and self.host != other.host:
            raise ValueError(f"two hosts in one registration: {self.host}, {other.host}")
        return Registration(
            [*self.workflows, *other.workflows],
            [*self.activities, *other.activities],
            self.host or other.host,
        )

    def for_role(self, role: Role) -> Registration:
        """What ``role``'s worker registers: the workflows on ``life``, and the activities
        ``activities.queues`` assigns to the role."""
        return Registration(
            self.workflows if role == "life" else [],
            [fn for fn in self.activities if role_of(activity_name(fn)) == role],
            self.host,
        )

    def only(self, names: frozenset[str]) -> Registration:
        """The activities named in ``names`` (no workflows)."""
        return Registration(
            [], [fn for fn in self.activities if activity_name(fn) in names], self.host
        )


def activity_name(fn: Callable[..., Any]) -> str:
    """The name an activity is registered under."""
    return activity._Definition.must_from_callable(fn).name or fn.__name__


RoleChoice = Literal["life", "solver", "host", "all"]
ROLE_CHOICES: tuple[str, ...] = get_args(RoleChoice)


def roles_of(choice: str) -> tuple[Role, ...]:
    """The roles a ``--role`` choice serves (``all``: every one, the embedded default)."""
    if choice == "all":
        return ROLES
    for role in ROLES:
        if role == choice:
            return (role,)
    raise ValueError(f"unknown role {choice!r}; one of {', '.join(ROLE_CHOICES)}")


#: Concurrent solver activities a solver worker runs (CPU-bound: about one per core).
SOLVER_MAX_CONCURRENT = max(2, os.cpu_count() or 2)


class Workers:
    """One :class:`Worker` per role's task queue (derived from ``task_queue``, the base), for
    the ``roles`` served; used like a Worker (``async with``, ``run()``).

    The host role has two: the placement queue ``<base>-host`` (``host.claim`` and the app
    placement) and the host's pinned queue ``<base>-host-<host id>`` (every host-bound
    activity); the host is ``host``, else the registration's, else ``local``.

    ``options`` go to every Worker; the solver's gets ``solver_max_concurrent`` activities at a
    time. Each worker's identity ends with ``/<role>`` (``/host-<host id>`` for the host's) so
    histories show who ran what. A role with nothing registered starts no worker."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        registered: Registration,
        roles: Iterable[Role] = ROLES,
        *,
        solver_max_concurrent: int = SOLVER_MAX_CONCURRENT,
        host: HostInfo | None = None,
        **options: Any,
    ) -> None:
        self.base = task_queue
        self.host = host or registered.host or HostInfo()
        roles = tuple(roles)
        if "life" in roles:
            cache_workflow_bytecode(registered.workflows)
        self.workers: dict[str, Worker] = {}
        identity = options.pop("identity", f"{os.getpid()}@{socket.gethostname()}")
        for role in roles:
            opts = dict(options)
            if role != "life":
                opts.pop("max_cached_workflows", None)
            if role == "solver":
                opts["max_concurrent_activities"] = solver_max_concurrent
            part = registered.for_role(role)
            queues: dict[str, tuple[str, Registration]] = {
                role: (queue_name(task_queue, role), part)
            }
            if role == "host" and part.activities:
                placement = part.only(PLACEMENT_ACTIVITIES)
                placement = placement + Registration([], [claim_activity(self.host)])
                queues = {
                    "host": (queue_name(task_queue, role), placement),
                    "host-pinned": (
                        host_queue(task_queue, self.host.host_id),
                        part.only(HOST_ACTIVITIES),
                    ),
                }
            for key, (queue, what) in queues.items():
                if not what.workflows and not what.activities:
                    continue
                who = f"host-{self.host.host_id}" if role == "host" else role
                self.workers[key] = Worker(
                    client,
                    task_queue=queue,
                    identity=f"{identity}/{who}",
                    **what.worker_options(),
                    **opts,
                )
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def task_queues(self) -> dict[str, str]:
        """The queue each served role polls (``host`` and ``host-pinned`` for the host)."""
        return {key: w.task_queue for key, w in self.workers.items()}

    async def __aenter__(self) -> Workers:
        stack = contextlib.AsyncExitStack()
        try:
            for worker in self.workers.values():
                await stack.enter_async_context(worker)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    async def run(self) -> None:
        """Run every worker until cancelled (or one fails)."""
        await asyncio.gather(*(w.run() for w in self.workers.values()))


def life(
    store: Store,
    provider: ModelProvider,
    client: Client,
    task_queue: str,
    *,
    agent: AgentActivities | None = None,
) -> Registration:
    """Persona lives, their agent turns and room coordinators, and the activities they call.

    ``agent``: the agent turn's activities (by default on ``provider``, with sandboxes owned
    by the deployment of ``client`` and ``store``; nothing touches Docker until a tool runs).
    """
    acts = PersonaActivities(store, provider, client, task_queue)
    if agent is None:
        agent = AgentActivities(
            store, provider, deployment=ownership.of_client("", client, store.url)
        )
    return Registration([PersonaLife, AgentTurn, RoomCoordinator], acts.all() + agent.all())


def funding(
    store: Store, client: Client, *, prices: PriceTable | None = None, **options: Any
) -> Registration:
    """Funding cycles and key rotation on ``store``'s database (migrated first).

    ``options`` go to :class:`FundingActivities` (``key_sink``, ``faults``,
    ``ad_share_percent``, ``opt_out_policy``).
    """
    acts = FundingActivities(Funding(Database(store.engine), prices), client, store, **options)
    return Registration(list(FUNDING_WORKFLOWS), acts.all())


def instance(
    store: Store,
    providers: dict[str, InstanceProvider] | None = None,
    host_id: str | None = None,
    **options: Any,
) -> Registration:
    """Instance negotiations, with ``providers`` (by default local Docker, its containers
    labelled with ``host_id``).

    ``options`` go to :class:`InstanceActivities` (``catalog``, ``dataset``).
    """
    providers = providers or {"docker": LocalDockerProvider(host_id=host_id)}
    acts = InstanceActivities(store, providers, **options)
    return Registration([InstanceNegotiation], acts.all())


def fleet(
    store: Store, driver: FleetDriver | None = None, params: SimParams | None = None
) -> Registration:
    """Fleet adaptation and A/B tests on ``driver`` (a simulated fleet by default)."""
    acts = FleetActivities(store, driver or SimFleet(params), params)
    return Registration([FleetAdaptation, FleetABTest, FleetVariant], acts.all())


def app(store: Store, settings: AppSettings | None = None, **options: Any) -> Registration:
    """App sessions and their reconciler; ``options`` go to :class:`AppActivities`
    (``sandboxes``, ``builder``, ``faults``). Nothing touches Docker until the first session.
    """
    return app_of(AppActivities(store, settings or get_app_settings(), **options))


def app_of(acts: AppActivities) -> Registration:
    """App sessions and their reconciler over activities the caller keeps (to close them),
    on the host of their settings."""
    return Registration([AppSession, AppReconciler], acts.all(), acts.settings.host())
