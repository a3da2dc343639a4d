"""A persona's new versions through the API: stored, listed oldest first, validated like a
new profile, and hostile change sets refused as problem documents."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import World
from tests.api.test_routes import problem


async def _new_persona(world: World, name: str) -> str:
    profile = {
        "entity_id": "acme",
        "name": f"{name}-{uuid.uuid4().hex[:6]}",
        "base_persona": "llama3",
        "specialization": "versions",
    }
    r = await world.http.post("/v1/personas", json=profile, headers=world.auth(world.acme))
    assert r.status_code == 201, r.text
    persona_id: str = r.json()["persona_id"]
    return persona_id


async def test_a_change_is_stored_as_the_next_version(world: World) -> None:
    h = world.auth(world.acme)
    persona_id = await _new_persona(world, "Versioned")
    r = await world.http.patch(
        f"/v1/personas/{persona_id}",
        json={"changes": {"specialization": "forensics"}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    latest = (await world.http.get(f"/v1/personas/{persona_id}", headers=h)).json()
    assert latest["version"] == 2
    assert latest["body"]["profile"]["specialization"] == "forensics"
    page = (await world.http.get(f"/v1/personas/{persona_id}/versions", headers=h)).json()
    assert [v["version"] for v in page["items"]] == [1, 2]
    specs = [v["body"]["profile"]["specialization"] for v in page["items"]]
    assert specs == ["versions", "forensics"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"name": "Renamed"}, "cannot change name; create a new persona instead"),
        ({"access_scope": ["repo:secret"]}, "repo:secret"),
    ],
)
async def test_a_change_the_client_refuses_is_a_problem_with_its_reason(
    world: World, changes: dict[str, Any], reason: str
) -> None:
    persona_id = await _new_persona(world, "Refusing")
    r = await world.http.patch(
        f"/v1/personas/{persona_id}", json={"changes": changes}, headers=world.auth(world.acme)
    )
    assert reason in str(problem(r, r.status_code)["detail"])
    assert r.status_code in (409, 422)
    versions = await world.http.get(
        f"/v1/personas/{persona_id}/versions", headers=world.auth(world.acme)
    )
    assert len(versions.json()["items"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"changes": {}},
        {"changes": {f"k{n}": n for n in range(33)}},
        {"changes": "specialization=x"},
        {"changes": {"specialization": "x"}, "extra": 1},
        [],
    ],
)
async def test_a_malformed_change_set_is_422(world: World, body: Any) -> None:
    r = await world.http.patch(
        f"/v1/personas/{world.persona_id}", json=body, headers=world.auth(world.acme)
    )
    assert str(problem(r, 422)["detail"]).startswith("invalid request: ")


async def test_an_unknown_persona_has_no_versions(world: World) -> None:
    r = await world.http.get("/v1/personas/nobody/versions", headers=world.auth(world.acme))
    assert problem(r, 404)["detail"] == "unknown persona nobody"
