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
    from personas.fleet.config import FleetConfig
    from personas.fleet.context import FleetContext
    from personas.fleet.objective import Metrics, score
    from personas.fleet.persona import FleetPersona, deviation
    from personas.fleet.risk import bounded_step, guard_check, policy
    from personas.fleet.simulator import Scenario
    from runtime import search_attributes as sa

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
    reason: str = ""


class FleetInput(BaseModel):
    """Start (and continue-as-new) input of a fleet's adaptation."""

    fleet_id: str = Field(min_length=1, max_length=80)
    entity_id: str = Field(min_length=1)
    persona: FleetPersona
    current: FleetConfig
    risk_tolerance: float = Field(default=0.3, ge=0, le=1)
    cadence_s: float = Field(default=60.0, ge=1, le=86400)
    shadow: bool = False
    executors: list[ExecutorSpec] = Field(default_factory=lambda: [ExecutorSpec()])
    scenario: Scenario = Field(default_factory=Scenario)
    rounds_per_run: int = Field(default=200, ge=1)
    max_rounds: int | None = Field(default=None, ge=1)
    relearn_every: int | None = Field(default=None, ge=1, description="rounds between retrains")
    observations: list[Observation] = Field(default_factory=list)
    rounds: int = 0
    last_change_s: float | None = None
    last_good: FleetConfig | None = None
    changes: list[Change] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


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


def _cause(err: ActivityError) -> str:
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


