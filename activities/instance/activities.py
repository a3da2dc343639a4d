"""The instance activities: analyze, store, solve, provision, observe and evolve.

Each is idempotent under retry: the persona is created once per id, provisioning is keyed by
the negotiation, an evolution is recorded once per negotiation. Refusals the workflow must
not retry are non-retryable ``ApplicationError``s whose type names the problem.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.activity_set import ActivitySet
from activities.instance import contracts
from activities.instance.analyzer import DATASET, shipped_model
from activities.instance.pricelist import import_ec2_instances
from activities.instance.providers import InstanceProvider, ProvisionFailed
from activities.instance.solver import ProposalSolver
from activities.store import Store, UnknownEntity, UnknownPersona
from personas.errors import first_error
from personas.instance.analyzer import predict
from personas.instance.base import UnknownBasePersona, base_persona, with_overrides
from personas.instance.catalog import Catalog
from personas.instance.evolution import EvolutionProposal, Utilisation, diverges, evolve, ratios
from personas.instance.instances import ProvisionedInstance
from personas.instance.proposals import SolveRequest, SolveResult
from personas.instance.requirements import ContradictoryConstraints
from personas.instance.workload import UnreadableWorkload, parse_text

CATALOG = Path(__file__).resolve().parents[2] / "data" / "instance_catalog.json"
KIND = "instance"


def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog at ``path`` (default: ``PERSONAS_INSTANCE_CATALOG`` or the shipped one):
    a catalog as shipped, or a provider's price list in the ec2-instances-info shape (a JSON
    list), imported with the shipped catalog's storage options and RAID levels."""
    path = path or Path(os.environ.get("PERSONAS_INSTANCE_CATALOG") or CATALOG)
    data = json.loads(path.read_text())
    if isinstance(data, list):
        shipped = Catalog.model_validate(json.loads(CATALOG.read_text()))
        return import_ec2_instances(
            data, shipped, f"ec2-instances-info price list {path.name}"
        ).catalog
    return Catalog.model_validate(data)


def _refuse(err: Exception, kind: str) -> ApplicationError:
    return ApplicationError(str(err).splitlines()[0], type=kind, non_retryable=True)


def build_persona(
    req: contracts.AnalyzeRequest, dataset: Path = DATASET
) -> contracts.AnalyzeResult:
    """The persona for a request: base persona, then predicted performance, then overrides."""
    base = base_persona(req.base) if req.base is not None else None
    spec = req.workload
    if spec is None and req.text and req.text.strip():
        spec = parse_text(req.text)
    fields: dict[str, Any] = base.model_dump() if base is not None else {}
    fields.update(name=req.name, base=req.base, status="active")
    mape = None
    if spec is not None:
        prediction = predict(shipped_model(dataset), spec)
        fields["performance"] = prediction.performance.model_dump()
        fields.setdefault("role", spec.role)
        mape = prediction.heldout_mape_pct
    return contracts.AnalyzeResult(
        persona=with_overrides(fields, req.overrides), spec=spec, heldout_mape_pct=mape
    )


