"""Negotiation rounds: answers, their validation, round history and the automated policy.

Pure: the workflow calls these to decide; nothing here waits or touches the outside world.
"""

from __future__ import annotations

from typing import Annotated, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from personas.errors import first_error
from personas.instance.base import BASE_PERSONAS, with_overrides
from personas.instance.catalog import Vocabulary
from personas.instance.compliance import mandate
from personas.instance.limits import (
    CONSTRAINTS_MAX,
    DROP_MAX,
    NAME_MAX,
    Name,
    Overrides,
    Reason,
    RoundNumber,
    Text,
    clip,
    quote,
)
from personas.instance.profiles import InstancePersona
from personas.instance.proposals import Infeasibility, Proposal
from personas.instance.requirements import (
    Constraint,
    ContradictoryConstraints,
    Pins,
    base_type,
    compile_requirements,
    unknown_names,
)
from personas.instance.workload import WorkloadSpec

DROPPABLE = ("requester.", "pin.", "cost.", "preference.")
FINAL = ("agreed", "rejected", "expired", "failed", "provisioned", "provision_failed", "released")


class NegotiationConfig(BaseModel):
    """Limits and options of one negotiation."""

    model_config = ConfigDict(frozen=True)

    max_rounds: int = Field(default=5, ge=1, le=20)
    round_timeout_s: float = Field(default=3600.0, gt=0)
    k: int = Field(default=3, ge=1, le=5)
    headroom: float = Field(default=0.2, ge=0, le=2)
    provision: bool = True
    observe_after_s: float = Field(default=600.0, gt=0)
    divergence: float = Field(default=0.5, gt=0, description="relative gap that evolves")
    lifetime_s: float | None = Field(default=None, gt=0, description="release after this")


class AutoPolicy(BaseModel):
    """Answers for the requester: constraints to add, a preference and a budget."""

    model_config = ConfigDict(frozen=True)

    prefer: Literal["cheapest", "balanced", "price_performance"] = "cheapest"
    max_hourly: float = Field(gt=0, le=1e6)
    constraints: tuple[Constraint, ...] = Field(default=(), max_length=CONSTRAINTS_MAX)


class NegotiationInput(BaseModel):
    """What the client starts a negotiation with."""

    model_config = ConfigDict(frozen=True)

    negotiation_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    entity_id: str = Field(min_length=1, max_length=128)
    requester: Name = "requester"
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=64)
    base: Name | None = None
    workload: WorkloadSpec | None = None
    text: Text | None = None
    persona_overrides: Overrides = Field(default_factory=dict)
    constraints: tuple[Constraint, ...] = Field(default=(), max_length=CONSTRAINTS_MAX)
    pins: Pins = Pins()
    config: NegotiationConfig = NegotiationConfig()
    policy: AutoPolicy | None = None
    provider: str = Field(default="docker", pattern=r"^[a-z][a-z0-9_-]*$")

    @model_validator(mode="after")
    def _described(self) -> NegotiationInput:
        if self.workload is None and not (self.text and self.text.strip()) and self.base is None:
            raise ValueError("give a workload, a text description or a base persona")
        if self.persona_overrides:
            base = BASE_PERSONAS.get(self.base or "web_server", BASE_PERSONAS["web_server"])
            try:
                with_overrides(base.model_dump(), self.persona_overrides)
            except ValidationError as err:
                raise ValueError(f"persona_overrides: {first_error(err, 'persona')}") from None
        return self


class Changes(BaseModel):
    """What a modify answer changes, relative to the proposal it names."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    instance_type: Name | None = None
    storage: Name | None = None
    raid: Name | None = None
    tenancy: Literal["shared", "dedicated"] | None = None
    region: Name | None = None
    replicas: int | None = Field(default=None, ge=1, le=16)
    min_vcpu: float | None = Field(default=None, ge=0, le=1e6)
    min_memory_gib: float | None = Field(default=None, ge=0, le=1e7)
    max_hourly: float | None = Field(default=None, gt=0, le=1e6)
    drop: tuple[Annotated[str, Field(max_length=2 * NAME_MAX)], ...] = Field(
        default=(), max_length=DROP_MAX
    )

    @model_validator(mode="after")
    def _droppable(self) -> Changes:
        for name in self.drop:
            if name.startswith(DROPPABLE):
                continue
            section = mandate(name)
            if section is not None:
                raise ValueError(f"{name} cannot be dropped: {section} mandates it")
            raise ValueError(
                f"{quote(name)} cannot be dropped: only requester.*, pin.*, cost.* and "
                "preference.* (what a standard leaves to the requester) can"
            )
        return self


class Accept(BaseModel):
    """Accept one proposal of the current round."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Literal["accept"] = "accept"
    round: RoundNumber
    proposal_id: Name


