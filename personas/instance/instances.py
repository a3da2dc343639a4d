"""A provisioned instance as the domain sees it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ProvisionedInstance(BaseModel):
    """A running instance: provider handles and the limits actually applied."""

    model_config = ConfigDict(frozen=True)

    key: str
    provider: str
    handles: tuple[str, ...]
    nano_cpus: int
    memory_bytes: int
    network: str
