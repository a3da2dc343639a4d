"""Pure rules of the proposal model: which requirements filter types or layouts, how
candidates are reduced without losing optimality, and how trade-offs are worded."""

from __future__ import annotations

from collections.abc import Callable

from personas.instance.catalog import InstanceType, StorageLayout
from personas.instance.proposals import Proposal
from personas.instance.requirements import Config, Requirement, base_type

TypeTest = Callable[[InstanceType], bool]
LayoutTest = Callable[[StorageLayout], bool]


def type_test(r: Requirement) -> TypeTest | None:
    """For a requirement about the type alone, the test a type must pass; else None."""
    v, k = r.value, r.kind
    tests: dict[str, TypeTest] = {
        "min_vcpu": lambda t: t.vcpu + 1e-6 >= float(v),
        "min_memory_gib": lambda t: t.memory_gib + 1e-6 >= float(v),
        "min_network_gbps": lambda t: t.network_gbps + 1e-6 >= float(v),
        "family": lambda t: t.family == v,
        "exclude_family": lambda t: t.family != v,
        "region": lambda t: t.region == v,
        "arch": lambda t: t.arch == v,
        "instance_type": lambda t: t.name == v,
        "exclude_type": lambda t: base_type(t.name) != base_type(str(v)),
        "encryption_in_transit": lambda t: t.encryption_in_transit,
        "encryption_at_rest": lambda t: t.encryption_at_rest,
        "zones": lambda t: t.zones >= int(v),
        "region_prefix": lambda t: t.region.startswith(str(v)),
    }
    return tests.get(k)


def layout_test(r: Requirement) -> LayoutTest | None:
    """For a requirement about the storage layout alone, its test; else None."""
    v, k = r.value, r.kind
    tests: dict[str, LayoutTest] = {
        "storage_kind": lambda s: s.kind == v,
        "raid": lambda s: s.raid == v,
        "storage_option": lambda s: s.option == v,
        "redundant_storage": lambda s: s.redundant or not v,
        "encryption_at_rest": lambda s: s.encrypted,
        "min_iops": lambda s: s.local or s.iops + 1e-6 >= float(v),
    }
    return tests.get(k)


def undominated(types: list[InstanceType]) -> list[InstanceType]:
    """Of types identical in everything but name, region and price, keep the cheapest.

    Called after the region requirement (if any) has filtered the types, so the dropped ones
    can never be better for any objective here (all prefer a lower price, all else equal).
    """
    best: dict[tuple[object, ...], InstanceType] = {}
    for t in types:
        key = tuple(t.model_dump(exclude={"name", "region", "price_hourly"}).values())
        kept = best.get(key)
        if kept is None or (t.price_hourly, t.name) < (kept.price_hourly, kept.name):
            best[key] = t
    return sorted(best.values(), key=lambda t: t.name)


def representatives(types: list[InstanceType], reqs: list[Requirement]) -> list[InstanceType]:
    """Of types that pass and fail exactly the same requirements, keep the cheapest.

    Used when explaining infeasibility: any configuration on a type can move to the cheapest
    type of its class without breaking a requirement, with or without any one of them.
    """
    tests = [tt for r in reqs if (tt := type_test(r)) is not None]
    best: dict[tuple[object, ...], InstanceType] = {}
    for t in types:
        key = (
            tuple(test(t) for test in tests),
            t.dedicated_available,
            t.local_disks,
            t.local_disk_gb,
            t.local_disk_kind,
            t.local_iops_per_disk,
        )
        kept = best.get(key)
        if kept is None or (t.price_hourly, t.name) < (kept.price_hourly, kept.name):
            best[key] = t
    return sorted(best.values(), key=lambda t: t.name)


def forced_tenancy(reqs: list[Requirement]) -> bool | None:
    """True or False when a requirement fixes the tenancy (dedicated or shared), else None."""
    for r in reqs:
        if r.kind == "dedicated_tenancy" or (r.kind == "tenancy" and r.value == "dedicated"):
            return True
    return False if any(r.kind == "tenancy" for r in reqs) else None


def trade_off(
    label: str, c: Config, hourly: float, headroom: dict[str, float], cheapest: Proposal | None
) -> str:
    what = f"{c.type.name} ({c.type.vcpu} vCPU, {c.type.memory_gib:g} GiB) x{c.replicas}"
    if label == "counter_offer":
        return (
            f"{what}: the nearest configuration to the proposal within the price asked "
            f"(same family, region, storage, RAID, tenancy and replicas), ${hourly:.4f}/h"
        )
    if label == "cheapest" or cheapest is None:
        tight = min(headroom, key=lambda k: headroom[k])
        return (
            f"{what}: the lowest cost meeting every hard constraint; least spare "
            f"{tight} ({headroom[tight]:+.0f}% over the need)"
        )
    extra = hourly - cheapest.hourly
    pct = extra / cheapest.hourly * 100 if cheapest.hourly else 0.0
    if label == "balanced":
        return (
            f"{what}: ${extra:+.4f}/h ({pct:+.0f}%) against the cheapest, with "
            f"{headroom['vcpu']:+.0f}% CPU and {headroom['memory_gib']:+.0f}% memory "
            "headroom to grow into"
        )
    return (
        f"{what}: the most throughput per dollar ({c.type.family}, perf "
        f"{c.type.perf_score:g}); ${extra:+.4f}/h ({pct:+.0f}%) against the cheapest"
    )