class Modify(BaseModel):
    """Ask for a round like a proposal (or, with none, like now) with changes."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Literal["modify"] = "modify"
    round: RoundNumber
    proposal_id: Name | None = None
    changes: Changes


class Reject(BaseModel):
    """Reject this round's proposals (new ones follow) or, when final, the negotiation."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Literal["reject"] = "reject"
    round: RoundNumber
    reason: Reason
    final: bool = False


class AddConstraint(BaseModel):
    """Add a hard constraint; a new round follows."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Literal["add_constraint"] = "add_constraint"
    round: RoundNumber
    constraint: Constraint


class CounterOffer(BaseModel):
    """Keep this proposal's shape (family, region, storage, RAID, tenancy, replicas) at most
    at this price: the next round offers the configuration closest to it within the price,
    or explains why none exists."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Literal["counter_offer"] = "counter_offer"
    round: RoundNumber
    proposal_id: Name
    max_hourly: float | None = Field(default=None, gt=0, le=1e6)
    max_monthly: float | None = Field(default=None, gt=0, le=1e9)

    @model_validator(mode="after")
    def _one_price(self) -> CounterOffer:
        if (self.max_hourly is None) == (self.max_monthly is None):
            raise ValueError("a counter-offer names one price: max_hourly or max_monthly")
        return self

    @property
    def cap(self) -> Constraint:
        """The price as a constraint."""
        if self.max_hourly is not None:
            return Constraint(kind="max_hourly", value=self.max_hourly)
        return Constraint(kind="max_monthly", value=float(self.max_monthly or 0))


Answer = Annotated[
    Accept | Modify | Reject | AddConstraint | CounterOffer, Field(discriminator="kind")
]
"""Every answer a requester (or the policy) can give; ``kind`` tells them apart."""
_ANSWER: TypeAdapter[Answer] = TypeAdapter(Answer)


class Round(BaseModel):
    """One round: its proposals (or why there are none) and how it was answered."""

    number: int
    proposals: tuple[Proposal, ...] = ()
    infeasibility: Infeasibility | None = None
    started_ms: int
    deadline_ms: int
    answer: str | None = None
    answered_by: str | None = None
    details_ref: str | None = Field(default=None, description="the full result in the store")


class Terms(BaseModel):
    """The constraints, pins, drops and replicas a round is solved under."""

    model_config = ConfigDict(frozen=True)

    constraints: tuple[Constraint, ...] = ()
    pins: Pins = Pins()
    dropped: tuple[str, ...] = ()
    replicas: int | None = None
    closest_hourly: float | None = Field(
        default=None, description="a counter-offer: the configuration nearest this cost"
    )


class InvalidAnswer(ValueError):
    """An answer that does not fit the negotiation's current round."""

    def __init__(self, message: str, kind: str) -> None:
        """``kind`` names the refusal (StaleRound, UnknownProposal, InvalidChange ...)."""
        super().__init__(message)
        self.kind = kind


def parse_answer(raw: object) -> Answer:
    """The answer ``raw`` (a mapping with a ``kind``) holds, or :class:`InvalidAnswer` naming
    the first problem in one bounded line."""
    try:
        return _ANSWER.validate_python(raw)
    except ValidationError as err:
        raise InvalidAnswer(
            clip(f"invalid answer: {first_error(err, 'answer')}"), "Invalid"
        ) from None


def check_answer(
    answer: Answer,
    status: str,
    current: Round | None,
    persona: InstancePersona,
    terms: Terms,
    vocabulary: Vocabulary | None = None,
) -> None:
    """Raise :class:`InvalidAnswer` unless the answer fits the current round (and, given the
    catalog's ``vocabulary``, names only regions, families, storage and types it has)."""
    if status in FINAL:
        raise InvalidAnswer(f"the negotiation has ended ({status})", "NegotiationClosed")
    if current is None or status != "awaiting_answer":
        raise InvalidAnswer(f"no round is awaiting an answer (status {status})", "NotAwaiting")
    if answer.round != current.number:
        raise InvalidAnswer(
            f"round {answer.round} is stale: the current round is {current.number}", "StaleRound"
        )
    ids = [p.proposal_id for p in current.proposals]
    named = getattr(answer, "proposal_id", None)
    if (isinstance(answer, Accept) or named is not None) and named not in ids:
        raise InvalidAnswer(
            f"unknown proposal {quote(named)} in round {current.number}; it has {ids or 'none'}",
            "UnknownProposal",
        )
    if isinstance(answer, Modify | AddConstraint | CounterOffer):
        try:
            new_terms = next_terms(answer, current, terms)
            compile_requirements(
                with_replicas(persona, new_terms.replicas), new_terms.constraints, new_terms.pins
            )
        except ContradictoryConstraints as err:
            raise InvalidAnswer(clip(f"invalid change: {err}"), "InvalidChange") from None
        unknown = vocabulary and unknown_names(new_terms.constraints, new_terms.pins, vocabulary)
        if unknown:
            raise InvalidAnswer(clip(unknown, 600), "UnknownName")


