"""A fleet's configuration attributes, their allowed values, and how far two configs are apart."""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from personas.errors import first_error

Cache = Literal["none", "lru", "ttl"]
Balancer = Literal["round_robin", "least_conn", "hash"]

#: The allowed values of every attribute, in order (ordinal attributes are ordered).
DOMAIN: dict[str, tuple[Any, ...]] = {
    "cpu_share": (0.25, 0.5, 1.0),
    "cache": ("none", "lru", "ttl"),
    "balancer": ("round_robin", "least_conn", "hash"),
    "replicas": (1, 2, 3, 4),
}
ATTRIBUTES = tuple(DOMAIN)


class BadConfig(ValueError):
    """A configuration with unknown attributes or out-of-range values (one-line message)."""


class FleetConfig(BaseModel):
    """One configuration of the fleet: CPU share per replica, cache, balancer, replica count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_share: float = Field(default=0.5, ge=0.25, le=1.0)
    cache: Cache = "none"
    balancer: Balancer = "round_robin"
    replicas: int = Field(default=2, ge=1, le=4)

    def key(self) -> str:
        """A short stable text key, e.g. ``cpu0.5-lru-hash-x3``."""
        return f"cpu{self.cpu_share}-{self.cache}-{self.balancer}-x{self.replicas}"


DEFAULT_CONFIG = FleetConfig()


def parse_config(data: Any) -> FleetConfig:
    """Validate a configuration, refusing unknown attributes and out-of-range values."""
    if isinstance(data, FleetConfig):
        return data
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(ATTRIBUTES))
        if unknown:
            raise BadConfig(f"unknown attribute(s) {', '.join(unknown)}; known: {ATTRIBUTES}")
        for name, value in data.items():
            if value not in DOMAIN[name]:
                raise BadConfig(f"{name}={value!r} out of range; allowed {DOMAIN[name]}")
    try:
        return FleetConfig.model_validate(data)
    except ValidationError as err:
        raise BadConfig(f"bad configuration: {first_error(err)}") from None


def all_configs() -> list[FleetConfig]:
    """Every configuration of the attribute domain (the learner's arms)."""
    return [
        FleetConfig(**dict(zip(ATTRIBUTES, values, strict=True)))
        for values in itertools.product(*DOMAIN.values())
    ]


def attribute_distance(name: str, a: Any, b: Any) -> float:
    """Distance in [0, 1] between two values of one attribute (ordinal or categorical)."""
    if a == b:
        return 0.0
    if name in ("cpu_share", "replicas"):
        values = DOMAIN[name]
        return abs(values.index(a) - values.index(b)) / (len(values) - 1)
    return 1.0


def changed_attributes(a: FleetConfig, b: FleetConfig) -> list[str]:
    """The attributes on which two configurations differ."""
    return [n for n in ATTRIBUTES if getattr(a, n) != getattr(b, n)]
