"""A/B tests of fleet configurations: variations deployed side by side, one traffic stream.

Each variation is deployed by a child workflow (``FleetVariant``) on the worker's fleet driver:
its own real testbed (replicas behind its own nginx) with ``PERSONAS_FLEET_DRIVER=testbed``, or
the simulator. Each round the parent splits one traffic stream between the variations (the
load generator draws each visit's variation by the split), accumulates visits and conversions
per variation, and promotes a variation once its
Bayesian probability of being best reaches the threshold (or reports no decision after
``max_rounds``); the leader must stay above it for two consecutive rounds, which damps
the false promotions of peeking after every round. With ``explore`` the genetic algorithm
adds candidates to the variations. The variations are retired when the test ends.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Annotated

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from activities.fleet.contracts import (
        DEPLOY_VARIANT,
        MEASURE_SPLIT,
        PROPOSE,
        RETIRE_VARIANTS,
        DeployRequest,
        ProposeRequest,
        SplitRequest,
    )
    from activities.host import HostClaim
    from personas.bounds import Identifier, Keyword
    from personas.fleet.abtest import ArmStats, decide
    from personas.fleet.config import FleetConfig
    from personas.fleet.simulator import Scenario
    from runtime import search_attributes as sa
    from runtime.converter import UndecodablePayload
    from workflows.common import claim_host, on_queue, pinned, started_with

RETRY = RetryPolicy(maximum_attempts=3)
#: A leader is promoted once above the threshold in this many consecutive rounds (peeking guard).
CONFIRM_ROUNDS = 2


VariantName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
"""A variation's name (it is part of its child workflow's id)."""
Weight = Annotated[float, Field(ge=0, le=1_000, allow_inf_nan=False)]
"""A variation's share of the traffic, relative to the others'."""


class ABInput(BaseModel):
    """An A/B test: variations, their traffic split, and the decision rule."""

    ab_id: Identifier = Field(max_length=80)
    fleet_id: Identifier
    variants: dict[VariantName, FleetConfig] = Field(min_length=1, max_length=8)
    split: dict[VariantName, Weight] = Field(default_factory=dict, max_length=12)
    scenario: Scenario = Field(default_factory=Scenario)
    visits_per_round: int = Field(default=2000, ge=10, le=1_000_000)
    max_rounds: int = Field(default=10, ge=1, le=100)
    threshold: float = Field(default=0.95, gt=0.5, le=1, allow_inf_nan=False)
    explore: int = Field(default=0, ge=0, le=4)
    intents: list[Keyword] = Field(default_factory=list, max_length=10)
    seed: int | None = Field(
        default=None, ge=0, le=2**63, description="fixes every draw (else workflow.random)"
    )


class VariantInput(BaseModel):
    """One variation to deploy."""

    ab_id: Identifier
    fleet_id: Identifier
    name: VariantName
    config: FleetConfig
    host: HostClaim | None = Field(
        default=None, description="the A/B test's host (placed on its own when absent)"
    )


class ABResult(BaseModel):
    """The decision: the promoted variation (or None), probabilities, per-arm statistics."""

    ab_id: str
    host_id: str = ""
    winner: str | None
    winner_config: FleetConfig | None
    probabilities: dict[str, float]
    rounds: int
    arms: list[ArmStats]
    variants: dict[str, FleetConfig]
    endpoints: dict[str, str] = Field(default_factory=dict)


def _not_deployed(err: ActivityError) -> bool:
    return isinstance(err.cause, ApplicationError) and err.cause.type == "NotDeployed"


@workflow.defn(failure_exception_types=[UndecodablePayload])
class FleetVariant:
    """One variation, deployed side by side with the others on the worker's fleet driver."""

    @workflow.run
    async def run(self, input: VariantInput) -> str:
        """Deploy the variation; its endpoint."""
        input = started_with(input, VariantInput)
        workflow.set_current_details(f"{input.name}: {input.config.key()}")
        host = input.host or await claim_host()
        return await workflow.execute_activity(
            DEPLOY_VARIANT,
            DeployRequest(ab_id=input.ab_id, variant=input.name, config=input.config),
            result_type=str,
            start_to_close_timeout=timedelta(seconds=120),
            retry_policy=RETRY,
            **pinned(host),
        )


