"""The API's routers, one module per kind of resource."""

from fastapi import APIRouter

from api.routes import (
    app_personas,
    apps,
    entities,
    fleets,
    funding,
    keys,
    negotiations,
    personas,
    rooms,
)

ROUTERS: list[APIRouter] = [
    entities.router,
    keys.router,
    personas.router,
    rooms.router,
    funding.router,
    negotiations.router,
    app_personas.router,
    apps.router,
    fleets.router,
]