def with_replicas(persona: InstancePersona, replicas: int | None) -> InstancePersona:
    """The persona with another replica count (unchanged when None)."""
    if replicas is None:
        return persona
    lifecycle = persona.lifecycle.model_copy(update={"replicas": replicas})
    return persona.model_copy(update={"lifecycle": lifecycle})


def _replace(constraints: tuple[Constraint, ...], new: Constraint) -> tuple[Constraint, ...]:
    return (*[c for c in constraints if c.label != new.label], new)


def next_terms(answer: Answer, current: Round, terms: Terms) -> Terms:
    """The terms of the next round after a non-final answer."""
    match answer:
        case AddConstraint():
            cs = _replace(terms.constraints, answer.constraint)
            return terms.model_copy(update={"constraints": cs, "closest_hourly": None})
        case Reject():
            cs = terms.constraints
            for p in current.proposals:
                cs = _replace(cs, Constraint(kind="exclude_type", value=base_type(p.instance_type)))
            return terms.model_copy(update={"constraints": cs, "closest_hourly": None})
        case CounterOffer():
            return _counter(answer, current, terms)
        case Accept():
            return terms
        case Modify():
            return _modified(answer, current, terms)
        case _:
            assert_never(answer)


_SHAPE = ("region", "family", "max_hourly", "max_monthly")


def _counter(answer: CounterOffer, current: Round, terms: Terms) -> Terms:
    base = next(p for p in current.proposals if p.proposal_id == answer.proposal_id)
    cs = tuple(c for c in terms.constraints if c.kind not in _SHAPE)
    for c in (
        Constraint(kind="region", value=base.region),
        Constraint(kind="family", value=base.family or base.instance_type.split(".", 1)[0]),
        answer.cap,
    ):
        cs = _replace(cs, c)
    pins = Pins(
        storage=base.storage,
        raid=base.raid,
        tenancy="dedicated" if base.tenancy == "dedicated" else "shared",
    )
    return Terms(
        constraints=cs,
        pins=pins,
        dropped=terms.dropped,
        replicas=base.replicas,
        closest_hourly=base.hourly,
    )


def _modified(answer: Modify, current: Round, terms: Terms) -> Terms:
    ch = answer.changes
    base = next((p for p in current.proposals if p.proposal_id == answer.proposal_id), None)
    pins = terms.pins
    if base is not None:
        resized = any(
            v is not None
            for v in (ch.region, ch.replicas, ch.min_vcpu, ch.min_memory_gib, ch.max_hourly)
        )
        pins = Pins(
            instance_type=None if resized else base.instance_type,
            storage=base.storage,
            raid=base.raid,
            tenancy="dedicated" if base.tenancy == "dedicated" else "shared",
        )
    pins = pins.model_copy(
        update={
            k: v
            for k, v in (
                ("instance_type", ch.instance_type),
                ("storage", ch.storage),
                ("raid", ch.raid),
                ("tenancy", ch.tenancy),
            )
            if v is not None
        }
    )
    cs = tuple(c for c in terms.constraints if c.label not in ch.drop)
    for kind in ("region", "min_vcpu", "min_memory_gib", "max_hourly"):
        value = getattr(ch, kind)
        if value is not None:
            cs = _replace(cs, Constraint.model_validate({"kind": kind, "value": value}))
    dropped_pins = {n.removeprefix("pin.") for n in ch.drop if n.startswith("pin.")}
    pins = pins.model_copy(update={k: None for k in dropped_pins if k in Pins.model_fields})
    dropped = tuple(
        sorted({*terms.dropped, *(n for n in ch.drop if n.startswith(("cost.", "preference.")))})
    )
    return Terms(constraints=cs, pins=pins, dropped=dropped, replicas=ch.replicas or terms.replicas)


def decide(policy: AutoPolicy, current: Round, is_last: bool) -> Answer:
    """The automated requester's answer to a round.

    Round 1: add the policy's constraints one at a time (and the budget), each a new round.
    Then accept the preferred proposal (or the cheapest) when within budget; otherwise reject
    the round for new proposals, or finally on the last round or when nothing is feasible.
    """
    budget = Constraint(kind="max_hourly", value=policy.max_hourly)
    wanted = (*policy.constraints, budget)
    if current.number <= len(wanted) and not is_last:
        return AddConstraint(round=current.number, constraint=wanted[current.number - 1])
    if not current.proposals:
        return Reject(round=current.number, reason="nothing feasible for the policy", final=True)
    affordable = [p for p in current.proposals if p.hourly <= policy.max_hourly + 1e-9]
    preferred = [p for p in affordable if p.label == policy.prefer] or affordable
    if preferred:
        return Accept(round=current.number, proposal_id=preferred[0].proposal_id)
    return Reject(round=current.number, reason="over the policy's budget", final=is_last)
