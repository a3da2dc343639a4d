"""The API's routes doing their work, and their refusals as problem documents (404, 409,
422) with the clients' one-line reasons."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.conftest import World
from tests.helpers import eventually

PROBLEM = "application/problem+json"


def problem(r: object, status: int) -> dict[str, object]:
    """The problem document of a response, checked for its shape."""
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    body: dict[str, object] = r.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    assert "\n" not in body["detail"]
    return body


async def test_openapi_and_docs_are_served(world: World) -> None:
    document = (await world.http.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert "/v1/personas/{persona_id}/state/stream" in document["paths"]
    schemas = document["components"]["schemas"]
    assert {"AIPersonaProfile", "PersonaView", "NegotiationView", "ProblemDetail"} <= set(schemas)
    docs = await world.http.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_unknown_objects_are_404_with_the_clients_reason(world: World) -> None:
    h = world.auth(world.acme)
    body = problem(await world.http.get("/v1/personas/nobody", headers=h), 404)
    assert body["detail"] == "unknown persona nobody"
    body = problem(await world.http.get("/v1/negotiations/nobody", headers=h), 404)
    assert body["detail"] == "unknown negotiation nobody"
    body = problem(await world.http.get("/v1/rooms/nowhere", headers=h), 404)
    assert body["detail"] == "no room nowhere; create it first"
    problem(await world.http.get("/v1/app-sessions/s-nothing", headers=h), 404)
    problem(await world.http.get("/v1/no/such/route", headers=h), 404)


async def test_invalid_input_is_422_with_every_field_named(world: World) -> None:
    h = world.auth(world.acme)
    r = await world.http.post("/v1/personas", json={"entity_id": "acme"}, headers=h)
    body = problem(r, 422)
    assert str(body["detail"]).startswith("invalid request: ")
    assert "name: Field required" in str(body["detail"])
    assert body["errors"]
    scope = {
        "entity_id": "acme",
        "name": "Scoped",
        "base_persona": "llama3",
        "specialization": "x",
        "access_scope": ["repo:secret"],
    }
    body = problem(await world.http.post("/v1/personas", json=scope, headers=h), 422)
    assert "repo:secret" in str(body["detail"])
    r = await world.http.get("/v1/personas", params={"limit": 0}, headers=h)
    problem(r, 422)
    r = await world.http.get("/v1/personas", params={"cursor": "garbage!"}, headers=h)
    assert problem(r, 422)["detail"] == "invalid request: cursor: not a cursor this API gave"
    r = await world.http.post(
        f"/v1/negotiations/{world.negotiation_id}/answers",
        json={"kind": "accept", "round": 1},
        headers=h,
    )
    problem(r, 422)


async def test_an_entity_key_may_not_do_an_administrators_work(world: World) -> None:
    h = world.auth(world.acme)
    r = await world.http.post("/v1/entities", json={"entity_id": "new", "name": "N"}, headers=h)
    assert problem(r, 403)["detail"] == "creating an entity needs an administrator's API key"
    problem(await world.http.get("/v1/audit/verify", headers=h), 403)
    r = await world.http.post(
        "/v1/entities", json={"entity_id": "initech", "name": "Initech"},
        headers=world.auth(world.admin),
    )  # fmt: skip
    assert r.status_code == 201
    assert r.json() == {"entity_id": "initech", "resources": []}
    verdict = await world.http.get("/v1/audit/verify", headers=world.auth(world.admin))
    assert verdict.json()["ok"] is True


async def test_a_persona_lives_answers_and_streams_its_state(world: World) -> None:
    h = world.auth(world.acme)
    pid = world.persona_id
    r = await world.http.post(f"/v1/personas/{pid}/start", headers=h)
    assert r.status_code == 200, r.text
    r = await world.http.post(f"/v1/personas/{pid}/messages", json={"text": "hello"}, headers=h)
    assert r.status_code == 202, r.text
    item = r.json()
    assert item["sender_id"].startswith("api-key:")

    async def outputs() -> list[dict[str, object]]:
        page = await world.http.get(f"/v1/personas/{pid}/outputs", headers=h)
        items: list[dict[str, object]] = page.json()["items"]
        return items

    done = await eventually(
        outputs, lambda items: any(o["item_id"] == item["item_id"] for o in items)
    )
    assert done
    state = (await world.http.get(f"/v1/personas/{pid}/state", headers=h)).json()
    assert state["stats"]["processed"] >= 1
    async with world.http.stream(
        "GET", f"/v1/personas/{pid}/state/stream", params={"max_events": 1}, headers=h
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk async for chunk in stream.aiter_text()])
    event, data = text.strip().split("\n", 1)
    assert event == "event: state"
    assert json.loads(data.removeprefix("data: "))["persona_id"] == pid
    inbox = await world.http.get(f"/v1/personas/{pid}/inbox", headers=h)
    assert inbox.status_code == 200
    r = await world.http.post(f"/v1/personas/{pid}/triggers/payday", headers=h)
    assert str(problem(r, 404)["detail"]).startswith("unknown trigger 'payday' for persona Ada")


async def test_lists_page_with_cursors(world: World) -> None:
    h = world.auth(world.admin)
    for n in range(3):
        profile = {
            "entity_id": "globex",
            "name": f"Paged{n}",
            "base_persona": "llama3",
            "specialization": "paging",
        }
        r = await world.http.post("/v1/personas", json=profile, headers=h)
        assert r.status_code == 201, r.text
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"entity_id": "globex", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await world.http.get("/v1/personas", params=params, headers=h)).json()
        seen += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["Paged0", "Paged1", "Paged2"]
    own = await world.http.get("/v1/personas", headers=world.auth(world.globex))
    assert {p["entity_id"] for p in own.json()["items"]} == {"globex"}


async def test_money_posts_are_idempotent(world: World) -> None:
    h = world.auth(world.acme) | {"Idempotency-Key": f"dep-{uuid.uuid4().hex}"}
    url = "/v1/entities/acme/budget/deposits"
    first = await world.http.post(url, json={"amount": "10.50"}, headers=h)
    assert first.status_code == 201, first.text
    again = await world.http.post(url, json={"amount": "10.50"}, headers=h)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await world.http.post(url, json={"amount": "99"}, headers=h)
    assert "different request" in str(problem(other, 409)["detail"])
    bad = await world.http.post(url, json={"amount": "ten"}, headers=world.auth(world.acme))
    problem(bad, 422)


async def test_a_persona_created_twice_with_one_key_is_created_once(world: World) -> None:
    h = world.auth(world.acme) | {"Idempotency-Key": uuid.uuid4().hex}
    profile = {"entity_id": "acme", "name": "Once", "base_persona": "m", "specialization": "s"}
    first = await world.http.post("/v1/personas", json=profile, headers=h)
    again = await world.http.post("/v1/personas", json=profile, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json()["persona_id"] == again.json()["persona_id"]
    assert first.headers["location"] == again.headers["location"]
    twice = await world.http.post("/v1/personas", json=profile, headers=world.auth(world.acme))
    assert "already has a persona named 'Once'" in str(problem(twice, 409)["detail"])


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Any]]:
    """(event, decoded data) of each Server-Sent Event in ``lines`` (comments skipped)."""
    event = ""
    async for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event, json.loads(line.removeprefix("data: "))


async def test_a_negotiation_is_answered_through_the_api(world: World) -> None:
    h = world.auth(world.acme)
    nid = f"n-{uuid.uuid4().hex[:8]}"
    body = {
        "negotiation_id": nid,
        "entity_id": "acme",
        "name": "db",
        "base": "database",
        "config": {"provision": False},
    }
    r = await world.http.post("/v1/negotiations", json=body, headers=h)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/negotiations/{nid}"
    world.started.append(f"negotiation-{nid}")

    async def view() -> dict[str, object]:
        got: dict[str, object] = (await world.http.get(r.headers["location"], headers=h)).json()
        return got

    v1 = await eventually(view, lambda v: v["status"] == "awaiting_answer")
    answer = {"kind": "reject", "round": 1, "reason": "want other families"}
    async with (
        asyncio.timeout(60),
        world.live.stream(
            "GET", f"/v1/negotiations/{nid}/stream", params={"max_events": 2}, headers=h
        ) as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = sse_events(stream.aiter_lines())
        first = await anext(events)
        v2 = await world.http.post(f"/v1/negotiations/{nid}/answers", json=answer, headers=h)
        assert v2.status_code == 200, v2.text
        # The answer's new round arrives on the open stream as its next event.
        second = await anext(events)
    assert [first[0], second[0]] == ["negotiation", "negotiation"]
    assert (first[1]["round"], second[1]["round"]) == (1, 2)
    assert v2.json()["round"] == 2
    stale = await world.http.post(f"/v1/negotiations/{nid}/answers", json=answer, headers=h)
    assert "round 1 is stale" in str(problem(stale, 422)["detail"])
    rounds = (await world.http.get(f"/v1/negotiations/{nid}/rounds", headers=h)).json()
    assert len(rounds) == 2
    assert v1["round"] == 1


async def test_keys_rotate_with_overlap_and_revoke(world: World) -> None:
    h = world.auth(world.admin)
    issued = (await world.http.post("/v1/entities/globex/api-keys", json={}, headers=h)).json()
    old = issued["secret"]
    rotated = await world.http.post(
        f"/v1/api-keys/{issued['key_id']}/rotate", json={"overlap_s": 0}, headers=world.auth(old)
    )
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    refused = await world.http.get("/v1/entities/globex", headers=world.auth(old))
    assert "expired at" in str(problem(refused, 401)["detail"])
    assert (await world.http.get("/v1/entities/globex", headers=world.auth(new))).status_code == 200
    gone = await world.http.delete(
        f"/v1/api-keys/{rotated.json()['key_id']}", headers=world.auth(new)
    )
    assert gone.json()["revoked_at"] is not None
    refused = await world.http.get("/v1/entities/globex", headers=world.auth(new))
    assert "was revoked" in str(problem(refused, 401)["detail"])
    listed = (await world.http.get("/v1/entities/globex/api-keys", headers=h)).json()["items"]
    assert all("secret" not in k for k in listed)


@pytest.mark.parametrize("header", ["", "x" * 200, "tab\there"])
async def test_a_malformed_idempotency_key_is_422(world: World, header: str) -> None:
    h = world.auth(world.acme) | {"Idempotency-Key": header}
    r = await world.http.post("/v1/entities/acme/budget/deposits", json={"amount": "1"}, headers=h)
    problem(r, 422)
