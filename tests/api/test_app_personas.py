"""App personas through the API: define (versions), show, grant and revoke; a session's usage
and its stream."""

from __future__ import annotations

import asyncio
import uuid

from tests.api.conftest import World
from tests.api.test_routes import problem, sse_events
from tests.workflow.app_support import code_reviewer


async def test_an_app_persona_is_defined_versioned_granted_and_revoked(world: World) -> None:
    h, apps = world.auth(world.acme), world.app.state.services.apps
    pid = f"ap-{uuid.uuid4().hex[:6]}"
    url, body = "/v1/entities/acme/app-personas", code_reviewer(pid, persona_name=f"R {pid}")
    first = await world.http.post(url, json=body, headers=h)
    assert first.status_code == 201, first.text
    assert (first.json()["version"], first.json()["entity_id"]) == (1, "acme")
    changed = {**body, "persona_name": f"R2 {pid}"}
    assert (await world.http.post(url, json=changed, headers=h)).json()["version"] == 2
    latest = (await world.http.get(f"/v1/app-personas/{pid}", headers=h)).json()
    assert (latest["version"], latest["persona"]["persona_name"]) == (2, f"R2 {pid}")
    r = await world.http.get(f"/v1/app-personas/{pid}", params={"version": 1}, headers=h)
    assert r.json()["persona"]["persona_name"] == f"R {pid}"

    r = await world.http.put(f"/v1/app-personas/{pid}/grants/alice", headers=h)
    assert r.json() == {"granted": True}
    assert await asyncio.to_thread(apps.repo.is_granted, pid, "alice")
    r = await world.http.delete(f"/v1/app-personas/{pid}/grants/alice", headers=h)
    assert r.json() == {"ended_sessions": []}
    assert not await asyncio.to_thread(apps.repo.is_granted, pid, "alice")


async def test_app_persona_refusals_name_their_reason(world: World) -> None:
    h = world.auth(world.acme)
    # globex may not take over acme's persona id under its own entity
    r = await world.http.post(
        "/v1/entities/globex/app-personas",
        json=code_reviewer(world.app_persona_id),
        headers=world.auth(world.globex),
    )
    assert "belongs to entity acme" in str(problem(r, 422)["detail"])
    # an AI persona is not an app persona: nothing is granted on it
    r = await world.http.put(f"/v1/app-personas/{world.persona_id}/grants/alice", headers=h)
    assert "unknown app persona" in str(problem(r, 404)["detail"])
    bad = {**code_reviewer("ap-bad"), "required_applications": ["jq; rm -rf /"]}
    r = await world.http.post("/v1/entities/acme/app-personas", json=bad, headers=h)
    assert "not a valid package name" in str(problem(r, 422)["detail"])
    r = await world.http.put(
        f"/v1/app-personas/{world.app_persona_id}/grants/{'u' * 129}", headers=h
    )
    problem(r, 422)


async def test_a_sessions_usage_is_read_and_streamed(world: World) -> None:
    h, sid = world.auth(world.acme), world.session_id
    usage = (await world.http.get(f"/v1/app-sessions/{sid}/usage", headers=h)).json()
    assert usage["session_id"] == sid
    assert usage["usage"] == []  # refused at validation: it never ran
    async with world.live.stream(
        "GET", f"/v1/app-sessions/{sid}/usage/stream", params={"max_events": 1}, headers=h
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = [e async for e in sse_events(stream.aiter_lines())]
    assert [(name, data["session_id"]) for name, data in events] == [("usage", sid)]
