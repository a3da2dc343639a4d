"""The funding cycle of one AI persona, and the scheduled rotation of its API key.

Every period (a durable timer) or on demand (signal), the cycle computes the persona's
performance metrics, applies the rules document to its allocation, charges the storage its
outputs took over the period, releases holds whose work died (expired), and tops its
balance up from the entity budget and then the pre-approved sources. With nothing to fund it the
persona's life is paused by its deactivation event; when funds arrive (signal) or a later
cycle finds money, the life resumes. Each posting's idempotency key is the workflow id and
the cycle number, so a retried or replayed activity never posts twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.funding.contracts import (
        FUNDING_LIFE,
        FUNDING_METRICS,
        FUNDING_RELEASE_EXPIRED,
        FUNDING_ROTATE_KEY,
        FUNDING_RULES,
        FUNDING_SETUP,
        FUNDING_STORAGE,
        FUNDING_TOP_UP,
        LifeControl,
        LifeControlResult,
        MetricsRequest,
        ReleaseRequest,
        RotateKeyRequest,
        RotateKeyResult,
        RulesResult,
        SetupRequest,
        StorageRequest,
        TopUpOutcome,
        TopUpRequest,
    )
    from personas import messages
    from personas.bounds import LABEL_CHARS
    from personas.funding.cycle import CycleSnapshot, FundingCycleInput, FundingView
    from personas.funding.metrics import describe
    from personas.funding.money import fmt
    from personas.funding.rules import apply_rules
    from personas.funding.topup import TopUpPolicy
    from runtime import search_attributes as sa
    from runtime.converter import UndecodablePayload
    from workflows.common import now_ms, refuse, started_with

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=300),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[
        "InsufficientFunds",
        "UnknownAccount",
        "IdempotencyConflict",
        "UnbalancedPosting",
    ],
)


@workflow.defn(failure_exception_types=[UndecodablePayload])  # an undecodable start fails once
class FundingCycle:
    """One persona's funding cycle. Its id is ``funding-<persona_id>``."""

    @workflow.init
    def __init__(self, input: FundingCycleInput) -> None:
        input = started_with(input, FundingCycleInput)
        self.input = input
        # Everything the cycle lives by, changed in place; continue-as-new carries it whole.
        self.funding = input.snapshot or CycleSnapshot(allocation=input.allocation)
        self.stop_requested = False
        self.rejected = 0
        self.published: tuple[str, int] | None = None

    @workflow.run
    async def run(self, input: FundingCycleInput) -> FundingView:
        """Run cycles until stopped, continuing as new after a bounded number of them."""
        await workflow.execute_activity(
            FUNDING_SETUP,
            SetupRequest(entity_id=input.entity_id, persona_id=input.persona_id),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
        cycles_this_run = 0
        while not self.stop_requested:
            if input.snapshot is None and self.funding.cycle == 0:
                reason = "start"
            else:
                reason = await self._wait()
            if self.stop_requested:
                break
            await self._cycle(reason)
            cycles_this_run += 1
            if cycles_this_run >= input.config.max_cycles_per_run or (
                workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self.stop_requested:  # a stop that came in meanwhile ends this run
                    workflow.continue_as_new(input.model_copy(update={"snapshot": self.funding}))
        self._publish("stopped")
        return self.view()

    async def _wait(self) -> str:
        try:
            await workflow.wait_condition(
                lambda: (
                    self.stop_requested or self.funding.pending_demand or self.funding.pending_funds
                ),
                timeout=timedelta(seconds=self.input.config.period_s),
                timeout_summary="funding-period",
            )
        except TimeoutError:
            return "period"
        if self.funding.pending_demand:
            return "demand"
        return "funds"

    async def _cycle(self, reason: str) -> None:
        self.funding.pending_demand = False
        self.funding.pending_funds = False
        cycle_ms = now_ms()
        since_ms = (
            self.funding.last_cycle_ms if self.funding.last_cycle_ms is not None else cycle_ms
        )
        if reason in ("period", "demand"):
            metrics: dict[str, float] = await workflow.execute_activity(
                FUNDING_METRICS,
                MetricsRequest(
                    persona_id=self.input.persona_id, since_ms=since_ms, until_ms=cycle_ms
                ),
                result_type=dict[str, float],
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
            )
            self.funding.last_cycle_ms = cycle_ms
            await workflow.execute_activity(
                FUNDING_STORAGE,
                StorageRequest(
                    key=f"{workflow.info().workflow_id}:storage:{self.funding.cycle + 1}",
                    persona_id=self.input.persona_id,
                    seconds=(cycle_ms - since_ms) / 1000,
                ),
                result_type=int,
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
            )
            rules: RulesResult = await workflow.execute_activity(
                FUNDING_RULES, result_type=RulesResult, start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
            )  # fmt: skip
            adjustment = apply_rules(rules.rules, metrics, self.funding.allocation)
            allocation = min(adjustment.after, self.input.funding_limit)
            if adjustment.rule is not None and allocation != self.funding.allocation:
                self.funding.adjustments += 1
            self.funding.allocation = allocation
            self.funding.last_rule = adjustment.rule[:LABEL_CHARS] if adjustment.rule else None
            workflow.logger.info(
                "cycle %d: %s -> %s", self.funding.cycle + 1, describe(metrics), adjustment
            )
        elif self.funding.last_cycle_ms is None:
            self.funding.last_cycle_ms = cycle_ms
        await workflow.execute_activity(
            FUNDING_RELEASE_EXPIRED,
            ReleaseRequest(persona_id=self.input.persona_id),
            result_type=int,
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
        await self._top_up(self.funding.cycle + 1)
        self.funding.cycle += 1
        self._publish()

    async def _top_up(self, cycle: int) -> None:
        allocation = self.funding.allocation
        policy = TopUpPolicy(
            threshold=allocation * self.input.config.threshold_percent // 100, target=allocation
        )
        try:
            outcome: TopUpOutcome = await workflow.execute_activity(
                FUNDING_TOP_UP,
                TopUpRequest(
                    key=f"{workflow.info().workflow_id}:cycle:{cycle}",
                    persona_id=self.input.persona_id,
                    policy=policy,
                    funding_limit=self.input.funding_limit,
                ),
                result_type=TopUpOutcome,
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
            )
        except ActivityError as err:  # refused for good: this cycle draws nothing
            workflow.logger.warning("top-up of cycle %d refused: %s", cycle, err.cause)
            self.funding.failed_top_ups += 1
            return
        self.funding.balance = outcome.balance
        if outcome.drawn:
            self.funding.top_ups += 1
        unfunded = outcome.balance <= 0
        event: str | None = None
        if unfunded and not self.funding.paused:
            event, self.funding.paused = self.input.config.pause_event, True
            self.funding.pauses += 1
        elif not unfunded and self.funding.paused:
            event, self.funding.paused = self.input.config.resume_event, False
            self.funding.resumes += 1
        fraction = 1.0 if allocation == 0 else min(1.0, outcome.balance / allocation)
        await self._control_life(event, fraction)

    async def _control_life(self, event: str | None, fraction: float) -> None:
        result: LifeControlResult = await workflow.execute_activity(
            FUNDING_LIFE,
            LifeControl(
                persona_id=self.input.persona_id,
                event=event,
                compute_budget=fraction,
                metered=True,
            ),
            result_type=LifeControlResult,
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
        if result.status not in ("ok", "live", "paused"):
            workflow.logger.warning("life of %s: %s", self.input.persona_id, result.status)

    # ----------------------------------------------------------------- web UI
    def _status(self) -> str:
        if self.funding.paused:
            return "unfunded"
        threshold = self.funding.allocation * self.input.config.low_budget_percent // 100
        return "low" if self.funding.balance < threshold else "funded"

    def _publish(self, status: str | None = None) -> None:
        status = status or self._status()
        shown = (status, self.funding.cycle)
        if shown == self.published:
            return
        self.published = shown
        workflow.upsert_search_attributes(
            [
                sa.PERSONA_KIND.value_set("funding"),
                sa.PERSONA_ID.value_set(self.input.persona_id),
                sa.ENTITY_ID.value_set(self.input.entity_id),
                sa.PERSONA_STATUS.value_set(status),
            ]
        )
        workflow.set_current_details(
            f"funding {status}: balance {fmt(self.funding.balance)} of allocation "
            f"{fmt(self.funding.allocation)} (limit {fmt(self.input.funding_limit)}), cycle "
            f"{self.funding.cycle}, last rule {self.funding.last_rule or 'none'}, "
            f"{self.funding.top_ups} top-ups, {self.funding.pauses} pauses"
        )

    # ----------------------------------------------------------------- messages
    @workflow.signal
    def run_cycle(self, *_ignored: Any) -> None:
        """Run a cycle now (metrics, rules, top-up). Any payload is ignored."""
        self.funding.pending_demand = True

    @workflow.signal
    def funds_arrived(self, *_ignored: Any) -> None:
        """Funds were added somewhere: top up (and resume) without waiting for the period.

        Any payload (or none, or several) is ignored, so no payload can fail the workflow task.
        """
        self.funding.pending_funds = True

    @workflow.update
    def set_allocation(self, amount: Any) -> int:
        """Set the allocation (micro-units per period) by hand. Typed ``Any`` so that the
        validator sees the value as sent (an ``int`` hint would turn ``true`` into 1)."""
        self.funding.allocation = amount
        self.funding.pending_funds = True
        return amount

    @set_allocation.validator
    def _validate_allocation(self, amount: Any) -> None:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            refuse("an allocation", amount, "a non-negative integer (micro-units)")
        if amount > self.input.funding_limit:
            raise ApplicationError(
                f"allocation {fmt(amount)} exceeds the funding limit "
                f"{fmt(self.input.funding_limit)}",
                type="TopUpRefused",
            )

    @workflow.signal(name=messages.STOP)
    def stop(self, *_ignored: Any) -> None:
        """Stop the cycle; the workflow's result is its final view. Any payload is ignored."""
        self.stop_requested = True

    @workflow.query
    def view(self) -> FundingView:
        """The funding state."""
        return FundingView(
            persona_id=self.input.persona_id,
            status=self._status(),
            balance=self.funding.balance,
            allocation=self.funding.allocation,
            funding_limit=self.input.funding_limit,
            cycle=self.funding.cycle,
            paused=self.funding.paused,
            last_rule=self.funding.last_rule,
            adjustments=self.funding.adjustments,
            top_ups=self.funding.top_ups,
            pauses=self.funding.pauses,
            resumes=self.funding.resumes,
            rejected=self.rejected,
        )


@workflow.defn(failure_exception_types=[UndecodablePayload])
class KeyRotation:
    """Rotate one persona's API key; started by a Temporal Schedule."""

    @workflow.run
    async def run(self, req: RotateKeyRequest) -> RotateKeyResult:
        """Issue a new key; the old one keeps working for the overlap window."""
        req = started_with(req, RotateKeyRequest)
        rotation_id = req.rotation_id or f"{workflow.info().workflow_id}:{workflow.info().run_id}"
        return await workflow.execute_activity(
            FUNDING_ROTATE_KEY,
            req.model_copy(update={"rotation_id": rotation_id}),
            result_type=RotateKeyResult,
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )


FUNDING_WORKFLOWS: list[type] = [FundingCycle, KeyRotation]
