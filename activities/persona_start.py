"""Starting a persona's life workflow: its start input, search attributes and summary.

Clients and activities (a room fanning out, a persona notifying another) start lives the
same way, so it lives here, below both. The workflow is named by its type, so nothing here
imports the workflow's code.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.store import PersonaRecord
from personas.ids import persona_workflow_id
from personas.life import LifeConfig, LifeStats, PersonaLifeInput
from personas.models import AIPersonaProfile
from runtime import search_attributes as sa

#: The store's kind for AI personas.
AI_KIND = "ai"
#: The workflow type of a persona's life (``workflows.persona_life.PersonaLife``).
PERSONA_LIFE_WORKFLOW = "PersonaLife"


class PersonaDocument(BaseModel):
    """What the store keeps for an AI persona version: its profile and life settings."""

    profile: AIPersonaProfile
    life: LifeConfig = LifeConfig()


def life_input(record: PersonaRecord, stats: LifeStats | None = None) -> PersonaLifeInput:
    """The start input of a persona's life workflow, from its stored version (and the
    lifetime counters of its previous life, when it had one)."""
    document = PersonaDocument.model_validate(record.body)
    return PersonaLifeInput(profile=document.profile, config=document.life, stats=stats)


async def previous_stats(client: Client, record: PersonaRecord) -> LifeStats | None:
    """The final counters of the persona's last life, when it ended by a stop (a completed
    workflow); None when it never ran, is running, or ended otherwise."""
    handle = client.get_workflow_handle(persona_workflow_id(record.persona_id))
    try:
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.COMPLETED:
            return None
        return LifeStats.model_validate(await handle.result(follow_runs=False))
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


def start_attributes(record: PersonaRecord) -> TypedSearchAttributes:
    """The search attributes a life starts with, so the web UI finds it at once."""
    return sa.starting(
        AI_KIND,
        "live",
        persona_id=record.persona_id,
        name=record.name,
        entity_id=record.entity_id,
    )


def summary(record: PersonaRecord) -> str:
    """The one-line summary the web UI shows for a life."""
    profile = PersonaDocument.model_validate(record.body).profile
    return f"AI persona {profile.name} ({profile.specialization}) of {profile.entity_id}"


async def start_life(client: Client, task_queue: str, record: PersonaRecord) -> str:
    """Start a persona's life, or keep the running one; returns its workflow id. A life
    started after a stop keeps the lifetime counters of the one before."""
    handle = await client.start_workflow(
        PERSONA_LIFE_WORKFLOW,
        life_input(record, await previous_stats(client, record)),
        id=persona_workflow_id(record.persona_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=start_attributes(record),
        static_summary=summary(record),
    )
    return handle.id


async def signal_with_start(
    client: Client, task_queue: str, record: PersonaRecord, signal: str, payload: object
) -> None:
    """Signal a persona's life, starting it if it is not running."""
    await client.start_workflow(
        PERSONA_LIFE_WORKFLOW,
        life_input(record),
        id=persona_workflow_id(record.persona_id),
        task_queue=task_queue,
        start_signal=signal,
        start_signal_args=[payload],
        search_attributes=start_attributes(record),
        static_summary=summary(record),
    )
