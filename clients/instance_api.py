"""Typed helpers to start instance negotiations and answer them by signal or update.

Every refusal is a :class:`clients.api.PersonaError` with a one-line message: input is
validated here (base persona, text, sizes, constraints) before anything reaches a workflow.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, TypeVar

from pydantic import ValidationError
from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.store import PersonaRecord, UnknownPersona
from clients.api import PersonaError, ServiceClient, explain
from personas import messages
from personas.ids import negotiation_workflow_id
from personas.instance.base import UnknownBasePersona, base_persona
from personas.instance.limits import clip
from personas.instance.negotiation import (
    Accept,
    AddConstraint,
    Answer,
    Changes,
    CounterOffer,
    Modify,
    NegotiationInput,
    Reject,
)
from personas.instance.proposals import Proposal
from personas.instance.requirements import (
    ContradictoryConstraints,
    compile_requirements,
)
from personas.instance.views import NegotiationView
from personas.instance.workload import UnreadableWorkload, parse_text
from runtime import search_attributes as sa
from workflows.negotiation import InstanceNegotiation

AnswerT = TypeVar("AnswerT", Accept, Modify, Reject, AddConstraint, CounterOffer)


def negotiation_input(**fields: Any) -> NegotiationInput:
    """Validate a negotiation's start input, refusing bad input with a one-line error."""
    fields.setdefault("negotiation_id", uuid.uuid4().hex[:12])
    try:
        data = NegotiationInput.model_validate(fields)
    except ValidationError as err:
        raise PersonaError(clip(f"invalid negotiation: {explain(err)}")) from None
    try:
        if data.base is not None:
            base_persona(data.base)
        if data.workload is None and data.text:
            parse_text(data.text)
        compile_requirements(base_persona(data.base or "web_server"), data.constraints, data.pins)
    except (UnknownBasePersona, UnreadableWorkload, ContradictoryConstraints) as err:
        raise PersonaError(str(err)) from None
    return data


def _build(model: type[AnswerT], **fields: Any) -> AnswerT:
    """An answer validated here: a refusal is one line of :class:`PersonaError`."""
    try:
        return model.model_validate(fields)
    except ValidationError as err:
        raise PersonaError(clip(f"invalid {model.__name__.lower()}: {explain(err)}")) from None


