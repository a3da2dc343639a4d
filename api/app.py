"""The FastAPI app: ``create_app(settings, client, store)``; OpenAPI at /openapi.json,
interactive docs at /docs."""

from __future__ import annotations

from fastapi import FastAPI
from temporalio.client import Client

from activities.app.settings import AppSettings
from activities.store import Store
from api import console, problems
from api.routes import ROUTERS
from api.services import Services
from runtime.settings import Settings

TITLE = "Personas API"


def create_app(
    settings: Settings,
    client: Client,
    store: Store,
    *,
    task_queue: str | None = None,
    app_settings: AppSettings | None = None,
) -> FastAPI:
    """The API over ``client`` (pydantic converter) and a migrated ``store``; workflows go
    to ``task_queue`` (the settings' by default)."""
    app = FastAPI(
        title=TITLE,
        version="1",
        description="AI, instance, app and fleet personas: entities, funding, negotiations.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = Services.build(
        client, store, task_queue or settings.task_queue, app_settings
    )
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router, responses=problems.RESPONSES)
    console.install(app, settings)
    return app
