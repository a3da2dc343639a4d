"""Settings of app personas (``PERSONAS_APP_*``): broker keys, host capacity, caches."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.host import DEFAULT_LOSS_TIMEOUT_S, HostId, HostInfo


class AppSettings(BaseSettings):
    """Broker keys and audience, the host's capacity, and where images and data live."""

    model_config = SettingsConfigDict(
        env_prefix="PERSONAS_APP_",
        env_file=os.environ.get("PERSONAS_SETTINGS_FILE", "personas.env"),
        extra="ignore",
    )

    jwt_keys: list[SecretStr] = Field(
        default_factory=list,
        description="HS256 keys; the first signs, every one verifies (rotation). Required"
        " unless dev_mode is set.",
    )
    dev_mode: bool = Field(
        default=False,
        description="PERSONAS_APP_DEV_MODE: with no jwt_keys, sign and verify with the"
        " development key in the source (a warning is logged). Never in production.",
    )
    deployment_id: str = Field(
        default="",
        max_length=63,
        validation_alias=AliasChoices("deployment_id", "PERSONAS_DEPLOYMENT_ID"),
        description="PERSONAS_DEPLOYMENT_ID: the deployment owning this worker's Docker"
        " objects; empty derives it from the Temporal address, namespace and store"
        " (activities.ownership)",
    )
    jwt_audience: str = "persona-app-broker"
    jwt_issuer: str = "personas"
    host_id: HostId = Field(
        default="local",
        validation_alias=AliasChoices("host_id", "PERSONAS_HOST_ID", "PERSONAS_APP_HOST_ID"),
        description="PERSONAS_HOST_ID: this host worker's id; its pinned task queue is"
        " <base>-host-<id> and its Docker objects are labelled with it",
    )
    host_loss_timeout_s: float = Field(
        default=DEFAULT_LOSS_TIMEOUT_S,
        gt=0,
        le=3600,
        validation_alias=AliasChoices("host_loss_timeout_s", "PERSONAS_HOST_LOSS_TIMEOUT_S"),
        description="PERSONAS_HOST_LOSS_TIMEOUT_S: a step on a host's pinned queue that no"
        " worker of the host takes within this many seconds means the host is lost",
    )
    host_cpu_millis: int = Field(default=0, description="0 means the Docker engine's CPUs")
    host_memory_mb: int = Field(default=0, description="0 means half the engine's memory")
    host_storage_mb: int = 20_480
    cache_dir: Path = Path("/var/tmp/persona-app-cache")
    data_root: Path = Path("var/app-data")
    egress_root: Path = Field(
        default=Path("/tmp/persona-app-egress"),
        description="Directory of the sessions' egress proxy sockets, on the Docker engine's"
        " host (it is bind-mounted); keep it short: a Unix socket path has at most 107 bytes",
    )
    usage_interval_s: int = Field(
        default=60, ge=1, le=86_400, description="How often a running session samples usage"
    )
    usage_history: int = Field(
        default=60, ge=1, le=1000, description="How many recent samples a session keeps"
    )

    def host(self) -> HostInfo:
        """This worker's host: its id and loss timeout."""
        return HostInfo(host_id=self.host_id, loss_timeout_s=self.host_loss_timeout_s)


def get_app_settings() -> AppSettings:
    """Fresh settings from the environment and the settings file."""
    return AppSettings()
