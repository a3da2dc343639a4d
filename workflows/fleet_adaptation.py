"""FleetAdaptation: one durable workflow per fleet that keeps it near its persona's optimum.

Every ``cadence_s`` it observes the fleet and scores the deviation of the current configuration
from the persona's optimum. Above the persona's trigger, and outside the risk policy's cooldown,
it takes one bounded step toward the optimum (magnitude by risk tolerance), applies it through
the executors, waits the stabilisation window, observes again and rolls back when a guard
metric breaks. In shadow mode the step is recorded, never applied. An executor that fails or
hangs leaves the fleet on its last good configuration. With ``relearn_every`` the persona is
retrained on the fleet's observations (a new stored version). The scenario carries the
fleet's context (pattern, hour, region, campaign); every observation is recorded with it, and
the ``set_context`` update moves the fleet to a new context and relearns the persona for it
(observations made in other contexts inform it through the learner's context features).
Continue-as-new every ``rounds_per_run``.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field, ValidationError

    from activities.fleet.contracts import (
        APPLY,
        OBSERVE,
        RELEARN,
        SAVE_PERSONA,
        ApplyRequest,
        ExecutorSpec,
        Observation,
        ObserveRequest,
        RelearnRequest,
        SavePersonaRequest,
    )
    from activities.host import HostClaim
    from personas import messages
    from personas.bounds import LABEL_CHARS, Identifier, Label, quote
    from personas.fleet.config import FleetConfig
    from personas.fleet.context import FleetContext
    from personas.fleet.objective import Metrics, score
    from personas.fleet.persona import FleetPersona, deviation
    from personas.fleet.risk import bounded_step, guard_check, policy
    from personas.fleet.simulator import Scenario
    from personas.fleet.steering import RiskTolerance, RiskValue, ShadowMode
    from runtime import search_attributes as sa
    from runtime.converter import UndecodablePayload
    from workflows.common import (
        CAUSE_LIMIT,
        WrongArity,
        claim_host,
        failure_cause,
        host_gone,
        on_queue,
        pinned,
        refuse,
        sole,
        started_with,
    )

RETRY = RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=10))
MAX_LOG = 50
MAX_OBSERVATIONS = 200


class Change(BaseModel):
    """One decided change and what became of it."""

    at_s: float
    from_config: FleetConfig
    to_config: FleetConfig
    deviation: float
    status: str  # applied | shadow | rolled_back | failed
    reason: str = Field(default="", max_length=CAUSE_LIMIT)


class FleetState(BaseModel):
    """What a fleet's adaptation lives by, changed in place and carried over continue-as-new."""

    persona: FleetPersona
    current: FleetConfig
    last_good: FleetConfig
    risk_tolerance: RiskValue
    shadow: bool
    scenario: Scenario
    rounds: int = 0
    last_change_s: float | None = None
    observations: list[Observation] = Field(default_factory=list, max_length=MAX_OBSERVATIONS)
    changes: list[Change] = Field(default_factory=list, max_length=MAX_LOG)
    errors: list[Label] = Field(default_factory=list, max_length=MAX_LOG)
    host: HostClaim | None = None
    """The host holding the fleet's testbed (placed on the first observation, carried over
    continue-as-new; placed again when it is lost)."""


class FleetInput(BaseModel):
    """Start input of a fleet's adaptation; a continued run also gets the carried ``state``.

    ``persona``, ``current``, ``risk_tolerance``, ``shadow`` and ``scenario`` are the start
    values; once there is a ``state``, it holds their current values and they are not read.
    """

    fleet_id: Identifier = Field(max_length=80)
    entity_id: Identifier
    persona: FleetPersona
    current: FleetConfig
    risk_tolerance: RiskValue = 0.3
    cadence_s: float = Field(default=60.0, ge=1, le=86400)
    shadow: bool = False
    executors: list[ExecutorSpec] = Field(
        default_factory=lambda: [ExecutorSpec()], min_length=1, max_length=8
    )
    scenario: Scenario = Field(default_factory=Scenario)
    rounds_per_run: int = Field(default=200, ge=1, le=10_000)
    max_rounds: int | None = Field(default=None, ge=1, le=10**9)
    relearn_every: int | None = Field(
        default=None, ge=1, le=10**6, description="rounds between retrains"
    )
    state: FleetState | None = None

    def start_state(self) -> FleetState:
        """The state of a fleet's first run, from the start values."""
        return FleetState(
            persona=self.persona,
            current=self.current,
            last_good=self.current,
            risk_tolerance=self.risk_tolerance,
            shadow=self.shadow,
            scenario=self.scenario,
        )