@workflow.defn
class FleetAdaptation:
    """The adaptation of one fleet. Its id is ``fleet-<fleet_id>``."""

    @workflow.init
    def __init__(self, input: FleetInput) -> None:
        self.input = input
        self.persona = input.persona
        self.current = input.current
        self.last_good = input.last_good or input.current
        self.changes = list(input.changes)
        self.errors = list(input.errors)
        self.observations = list(input.observations)
        self.status = "observing"
        self.stopping = False
        self.objective: float | None = None
        self.wake = False

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
                    timeout=timedelta(seconds=self.input.cadence_s),
                )
            self.wake = False
            if self.stopping:
                break
            await self._round()
        if not (self.stopping or self._done()):
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(self._carry())
        self.status = "stopped"
        self._publish()
        return self.view()

    def _done(self) -> bool:
        return self.input.max_rounds is not None and self.input.rounds >= self.input.max_rounds

    def _now_s(self) -> float:
        return workflow.now().timestamp()

    def _log(self, change: Change) -> None:
        self.changes = [*self.changes, change][-MAX_LOG:]

    def _error(self, text: str) -> None:
        self.errors = [*self.errors, text][-MAX_LOG:]

    async def _observe(self) -> Metrics:
        req = ObserveRequest(
            fleet_id=self.input.fleet_id,
            scenario=self.input.scenario,
            seed=workflow.random().randint(0, 2**31),
        )
        return await workflow.execute_activity(
            OBSERVE,
            req,
            result_type=Metrics,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RETRY,
        )

    async def _apply(self, config: FleetConfig, purpose: str = "change") -> str | None:
        """Apply; None on success, else the executor's one-line reason."""
        req = ApplyRequest(
            fleet_id=self.input.fleet_id,
            config=config,
            executors=self.input.executors,
            key=f"{workflow.info().run_id}-{self.input.rounds}-{purpose}",
        )
        limit = sum(e.timeout_s for e in self.input.executors) + 30.0
        try:
            await workflow.execute_activity(
                APPLY,
                req,
                result_type=FleetConfig,
                start_to_close_timeout=timedelta(seconds=limit),
                retry_policy=RETRY,
            )
        except ActivityError as err:
            return _cause(err)
        return None

    async def _round(self) -> None:
        self.input.rounds += 1
        p = policy(self.input.risk_tolerance)
        before = await self._observe()
        self.objective = score(before, self.persona.weights)
        self.observations = [
            *self.observations,
            Observation(
                config=self.current,
                objective=self.objective,
                context=self.input.scenario.context(),
            ),
        ][-MAX_OBSERVATIONS:]
        every = self.input.relearn_every
        if every is not None and self.input.rounds % every == 0:
            await self._relearn()
        dev = deviation(self.current, self.persona)
        now = self._now_s()
        last = self.input.last_change_s
        cooling = last is not None and now - last < p.cooldown_s
        if dev <= self.persona.deviation_trigger or cooling:
            self._publish()
            return
        target = bounded_step(self.current, self.persona, p)
        change = Change(
            at_s=now, from_config=self.current, to_config=target, deviation=dev, status="shadow"
        )
        if self.input.shadow:
            self._log(change)
            self._publish()
            return
        self.status = "applying"
        self._publish()
        failure = await self._apply(target)
        self.input.last_change_s = now
        if failure is not None:
            self._error(f"executor failed: {failure}; staying on {self.current.key()}")
            self._log(change.model_copy(update={"status": "failed", "reason": failure}))
            self.status = "observing"
            self._publish()
            return
        previous, self.current = self.current, target
        self.status = "stabilising"
        self._publish()
        await workflow.sleep(timedelta(seconds=p.stabilisation_s))
        after = await self._observe()
        ok, why = guard_check(before, after, self.persona.weights, self.persona.guard)
        if ok:
            self.last_good = target
            self.objective = score(after, self.persona.weights)
            self._log(change.model_copy(update={"status": "applied"}))
        else:
            failure = await self._apply(previous, "rollback")
            if failure is None:
                self.current = previous
            else:
                self._error(f"rollback failed: {failure}")
            self._log(change.model_copy(update={"status": "rolled_back", "reason": why}))
        self.status = "observing"
        self._publish()

    async def _relearn(self) -> None:
        req = RelearnRequest(
            persona=self.persona,
            scenario=self.input.scenario,
            observations=self.observations,
            seed=workflow.random().randint(0, 2**31),
        )
        self.persona = await workflow.execute_activity(
            RELEARN,
            req,
            result_type=FleetPersona,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
        )
        await self._save_persona()

    async def _save_persona(self) -> None:
        req = SavePersonaRequest(entity_id=self.input.entity_id, persona=self.persona)
        await workflow.execute_activity(
            SAVE_PERSONA,
            req,
            result_type=int,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    def _carry(self) -> FleetInput:
        return self.input.model_copy(
            update={
                "persona": self.persona,
                "current": self.current,
                "last_good": self.last_good,
                "changes": self.changes,
                "errors": self.errors,
                "observations": self.observations,
                "shadow": self.input.shadow,
            }
        )

    def _publish(self) -> None:
        workflow.upsert_search_attributes(
            [
                sa.PERSONA_KIND.value_set("fleet"),
                sa.PERSONA_ID.value_set(self.input.fleet_id),
                sa.ENTITY_ID.value_set(self.input.entity_id),
                sa.PERSONA_STATUS.value_set(self.status),
            ]
        )
        workflow.set_current_details(
            f"{self.status}: {self.current.key()} (optimum {self.persona.optimum.key()}, "
            f"risk {self.input.risk_tolerance}, {'shadow' if self.input.shadow else 'live'})"
        )

    # ------------------------------------------------------------------ messages
    @workflow.query
    def view(self) -> FleetView:
        """The fleet's state."""
        return FleetView(
            fleet_id=self.input.fleet_id,
            status=self.status,
            current=self.current,
            last_good=self.last_good,
            optimum=self.persona.optimum,
            persona_version=self.persona.version,
            risk_tolerance=self.input.risk_tolerance,
            shadow=self.input.shadow,
            context=self.input.scenario.context(),
            persona_context=self.persona.context,
            deviation=deviation(self.current, self.persona),
            rounds=self.input.rounds,
            objective=self.objective,
            changes=self.changes,
            errors=self.errors,
        )

    @workflow.update
    async def set_risk(self, tolerance: Any) -> float:
        """Change the risk tolerance (in [0, 1])."""
        self.input.risk_tolerance = float(tolerance)
        return self.input.risk_tolerance

    @set_risk.validator
    def _check_risk(self, tolerance: Any) -> None:
        if (
            isinstance(tolerance, bool)
            or not isinstance(tolerance, int | float)
            or not 0.0 <= tolerance <= 1.0
        ):
            raise ApplicationError(f"risk tolerance must be in [0, 1], got {tolerance!r}")

    @workflow.update
    async def set_shadow(self, shadow: Any) -> bool:
        """Turn shadow mode on or off."""
        self.input.shadow = bool(shadow)
        return self.input.shadow

    @set_shadow.validator
    def _check_shadow(self, shadow: Any) -> None:
        if not isinstance(shadow, bool):
            raise ApplicationError(f"shadow must be true or false, got {shadow!r}")

    @workflow.update
    async def set_persona(self, persona: Any) -> int:
        """Adopt a new persona version (validated); returns its version."""
        new = FleetPersona.model_validate(persona)
        self.persona = new
        await self._save_persona()
        self.wake = True
        return new.version

    @set_persona.validator
    def _check_persona(self, persona: Any) -> None:
        try:
            new = FleetPersona.model_validate(persona)
        except ValidationError as err:
            first = err.errors()[0]
            raise ApplicationError(f"bad persona: {first['loc']}: {first['msg']}") from None
        if new.fleet_id != self.input.fleet_id:
            raise ApplicationError(f"persona is for fleet {new.fleet_id}, not this one")

    @workflow.update
    async def set_context(self, context: Any) -> int:
        """Move the fleet to a new context (hour, region, campaign, pattern) and relearn the
        persona for it; returns the new persona version."""
        ctx = FleetContext.model_validate(context)
        previous = self.input.scenario
        self.input.scenario = previous.model_copy(update=ctx.model_dump())
        try:
            await self._relearn()
        except ActivityError as err:
            self.input.scenario = previous
            raise ApplicationError(f"relearning failed: {_cause(err)}; context unchanged") from None
        self.wake = True
        return self.persona.version

    @set_context.validator
    def _check_context(self, context: Any) -> None:
        try:
            FleetContext.model_validate(context)
        except ValidationError as err:
            first = err.errors()[0]
            raise ApplicationError(f"bad context: {first['loc']}: {first['msg']}") from None

    @workflow.signal
    def risk(self, value: Any) -> None:
        """Set the risk tolerance by signal; an invalid value is recorded and ignored."""
        if isinstance(value, int | float) and 0.0 <= value <= 1.0:
            self.input.risk_tolerance = float(value)
        else:
            self._error(f"ignored risk signal {str(value)[:60]!r}: must be in [0, 1]")

    @workflow.signal
    def observe_now(self) -> None:
        """Run a round now instead of at the next cadence."""
        self.wake = True

    @workflow.signal
    def stop(self) -> None:
        """Stop adapting."""
        self.stopping = True
