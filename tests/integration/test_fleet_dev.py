"""Fleet adaptation on the dev server: client validation, update validators, search attributes,
signals with bad payloads, and vetted marketplace deployment."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.fleet.market import Market, new_key, sign
from clients.api import PersonaError
from clients.fleet_api import FleetClient
from personas import messages
from personas.fleet.config import DEFAULT_CONFIG, FleetConfig
from personas.fleet.context import FleetContext
from personas.fleet.marketplace import Evidence, Listing, SignedListing
from personas.fleet.persona import FleetPersona
from personas.fleet.simulator import Scenario
from personas.ids import fleet_workflow_id
from tests.helpers import eventually
from tests.workflow.fleet_support import FleetHarness, fleet_store, fleet_worker, persona_for
from workflows.fleet_adaptation import FleetAdaptation, FleetView

GOOD = FleetConfig(cpu_share=1.0, cache="lru", balancer="hash", replicas=4)
OTHER = FleetConfig(cpu_share=1.0, cache="ttl", balancer="least_conn", replicas=3)


@pytest.fixture
async def fleets(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[FleetClient, FleetHarness]]:
    store = fleet_store(str(tmp_path / "dev.db"))
    async with fleet_worker(dev_env.client, store) as h:
        yield FleetClient(dev_env.client, store, h.queue), h
    store.dispose()


async def until(check: Callable[[], Awaitable[bool]], what: str, limit_s: float = 20.0) -> None:
    """Wait for a condition (polled by the shared helper)."""
    await eventually(check, bool, timeout_s=limit_s)


async def start(client: FleetClient, h: FleetHarness, **fields: object) -> str:
    fid = f"d{uuid.uuid4().hex[:8]}"
    h.started.append(fleet_workflow_id(fid))
    args = {
        "fleet_id": fid,
        "entity_id": "acme",
        "persona": persona_for(fid, GOOD),
        "current": DEFAULT_CONFIG.model_dump(),
        "risk_tolerance": 1.0,
        "cadence_s": 3600,
        "scenario": Scenario(rate_rps=150),
        **fields,
    }
    return await client.start(**args)


async def test_bad_input_is_refused_with_one_line_errors(
    fleets: tuple[FleetClient, FleetHarness],
) -> None:
    client, h = fleets
    with pytest.raises(PersonaError, match="unknown attribute"):
        await start(client, h, current={"gpu": 2})
    with pytest.raises(PersonaError, match="replicas=12 out of range"):
        await start(client, h, current={"replicas": 12})
    with pytest.raises(PersonaError, match=r"risk tolerance must be in \[0, 1\]"):
        await start(client, h, risk_tolerance=1.5)
    with pytest.raises(PersonaError, match="unknown entity"):
        await start(client, h, entity_id="nobody")
    fid = await start(client, h)
    with pytest.raises(PersonaError, match=r"must be in \[0, 1\], got 2"):
        await client.set_risk(fid, 2)
    with pytest.raises(PersonaError, match=r"must be in \[0, 1\], got -0.5"):
        await client._update(fid, FleetAdaptation.set_risk, -0.5)
    with pytest.raises(PersonaError, match="shadow must be true or false, got 'yes'"):
        await client._update(fid, FleetAdaptation.set_shadow, "yes")
    bad = persona_for(fid, GOOD).model_dump(mode="json")
    bad["attribute_weights"]["gpu"] = {"1": 1.0}
    with pytest.raises(PersonaError, match="unknown attribute 'gpu'"):
        await client.set_persona(fid, bad)
    bad["attribute_weights"].pop("gpu")
    bad["optimum"]["replicas"] = 40
    with pytest.raises(PersonaError, match="bad persona"):
        await client.set_persona(fid, bad)
    handle = h.client.get_workflow_handle(fleet_workflow_id(fid))
    await handle.signal(messages.RISK, "very risky")
    await handle.signal(messages.RISK, 7)

    async def recorded() -> bool:
        return len((await client.view(fid)).errors) == 2

    await until(recorded, "the bad signals to be recorded")
    view = await client.view(fid)
    assert view.risk_tolerance == 1.0
    assert view.current == DEFAULT_CONFIG
    assert await client.set_risk(fid, 0.4) == 0.4


async def test_search_attributes_and_a_steered_round(
    fleets: tuple[FleetClient, FleetHarness],
) -> None:
    client, h = fleets
    fid = await start(client, h)
    query = f"PersonaKind = 'fleet' AND PersonaId = '{fid}'"

    async def listed() -> bool:
        return len([w async for w in h.client.list_workflows(query)]) == 1

    await until(listed, "the fleet in the visibility store")
    assert await client.set_shadow(fid, True) is True
    await h.client.get_workflow_handle(fleet_workflow_id(fid)).signal(FleetAdaptation.observe_now)

    async def decided() -> bool:
        return bool((await client.view(fid)).changes)

    await until(decided, "a shadow change")
    view: FleetView = await client.view(fid)
    assert view.changes[0].status == "shadow"
    assert h.fleet.applied == []
    await client.set_shadow(fid, False)
    await h.client.get_workflow_handle(fleet_workflow_id(fid)).signal(FleetAdaptation.observe_now)

    async def applied() -> bool:
        return (await client.view(fid)).status == "stabilising"

    await until(applied, "a change applied and stabilising")
    assert h.fleet.current(fid) == GOOD
    assert (await client.view(fid)).current == GOOD
    await client.stop(fid)


async def test_marketplace_personas_are_vetted_before_deployment(
    fleets: tuple[FleetClient, FleetHarness],
) -> None:
    client, h = fleets
    fid = await start(client, h, risk_tolerance=0.0)
    market = Market(client.store)
    private, public = new_key()
    market.register("alice", public)
    item = Listing(
        name="hash-heavy",
        version=1,
        kind="fleet",
        publisher="alice",
        persona=persona_for("any", OTHER).model_dump(mode="json"),
        evidence=Evidence(
            scenario=Scenario(pattern="surge", rate_rps=150),
            backtest_objective=0.0,
            baseline_objective=0.0,
        ),
    )
    from personas.fleet.objective import Weights, score
    from personas.fleet.simulator import SimParams, simulate

    claimed = score(simulate(OTHER, item.evidence.scenario, SimParams()), Weights())
    item = item.model_copy(
        update={"evidence": item.evidence.model_copy(update={"backtest_objective": claimed})}
    )
    signed = SignedListing(listing=item, signature=sign(item, private))
    market.publish(signed)
    tampered = SignedListing.model_validate(signed.model_dump(mode="json"))
    tampered.listing.persona["optimum"]["replicas"] = 1
    with pytest.raises(
        PersonaError, match="refused hash-heavy: tampered: signature does not verify"
    ):
        await client.deploy_listing(fid, tampered)
    assert (await client.view(fid)).optimum == GOOD
    assert await client.deploy_from_market(fid, "hash-heavy") == 1
    view = await client.view(fid)
    assert view.optimum == OTHER
    assert view.current == DEFAULT_CONFIG
    versions = client.store.persona_versions(f"fleet-{fid}")
    assert [v.body["optimum"]["cache"] for v in versions] == ["lru", "ttl"]
    with pytest.raises(PersonaError, match="no listing named nothing"):
        await client.deploy_from_market(fid, "nothing")


async def test_a_new_context_relearns_the_persona_for_it(
    fleets: tuple[FleetClient, FleetHarness],
) -> None:
    client, h = fleets
    fid = await start(client, h, shadow=True)
    with pytest.raises(PersonaError, match="invalid context"):
        await client.set_context(fid, {"region": "mars"})
    with pytest.raises(PersonaError, match="bad context"):
        await client._update(fid, FleetAdaptation.set_context, {"hour": 30})
    before = await client.view(fid)
    assert before.context == FleetContext()
    assert before.persona_version == 1
    surge = FleetContext(pattern="surge", hour=20, region="us", campaign=True)
    assert await client.set_context(fid, surge) == 2
    view = await client.view(fid)
    assert view.context == surge
    assert view.persona_context == surge
    assert view.persona_version == 2
    stored = client.store.persona_versions(f"fleet-{fid}")
    assert [FleetPersona.model_validate(v.body).context for v in stored] == [FleetContext(), surge]
    await client.stop(fid)