class FleetView(BaseModel):
    """What the ``view`` query returns."""

    fleet_id: str
    status: str
    current: FleetConfig
    last_good: FleetConfig
    optimum: FleetConfig
    persona_version: int
    risk_tolerance: float
    shadow: bool
    context: FleetContext
    persona_context: FleetContext
    deviation: float
    rounds: int
    objective: float | None
    changes: list[Change]
    errors: list[str]
    rejected: int = 0


@workflow.defn(failure_exception_types=[UndecodablePayload])  # an undecodable start fails once
class FleetAdaptation:
    """The adaptation of one fleet. Its id is ``fleet-<fleet_id>``."""

    @workflow.init
    def __init__(self, input: FleetInput) -> None:
        input = started_with(input, FleetInput)
        self.input = input
        # Everything the fleet lives by, changed in place; continue-as-new carries it whole.
        # The input is never changed: its start values seed the state of the first run.
        self.fleet = input.state or input.start_state()
        self.status = "observing"
        self.stopping = False
        self.objective: float | None = None
        self.wake = False
        self.rejected = 0

    @workflow.run
    async def run(self, input: FleetInput) -> FleetView:
        """Observe and adapt until stopped (or ``max_rounds``)."""
        await self._save_persona()
        for _ in range(input.rounds_per_run):
            if self.stopping or self._done():
                break
            with contextlib.suppress(TimeoutError):  # the cadence's timer: time for a round
                await workflow.wait_condition(
                    lambda: self.stopping or self.wake,
                    timeout=timedelta(seconds=input.cadence_s),
                )
            self.wake = False
            if self.stopping:
                break
            await self._round()
        if not (self.stopping or self._done()):
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self.stopping:  # a stop that came in meanwhile ends this run
                workflow.continue_as_new(input.model_copy(update={"state": self.fleet}))
        self.status = "stopped"
        self._publish()
        return self.view()

    def _done(self) -> bool:
        return self.input.max_rounds is not None and self.fleet.rounds >= self.input.max_rounds

    def _now_s(self) -> float:
        return workflow.now().timestamp()

    def _log(self, change: Change) -> None:
        self.fleet.changes = [*self.fleet.changes, change][-MAX_LOG:]

    def _error(self, text: str) -> None:
        self.fleet.errors = [*self.fleet.errors, text[:LABEL_CHARS]][-MAX_LOG:]

    async def _observe(self) -> Metrics:
        request = ObserveRequest(
            fleet_id=self.input.fleet_id,
            scenario=self.fleet.scenario,
            seed=workflow.random().randint(0, 2**31),
        )
        for attempt in (1, 2):
            try:
                return await workflow.execute_activity(
                    OBSERVE,
                    request,
                    result_type=Metrics,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RETRY,
                    **pinned(await self._host()),
                )
            except ActivityError as err:
                if attempt == 2 or not host_gone(err):
                    raise
                self._error(f"host {self.fleet.host.host_id if self.fleet.host else '?'} lost")
                self.fleet.host = None  # placed again: a new testbed on another host
        raise AssertionError("unreachable")

    async def _host(self) -> HostClaim:
        if self.fleet.host is None:
            self.fleet.host = await claim_host()
        return self.fleet.host

    async def _apply(self, config: FleetConfig, purpose: str = "change") -> str | None:
        """Apply; None on success, else the executor's one-line reason."""
        request = ApplyRequest(
            fleet_id=self.input.fleet_id,
            config=config,
            executors=self.input.executors,
            key=f"{workflow.info().run_id}-{self.fleet.rounds}-{purpose}",
        )
        limit = sum(e.timeout_s for e in self.input.executors) + 30.0
        try:
            await workflow.execute_activity(
                APPLY,
                request,
                result_type=FleetConfig,
                start_to_close_timeout=timedelta(seconds=limit),
                retry_policy=RETRY,
                **pinned(await self._host()),
            )
        except ActivityError as err:
            if host_gone(err):
                self.fleet.host = None
            return failure_cause(err)
        return None

    async def _round(self) -> None:
        fleet = self.fleet
        fleet.rounds += 1
        risk = policy(fleet.risk_tolerance)
        before = await self._observe()
        self.objective = score(before, fleet.persona.weights)
        fleet.observations = [
            *fleet.observations,
            Observation(
                config=fleet.current, objective=self.objective, context=fleet.scenario.context()
            ),
        ][-MAX_OBSERVATIONS:]
        every = self.input.relearn_every
        if every is not None and fleet.rounds % every == 0:
            await self._relearn()
        off_by = deviation(fleet.current, fleet.persona)
        now = self._now_s()
        last = fleet.last_change_s
        cooling = last is not None and now - last < risk.cooldown_s
        if off_by <= fleet.persona.deviation_trigger or cooling:
            self._publish()
            return
        target = bounded_step(fleet.current, fleet.persona, risk)
        change = Change(
            at_s=now, from_config=fleet.current, to_config=target, deviation=off_by, status="shadow"
        )
        if fleet.shadow:
            self._log(change)
            self._publish()
            return
        self.status = "applying"
        self._publish()
        failure = await self._apply(target)
        fleet.last_change_s = now
        if failure is not None:
            self._error(f"executor failed: {failure}; staying on {fleet.current.key()}")
            self._log(change.model_copy(update={"status": "failed", "reason": failure}))
            self.status = "observing"
            self._publish()
            return
        previous, fleet.current = fleet.current, target
        self.status = "stabilising"
        self._publish()
        with contextlib.suppress(TimeoutError):  # a stop cuts the stabilisation short
            await workflow.wait_condition(
                lambda: self.stopping,
                timeout=timedelta(seconds=risk.stabilisation_s),
                timeout_summary="stabilisation",
            )
        after = await self._observe()
        ok, why = guard_check(before, after, fleet.persona.weights, fleet.persona.guard)
        if ok:
            fleet.last_good = target
            self.objective = score(after, fleet.persona.weights)
            self._log(change.model_copy(update={"status": "applied"}))
        else:
            failure = await self._apply(previous, "rollback")
            if failure is None:
                fleet.current = previous
            else:
                self._error(f"rollback failed: {failure}")
            self._log(change.model_copy(update={"status": "rolled_back", "reason": why}))
        self.status = "observing"
        self._publish()

    async def _relearn(self) -> None:
        request = RelearnRequest(
            persona=self.fleet.persona,
            scenario=self.fleet.scenario,
            observations=self.fleet.observations,
            seed=workflow.random().randint(0, 2**31),
        )
        self.fleet.persona = await workflow.execute_activity(
            RELEARN,
            request,
            result_type=FleetPersona,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
            task_queue=on_queue(RELEARN),
        )
        await self._save_persona()

    async def _save_persona(self) -> None:
        request = SavePersonaRequest(entity_id=self.input.entity_id, persona=self.fleet.persona)
        await workflow.execute_activity(
            SAVE_PERSONA,
            request,
            result_type=int,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
            task_queue=on_queue(SAVE_PERSONA),
        )

    def _publish(self) -> None:
        fleet = self.fleet
        workflow.upsert_search_attributes(
            [
                sa.PERSONA_KIND.value_set("fleet"),
                sa.PERSONA_ID.value_set(self.input.fleet_id),
                sa.ENTITY_ID.value_set(self.input.entity_id),
                sa.PERSONA_STATUS.value_set(self.status),
            ]
        )
        workflow.set_current_details(
            f"{self.status}: {fleet.current.key()} (optimum {fleet.persona.optimum.key()}, "
            f"risk {fleet.risk_tolerance}, {'shadow' if fleet.shadow else 'live'})"
        )

    # ------------------------------------------------------------------ messages
    @workflow.query
    def view(self) -> FleetView:
        """The fleet's state."""
        fleet = self.fleet
        return FleetView(
            fleet_id=self.input.fleet_id,
            status=self.status,
            current=fleet.current,
            last_good=fleet.last_good,
            optimum=fleet.persona.optimum,
            persona_version=fleet.persona.version,
            risk_tolerance=fleet.risk_tolerance,
            shadow=fleet.shadow,
            context=fleet.scenario.context(),
            persona_context=fleet.persona.context,
            deviation=deviation(fleet.current, fleet.persona),
            rounds=fleet.rounds,
            objective=self.objective,
            changes=fleet.changes,
            errors=fleet.errors,
            rejected=self.rejected,
        )

    @workflow.update
    async def set_risk(self, tolerance: RiskTolerance) -> float:
        """Change the risk tolerance (in [0, 1])."""
        self.fleet.risk_tolerance = tolerance.root
        return self.fleet.risk_tolerance

    @set_risk.validator
    def _check_risk(self, tolerance: RiskTolerance) -> None:
        if not isinstance(tolerance, RiskTolerance):  # a null or binary payload
            refuse("a risk tolerance", tolerance, "a number in [0, 1]")

    @workflow.update
    async def set_shadow(self, shadow: ShadowMode) -> bool:
        """Turn shadow mode on or off."""
        self.fleet.shadow = shadow.root
        return self.fleet.shadow

    @set_shadow.validator
    def _check_shadow(self, shadow: ShadowMode) -> None:
        if not isinstance(shadow, ShadowMode):
            refuse("shadow mode", shadow, "true or false")

    @workflow.update
    async def set_persona(self, persona: FleetPersona) -> int:
        """Adopt a new persona version; returns its version."""
        self.fleet.persona = persona
        await self._save_persona()
        self.wake = True
        return persona.version

    @set_persona.validator
    def _check_persona(self, persona: FleetPersona) -> None:
        if not isinstance(persona, FleetPersona):
            refuse("a persona", persona, "a FleetPersona object")
        if persona.fleet_id != self.input.fleet_id:
            raise ApplicationError(
                f"persona is for fleet {quote(persona.fleet_id)}, not this one", type="WrongFleet"
            )

    @workflow.update
    async def set_context(self, context: FleetContext) -> int:
        """Move the fleet to a new context (hour, region, campaign, pattern) and relearn the
        persona for it; returns the new persona version."""
        previous = self.fleet.scenario
        self.fleet.scenario = previous.model_copy(update=context.model_dump())
        try:
            await self._relearn()
        except ActivityError as err:
            self.fleet.scenario = previous
            raise ApplicationError(
                f"relearning failed: {failure_cause(err)}; context unchanged"
            ) from None
        self.wake = True
        return self.fleet.persona.version

    @set_context.validator
    def _check_context(self, context: FleetContext) -> None:
        if not isinstance(context, FleetContext):
            refuse("a context", context, "a FleetContext object")

    @workflow.signal(name=messages.RISK)
    def risk(self, *args: Any) -> None:
        """Set the risk tolerance by signal; an invalid value is recorded and ignored."""
        try:
            tolerance = RiskTolerance.model_validate(sole(args))
        except (ValidationError, WrongArity, RecursionError):
            self.rejected += 1
            shown = quote(args[0]) if len(args) == 1 else f"{len(args)} payloads"
            self._error(f"ignored risk signal {shown}: must be in [0, 1]")
            return
        self.fleet.risk_tolerance = tolerance.root

    @workflow.signal
    def observe_now(self, *_ignored: Any) -> None:
        """Run a round now instead of at the next cadence. Any payload is ignored."""
        self.wake = True

    @workflow.signal(name=messages.STOP)
    def stop(self, *_ignored: Any) -> None:
        """Stop adapting; the workflow's result is the fleet's final view. Any payload is
        ignored."""
        self.stopping = True
