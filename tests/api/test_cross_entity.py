"""Every route of the OpenAPI document refuses entity globex's key on entity acme's objects,
and so does every console page (read from the app's routes) globex's signed-in browser opens.

The routes are read from the document, so a new route cannot skip the check: one whose path
has a parameter gets acme's object of that kind; one without gets the body or query naming
acme below, and a route missing from both tables fails the test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from api import console
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
    "user_id": lambda w: "mallory",
    "version": lambda w: "1",
    "ab_id": lambda w: "ab-1",
}


def _profile(w: World) -> dict[str, Any]:
    return {
        "entity_id": "acme",
        "name": "Eve",
        "base_persona": "llama3",
        "specialization": "intrusion",
        "access_scope": ["repo:web"],
    }


#: Routes every entity's key may read: shared by design, holding no entity's objects.
PUBLIC = {("get", "/v1/marketplace")}

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
    ("get", "/v1/funding/rules/versions"): lambda w: {},
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
    if (method, path) in PUBLIC:
        return {}
    if "{" not in path:
        assert (method, path) in NAMED, f"{method.upper()} {path}: add acme's request to NAMED"
        return NAMED[(method, path)](w)
    for name, value in PARAMS.items():
        path = path.replace("{" + name + "}", value(w))
    assert "{" not in path, f"{path}: add its parameter to PARAMS"
    return {"url": path, "json": {}} if method in ("post", "put", "patch") else {"url": path}


async def test_every_route_refuses_another_entitys_key(world: World) -> None:
    document = (await world.http.get("/openapi.json")).json()
    ops = operations(document)
    assert len(ops) >= 40
    allowed = []
    for method, path in ops:
        if (method, path) in PUBLIC:
            continue
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
    assert allowed == [], "\n".join(allowed)


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


#: Console pages without a path parameter: (form naming acme's objects, the check of the
#: answer given to globex's signed-in browser).
CONSOLE_NAMED: dict[tuple[str, str], Any] = {
    ("post", "/console/personas"): (
        lambda w: {"data": {**_console_profile(), "entity_id": "acme"}},
        lambda r: r.status_code == 422 and "only create personas of entity globex" in r.text,
    ),
    ("post", "/console/personas/validate"): (
        lambda w: {"data": {**_console_profile(), "entity_id": "acme"}},
        lambda r: "only create personas of entity globex" in r.text,
    ),
    # The form's entity is ignored for an entity's key: the negotiation is globex's own.
    ("post", "/console/negotiations"): (
        lambda w: {"data": {"entity_id": "acme", "name": "x", "text": "a blog"}},
        lambda r: r.status_code in (303, 422),
    ),
    ("post", "/console/app-sessions"): (
        lambda w: {"data": {"persona_id": w.app_persona_id, "token": "t"}},
        lambda r: r.status_code == 403,
    ),
    ("post", "/console/funding/rules"): (
        lambda w: {"data": {"document": "{}", "admin_secret": "x"}},
        lambda r: r.status_code == 403,
    ),
}
#: Pages that sign in and out, open to anyone.
CONSOLE_OPEN = {
    ("get", "/console"),  # a redirect to the personas page
    ("get", "/console/login"),
    ("post", "/console/login"),
    ("post", "/console/logout"),
}
#: A complete form for every console POST with a path parameter (an incomplete one would be
#: refused as invalid before the ownership check is reached).
CONSOLE_FORM = {"text": "x", "command": "ls", "token": "t", "kind": "reject", "round": "1"}


def _console_profile() -> dict[str, str]:
    return {"name": "Eve", "base_persona": "llama3", "specialization": "x", "access_scope": "docs"}


def console_operations() -> list[tuple[str, str]]:
    """Every (method, path) of the console's routes (not in the OpenAPI document)."""
    return sorted(
        (method.lower(), route.path)
        for router in console.ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
        if method != "HEAD"
    )


async def test_every_console_page_refuses_another_entitys_browser(world: World) -> None:
    acme_objects = [world.persona_id, world.negotiation_id, world.fleet_id, world.session_id]
    ops = console_operations()
    assert len(ops) >= 20
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as browser:
        signed = await browser.post("/console/login", data={"api_key": world.globex})
        assert signed.status_code == 303, signed.text
        allowed = []
        for method, path in ops:
            if (method, path) in CONSOLE_OPEN:
                continue
            if "{" in path:
                req = request_of(world, method, path)
                req = {"data": CONSOLE_FORM} | req if method == "post" else req
                r = await browser.request(method.upper(), **req)
                if r.status_code != 403:
                    allowed.append(f"{method.upper()} {path}: {r.status_code}")
            elif method == "get":  # a list shows the caller's own objects only
                r = await browser.get(path)
                shown = [o for o in acme_objects if o in r.text]
                if r.status_code != 200 or shown:
                    allowed.append(f"GET {path}: {r.status_code}, shows {shown}")
            else:
                assert (method, path) in CONSOLE_NAMED, f"{method} {path}: add to CONSOLE_NAMED"
                make, refused = CONSOLE_NAMED[(method, path)]
                r = await browser.request(method.upper(), url=path, **make(world))
                if not refused(r):
                    allowed.append(f"{method.upper()} {path}: {r.status_code} {r.text[:120]}")
    assert allowed == [], "\n".join(allowed)
