"""Every route of the OpenAPI document refuses entity globex's key on entity acme's objects.

The routes are read from the document, so a new route cannot skip the check: one whose path
has a parameter gets acme's object of that kind; one without gets the body or query naming
acme below, and a route missing from both tables fails the test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.conftest import World

#: The value of each path parameter: acme's object of that kind.
PARAMS = {
    "entity_id": lambda w: "acme",
    "persona_id": lambda w: w.persona_id,
    "room_id": lambda w: w.room_id,
    "negotiation_id": lambda w: w.negotiation_id,
    "fleet_id": lambda w: w.fleet_id,
    "session_id": lambda w: w.session_id,
    "key_id": lambda w: w.key_id,
    "name": lambda w: "docs",
    "event": lambda w: "shift_start",
    "resource": lambda w: "repo:web",
}


def _profile(w: World) -> dict[str, Any]:
    return {
        "entity_id": "acme",
        "name": "Eve",
        "base_persona": "llama3",
        "specialization": "intrusion",
        "access_scope": ["repo:web"],
    }


#: Routes without a path parameter: the request that names acme (body, query).
NAMED: dict[tuple[str, str], Any] = {
    ("post", "/v1/entities"): lambda w: {"json": {"entity_id": "acme", "name": "Taken"}},
    ("post", "/v1/personas"): lambda w: {"json": _profile(w)},
    ("get", "/v1/personas"): lambda w: {"params": {"entity_id": "acme"}},
    ("post", "/v1/rooms"): lambda w: {"json": {"room_id": "stolen", "members": [w.persona_id]}},
    ("get", "/v1/usage"): lambda w: {"params": {"entity_id": "acme"}},
    ("get", "/v1/audit"): lambda w: {"params": {"entity_id": "acme"}},
    ("get", "/v1/audit/verify"): lambda w: {},
    ("get", "/v1/funding/rules"): lambda w: {},
    ("put", "/v1/funding/rules"): lambda w: {"json": {"document": {}, "admin_secret": "x"}},
    ("post", "/v1/negotiations"): lambda w: {
        "json": {"negotiation_id": "stolen", "entity_id": "acme", "name": "x", "text": "a blog"}
    },
    ("post", "/v1/app-sessions"): lambda w: {
        "json": {"persona_id": w.app_persona_id, "token": "t"}
    },
}


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (method, path) of an OpenAPI document."""
    return [
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def request_of(w: World, method: str, path: str) -> dict[str, Any]:
    """The request that targets acme through ``path``."""
    if "{" not in path:
        assert (method, path) in NAMED, f"{method.upper()} {path}: add acme's request to NAMED"
        return NAMED[(method, path)](w)
    for name, value in PARAMS.items():
        path = path.replace("{" + name + "}", value(w))
    assert "{" not in path, f"{path}: add its parameter to PARAMS"
    return {"url": path, "json": {}} if method in ("post", "put") else {"url": path}


async def test_every_route_refuses_another_entitys_key(world: World) -> None:
    document = (await world.http.get("/openapi.json")).json()
    ops = operations(document)
    assert len(ops) >= 40
    allowed = []
    for method, path in ops:
        req = {"url": path, **request_of(world, method, path)}
        try:
            async with asyncio.timeout(30):  # a route that let the key through may stream on
                r = await world.http.request(
                    method.upper(), headers=world.auth(world.globex), **req
                )
        except TimeoutError:
            allowed.append(f"{method.upper()} {path}: no answer in 30 s")
            continue
        if r.status_code != 403:
            allowed.append(f"{method.upper()} {path}: {r.status_code} {r.text[:120]}")
            continue
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 403
    assert allowed == []


async def test_every_route_refuses_a_request_without_a_key(world: World) -> None:
    document = (await world.http.get("/openapi.json")).json()
    for method, path in operations(document):
        req = {"url": path, **request_of(world, method, path)}
        r = await world.http.request(method.upper(), **req)
        assert r.status_code == 401, f"{method} {path}: {r.status_code}"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["detail"] == "an API key is required: Authorization: Bearer <key>"


@pytest.mark.parametrize("secret", ["pak_nope_nope", "not-a-key", "pak_" + "x" * 300])
async def test_a_bad_key_is_refused_with_its_reason(world: World, secret: str) -> None:
    r = await world.http.get("/v1/entities/acme", headers=world.auth(secret))
    assert r.status_code == 401
    assert r.json()["detail"] in ("unknown API key", "malformed API key")
