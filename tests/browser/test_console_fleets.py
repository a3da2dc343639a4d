"""The console's fleet and entity pages: a running fleet against its persona's optimum, and
the entity's resources and keys (never a secret)."""

from __future__ import annotations

import contextlib
import uuid

from temporalio.service import RPCError

from personas.fleet.config import DEFAULT_CONFIG, FleetConfig
from personas.fleet.simulator import Scenario
from personas.ids import fleet_workflow_id
from tests.browser.conftest import Console, shot, signed_in_http
from tests.workflow.fleet_support import persona_for

GOOD = FleetConfig(cpu_share=1.0, cache="lru", balancer="hash", replicas=4)


async def test_fleet_page_and_entity_page(console: Console) -> None:
    services = console.app.state.services
    fid = f"f{uuid.uuid4().hex[:8]}"
    await services.fleets.start(
        fleet_id=fid, entity_id="acme", persona=persona_for(fid, GOOD),
        current=DEFAULT_CONFIG.model_dump(), risk_tolerance=1.0, cadence_s=3600,
        scenario=Scenario(rate_rps=150),
    )  # fmt: skip
    try:
        page = await console.signed_in()
        await page.goto(f"{console.base}/console/fleets/{fid}")
        assert "Persona's optimum" in await page.content()
        assert await page.get_by_test_id("fleet_status").text_content()
        await shot(page, "fleet")
        await page.goto(f"{console.base}/console/entity")
        text = await page.content()
        assert "repo:api" in text
        assert console.acme not in text  # keys are listed by id only
        await shot(page, "entity")
        async with signed_in_http(console, services.keys.create("globex").secret) as http:
            r = await http.get(f"/console/fleets/{fid}")
            assert r.status_code == 403
            assert fid not in (await http.get("/console/fleets")).text
    finally:
        with contextlib.suppress(RPCError):
            await services.fleets.client.get_workflow_handle(fleet_workflow_id(fid)).terminate()
