"""Importing a provider's real price list into a catalog.

The format read is the open-source ``ec2-instances-info`` data shape (``instances.json`` of
https://github.com/vantage-sh/ec2instances.info, published at https://instances.vantage.sh):
a list of instance types, each with ``instance_type``, ``family``, ``vCPU``, ``memory`` (GiB),
``network_performance`` ("Up to 12.5 Gigabit", "25 Gigabit", "Moderate" ...), ``arch``,
``storage`` (local disks: ``devices``, ``size`` GB, ``nvme_ssd`` / ``ssd``), optionally
``encryption_in_transit_supported``, and ``pricing[region][os]["ondemand"]`` (USD per hour).
Each (type, region) with a Linux on-demand price becomes one :class:`InstanceType`; storage
options and RAID levels come from a base catalog, since the file lists instances only.

What a price list does not state is filled in as documented here: encryption at rest is
available on every type (encrypted block volumes); local disks deliver 100,000 IOPS each on
NVMe, 20,000 on SATA SSD and 500 on HDD; dedicated tenancy is offered on all but burstable
(``t*``) types; ``perf_score`` grows 5 % per generation from 1.0 at generation 5, ARM types
as x86 ones. A type or region that cannot be read is skipped and counted, never guessed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from personas.instance.catalog import Catalog, InstanceType

LOCAL_IOPS = {"nvme": 100_000, "ssd": 20_000, "hdd": 500}
_NAMED_NETWORK = {"very low": 0.05, "low": 0.1, "low to moderate": 0.3, "moderate": 0.5, "high": 1}
_CATEGORIES = {
    "general": "general",
    "compute": "compute",
    "memory": "memory",
    "storage": "storage",
    "accelerated": "accelerated",
}


class ImportReport(BaseModel):
    """How an import went: the catalog and what was skipped, and why."""

    catalog: Catalog
    imported: int
    skipped: list[str] = Field(default_factory=list, max_length=1000)


def _network(text: object) -> float | None:
    if isinstance(text, int | float):
        return float(text)
    if not isinstance(text, str):
        return None
    words = text.lower().replace("up to", "").split()
    for w in words:
        try:
            return float(w)
        except ValueError:
            continue
    return _NAMED_NETWORK.get(" ".join(words))


def _generation(family: str) -> int:
    digits = "".join(c for c in family if c.isdigit())
    return int(digits[:1]) if digits else 1


def _category(entry: dict[str, Any], family: str) -> str:
    if family.startswith("t"):
        return "burstable"
    label = str(entry.get("family", "")).lower()
    return next((v for k, v in _CATEGORIES.items() if k in label), "general")


def _disks(entry: dict[str, Any]) -> tuple[int, int, str | None]:
    storage = entry.get("storage")
    if not isinstance(storage, dict) or not storage.get("devices"):
        return 0, 0, None
    kind = "nvme" if storage.get("nvme_ssd") else "ssd" if storage.get("ssd") else "hdd"
    return int(storage["devices"]), int(float(storage.get("size", 0))), kind


def _price(prices: Any) -> float | None:
    if not isinstance(prices, dict):
        return None
    linux = prices.get("linux")
    value = linux.get("ondemand") if isinstance(linux, dict) else None
    try:
        price = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return price if price and price > 0 else None


def _types(entry: dict[str, Any]) -> list[InstanceType]:
    name = str(entry["instance_type"])
    family = name.split(".", 1)[0]
    generation = _generation(family)
    disks, disk_gb, disk_kind = _disks(entry)
    network = _network(entry.get("network_performance"))
    arch_field = entry.get("arch") or ["x86_64"]
    arch = "arm64" if "arm64" in arch_field else "x86_64"
    out = []
    for region, prices in (entry.get("pricing") or {}).items():
        price = _price(prices)
        if price is None or network is None:
            continue
        out.append(
            InstanceType(
                name=f"{name}@{region}",
                family=family,
                category=_category(entry, family),
                region=region,
                arch=arch,
                generation=generation,
                vcpu=int(entry["vCPU"]),
                memory_gib=float(entry["memory"]),
                network_gbps=network,
                local_disks=disks,
                local_disk_gb=disk_gb,
                local_disk_kind=disk_kind,
                local_iops_per_disk=LOCAL_IOPS.get(disk_kind or "", 0),
                encryption_at_rest=True,
                encryption_in_transit=bool(entry.get("encryption_in_transit_supported", False)),
                dedicated_available=not family.startswith("t"),
                price_hourly=price,
                perf_score=round(max(0.5, 1.0 + 0.05 * (generation - 5)), 3),
            )
        )
    return out


def import_ec2_instances(data: object, base: Catalog, provenance: str) -> ImportReport:
    """A catalog of the instance types in ``data`` (the ec2-instances-info shape), with the
    storage options, RAID levels and capabilities of ``base``."""
    if not isinstance(data, list):
        raise ValueError("an ec2-instances-info price list is a JSON list of instance types")
    types: list[InstanceType] = []
    skipped: list[str] = []
    for entry in data:
        label = str(entry.get("instance_type", "?"))[:40] if isinstance(entry, dict) else "?"
        try:
            found = _types(entry)
        except (KeyError, TypeError, ValueError) as err:
            skipped.append(f"{label}: {type(err).__name__} {str(err)[:60]}")
            continue
        if not found:
            skipped.append(f"{label}: no Linux on-demand price or unreadable network")
        types += found
    if not types:
        raise ValueError("the price list holds no instance type with a Linux on-demand price")
    catalog = base.model_copy(update={"types": tuple(types), "provenance": provenance})
    return ImportReport(catalog=catalog, imported=len(types), skipped=skipped[:1000])
