"""Typed helpers for fleet personas: learn, start adaptation, steer it, A/B test, marketplace.

Every refusal is a :class:`clients.api.PersonaError` with a one-line message: input is
validated here (attributes, ranges, risk tolerance, intents, vetting) before any workflow sees it.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, RootModel, TypeAdapter, ValidationError
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.fleet import lab
from activities.fleet.market import Market, MarketError
from clients.api import PersonaError, ServiceClient, explain, refusals
from personas.fleet.config import BadConfig, FleetConfig, parse_config
from personas.fleet.context import FleetContext
from personas.fleet.marketplace import SignedListing
from personas.fleet.objective import UnknownIntent
from personas.fleet.persona import FleetPersona
from personas.fleet.simulator import Scenario, SimParams
from personas.ids import ab_test_workflow_id, fleet_workflow_id
from runtime import search_attributes as sa
from workflows.fleet_ab import ABInput, ABResult, FleetABTest
from workflows.fleet_adaptation import FleetAdaptation, FleetInput, FleetView


def learn_persona(
    fleet_id: str,
    scenario: Scenario,
    intents: list[str],
    *,
    rounds: int = 150,
    seed: int = 0,
    author: str = "fleet-learner",
    params: SimParams | None = None,
) -> FleetPersona:
    """Learn a persona in the simulator (Thompson sampling) for the scenario's context (which
    the persona records); bad intents are refused."""
    try:
        return lab.learn_persona(
            fleet_id,
            scenario,
            params,
            intents=intents,
            rounds=rounds,
            seed=seed,
            author=author,
            now=datetime.now(UTC),
            sources=[f"simulator:{scenario.context().key()}@{scenario.rate_rps:g}rps"],
        )
    except UnknownIntent as err:
        raise PersonaError(str(err)) from None


def fleet_input(**fields: Any) -> FleetInput:
    """Validate a fleet's start input (configuration, risk tolerance, persona) in one line."""
    if "current" in fields:
        try:
            fields["current"] = parse_config(fields["current"])
        except BadConfig as err:
            raise PersonaError(str(err)) from None
    try:
        return FleetInput.model_validate(fields)
    except ValidationError as err:
        raise PersonaError(f"invalid fleet: {explain(err)}") from None


def update_argument(update: Any, value: Any) -> Any:
    """``value`` as the typed model the fleet ``update`` takes, or a one-line refusal.

    A bare value's refusal (a risk tolerance, shadow mode) is its own message; a structure's
    names the argument and the field (``bad context: hour: ...``).
    """
    parameter = next(name for name in inspect.signature(update).parameters if name != "self")
    model = typing.get_type_hints(update)[parameter]
    try:
        return TypeAdapter(model).validate_python(value)
    except ValidationError as err:
        errors = err.errors()
        if isinstance(model, type) and issubclass(model, RootModel) and len(errors) == 1:
            raise PersonaError(errors[0]["msg"]) from None
        raise PersonaError(f"bad {parameter}: {explain(err)}") from None


