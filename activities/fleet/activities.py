"""The fleet activities: observe, apply through executors, store personas, A/B, GA."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.activity_set import ActivitySet
from activities.fleet.contracts import (
    APPLY,
    DEPLOY_VARIANT,
    MEASURE_SPLIT,
    OBSERVE,
    PROPOSE,
    RELEARN,
    RETIRE_VARIANTS,
    SAVE_PERSONA,
    ApplyRequest,
    DeployRequest,
    ObserveRequest,
    ProposeRequest,
    RelearnRequest,
    SavePersonaRequest,
    SplitRequest,
)
from activities.fleet.drivers import FleetDriver
from activities.fleet.executors import ExecutorFailed, call_url, run_script
from activities.store import Store, UnknownPersona
from personas.fleet.abtest import ArmStats
from personas.fleet.config import FleetConfig
from personas.fleet.environment import SimEnvironment
from personas.fleet.genetic import evolve
from personas.fleet.learner import ThompsonBandit, learn
from personas.fleet.objective import Metrics, compile_weights, score
from personas.fleet.persona import FleetPersona
from personas.fleet.simulator import SimParams, simulate


def fleet_persona_id(fleet_id: str) -> str:
    """The store id of a fleet's persona."""
    return f"fleet-{fleet_id}"


class FleetActivities(ActivitySet):
    """Activities bound to a store and a fleet driver (simulated or the real testbed)."""

    def __init__(self, store: Store, driver: FleetDriver, params: SimParams | None = None) -> None:
        self.store = store
        self.driver = driver
        self.params = params or SimParams()
        self.done: set[str] = set()

    @activity.defn(name=OBSERVE)
    async def observe(self, req: ObserveRequest) -> Metrics:
        """Observe the fleet."""
        return await self.driver.observe(req.fleet_id, req.scenario, req.seed)

    @activity.defn(name=APPLY)
    async def apply(self, req: ApplyRequest) -> FleetConfig:
        """Apply through each executor in order; any failure is final (non-retryable)."""
        if req.key in self.done and self.driver.current(req.fleet_id) == req.config:
            return req.config
        try:
            for spec in req.executors:
                if spec.kind == "script":
                    await run_script(spec, req.config)
                elif spec.kind == "url":
                    await call_url(spec, req.config)
                else:
                    await self.driver.apply(req.fleet_id, req.config)
        except ExecutorFailed as err:
            raise ApplicationError(str(err), type="ExecutorFailed", non_retryable=True) from None
        self.done.add(req.key)
        return req.config

    @activity.defn(name=SAVE_PERSONA)
    def save_persona(self, req: SavePersonaRequest) -> int:
        """Store the persona as a new version of the fleet's persona (kind "fleet")."""
        pid = fleet_persona_id(req.persona.fleet_id)
        body = req.persona.model_dump(mode="json")
        try:
            versions = self.store.persona_versions(pid)
        except UnknownPersona:
            rec = self.store.create_persona(
                kind="fleet",
                persona_id=pid,
                entity_id=req.entity_id,
                name=pid,
                body=body,
                created_by=req.persona.author,
            )
            return rec.version
        for v in versions:
            if v.body == body:
                return v.version
        return self.store.update_persona(pid, body, req.persona.author).version

    @activity.defn(name=DEPLOY_VARIANT)
    async def deploy_variant(self, req: DeployRequest) -> str:
        """Run an A/B variation on the driver's fleet (idempotent); its endpoint."""
        return await self.driver.deploy_variant(req.ab_id, req.variant, req.config)

    @activity.defn(name=MEASURE_SPLIT)
    async def measure_split(self, req: SplitRequest) -> list[ArmStats]:
        """One round of the A/B test: visits and conversions per variation."""
        try:
            return await self.driver.measure_split(
                req.ab_id, req.split, req.visits, req.scenario, req.seed
            )
        except KeyError as err:  # a variation not deployed here: deploy it again, then retry
            raise ApplicationError(str(err), type="NotDeployed", non_retryable=True) from None

    @activity.defn(name=RETIRE_VARIANTS)
    async def retire_variants(self, ab_id: str) -> None:
        """Stop an A/B test's variations."""
        await self.driver.retire(ab_id)

    @activity.defn(name=PROPOSE)
    def propose(self, req: ProposeRequest) -> list[FleetConfig]:
        """Candidates from the genetic algorithm, scored in the simulator."""
        weights = compile_weights(req.intents)

        def fitness(c: FleetConfig) -> float:
            return score(simulate(c, req.scenario, self.params), weights)

        ranked = evolve(req.seeds, fitness, random.Random(req.seed), generations=6, size=10)
        fresh = [c for c in ranked if c not in req.seeds]
        return fresh[: req.count]

    @activity.defn(name=RELEARN)
    def relearn(self, req: RelearnRequest) -> FleetPersona:
        """A new persona version for the scenario's context: Thompson sampling warm-started in
        the simulator, then updated with the fleet's observations in their own contexts (each
        counted three times: they are real), which inform the target context through the
        learner's context features."""
        old = req.persona
        ctx = req.scenario.context()
        bandit = ThompsonBandit(seed=req.seed)
        env = SimEnvironment(req.scenario, old.weights, self.params, seed=req.seed)
        learn(bandit, ctx, env.reward, req.rounds)
        for obs in req.observations:
            for _ in range(3):
                bandit.update(obs.context, obs.config, obs.objective)
        new = bandit.persona(
            old.fleet_id,
            ctx,
            old.weights,
            author="fleet-learner",
            created_at=datetime.now(UTC),
            version=old.version + 1,
            intents=old.intents,
            sources=[f"simulator:{req.rounds} rounds", f"observations:{len(req.observations)}"],
            guard=old.guard,
        )
        return new.model_copy(update={"deviation_trigger": old.deviation_trigger})
