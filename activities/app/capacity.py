"""The host's capacity: from settings, or measured from the Docker engine."""

from __future__ import annotations

from typing import Any

import docker

from activities.app.resources import ResourceManager
from activities.app.settings import AppSettings
from activities.store import Store
from personas.app.policy import Amount


def host_capacity(settings: AppSettings, client: Any) -> Amount:
    """CPU, memory and storage the host offers to sessions."""
    cpu, mem = settings.host_cpu_millis, settings.host_memory_mb
    if not cpu or not mem:
        info = client.info()
        cpu = cpu or int(info.get("NCPU", 1)) * 1000
        mem = mem or int(info.get("MemTotal", 2**30)) // 2**20 // 2
    return Amount(cpu_millis=cpu, memory_mb=mem, storage_mb=settings.host_storage_mb)


def ensure_host(resources: ResourceManager, settings: AppSettings, client: Any) -> Amount:
    """Register (or update) the host's capacity in the store."""
    capacity = host_capacity(settings, client)
    resources.set_capacity(settings.host_id, capacity)
    return capacity


def register_host(store: Store, settings: AppSettings) -> Amount:
    """Register this host's capacity on ``store`` (a host worker does at start, so placement
    sees it before its first session)."""
    resources = ResourceManager(store.engine)
    return ensure_host(resources, settings, docker.from_env())