class FleetClient(ServiceClient):
    """Start, steer, watch and A/B test fleet adaptations; use the marketplace."""

    def _handle(self, fleet_id: str) -> WorkflowHandle[Any, FleetView]:
        return self.client.get_workflow_handle_for(FleetAdaptation.run, fleet_workflow_id(fleet_id))

    async def start(self, **fields: Any) -> str:
        """Start a fleet's adaptation (fields of :class:`FleetInput`); returns the fleet id."""
        data = fleet_input(**fields)
        await self._entity_permits(data.entity_id)
        await self.client.start_workflow(
            FleetAdaptation.run,
            data,
            id=fleet_workflow_id(data.fleet_id),
            task_queue=self.task_queue,
            search_attributes=sa.starting(
                "fleet", "observing", persona_id=data.fleet_id, entity_id=data.entity_id
            ),
            static_summary=f"fleet persona {data.fleet_id} for {data.entity_id}",
        )
        return data.fleet_id

    async def view(self, fleet_id: str) -> FleetView:
        """The fleet's state."""
        try:
            return await self._handle(fleet_id).query(FleetAdaptation.view)
        except RPCError:
            raise PersonaError(f"fleet {fleet_id} is not running") from None

    async def _update(self, fleet_id: str, update: Any, arg: Any) -> Any:
        argument = update_argument(update, arg)
        try:
            with refusals(f"update of fleet {fleet_id}"):
                return await self._handle(fleet_id).execute_update(update, argument)
        except RPCError:
            raise PersonaError(f"fleet {fleet_id} is not running") from None

    async def set_risk(self, fleet_id: str, tolerance: float) -> float:
        """Change the risk tolerance (refused outside [0, 1])."""
        return float(await self._update(fleet_id, FleetAdaptation.set_risk, tolerance))

    async def set_shadow(self, fleet_id: str, shadow: bool) -> bool:
        """Turn shadow mode on or off."""
        return bool(await self._update(fleet_id, FleetAdaptation.set_shadow, shadow))

    async def set_persona(self, fleet_id: str, persona: dict[str, Any] | FleetPersona) -> int:
        """Adopt a new persona version (the workflow checks it is this fleet's)."""
        return int(await self._update(fleet_id, FleetAdaptation.set_persona, persona))

    async def set_context(self, fleet_id: str, context: dict[str, Any] | FleetContext) -> int:
        """Move a fleet to a new context and relearn its persona; returns the persona version."""
        try:
            valid = context if isinstance(context, FleetContext) else context_of(context)
        except ValidationError as err:
            raise PersonaError(f"invalid context: {explain(err)}") from None
        return int(await self._update(fleet_id, FleetAdaptation.set_context, valid))

    async def stop(self, fleet_id: str) -> None:
        """Stop adapting."""
        try:
            await self._handle(fleet_id).signal(FleetAdaptation.stop)
        except RPCError:
            raise PersonaError(f"fleet {fleet_id} is not running") from None

    async def ab_test(self, **fields: Any) -> ABResult:
        """Run an A/B test to its decision (variants as configuration dicts)."""
        ab_id = await self.start_ab_test(**fields)
        return await self.client.get_workflow_handle_for(
            FleetABTest.run, ab_test_workflow_id(ab_id)
        ).result()

    async def start_ab_test(self, **fields: Any) -> str:
        """Start an A/B test (fields of :class:`ABInput`, variants as configuration dicts);
        returns its id. Its workflow names the fleet (``PersonaId``) from the start."""
        try:
            variants = {k: parse_config(v) for k, v in fields.pop("variants", {}).items()}
            data = ABInput.model_validate({**fields, "variants": variants})
        except BadConfig as err:
            raise PersonaError(str(err)) from None
        except ValidationError as err:
            raise PersonaError(f"invalid A/B test: {explain(err)}") from None
        try:
            await self.client.start_workflow(
                FleetABTest.run,
                data,
                id=ab_test_workflow_id(data.ab_id),
                task_queue=self.task_queue,
                search_attributes=sa.starting("fleet", "ab_testing", persona_id=data.fleet_id),
                static_summary=f"A/B test {data.ab_id} of fleet {data.fleet_id}",
            )
        except WorkflowAlreadyStartedError:
            raise PersonaError(f"A/B test {data.ab_id} already exists") from None
        return data.ab_id

    async def ab_status(self, fleet_id: str, ab_id: str) -> ABStatus:
        """An A/B test of ``fleet_id``: running, or its decision; unknown for another fleet's."""
        handle = self.client.get_workflow_handle_for(FleetABTest.run, ab_test_workflow_id(ab_id))
        try:
            described = await handle.describe()
        except RPCError:
            raise PersonaError(f"unknown A/B test {ab_id}") from None
        if described.typed_search_attributes.get(sa.PERSONA_ID) != fleet_id:
            raise PersonaError(f"unknown A/B test {ab_id} of fleet {fleet_id}")
        status = described.status
        if status == WorkflowExecutionStatus.RUNNING:
            return ABStatus(ab_id=ab_id, status="running")
        if status != WorkflowExecutionStatus.COMPLETED:
            name = status.name.lower() if status else "unknown"
            return ABStatus(ab_id=ab_id, status=name)
        return ABStatus(ab_id=ab_id, status="completed", result=await handle.result())

    async def deploy_from_market(self, fleet_id: str, name: str) -> int:
        """Vet a marketplace persona (signature, simulator) and adopt it, or refuse with reasons."""
        market = Market(self.store)
        try:
            signed, _ = await asyncio.to_thread(market.get, name)
        except MarketError as err:
            raise PersonaError(str(err)) from None
        return await self.deploy_listing(fleet_id, signed)

    async def deploy_listing(self, fleet_id: str, signed: SignedListing) -> int:
        """Vet a signed listing and adopt its persona for ``fleet_id``."""
        verdict = await asyncio.to_thread(Market(self.store).vet, signed)
        if not verdict.accepted:
            raise PersonaError(f"refused {signed.listing.name}: {'; '.join(verdict.reasons)}")
        persona = {**signed.listing.persona, "fleet_id": fleet_id}
        return await self.set_persona(fleet_id, persona)


class ABStatus(BaseModel):
    """An A/B test's state: ``running``, ``completed`` (with its decision), or how it ended."""

    ab_id: str
    status: str
    result: ABResult | None = None


def context_of(data: dict[str, Any]) -> FleetContext:
    """A validated context (raises pydantic's ValidationError)."""
    return FleetContext.model_validate(data)


def scenario_of(**fields: Any) -> Scenario:
    """A validated scenario (load and context), refused with a one-line :class:`PersonaError`."""
    try:
        return Scenario.model_validate(fields)
    except ValidationError as err:
        raise PersonaError(f"invalid scenario: {explain(err)}") from None


def config_of(text: dict[str, Any]) -> FleetConfig:
    """A validated configuration, refused with a one-line :class:`PersonaError`."""
    try:
        return parse_config(text)
    except BadConfig as err:
        raise PersonaError(str(err)) from None