@workflow.defn(failure_exception_types=[UndecodablePayload])  # an undecodable start fails once
class FleetABTest:
    """Run rounds until a variation is promoted or the rounds are spent."""

    @workflow.run
    async def run(self, input: ABInput) -> ABResult:
        """Explore (optionally), split, measure with child workflows, decide."""
        input = started_with(input, ABInput)
        workflow.upsert_search_attributes(
            [
                sa.PERSONA_KIND.value_set("fleet"),
                sa.PERSONA_ID.value_set(input.fleet_id),
                sa.PERSONA_STATUS.value_set("ab_testing"),
            ]
        )
        rng = random.Random(input.seed) if input.seed is not None else workflow.random()
        self.host = await claim_host()  # every variation side by side on one host
        variants = dict(input.variants)
        if input.explore:
            found = await workflow.execute_activity(
                PROPOSE,
                ProposeRequest(
                    seeds=list(variants.values()),
                    scenario=input.scenario,
                    intents=input.intents,
                    count=input.explore,
                    seed=rng.randint(0, 2**31),
                ),
                result_type=list[FleetConfig],
                start_to_close_timeout=timedelta(seconds=120),
                retry_policy=RETRY,
                task_queue=on_queue(PROPOSE),
            )
            variants.update({f"ga{i + 1}": c for i, c in enumerate(found)})
        weights = {k: input.split.get(k, 1.0) for k in variants}
        arms = {k: ArmStats(name=k) for k in variants}
        winner: str | None = None
        probs: dict[str, float] = {}
        rounds = streak = 0
        last_leader: str | None = None
        endpoints: dict[str, str] = {}
        try:
            endpoints = await self._deploy(input, variants, 0)
            for rounds in range(1, input.max_rounds + 1):
                for got in await self._measure(input, variants, weights, rng, rounds):
                    a = arms[got.name]
                    arms[got.name] = ArmStats(
                        name=a.name,
                        visits=a.visits + got.visits,
                        conversions=a.conversions + got.conversions,
                        revenue=a.revenue + got.revenue,
                    )
                leader, probs = decide(list(arms.values()), rng.randint(0, 2**31), input.threshold)
                streak = streak + 1 if leader is not None and leader == last_leader else 1
                last_leader = leader
                workflow.set_current_details(f"round {rounds}: P(best) {probs}")
                if leader is not None and streak >= CONFIRM_ROUNDS:
                    winner = leader
                    break
        finally:
            await workflow.execute_activity(
                RETIRE_VARIANTS,
                input.ab_id,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RETRY,
                **pinned(self.host),
            )
        workflow.upsert_search_attributes(
            [sa.PERSONA_STATUS.value_set("promoted" if winner else "undecided")]
        )
        return ABResult(
            ab_id=input.ab_id,
            host_id=self.host.host_id,
            winner=winner,
            winner_config=variants[winner] if winner else None,
            probabilities=probs,
            rounds=rounds,
            arms=list(arms.values()),
            variants=variants,
            endpoints=endpoints,
        )

    async def _deploy(
        self, input: ABInput, variants: dict[str, FleetConfig], attempt: int
    ) -> dict[str, str]:
        """Deploy every variation at once, each by its own child workflow."""
        handles = {
            name: await workflow.start_child_workflow(
                FleetVariant.run,
                VariantInput(
                    ab_id=input.ab_id,
                    fleet_id=input.fleet_id,
                    name=name,
                    config=config,
                    host=self.host,
                ),
                id=f"{workflow.info().workflow_id}-{name}-d{attempt}",
            )
            for name, config in variants.items()
        }
        return {name: await h for name, h in handles.items()}

    async def _measure(
        self,
        input: ABInput,
        variants: dict[str, FleetConfig],
        weights: dict[str, float],
        rng: random.Random,
        rounds: int,
    ) -> list[ArmStats]:
        """One round; variations lost by the worker (a restart) are deployed again once."""
        req = SplitRequest(
            ab_id=input.ab_id,
            split=weights,
            scenario=input.scenario,
            visits=input.visits_per_round,
            seed=rng.randint(0, 2**31),
        )
        for attempt in (1, 2):
            try:
                return await workflow.execute_activity(
                    MEASURE_SPLIT,
                    req,
                    result_type=list[ArmStats],
                    start_to_close_timeout=timedelta(seconds=120),
                    retry_policy=RETRY,
                    **pinned(self.host),
                )
            except ActivityError as err:
                if attempt == 2 or not _not_deployed(err):
                    raise
                await self._deploy(input, variants, rounds)
        raise AssertionError("unreachable")
