"""Who may see what in the console: sign-in needed, a key of another entity refused on every
page of acme's objects, a revoked key signed out at once. Plain HTTP against the served app."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from clients.app_api import app_persona
from tests.browser.conftest import Console
from tests.workflow.app_support import code_reviewer


@asynccontextmanager
async def _signed_in(console: Console, secret: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=console.base, timeout=30) as http:
        r = await http.post("/console/login", data={"api_key": secret})
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/console/personas"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert secret.lower() not in cookie  # the cookie names a session, never the key
        yield http


async def test_pages_need_a_signed_in_key(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.base, timeout=30) as http:
        for path in ("/console/personas", "/console/negotiations", "/console/app-sessions"):
            r = await http.get(path)
            assert (r.status_code, r.headers.get("location")) == (303, "/console/login"), path
        r = await http.get("/console/personas/x/live", headers={"HX-Request": "true"})
        assert (r.status_code, r.headers.get("HX-Redirect")) == (401, "/console/login")
        r = await http.post("/console/login", data={"api_key": "pak_nope_nope"})
        assert r.status_code == 401
        assert "unknown API key" in r.text
        assert "set-cookie" not in r.headers


async def test_another_entitys_key_is_refused_on_acmes_objects(console: Console) -> None:
    services = console.app.state.services
    profile = {"entity_id": "acme", "name": f"P{uuid.uuid4().hex[:6]}", "base_persona": "m",
               "specialization": "access checks"}  # fmt: skip
    record = await services.personas.create_persona(profile, "test")
    nid = await services.instances.start(entity_id="acme", name="db", text="a small database",
                                         config={"provision": False})  # fmt: skip
    globex = services.keys.create("globex").secret
    async with _signed_in(console, globex) as http:
        pid = record.persona_id
        for method, path, data in [
            ("GET", f"/console/personas/{pid}", None),
            ("GET", f"/console/personas/{pid}/live", None),
            ("POST", f"/console/personas/{pid}/messages", {"text": "hi"}),
            ("POST", f"/console/personas/{pid}/start", None),
            ("GET", f"/console/negotiations/{nid}", None),
            ("GET", f"/console/negotiations/{nid}/rounds", None),
            ("POST", f"/console/negotiations/{nid}/answers", {"kind": "reject", "round": "1"}),
        ]:
            r = await http.request(method, path, data=data)
            assert r.status_code == 403, (path, r.status_code)
            assert "may not act on" in r.text
        listing = await http.get("/console/personas")
        assert listing.status_code == 200
        assert record.name not in listing.text
        form = profile | {"name": "Stolen", "funding_limit": "0"}
        r = await http.post("/console/personas", data=form)
        assert r.status_code == 422
        assert "may only create personas of entity globex" in r.text
    assert "Stolen" not in {p.name for p in await services.personas.list_personas("acme")}


async def test_a_revoked_key_is_signed_out_at_once(console: Console) -> None:
    keys = console.app.state.services.keys
    issued = keys.create("acme")
    async with _signed_in(console, issued.secret) as http:
        assert (await http.get("/console/personas")).status_code == 200
        keys.revoke(issued.key_id)
        r = await http.get("/console/personas")
        assert (r.status_code, r.headers.get("location")) == (303, "/console/login")


async def test_another_entitys_key_is_refused_on_acmes_app_sessions(console: Console) -> None:
    apps = console.app.state.services.apps
    persona_id = f"cr-{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(apps.repo.save, app_persona(**code_reviewer(persona_id)), "acme", "t")
    # a user without a grant: the session is refused at validation (no sandbox is made)
    view = await apps.request(persona_id, apps.broker.issue("mallory"), wait=False)
    console.sessions.add(view.session_id)
    globex = console.app.state.services.keys.create("globex").secret
    async with _signed_in(console, globex) as http:
        sid = view.session_id
        for method, path, data in [
            ("GET", f"/console/app-sessions/{sid}", None),
            ("GET", f"/console/app-sessions/{sid}/state", None),
            ("POST", f"/console/app-sessions/{sid}/run", {"command": "id", "token": "t"}),
            ("POST", f"/console/app-sessions/{sid}/release", {"token": "t"}),
            ("POST", "/console/app-sessions", {"persona_id": persona_id, "token": "t"}),
        ]:
            r = await http.request(method, path, data=data)
            assert r.status_code == 403, (path, r.status_code)
            assert "may not act on" in r.text
