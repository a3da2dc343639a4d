"""The instance catalog: instance types, storage options and RAID layouts."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

HOURS_PER_MONTH = 730


class InstanceType(BaseModel):
    """One purchasable instance type in one region, with its hourly on-demand price."""

    model_config = ConfigDict(frozen=True)

    name: str
    family: str
    category: str
    region: str
    arch: str
    generation: int
    vcpu: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    network_gbps: float = Field(gt=0)
    local_disks: int = Field(default=0, ge=0)
    local_disk_gb: int = Field(default=0, ge=0)
    local_disk_kind: str | None = None
    local_iops_per_disk: int = 0
    encryption_at_rest: bool
    encryption_in_transit: bool
    dedicated_available: bool
    price_hourly: float = Field(gt=0)
    perf_score: float = Field(gt=0, description="relative throughput per vCPU-generation")
    zones: int = Field(default=3, ge=1, le=12, description="availability zones it is sold in")


class StorageOption(BaseModel):
    """A kind of volume: network block storage or the instance's local disks."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str = Field(pattern=r"^(ssd|hdd|nvme)$")
    local: bool
    iops_per_volume: int
    price_gb_month: float = Field(ge=0)
    fixed_month: float = Field(default=0.0, ge=0)
    encrypted: bool
    max_volume_gb: int


class RaidLevel(BaseModel):
    """A RAID layout: volumes used, IOPS and capacity multipliers, redundancy."""

    model_config = ConfigDict(frozen=True)

    name: str
    volumes: int
    iops_factor: float
    capacity_factor: float
    redundant: bool


class Catalog(BaseModel):
    """Everything a proposal can be made of, with where it came from."""

    model_config = ConfigDict(frozen=True)

    provenance: str
    dedicated_price_factor: float = 1.1
    capabilities: tuple[str, ...] = Field(
        default=("audit_logging", "mfa_admin", "waf", "baa"),
        description="what the provider offers beside instances: audit logging, MFA for "
        "administrative access, a web application firewall, a signed HIPAA BAA",
    )
    types: tuple[InstanceType, ...]
    storage: tuple[StorageOption, ...]
    raid_levels: tuple[RaidLevel, ...]

    def type_named(self, name: str) -> InstanceType | None:
        """The instance type called ``name``, if any."""
        return next((t for t in self.types if t.name == name), None)

    def vocabulary(self) -> Vocabulary:
        """The names a requester may use with this catalog."""
        return Vocabulary(
            regions=tuple(sorted({t.region for t in self.types})),
            families=tuple(sorted({t.family for t in self.types})),
            storage=tuple(s.name for s in self.storage),
            raid=tuple(r.name for r in self.raid_levels),
            types=tuple(sorted({t.name.split("@", 1)[0] for t in self.types})),
            max_zones=max((t.zones for t in self.types), default=1),
        )


class Vocabulary(BaseModel):
    """The regions, families, storage options, RAID levels and type names of a catalog, so
    that an answer naming something the catalog lacks is refused at once, with the valid ones.
    """

    model_config = ConfigDict(frozen=True)

    regions: tuple[str, ...] = Field(default=(), max_length=512)
    families: tuple[str, ...] = Field(default=(), max_length=512)
    storage: tuple[str, ...] = Field(default=(), max_length=64)
    raid: tuple[str, ...] = Field(default=(), max_length=16)
    types: tuple[str, ...] = Field(default=(), max_length=5000)
    max_zones: int = 3

    def unknown(self, kind: str, value: str) -> str | None:
        """Why ``value`` is not a known ``kind`` (listing the valid ones), or None if known."""
        known = {
            "region": self.regions,
            "family": self.families,
            "exclude_family": self.families,
            "storage_option": self.storage,
            "raid": self.raid,
            "instance_type": self.types,
            "exclude_type": self.types,
        }.get(kind)
        if not known:
            return None
        name = value.split("@", 1)[0] if kind in ("instance_type", "exclude_type") else value
        if name in known:
            return None
        shown = ", ".join(known[:30]) + (
            f" (and {len(known) - 30} more)" if len(known) > 30 else ""
        )
        return f"unknown {kind.replace('_option', '')} {name[:40]!r}; valid: {shown}"


class StorageLayout(BaseModel):
    """A storage option in a RAID layout, sized for a data set, with its cost and IOPS."""

    model_config = ConfigDict(frozen=True)

    option: str
    kind: str
    raid: str
    local: bool
    volumes: int
    volume_gb: int
    iops: int
    iops_factor: float
    monthly: float
    encrypted: bool
    redundant: bool


def layouts(catalog: Catalog, data_gb: float) -> list[StorageLayout]:
    """Every storage option in every RAID layout, each sized to hold ``data_gb``.

    Layouts whose volumes would exceed the option's largest volume are left out.
    """
    out = []
    need = max(1.0, data_gb)
    for opt in catalog.storage:
        for raid in catalog.raid_levels:
            volume_gb = math.ceil(need / raid.capacity_factor)
            if volume_gb > opt.max_volume_gb and not opt.local:
                continue
            monthly = 0.0 if opt.local else raid.volumes * volume_gb * opt.price_gb_month
            out.append(
                StorageLayout(
                    option=opt.name,
                    kind=opt.kind,
                    raid=raid.name,
                    local=opt.local,
                    volumes=raid.volumes,
                    volume_gb=volume_gb,
                    iops=int(opt.iops_per_volume * raid.iops_factor),
                    iops_factor=raid.iops_factor,
                    monthly=round(monthly + raid.volumes * opt.fixed_month, 4),
                    encrypted=opt.encrypted,
                    redundant=raid.redundant,
                )
            )
    return out


def fits_locally(t: InstanceType, layout: StorageLayout) -> bool:
    """Whether the type can hold the layout (local layouts need its own disks)."""
    if not layout.local:
        return True
    return (
        t.local_disk_kind == layout.kind
        and t.local_disks >= layout.volumes
        and t.local_disk_gb >= layout.volume_gb
    )


def layout_iops(t: InstanceType, layout: StorageLayout) -> int:
    """IOPS of a layout on a type (local disks deliver the type's own per-disk figure)."""
    if not layout.local:
        return layout.iops
    return int(t.local_iops_per_disk * layout.iops_factor)
