"""First end-to-end checks of a persona life on the time-skipping server."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from clients.api import PersonaClient
from tests.helpers import eventually, profile


async def test_mentions_are_processed_and_energy_recovers(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    record = await time_personas.create_persona(profile(), created_by="test")
    pid = record.persona_id
    for i in range(10):
        await time_personas.post_to_persona(pid, f"@Ada please look at change {i}", "bob")
    view = await eventually(
        lambda: time_personas.view(pid),
        lambda v: v.stats.processed == 10,
        advance=lambda: time_env.sleep(1),
    )
    assert view.energy < 0.9
    await time_env.sleep(3 * 3600)
    rested = await time_personas.view(pid)
    assert rested.energy == 1.0
    assert rested.mood == "idle"
