"""Hard constraints: requester constraints and pins, and their compilation with the persona.

Every requirement is named (``capacity.vcpu``, ``compliance.hipaa.encryption_at_rest``,
``requester.max_hourly`` ...) so an infeasible request can be explained by names, and
:func:`violations` checks a configuration against them independently of the solver.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from personas.instance.catalog import (
    HOURS_PER_MONTH,
    Catalog,
    InstanceType,
    StorageLayout,
    Vocabulary,
)
from personas.instance.catalog import layout_iops as _layout_iops
from personas.instance.compliance import rules_for
from personas.instance.limits import NAME_MAX, NAME_PATTERN, REASON_MAX, Name, quote
from personas.instance.profiles import InstancePersona, Sensitivity

NumericKind = Literal[
    "min_vcpu",
    "min_memory_gib",
    "min_network_gbps",
    "min_iops",
    "max_hourly",
    "max_monthly",
]
"""The constraint kinds whose value is a number."""
NUMERIC: tuple[str, ...] = get_args(NumericKind)
ConstraintKind = Literal[
    NumericKind,
    "storage_kind",
    "raid",
    "tenancy",
    "family",
    "exclude_family",
    "region",
    "arch",
    "redundant_storage",
    "exclude_type",
    "zones",
]
_CHOICES: dict[str, tuple[str, ...]] = {
    "storage_kind": ("ssd", "hdd", "nvme"),
    "tenancy": ("shared", "dedicated"),
    "arch": ("x86_64", "arm64"),
}


_NAME = re.compile(NAME_PATTERN.removeprefix("^").removesuffix("$"))


def _is_name(value: str) -> bool:
    return len(value) <= NAME_MAX and _NAME.fullmatch(value) is not None


MAX_ZONES = 12
"""The most availability zones a requester may ask replicas to be spread over."""


class ContradictoryConstraints(ValueError):
    """Constraints that cannot hold together whatever the catalog holds."""


class Constraint(BaseModel):
    """A hard constraint the requester adds (e.g. ``min_vcpu >= 8``, ``region = eu-west``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ConstraintKind
    value: float | bool | str

    @model_validator(mode="after")
    def _check(self) -> Constraint:
        if self.kind in NUMERIC:
            if isinstance(self.value, bool) or not isinstance(self.value, int | float):
                raise ValueError(f"{self.kind} needs a number, got {quote(self.value)}")
            if not math.isfinite(self.value) or self.value > 1e9:
                raise ValueError(f"{self.kind} must be a finite number up to 1e9")
            if self.value < 0 or (self.kind.startswith("max") and self.value == 0):
                raise ValueError(f"{self.kind} must be positive, got {self.value}")
        elif self.kind == "redundant_storage":
            if not isinstance(self.value, bool):
                raise ValueError("redundant_storage needs true or false")
        elif self.kind == "zones":
            if isinstance(self.value, bool) or self.value not in range(1, MAX_ZONES + 1):
                raise ValueError(
                    f"zones needs a whole number from 1 (one zone) to {MAX_ZONES} (spread over "
                    f"that many), got {quote(self.value)}"
                )
        else:
            if not isinstance(self.value, str) or not _is_name(self.value):
                raise ValueError(
                    f"{self.kind} needs a name of 1-{NAME_MAX} letters, digits or _.@:/+-, "
                    f"got {quote(self.value)}"
                )
            allowed = _CHOICES.get(self.kind)
            if allowed is not None and self.value not in allowed:
                raise ValueError(f"{self.kind} must be one of {', '.join(allowed)}")
        return self

    @property
    def label(self) -> str:
        """A short name, ``requester.<kind>[.<value>]``."""
        if self.kind in NUMERIC or self.kind in ("redundant_storage", "zones"):
            return f"requester.{self.kind}"
        return f"requester.{self.kind}.{self.value}"


class Pins(BaseModel):
    """Choices the requester fixed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_type: Name | None = None
    storage: Name | None = None
    raid: Name | None = None
    tenancy: Literal["shared", "dedicated"] | None = None


class Requirement(BaseModel):
    """One named hard constraint in the solver's vocabulary."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(max_length=2 * NAME_MAX)
    kind: str = Field(max_length=NAME_MAX)
    value: float | bool | str
    reason: str = Field(max_length=REASON_MAX)


class Config(BaseModel):
    """A concrete configuration: type, storage layout, tenancy, ingress and replicas."""

    model_config = ConfigDict(frozen=True)

    type: InstanceType
    layout: StorageLayout
    dedicated: bool
    public_ingress: bool
    replicas: int


def hourly_cost(config: Config, catalog: Catalog) -> float:
    """Dollars per hour for all replicas, storage included."""
    factor = catalog.dedicated_price_factor if config.dedicated else 1.0
    per_replica = config.type.price_hourly * factor + config.layout.monthly / HOURS_PER_MONTH
    return config.replicas * per_replica


def _cap(name: str, kind: str, need: float, what: str) -> Requirement:
    return Requirement(name=name, kind=kind, value=round(need, 4), reason=what)


def compile_requirements(
    persona: InstancePersona,
    constraints: tuple[Constraint, ...] = (),
    pins: Pins | None = None,
    headroom: float = 0.2,
) -> list[Requirement]:
    """Capacity, compliance, cost, requester constraints and pins as named requirements.

    Raises :class:`ContradictoryConstraints` when two constraints exclude each other on
    their face (e.g. two different regions, or a pinned tenancy against a required one).
    """
    pins = pins or Pins()
    perf, lc, sec = persona.performance, persona.lifecycle, persona.security
    r = lc.replicas
    f = 1 + headroom
    pct = f"{headroom:.0%} headroom over the predicted peak, over {r} replica(s)"
    reqs = [
        _cap("capacity.vcpu", "min_vcpu", perf.cpu_cores.peak * f / r, f"CPU: {pct}"),
        _cap("capacity.memory", "min_memory_gib", perf.memory_gib.peak * f / r, f"memory: {pct}"),
        _cap(
            "capacity.network",
            "min_network_gbps",
            perf.network_mbps.peak * f / r / 1000,
            f"network: {pct}",
        ),
        _cap("capacity.iops", "min_iops", perf.iops.peak * f / r, f"IOPS: {pct}"),
        Requirement(
            name="cost.max_hourly",
            kind="max_hourly",
            value=persona.cost.max_hourly,
            reason="the persona's hourly cost tolerance",
        ),
        Requirement(
            name="cost.max_monthly",
            kind="max_monthly",
            value=persona.cost.max_monthly,
            reason="the persona's monthly cost tolerance",
        ),
    ]
    if lc.redundant_storage:
        reqs.append(
            Requirement(
                name="lifecycle.redundant_storage",
                kind="redundant_storage",
                value=True,
                reason="the lifecycle asks for redundant storage",
            )
        )
    reqs += _compliance(persona)
    if sec.public_ingress:
        reqs.append(
            Requirement(
                name="security.public_ingress",
                kind="public_ingress",
                value=True,
                reason="the persona allows ingress from anywhere",
            )
        )
    for c in constraints:
        reqs.append(Requirement(name=c.label, kind=c.kind, value=c.value, reason="requested"))
    pin_kinds = {
        "instance_type": "instance_type",
        "storage": "storage_option",
        "raid": "raid",
        "tenancy": "tenancy",
    }
    for field, kind in pin_kinds.items():
        value = getattr(pins, field)
        if value is not None:
            reqs.append(Requirement(name=f"pin.{field}", kind=kind, value=value, reason="pinned"))
    _check_contradictions(reqs)
    return _dedupe(reqs)


def _compliance(persona: InstancePersona) -> list[Requirement]:
    out = [
        Requirement(
            name=rule.name,
            kind=rule.kind,
            value=rule.value,
            reason=f"{rule.section}: {rule.what}"
            + ("" if rule.mandated else " (a preference: it may be dropped or changed)"),
        )
        for rule in rules_for(persona)
    ]
    if persona.security.data_sensitivity is Sensitivity.RESTRICTED:
        out.append(
            Requirement(
                name="security.restricted_data.encryption_at_rest",
                kind="encryption_at_rest",
                value=True,
                reason="restricted data is encrypted at rest",
            )
        )
    return out


def _dedupe(reqs: list[Requirement]) -> list[Requirement]:
    seen: dict[str, Requirement] = {}
    for req in reqs:
        seen.setdefault(req.name, req)
    return list(seen.values())


def _check_contradictions(reqs: list[Requirement]) -> None:
    by_kind: dict[str, list[Requirement]] = {}
    for req in reqs:
        by_kind.setdefault(req.kind, []).append(req)
    for kind in (
        "region",
        "family",
        "arch",
        "storage_kind",
        "raid",
        "tenancy",
        "storage_option",
        "instance_type",
    ):
        values = {str(r.value) for r in by_kind.get(kind, [])}
        if len(values) > 1:
            names = ", ".join(r.name for r in by_kind[kind])
            raise ContradictoryConstraints(f"{names} require different {kind}s: {sorted(values)}")
    tenancy = {str(r.value) for r in by_kind.get("tenancy", [])}
    if "shared" in tenancy and by_kind.get("dedicated_tenancy"):
        raise ContradictoryConstraints(
            f"{by_kind['dedicated_tenancy'][0].name} requires dedicated tenancy, "
            "but shared tenancy is required"
        )
    fams = {str(r.value) for r in by_kind.get("family", [])}
    excl = {str(r.value) for r in by_kind.get("exclude_family", [])}
    if fams & excl:
        raise ContradictoryConstraints(f"family {sorted(fams & excl)} is required and excluded")


def zones_of(constraints: tuple[Constraint, ...]) -> int | None:
    """The zones the requester asked for: 1 (one zone), N (spread over N) or None."""
    asked = [int(c.value) for c in constraints if c.kind == "zones"]
    return asked[-1] if asked else None


def unknown_names(
    constraints: tuple[Constraint, ...], pins: Pins, vocabulary: Vocabulary
) -> str | None:
    """Why a constraint or pin names something the catalog lacks (with the valid names)."""
    named: list[tuple[str, str]] = [(c.kind, str(c.value)) for c in constraints]
    for field, kind in (("instance_type", "instance_type"), ("storage", "storage_option")):
        value = getattr(pins, field)
        if value is not None:
            named.append((kind, value))
    if pins.raid is not None:
        named.append(("raid", pins.raid))
    problems = [p for kind, value in named if (p := vocabulary.unknown(kind, value))]
    if any(c.kind == "zones" and int(c.value) > vocabulary.max_zones for c in constraints):
        problems.append(f"the catalog sells types in at most {vocabulary.max_zones} zones")
    return "; ".join(problems) if problems else None


def violations(config: Config, reqs: list[Requirement], catalog: Catalog) -> list[str]:
    """Names of the requirements the configuration breaks (an independent checker)."""
    cost = hourly_cost(config, catalog)
    return [
        r.name
        for r in reqs
        if not (
            r.value in catalog.capabilities
            if r.kind == "capability"
            else _CHECKS[r.kind](config, r.value, cost)
        )
    ]


_EPS = 1e-6
_Check = Callable[[Config, float | bool | str, float], bool]
_CHECKS: dict[str, _Check] = {
    "min_vcpu": lambda c, v, _: c.type.vcpu + _EPS >= float(v),
    "min_memory_gib": lambda c, v, _: c.type.memory_gib + _EPS >= float(v),
    "min_network_gbps": lambda c, v, _: c.type.network_gbps + _EPS >= float(v),
    "min_iops": lambda c, v, _: _layout_iops(c.type, c.layout) + _EPS >= float(v),
    "max_hourly": lambda c, v, cost: cost <= float(v) + _EPS,
    "max_monthly": lambda c, v, cost: cost * HOURS_PER_MONTH <= float(v) + 1e-3,
    "storage_kind": lambda c, v, _: c.layout.kind == v,
    "raid": lambda c, v, _: c.layout.raid == v,
    "tenancy": lambda c, v, _: c.dedicated == (v == "dedicated"),
    "family": lambda c, v, _: c.type.family == v,
    "exclude_family": lambda c, v, _: c.type.family != v,
    "region": lambda c, v, _: c.type.region == v,
    "arch": lambda c, v, _: c.type.arch == v,
    "redundant_storage": lambda c, v, _: c.layout.redundant or not v,
    "exclude_type": lambda c, v, _: base_type(c.type.name) != base_type(str(v)),
    "zones": lambda c, v, _: c.type.zones >= int(v) and (int(v) == 1 or c.replicas >= int(v)),
    "instance_type": lambda c, v, _: c.type.name == v,
    "storage_option": lambda c, v, _: c.layout.option == v,
    "encryption_at_rest": lambda c, v, _: c.type.encryption_at_rest and c.layout.encrypted,
    "encryption_in_transit": lambda c, v, _: c.type.encryption_in_transit,
    "restricted_ingress": lambda c, v, _: not c.public_ingress,
    "public_ingress": lambda c, v, _: c.public_ingress,
    "dedicated_tenancy": lambda c, v, _: c.dedicated,
    "region_prefix": lambda c, v, _: c.type.region.startswith(str(v)),
}


def base_type(name: str) -> str:
    """An instance type's name without its region (``m6i.large@eu-west`` -> ``m6i.large``)."""
    return name.split("@", 1)[0]
