"""Persona lives on the real dev server: search attributes, updates, and bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from clients.api import PersonaClient, PersonaError
from personas import messages
from personas.ids import persona_workflow_id
from personas.items import InboxItem
from tests.helpers import acme_store, eventually, persona_worker, profile
from workflows.persona_life import PersonaLife


@pytest.fixture
def life_store(tmp_path: Path) -> Iterator[Store]:
    with acme_store(tmp_path / "store.db", ["repo:web", "repo:api"]) as store:
        yield store


@pytest.fixture
async def personas(dev_env: WorkflowEnvironment, life_store: Store) -> AsyncIterator[PersonaClient]:
    async with persona_worker(dev_env.client, life_store, "dev") as client:
        yield client


def raw_item(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "item_id": uuid.uuid4().hex,
        "sender_id": "bot",
        "sent_at": datetime.now(UTC).isoformat(),
    }
    return {**base, **fields}


async def test_search_attributes_and_details_show_the_persona(
    dev_env: WorkflowEnvironment, personas: PersonaClient
) -> None:
    entity = f"e{uuid.uuid4().hex[:8]}"
    personas.store.upsert_entity(entity, "Entity", ["repo:web"])
    pid = (await personas.create_persona(profile(entity_id=entity), created_by="t")).persona_id
    await personas.post_to_persona(pid, "@Ada hello", "bob")
    await eventually(lambda: personas.view(pid), lambda v: v.stats.processed == 1)

    async def listed() -> list[str]:
        query = (
            f'PersonaKind="ai" AND EntityId="{entity}" AND PersonaMood="idle" AND PersonaName="Ada"'
        )
        return [w.id async for w in dev_env.client.list_workflows(query)]

    assert await eventually(listed, lambda ids: len(ids) == 1) == [persona_workflow_id(pid)]
    metadata = await dev_env.client.get_workflow_handle(persona_workflow_id(pid)).query(
        "__temporal_workflow_metadata"
    )
    assert "Ada" in metadata.current_details
    assert "1 processed" in metadata.current_details


async def test_post_update_returns_a_receipt_with_exact_priority(
    personas: PersonaClient,
) -> None:
    pid = (await personas.create_persona(profile(), created_by="t")).persona_id
    await personas.start_life(pid)
    item = InboxItem.model_validate(raw_item(mentions=["ada"], priority=0.1))
    receipt = await personas.post_checked(pid, item)
    assert receipt.accepted
    assert receipt.priority == 0.85  # a mention lands exactly on the floor, above 0.8
    again = await personas.post_checked(pid, item)
    assert (again.accepted, again.reason) == (False, "duplicate")


async def test_bad_updates_are_refused_and_the_life_goes_on(personas: PersonaClient) -> None:
    pid = (await personas.create_persona(profile(), created_by="t")).persona_id
    await personas.start_life(pid)
    with pytest.raises(PersonaError, match="unknown trigger 'lunch'"):
        await personas.trigger(pid, "lunch")
    with pytest.raises(PersonaError, match="outside"):
        await personas.set_compute_budget(pid, 1.5)
    handle = personas.client.get_workflow_handle(persona_workflow_id(pid))
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(PersonaLife.post, "not an item")  # type: ignore[arg-type]
    await personas.post_to_persona(pid, "@Ada still there?", "bob")
    view = await eventually(lambda: personas.view(pid), lambda v: v.stats.processed == 1)
    assert view.compute_budget == 1.0
    assert not await _failed_tasks(personas, pid)


async def test_malformed_signals_are_counted_not_fatal(personas: PersonaClient) -> None:
    pid = (await personas.create_persona(profile(), created_by="t")).persona_id
    await personas.start_life(pid)
    handle = personas.client.get_workflow_handle(persona_workflow_id(pid))
    await handle.signal(messages.DELIVER, raw_item(priority=5))
    await handle.signal(messages.DELIVER, "garbage")
    await handle.signal(messages.DELIVER, raw_item(unknown_field=1))
    await handle.signal(messages.SUBSCRIBE, {"task_key": 3})
    await handle.signal(messages.DELIVER, raw_item(mentions=["Ada"]))
    view = await eventually(lambda: personas.view(pid), lambda v: v.stats.processed == 1)
    assert view.stats.rejected == 4
    assert not await _failed_tasks(personas, pid)


async def test_client_refuses_bad_input_with_one_line(personas: PersonaClient) -> None:
    with pytest.raises(PersonaError, match="unknown persona nobody"):
        await personas.post_to_persona("nobody", "hi", "bob")
    with pytest.raises(PersonaError, match="does not permit db:prod, secrets"):
        await personas.create_persona(
            profile(access_scope=("repo:web", "secrets", "db:prod")), created_by="t"
        )
    pid = (await personas.create_persona(profile(), created_by="t")).persona_id
    with pytest.raises(PersonaError, match="priority"):
        await personas.post_to_persona(pid, "hi", "bob", priority=1.5)
    await personas.start_life(pid)
    await personas.stop_life(pid)
    with pytest.raises(PersonaError, match="is stopped"):
        await personas.post_to_persona(pid, "hi", "bob")
    with pytest.raises(PersonaError, match="not running"):
        await personas.stop_life(pid)


async def _failed_tasks(personas: PersonaClient, pid: str) -> list[object]:
    handle = personas.client.get_workflow_handle(persona_workflow_id(pid))
    return [
        e
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]


async def test_updating_a_persona_adds_a_version_and_is_validated(
    personas: PersonaClient,
) -> None:
    record = await personas.create_persona(profile(), created_by="alice")
    pid = record.persona_id
    updated = await personas.update_persona(pid, {"specialization": "rust review"}, "bob")
    assert (updated.version, updated.created_by) == (2, "bob")
    assert updated.body["profile"]["specialization"] == "rust review"
    versions = personas.store.persona_versions(pid)
    assert [v.body["profile"]["specialization"] for v in versions] == [
        "python code review",
        "rust review",
    ]
    with pytest.raises(PersonaError, match="cannot change name"):
        await personas.update_persona(pid, {"name": "Eve"}, "bob")
    with pytest.raises(PersonaError, match="does not permit secrets"):
        await personas.update_persona(pid, {"access_scope": ["secrets"]}, "bob")
    with pytest.raises(PersonaError, match="funding_limit"):
        await personas.update_persona(pid, {"funding_limit": -1}, "bob")
    assert len(personas.store.persona_versions(pid)) == 2


async def test_an_activation_event_starts_a_stopped_life(personas: PersonaClient) -> None:
    pid = (await personas.create_persona(profile(), created_by="t")).persona_id
    with pytest.raises(PersonaError, match="not running"):
        await personas.trigger(pid, "shift_end")
    assert await personas.trigger(pid, "shift_start") == "live"
    await personas.stop_life(pid)
    assert await personas.trigger(pid, "shift_start") == "live"
    await personas.post_to_persona(pid, "@Ada back again", "bob")
    await eventually(lambda: personas.view(pid), lambda v: v.stats.processed == 1)


async def test_mentions_are_at_names_of_the_entitys_personas(
    personas: PersonaClient,
) -> None:
    ada = (await personas.create_persona(profile(), created_by="t")).persona_id
    await personas.create_persona(profile("Bob"), created_by="t")
    personas.store.upsert_entity("other", "Other", ["repo:web"])
    await personas.create_persona(profile("Cy", entity_id="other"), created_by="t")
    item = await personas.post_to_persona(ada, "@ada and @bob, ask @Cy", "alice")
    assert item.mentions == ("Ada", "Bob")  # Cy belongs to another entity
    bare = await personas.post_to_persona(ada, "ada, the bob pipeline is green", "alice")
    assert bare.mentions == ()  # a bare name is no mention
