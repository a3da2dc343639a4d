"""Dynamic persona evolution: compare observed utilisation with the prediction."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from personas.instance.profiles import InstancePersona, PerformanceProfile, Series


class Utilisation(BaseModel):
    """Observed use of a provisioned instance (summed over its replicas)."""

    model_config = ConfigDict(frozen=True)

    cpu_cores: float = Field(ge=0)
    memory_gib: float = Field(ge=0)
    samples: int = Field(ge=1)


class EvolutionProposal(BaseModel):
    """A new persona version proposed because use diverged from the prediction."""

    model_config = ConfigDict(frozen=True)

    persona_id: str
    version: int
    ratios: dict[str, float]
    reason: str


def ratios(persona: InstancePersona, used: Utilisation) -> dict[str, float]:
    """Observed over predicted average level, per resource (1.0 means as predicted)."""
    perf = persona.performance
    return {
        "cpu_cores": round(used.cpu_cores / max(perf.cpu_cores.average, 1e-9), 4),
        "memory_gib": round(used.memory_gib / max(perf.memory_gib.average, 1e-9), 4),
    }


def diverges(persona: InstancePersona, used: Utilisation, threshold: float) -> bool:
    """Whether any resource's use is off the prediction by more than ``threshold``."""
    return any(abs(r - 1.0) > threshold for r in ratios(persona, used).values())


def _scaled(s: Series, factor: float) -> Series:
    return Series(points=tuple(round(p * factor, 4) for p in s.points))


def evolve(persona: InstancePersona, used: Utilisation) -> InstancePersona:
    """The persona with CPU and memory series rescaled to the observed levels, proposed."""
    r = ratios(persona, used)
    perf = persona.performance
    new_perf = PerformanceProfile(
        cpu_cores=_scaled(perf.cpu_cores, max(r["cpu_cores"], 0.01)),
        memory_gib=_scaled(perf.memory_gib, max(r["memory_gib"], 0.01)),
        iops=perf.iops,
        network_mbps=perf.network_mbps,
        data_gb=perf.data_gb,
    )
    return persona.model_copy(update={"performance": new_perf, "status": "proposed"})
