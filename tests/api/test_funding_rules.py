"""The funding rules' versions through the API: each change is a new version, listed with who
stored it, and every version can be read back (administrators only)."""

from __future__ import annotations

import uuid

from personas.funding.rules import DEFAULT_RULES
from tests.api.conftest import World
from tests.api.test_routes import problem


async def test_every_rules_change_is_a_version_that_can_be_read_back(world: World) -> None:
    funding = world.app.state.services.funding
    admin_id = f"a-{uuid.uuid4().hex[:6]}"
    secret = await funding.create_admin(admin_id, None)
    h = world.auth(world.admin)
    document = DEFAULT_RULES.model_dump(mode="json", exclude={"version"})
    first = await world.http.put(
        "/v1/funding/rules", json={"document": document, "admin_secret": secret}, headers=h
    )
    assert first.status_code == 200, first.text
    capped = {**document, "caps": {**document["caps"], "max_change_percent": 25}}
    second = await world.http.put(
        "/v1/funding/rules", json={"document": capped, "admin_secret": secret}, headers=h
    )
    assert second.status_code == 200, second.text
    assert second.json()["version"] == first.json()["version"] + 1

    listed = (await world.http.get("/v1/funding/rules/versions", headers=h)).json()
    assert [v["version"] for v in listed[:2]] == [second.json()["version"], first.json()["version"]]
    assert {v["created_by"] for v in listed[:2]} == {f"admin:{admin_id}"}
    one = await world.http.get(f"/v1/funding/rules/versions/{first.json()['version']}", headers=h)
    assert one.json() == first.json()
    assert (await world.http.get("/v1/funding/rules", headers=h)).json() == second.json()
    assert "unknown rules version" in str(
        problem(await world.http.get("/v1/funding/rules/versions/99999", headers=h), 404)["detail"]
    )
    refused = await world.http.get("/v1/funding/rules/versions", headers=world.auth(world.acme))
    problem(refused, 403)
