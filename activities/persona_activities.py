"""Side effects of persona lives: model calls, the overflow record, rooms, delivery.

Each activity is idempotent under retry: outputs and outcomes are keyed by persona and item,
shed rows by persona and item, room posts by room, message and persona. Each persona
action is also appended once to the persona's audit chain (:mod:`activities.persona_audit`).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from temporalio import activity
from temporalio.client import Client

from activities.activity_set import ActivitySet
from activities.contracts import (
    DELIVER,
    DELIVER_BATCH,
    POST_TO_ROOM,
    RECORD_SHED,
    SIGNAL_PERSONA,
    THINK,
    Delivery,
    DeliveryReport,
    PersonaSignal,
    RoomDelivery,
    RoomDeliveryReport,
    RoomPostRequest,
    ShedBatch,
    ThinkRequest,
    ThinkResult,
)
from activities.funding.audit_log import calling_activity_key
from activities.persona_audit import PersonaAudit, batch_key
from activities.persona_start import PersonaDocument, signal_with_start
from activities.providers import ModelProvider
from activities.store import (
    OutcomeRecord,
    PersonaRecord,
    Store,
    UnknownContent,
    UnknownPersona,
)
from personas import messages
from personas.ids import persona_of_workflow
from personas.items import InboxItem, item_kind
from personas.parts import PromptPart, text_part

FAN_OUT = 32
"""How many signals one room delivery has in flight at once."""


def _result_of(outcome: OutcomeRecord) -> ThinkResult:
    """What a think returns for a recorded outcome."""
    return ThinkResult(
        output_ref=outcome.output_ref or f"out-{outcome.persona_id}-{outcome.item_id}",
        tokens_in=outcome.tokens_in,
        tokens_out=outcome.tokens_out,
    )


def _think_entry(request: ThinkRequest, result: ThinkResult) -> dict[str, Any]:
    """The audit entry of a think."""
    item = request.item
    return {
        "item_id": item.item_id,
        "item_kind": item.kind,
        "sender_id": item.sender_id,
        "output_ref": result.output_ref,
        "tokens_in": result.tokens_in,
        "tokens_out": result.tokens_out,
    }


class PersonaActivities(ActivitySet):
    """The activities persona and room workflows call, bound to a store and a provider."""

    def __init__(self, store: Store, provider: ModelProvider, client: Client, task_queue: str):
        self.store = store
        self.provider = provider
        self.client = client
        self.task_queue = task_queue
        self.audit = PersonaAudit(store)

    def _prompt(self, request: ThinkRequest) -> tuple[PromptPart, ...]:
        """The item's content, rendered by its kind; a line naming the item when it has none."""
        item = request.item
        about = f"{item.kind} from {item.sender_id}"
        if item.content_ref is None:
            return (text_part(about),)
        try:
            content = self.store.get_content(item.content_ref)
        except UnknownContent:
            return (text_part(f"{about} (content {item.content_ref} missing)"),)
        return item_kind(item.kind).render(item, content.parts) or (text_part(about),)

    @activity.defn(name=THINK)
    async def think(self, request: ThinkRequest) -> ThinkResult:
        """Call the base model on an item; its output goes to the store once."""
        persona, item_id = request.persona_id, request.item.item_id
        done = await asyncio.to_thread(self.store.get_outcome, persona, item_id)
        if done is not None and done.output_ref is not None:
            result = ThinkResult(
                output_ref=done.output_ref, tokens_in=done.tokens_in, tokens_out=done.tokens_out
            )
            await self._audit_think(request, result)  # the first attempt may have died before
            return result
        prompt = await asyncio.to_thread(self._prompt, request)
        system = f"You are {request.persona_name}, specialised in {request.specialization}. " + (
            "Draft a reply you might give in the room." if request.purpose == "bid" else ""
        )
        started = time.monotonic()
        completion = await self.provider.complete(request.base_persona, system, prompt)
        compute_ms = math.ceil((time.monotonic() - started) * 1000)

        def write() -> OutcomeRecord:  # output, outcome and audit entry: one transaction
            audit = self.audit.step(persona, f"persona.{request.purpose}", item_id)
            return self.store.record_output(
                persona,
                item_id,
                request.purpose,
                completion.text,
                completion.tokens_in,
                completion.tokens_out,
                also=lambda s, outcome: audit(s, _think_entry(request, _result_of(outcome))),
            )

        outcome = await asyncio.to_thread(write)
        return _result_of(outcome).model_copy(update={"compute_ms": compute_ms})

    async def _audit_think(self, request: ThinkRequest, result: ThinkResult) -> None:
        await self.audit.record(
            request.persona_id,
            f"persona.{request.purpose}",
            request.item.item_id,
            _think_entry(request, result),
        )

    @activity.defn(name=RECORD_SHED)
    async def record_shed(self, batch: ShedBatch) -> int:
        """Write shed items to the overflow record; returns how many were new."""
        rows = [(i, r, p, dict(item)) for i, r, p, item in batch.rows]
        new = await asyncio.to_thread(self.store.record_shed_many, batch.persona_id, rows)
        shed = {item_id: reason for item_id, reason, _, _ in batch.rows}
        await self.audit.record(
            batch.persona_id, "persona.shed", batch_key(list(shed)), {"items": shed}
        )
        return new

    @activity.defn(name=POST_TO_ROOM)
    async def post_to_room(self, request: RoomPostRequest) -> None:
        """Publish a granted response to the room's transcript."""
        await asyncio.to_thread(
            self.store.post_to_room,
            request.room_id,
            request.message_id,
            request.persona_id,
            request.content_ref,
        )
        await self.audit.record(
            request.persona_id,
            "persona.room_post",
            f"{request.room_id}:{request.message_id}",
            {
                "room_id": request.room_id,
                "message_id": request.message_id,
                "content_ref": request.content_ref,
            },
        )

    async def _signal(
        self, persona_id: str, signal: str, payload: object, report: DeliveryReport
    ) -> None:
        try:
            record = await asyncio.to_thread(self.store.get_persona, persona_id)
        except UnknownPersona:
            report.skipped[persona_id] = "unknown persona"
            return
        if record.life_status == "stopped":
            report.skipped[persona_id] = "stopped"
            return
        await signal_with_start(self.client, self.task_queue, record, signal, payload)
        report.delivered.append(persona_id)

    @activity.defn(name=DELIVER)
    async def deliver(self, delivery: Delivery) -> DeliveryReport:
        """Signal items to personas, starting those not running; stopped ones are skipped."""
        report = DeliveryReport(delivered=[], skipped={})
        for persona_id, item in delivery.items:
            await self._signal(persona_id, messages.DELIVER, item, report)
        return report

    def _members(self, members: list[str]) -> dict[str, PersonaRecord | str]:
        """Each member's record, or why it cannot be delivered to."""
        records = self.store.get_latest_personas(members)
        found: dict[str, PersonaRecord | str] = {}
        for persona_id in members:
            record = records.get(persona_id)
            if record is None:
                found[persona_id] = "unknown persona"
            else:
                found[persona_id] = "stopped" if record.life_status == "stopped" else record
        return found

    @activity.defn(name=DELIVER_BATCH)
    async def deliver_batch(self, delivery: RoomDelivery) -> RoomDeliveryReport:
        """A room's posts to its members, concurrently: one signal-with-start per member
        carrying the posts it did not send; mentioned members are signalled first."""
        found = await asyncio.to_thread(self._members, delivery.members)
        report = RoomDeliveryReport(delivered=[], skipped={}, names={})
        targets: list[tuple[PersonaRecord, list[InboxItem]]] = []
        for persona_id, record in found.items():
            if isinstance(record, str):
                report.skipped[persona_id] = record
                continue
            name = PersonaDocument.model_validate(record.body).profile.name
            report.names[persona_id] = name
            items = [i for i in delivery.items if i.sender_id != persona_id]
            if items:
                targets.append((record, items))
        mentioned = {m.lower() for i in delivery.items for m in i.mentions}
        targets.sort(key=lambda t: report.names[t[0].persona_id].lower() not in mentioned)
        gate = asyncio.Semaphore(FAN_OUT)

        async def send(record: PersonaRecord, items: list[InboxItem]) -> None:
            async with gate:
                await signal_with_start(
                    self.client, self.task_queue, record, messages.DELIVER_BATCH, items
                )

        await asyncio.gather(*(send(r, items) for r, items in targets))
        report.delivered = [r.persona_id for r, _ in targets]
        return report

    @activity.defn(name=SIGNAL_PERSONA)
    async def signal_persona(self, message: PersonaSignal) -> DeliveryReport:
        """Signal one persona (subscriptions, notices, grants), waking it if needed.

        When a persona's life sends it, the send is audited on the sender's chain.
        """
        report = DeliveryReport(delivered=[], skipped={})
        await self._signal(message.persona_id, message.signal, message.payload, report)
        info = activity.info()
        sender = persona_of_workflow(info.workflow_id or "")
        if sender is not None and info.workflow_type == "PersonaLife":
            await self.audit.record(
                sender,
                "persona.signal",
                calling_activity_key(),
                {"to": message.persona_id, "signal": message.signal, "skipped": report.skipped},
            )
        return report
