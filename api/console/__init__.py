"""The web console: server-rendered pages (Jinja2 + vendored htmx) served by the API process.

Pages sign in with an entity's API key (a cookie session) and act through the same Python
clients and ownership checks as the REST routes.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.console import (
    auth,
    entities,
    errors,
    fleets,
    funding,
    negotiations,
    personas,
    sessions,
)
from api.console.render import ConsoleLinks
from runtime.settings import Settings

STATIC = Path(__file__).parent / "static"
ROUTERS = tuple(
    module.router for module in (auth, personas, negotiations, sessions, funding, fleets, entities)
)
"""Every router of the console's pages."""


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the console under ``/console`` (not in the OpenAPI document)."""
    app.state.console_links = ConsoleLinks.from_settings(settings)
    app.state.console_sessions = auth.ConsoleSessions()
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