class InstanceActivities(ActivitySet):
    """Instance activities bound to a store, a catalog and providers by name."""

    def __init__(
        self,
        store: Store,
        providers: dict[str, InstanceProvider],
        catalog: Catalog | None = None,
        dataset: Path = DATASET,
    ) -> None:
        """Load the catalog (the shipped one by default) and fit the analyzer once."""
        self.store = store
        self.providers = providers
        self.catalog = catalog or load_catalog()
        self.solver = ProposalSolver(self.catalog)
        self.vocabulary = self.catalog.vocabulary()
        self.dataset = dataset
        shipped_model(dataset)
        parse_text("warm the quantity reader up: 1 GB")  # loads its unit tables once

    @activity.defn(name=contracts.ANALYZE)
    async def analyze(self, req: contracts.AnalyzeRequest) -> contracts.AnalyzeResult:
        """Build the persona to negotiate for (refusing unknown bases and unreadable text)."""
        try:
            built = await asyncio.to_thread(build_persona, req, self.dataset)
            return built.model_copy(update={"vocabulary": self.vocabulary})
        except UnknownBasePersona as err:
            raise _refuse(err, "UnknownBasePersona") from None
        except UnreadableWorkload as err:
            raise _refuse(err, "UnreadableWorkload") from None
        except ValidationError as err:
            raise _refuse(ValueError(first_error(err, "persona")), "InvalidPersona") from None
        except ValueError as err:
            raise _refuse(err, "InvalidPersona") from None

    @activity.defn(name=contracts.SAVE_PERSONA)
    async def save_persona(self, req: contracts.SavePersonaRequest) -> contracts.SavedPersona:
        """Create the persona (kind ``instance``) once; a retry finds it."""

        def save() -> contracts.SavedPersona:
            try:
                record = self.store.get_persona(req.persona_id)
            except UnknownPersona:
                record = self.store.create_persona(
                    kind=KIND,
                    persona_id=req.persona_id,
                    entity_id=req.entity_id,
                    name=req.persona.name,
                    body={
                        "persona": req.persona.model_dump(mode="json"),
                        "negotiation_id": req.negotiation_id,
                    },
                    created_by=req.created_by,
                )
            return contracts.SavedPersona(persona_id=record.persona_id, version=record.version)

        try:
            return await asyncio.to_thread(save)
        except UnknownEntity as err:
            raise _refuse(err, "UnknownEntity") from None

    @activity.defn(name=contracts.SOLVE)
    async def solve(self, req: SolveRequest) -> SolveResult:
        """Solve one round (deterministic: fixed seed, deterministic time limit).

        With ``record_as`` the full result is stored (once) and referenced from it.
        """
        try:
            result = await asyncio.to_thread(self.solver.solve, req)
        except ContradictoryConstraints as err:
            raise _refuse(err, "ContradictoryConstraints") from None
        if req.record_as is None:
            return result
        data = result.model_dump(mode="json", exclude={"solve_ms"})
        ref = await asyncio.to_thread(
            self.store.put_content, "instance_proposals", None, data, req.record_as
        )
        return result.model_copy(update={"details_ref": ref})

    def _provider(self, name: str) -> InstanceProvider:
        try:
            return self.providers[name]
        except KeyError:
            raise ApplicationError(
                f"unknown provider {name!r}", type="UnknownProvider", non_retryable=True
            ) from None

    @activity.defn(name=contracts.PROVISION)
    async def provision(self, req: contracts.ProvisionRequest) -> ProvisionedInstance:
        """Provision all replicas or nothing; counts a use of the persona version."""
        provider = self._provider(req.provider)
        try:
            instance = await asyncio.to_thread(provider.provision, req.key, req.proposal)
        except ProvisionFailed as err:
            raise _refuse(err, "ProvisionFailed") from None
        await asyncio.to_thread(self.store.record_usage, req.persona_id)
        return instance

    @activity.defn(name=contracts.DEPROVISION)
    async def deprovision(self, ref: contracts.InstanceRef) -> int:
        """Remove the instance (idempotent: nothing left means nothing to do)."""
        return await asyncio.to_thread(self._provider(ref.provider).deprovision, ref.key)

    @activity.defn(name=contracts.OBSERVE)
    async def observe(self, ref: contracts.InstanceRef) -> Utilisation:
        """Sample the instance's current use."""
        return await asyncio.to_thread(self._provider(ref.provider).observe, ref.key)

    @activity.defn(name=contracts.EVOLVE)
    async def evolve(self, req: contracts.EvolveRequest) -> contracts.EvolveResult:
        """Store a proposed new persona version when use diverges from the prediction."""
        if not diverges(req.persona, req.used, req.threshold):
            return contracts.EvolveResult(proposal=None)
        r = ratios(req.persona, req.used)
        reason = ", ".join(f"{k} at {v:.0%} of the prediction" for k, v in r.items())

        def record() -> EvolutionProposal:
            latest = self.store.get_persona(req.persona_id)
            if latest.body.get("evolved_by") != req.negotiation_id:
                latest = self.store.update_persona(
                    req.persona_id,
                    {
                        "persona": evolve(req.persona, req.used).model_dump(mode="json"),
                        "evolved_by": req.negotiation_id,
                        "reason": reason,
                        "observed": req.used.model_dump(),
                    },
                    created_by="evolution",
                )
            return EvolutionProposal(
                persona_id=req.persona_id, version=latest.version, ratios=r, reason=reason
            )

        return contracts.EvolveResult(proposal=await asyncio.to_thread(record))