class InstanceClient(ServiceClient):
    """Start, answer, watch and release instance negotiations."""

    def _handle(self, negotiation_id: str) -> WorkflowHandle[Any, NegotiationView]:
        return self.client.get_workflow_handle_for(
            InstanceNegotiation.run, negotiation_workflow_id(negotiation_id)
        )

    async def start(self, **fields: Any) -> str:
        """Start a negotiation (fields of :class:`NegotiationInput`); returns its id."""
        data = negotiation_input(**fields)
        await self._entity_permits(data.entity_id)
        await self.client.start_workflow(
            InstanceNegotiation.run,
            data,
            id=negotiation_workflow_id(data.negotiation_id),
            task_queue=self.task_queue,
            search_attributes=sa.starting("instance", "analyzing", entity_id=data.entity_id),
            static_summary=f"instance negotiation {data.name} for {data.entity_id}",
        )
        return data.negotiation_id

    async def _closed(self, negotiation_id: str) -> PersonaError:
        try:
            final: NegotiationView = await self._handle(negotiation_id).result()
        except (RPCError, WorkflowFailureError):
            return PersonaError(f"negotiation {negotiation_id} is not running")
        return PersonaError(f"negotiation {negotiation_id} has ended ({final.status})")

    async def view(self, negotiation_id: str) -> NegotiationView:
        """The negotiation's status, rounds and outcome."""
        try:
            view: NegotiationView = await self._handle(negotiation_id).query(
                InstanceNegotiation.view
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise PersonaError(f"unknown negotiation {negotiation_id}") from None
            raise
        return view

    async def proposals(self, negotiation_id: str) -> list[Proposal]:
        """The current round's proposals."""
        return list((await self.view(negotiation_id)).proposals)

    async def answer(
        self, negotiation_id: str, answer: Answer, wait: bool = True
    ) -> NegotiationView | None:
        """Send an answer on the one answer channel: by update (``wait``; returns the next
        round) or by signal (fire-and-forget)."""
        handle = self._handle(negotiation_id)
        try:
            if not wait:
                await handle.signal(messages.ANSWER, answer)
                return None
            result: NegotiationView = await handle.execute_update(
                messages.ANSWER, answer, result_type=NegotiationView
            )
            return result
        except WorkflowUpdateFailedError as err:
            raise PersonaError(
                clip(str(getattr(err.cause, "message", None) or err.cause))
            ) from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise await self._closed(negotiation_id) from None
            raise

    async def accept(
        self, negotiation_id: str, round: int, proposal_id: str, wait: bool = True
    ) -> NegotiationView | None:
        """Accept a proposal of ``round``."""
        answer = _build(Accept, round=round, proposal_id=proposal_id)
        return await self.answer(negotiation_id, answer, wait)

    async def modify(
        self,
        negotiation_id: str,
        round: int,
        proposal_id: str | None,
        changes: Changes | dict[str, Any],
        wait: bool = True,
    ) -> NegotiationView | None:
        """Ask for a round like ``proposal_id`` with ``changes``."""
        answer = _build(Modify, round=round, proposal_id=proposal_id, changes=changes)
        return await self.answer(negotiation_id, answer, wait)

    async def reject(
        self, negotiation_id: str, round: int, reason: str, final: bool = False, wait: bool = True
    ) -> NegotiationView | None:
        """Reject the round's proposals (or, when ``final``, the negotiation)."""
        answer = _build(Reject, round=round, reason=reason, final=final)
        return await self.answer(negotiation_id, answer, wait)

    async def add_constraint(
        self, negotiation_id: str, round: int, kind: str, value: Any, wait: bool = True
    ) -> NegotiationView | None:
        """Add a hard constraint such as ``min_vcpu 8`` or ``region eu-west``."""
        constraint = {"kind": kind, "value": value}
        answer = _build(AddConstraint, round=round, constraint=constraint)
        return await self.answer(negotiation_id, answer, wait)

    async def counter_offer(
        self,
        negotiation_id: str,
        round: int,
        proposal_id: str,
        max_hourly: float | None = None,
        max_monthly: float | None = None,
        wait: bool = True,
    ) -> NegotiationView | None:
        """Keep ``proposal_id``'s shape at most at this price (hourly or monthly): the next
        round offers the nearest configuration within it, or explains why none exists."""
        answer = _build(
            CounterOffer,
            round=round,
            proposal_id=proposal_id,
            max_hourly=max_hourly,
            max_monthly=max_monthly,
        )
        return await self.answer(negotiation_id, answer, wait)

    async def release(self, negotiation_id: str) -> None:
        """Release the provisioned instance; the negotiation then ends."""
        try:
            await self._handle(negotiation_id).signal(InstanceNegotiation.release)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise await self._closed(negotiation_id) from None
            raise

    async def list_personas(self, entity_id: str | None = None) -> list[PersonaRecord]:
        """Instance personas (latest versions), optionally of one entity."""
        return await asyncio.to_thread(self.store.list_personas, "instance", entity_id)

    async def persona_versions(self, persona_id: str) -> list[PersonaRecord]:
        """Every version of an instance persona, with creator, date and usage count."""
        try:
            return await asyncio.to_thread(self.store.persona_versions, persona_id)
        except UnknownPersona as err:
            raise PersonaError(str(err)) from None

    async def result(self, negotiation_id: str) -> NegotiationView:
        """Wait for the negotiation to end and return its final view."""
        try:
            view: NegotiationView = await self._handle(negotiation_id).result()
        except WorkflowFailureError as err:
            raise PersonaError(f"negotiation {negotiation_id} failed: {err.cause}") from None
        return view
