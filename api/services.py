"""The clients every route uses, built once per app over one Temporal client and one store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from activities.api_access.idempotency import IdempotencyStore
from activities.api_access.keys import ApiKeyStore
from activities.app.settings import AppSettings
from activities.store import Store
from clients.agent_api import AgentClient
from clients.api import PersonaClient
from clients.app_api import AppClient
from clients.fleet_api import FleetClient
from clients.funding_api import FundingClient
from clients.instance_api import InstanceClient


@dataclass
class Services:
    """The Python clients and the API's own stores."""

    store: Store
    personas: PersonaClient
    agents: AgentClient
    funding: FundingClient
    instances: InstanceClient
    apps: AppClient
    fleets: FleetClient
    keys: ApiKeyStore
    idempotency: IdempotencyStore

    @classmethod
    def build(
        cls, client: Client, store: Store, task_queue: str, app_settings: AppSettings | None
    ) -> Services:
        """Every client over ``client`` and ``store`` on ``task_queue``."""
        return cls(
            store=store,
            personas=PersonaClient(client, store, task_queue),
            agents=AgentClient(store),
            funding=FundingClient(client, store, task_queue),
            instances=InstanceClient(client, store, task_queue),
            apps=AppClient(client, store, task_queue, app_settings),
            fleets=FleetClient(client, store, task_queue),
            keys=ApiKeyStore(store.engine),
            idempotency=IdempotencyStore(store.engine),
        )


def services(request: Request) -> Services:
    """The app's services (a route dependency)."""
    found: Services = request.app.state.services
    return found


#: A route parameter that is the app's services.
ServicesDep = Annotated[Services, Depends(services)]
