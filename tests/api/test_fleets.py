"""Fleet personas through the API: learn, start (202 + Location), show, steer, stop, the
marketplace, and refusals with their reasons."""

from __future__ import annotations

import uuid

from personas.ids import fleet_workflow_id
from tests.api.conftest import World
from tests.api.test_routes import problem


async def test_a_fleet_is_learned_started_steered_and_stopped(world: World) -> None:
    h = world.auth(world.acme)
    learned = await world.http.post(
        "/v1/entities/acme/fleet-personas", json={"fleet_id": "probe", "rounds": 3}, headers=h
    )
    assert learned.status_code == 200, learned.text
    assert learned.json()["fleet_id"] == "probe"

    fid = f"f{uuid.uuid4().hex[:8]}"
    body = {"fleet_id": fid, "rounds": 3, "cadence_s": 3600, "risk_tolerance": 0.5}
    started = await world.http.post("/v1/entities/acme/fleets", json=body, headers=h)
    assert started.status_code == 202, started.text
    world.started.append(fleet_workflow_id(fid))
    assert started.headers["Location"] == f"/v1/fleets/{fid}"

    r = await world.http.put(f"/v1/fleets/{fid}/risk", json={"tolerance": 0.9}, headers=h)
    assert r.json() == {"risk_tolerance": 0.9}, r.text
    r = await world.http.put(f"/v1/fleets/{fid}/shadow", json={"shadow": True}, headers=h)
    assert r.json() == {"shadow": True}, r.text
    r = await world.http.post(f"/v1/fleets/{fid}/stop", headers=h)
    assert r.status_code == 202, r.text


async def test_fleet_refusals_name_their_reason(world: World) -> None:
    h, fid = world.auth(world.acme), world.fleet_id
    r = await world.http.put(f"/v1/fleets/{fid}/risk", json={"tolerance": 2}, headers=h)
    problem(r, 422)
    r = await world.http.put(
        f"/v1/fleets/{fid}/risk", json={"tolerance": 0.2}, headers=world.auth(world.globex)
    )
    assert r.status_code in (403, 404), r.text
    r = await world.http.post(
        "/v1/entities/acme/fleet-personas", json={"fleet_id": "x" * 81}, headers=h
    )
    problem(r, 422)
    r = await world.http.get("/v1/marketplace", params={"text": "t" * 121}, headers=h)
    problem(r, 422)


async def test_the_marketplace_is_read_by_every_entity(world: World) -> None:
    for key in (world.acme, world.globex):
        r = await world.http.get(
            "/v1/marketplace", params={"text": "fleet"}, headers=world.auth(key)
        )
        assert r.status_code == 200, r.text
        assert isinstance(r.json(), list)
