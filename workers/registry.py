"""What a worker registers: one function per domain returning its workflows and activities.

Workers, tests and benchmarks build their workers from these, so a new activity is
registered in one place and no copied list can miss it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from activities.app.activities import AppActivities
from activities.app.settings import AppSettings, get_app_settings
from activities.fleet.activities import FleetActivities
from activities.fleet.drivers import FleetDriver, SimFleet
from activities.funding.activities import FundingActivities
from activities.funding.db import Database
from activities.funding.service import Funding
from activities.instance.activities import InstanceActivities
from activities.instance.providers import InstanceProvider, LocalDockerProvider
from activities.persona_activities import PersonaActivities
from activities.providers import ModelProvider
from activities.store import Store
from personas.fleet.simulator import SimParams
from personas.funding.pricing import PriceTable
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

    def worker_options(self) -> dict[str, Any]:
        """``workflows=`` and ``activities=`` for :class:`temporalio.worker.Worker`."""
        return {"workflows": self.workflows, "activities": self.activities}

    def __add__(self, other: Registration) -> Registration:
        return Registration(
            [*self.workflows, *other.workflows], [*self.activities, *other.activities]
        )


def life(store: Store, provider: ModelProvider, client: Client, task_queue: str) -> Registration:
    """Persona lives and room coordinators, and the activities they call."""
    acts = PersonaActivities(store, provider, client, task_queue)
    return Registration([PersonaLife, RoomCoordinator], acts.all())


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
    store: Store, providers: dict[str, InstanceProvider] | None = None, **options: Any
) -> Registration:
    """Instance negotiations, with ``providers`` (local Docker by default).

    ``options`` go to :class:`InstanceActivities` (``catalog``, ``dataset``).
    """
    acts = InstanceActivities(store, providers or {"docker": LocalDockerProvider()}, **options)
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
    """App sessions and their reconciler over activities the caller keeps (to close them)."""
    return Registration([AppSession, AppReconciler], acts.all())
