"""Predefined base personas: web server, database, analytics engine, message queue."""

from __future__ import annotations

from typing import Any

from personas.instance.analyzer import flat_profile
from personas.instance.limits import quote
from personas.instance.profiles import (
    CostTolerance,
    InstancePersona,
    LifecycleProfile,
    SecurityProfile,
    Sensitivity,
)


class UnknownBasePersona(ValueError):
    """No base persona has the given name."""


BASE_PERSONAS: dict[str, InstancePersona] = {
    "web_server": InstancePersona(
        name="web_server",
        role="web_server",
        description="HTTP front end: CPU- and network-bound, stateless, diurnal load",
        performance=flat_profile(cpu=2.0, memory=4.0, iops=300, network=400, data_gb=20),
        security=SecurityProfile(
            access_levels=("operator", "deployer"),
            data_sensitivity=Sensitivity.INTERNAL,
            ingress=("0.0.0.0/0",),
        ),
        lifecycle=LifecycleProfile(uptime_pct=99.9, scaling="horizontal", replicas=2),
        cost=CostTolerance(max_hourly=1.5, max_monthly=1100),
    ),
    "database": InstancePersona(
        name="database",
        role="database",
        description="Relational database: memory- and IOPS-bound, redundant storage",
        performance=flat_profile(cpu=4.0, memory=32.0, iops=6000, network=300, data_gb=500),
        security=SecurityProfile(
            access_levels=("dba",),
            data_sensitivity=Sensitivity.CONFIDENTIAL,
            ingress=("10.0.0.0/8",),
            egress=("10.0.0.0/8",),
        ),
        lifecycle=LifecycleProfile(uptime_pct=99.95, scaling="vertical", redundant_storage=True),
        cost=CostTolerance(max_hourly=3.0, max_monthly=2200),
    ),
    "analytics_engine": InstancePersona(
        name="analytics_engine",
        role="analytics_engine",
        description="Batch analytics: many cores, large memory, big sequential scans",
        performance=flat_profile(cpu=16.0, memory=96.0, iops=3000, network=2000, data_gb=2000),
        security=SecurityProfile(access_levels=("analyst",), ingress=("10.0.0.0/8",)),
        lifecycle=LifecycleProfile(uptime_pct=95.0, expected_duration_days=7),
        cost=CostTolerance(max_hourly=8.0, max_monthly=5840),
    ),
    "message_queue": InstancePersona(
        name="message_queue",
        role="message_queue",
        description="Message broker: steady network and write IOPS, replicated",
        performance=flat_profile(cpu=2.0, memory=8.0, iops=2500, network=800, data_gb=200),
        security=SecurityProfile(access_levels=("service",), ingress=("10.0.0.0/8",)),
        lifecycle=LifecycleProfile(
            uptime_pct=99.9, scaling="horizontal", replicas=3, redundant_storage=True
        ),
        cost=CostTolerance(max_hourly=2.0, max_monthly=1460),
    ),
}


def base_persona(name: str) -> InstancePersona:
    """The base persona called ``name``, or :class:`UnknownBasePersona`."""
    try:
        return BASE_PERSONAS[name]
    except KeyError:
        raise UnknownBasePersona(
            f"unknown base persona {name!r}; known: {', '.join(sorted(BASE_PERSONAS))}"
        ) from None


OVERRIDABLE = ("description", "role", "performance", "security", "lifecycle", "cost")
"""The persona sections a negotiation's ``persona_overrides`` may change."""


def with_overrides(fields: dict[str, Any], overrides: dict[str, Any]) -> InstancePersona:
    """A persona from ``fields`` with ``overrides`` merged in (a section's keys one by one).

    Raises ``ValueError`` naming an unknown section, and pydantic's ``ValidationError`` when
    the result is not a valid persona (e.g. a negative cost tolerance).
    """
    merged = dict(fields)
    for section, values in overrides.items():
        if section not in OVERRIDABLE:
            raise ValueError(
                f"persona_overrides: {quote(section)} is not a section; "
                f"known: {', '.join(OVERRIDABLE)}"
            )
        current = merged.get(section)
        if isinstance(current, dict) and isinstance(values, dict):
            merged[section] = {**current, **values}
        else:
            merged[section] = values
    return InstancePersona.model_validate(merged)
