"""The instance persona: function, performance, security, lifecycle and cost profiles."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

HOURS_PER_MONTH = 730


class Compliance(StrEnum):
    """Compliance regimes the solver knows how to compile into requirements."""

    HIPAA = "hipaa"
    PCI_DSS = "pci_dss"
    SOC2 = "soc2"
    GDPR = "gdpr"


class Sensitivity(StrEnum):
    """How sensitive the data an instance handles is."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class Series(BaseModel):
    """One resource over time: hourly points of a typical day, with an uncertainty band."""

    model_config = ConfigDict(frozen=True)

    points: tuple[float, ...] = Field(min_length=1, max_length=24 * 7)
    lower: tuple[float, ...] = ()
    upper: tuple[float, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Series:
        if any(p < 0 for p in self.points):
            raise ValueError("resource levels cannot be negative")
        for band in (self.lower, self.upper):
            if band and len(band) != len(self.points):
                raise ValueError("an uncertainty band needs one value per point")
        return self

    @property
    def peak(self) -> float:
        """The highest level."""
        return max(self.points)

    @property
    def average(self) -> float:
        """The mean level."""
        return sum(self.points) / len(self.points)

    @property
    def sustained(self) -> float:
        """The level held at least a quarter of the time (75th percentile)."""
        ordered = sorted(self.points)
        return ordered[min(len(ordered) - 1, (3 * len(ordered)) // 4)]


class PerformanceProfile(BaseModel):
    """CPU (cores), memory (GiB), IOPS and network (Mbit/s) over time, plus data size."""

    model_config = ConfigDict(frozen=True)

    cpu_cores: Series
    memory_gib: Series
    iops: Series
    network_mbps: Series
    data_gb: float = Field(default=20.0, ge=0)

    def summary(self) -> dict[str, dict[str, float]]:
        """Peak, average and sustained level of each resource."""
        out: dict[str, dict[str, float]] = {}
        for name in ("cpu_cores", "memory_gib", "iops", "network_mbps"):
            s: Series = getattr(self, name)
            out[name] = {
                "peak": round(s.peak, 3),
                "average": round(s.average, 3),
                "sustained": round(s.sustained, 3),
            }
        return out


class SecurityProfile(BaseModel):
    """Who may reach the instance and what rules its data falls under."""

    model_config = ConfigDict(frozen=True)

    access_levels: tuple[str, ...] = ("operator",)
    data_sensitivity: Sensitivity = Sensitivity.INTERNAL
    compliance: tuple[Compliance, ...] = ()
    ingress: tuple[str, ...] = Field(default=("10.0.0.0/8",), description="allowed CIDRs")
    egress: tuple[str, ...] = ("0.0.0.0/0",)

    @property
    def public_ingress(self) -> bool:
        """Whether anyone on the internet may connect."""
        return any(c in ("0.0.0.0/0", "::/0") for c in self.ingress)


class LifecycleProfile(BaseModel):
    """How long and how reliably the instance must run, and how it scales."""

    model_config = ConfigDict(frozen=True)

    uptime_pct: float = Field(default=99.0, ge=50, le=100)
    scaling: str = Field(default="fixed", pattern=r"^(fixed|horizontal|vertical)$")
    replicas: int = Field(default=1, ge=1, le=16)
    expected_duration_days: float = Field(default=30.0, gt=0)
    redundant_storage: bool = False


class CostTolerance(BaseModel):
    """The most the requester will pay, hourly and monthly (US dollars)."""

    model_config = ConfigDict(frozen=True)

    max_hourly: float = Field(default=5.0, gt=0)
    max_monthly: float = Field(default=3650.0, gt=0)


class InstancePersona(BaseModel):
    """The role an instance will play; stored as versions of a persona of kind ``instance``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    role: str = Field(min_length=1, max_length=64)
    base: str | None = None
    description: str = ""
    performance: PerformanceProfile
    security: SecurityProfile = SecurityProfile()
    lifecycle: LifecycleProfile = LifecycleProfile()
    cost: CostTolerance = CostTolerance()
    status: str = Field(default="active", pattern=r"^(active|proposed)$")
