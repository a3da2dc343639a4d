"""The app persona and the requests around it, validated at the edge by pydantic."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
CONFIG_ROOT = "/config"

EGRESS_RULE = re.compile(
    r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*:(\d{1,5}|\*)$"
)

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][\w .-]*$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResourceRequirements(_Frozen):
    """What one session needs: CPU in millicores, RAM, storage, network bandwidth, processes."""

    cpu_millis: int = Field(default=500, ge=10, le=256_000)
    memory_mb: int = Field(default=128, ge=8, le=1_048_576)
    storage_mb: int = Field(default=64, ge=1, le=10_485_760)
    bandwidth_mbps: int = Field(default=0, ge=0, le=100_000)
    pids: int = Field(default=64, ge=8, le=4096)


class DataSource(_Frozen):
    """A named data directory mounted at ``/data/<name>``, read-only or read-write."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    mode: Literal["ro", "rw"] = "ro"


class AccessControls(_Frozen):
    """Which data sources a session sees, in which mode, and whether it may reach out.

    Egress is brokered by a proxy and limited to ``egress_allowlist``: ``host:port`` patterns
    (lower-case host name or IPv4 address, optionally ``*.`` for any sub-domain; port a number
    or ``*``). Egress with an empty allowlist is a validation error (it would mean nothing),
    and so is an allowlist without egress.
    """

    data_sources: tuple[DataSource, ...] = ()
    network_egress: bool = False
    egress_allowlist: tuple[str, ...] = ()

    @field_validator("egress_allowlist")
    @classmethod
    def _rules(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for rule in v:
            if not EGRESS_RULE.match(rule):
                raise ValueError(f"egress destination {rule!r} must be host:port (port or *)")
            port = rule.rsplit(":", 1)[1]
            if port != "*" and not 1 <= int(port) <= 65535:
                raise ValueError(f"egress destination {rule!r} has a port outside 1-65535")
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _egress(self) -> AccessControls:
        if self.network_egress and not self.egress_allowlist:
            raise ValueError("network_egress needs a non-empty egress_allowlist")
        if self.egress_allowlist and not self.network_egress:
            raise ValueError("egress_allowlist is given but network_egress is false")
        return self

    @field_validator("data_sources")
    @classmethod
    def _unique(cls, v: tuple[DataSource, ...]) -> tuple[DataSource, ...]:
        names = [d.name for d in v]
        if len(names) != len(set(names)):
            raise ValueError("data source names must be unique")
        return v


class AppConfiguration(_Frozen):
    """Settings of one environment: files under /config, environment variables, PATH entries."""

    files: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    paths: tuple[str, ...] = ()

    @field_validator("files")
    @classmethod
    def _files(cls, v: dict[str, str]) -> dict[str, str]:
        for path, text in v.items():
            parts = path.split("/")
            if not path.startswith(CONFIG_ROOT + "/") or ".." in parts or "" in parts[1:]:
                raise ValueError(f"configuration file {path!r} must be a plain path under /config")
            if len(text) > 1_000_000:
                raise ValueError(f"configuration file {path!r} is larger than 1 MB")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not ENV_NAME.match(key) or key == "PATH":
                raise ValueError(f"environment variable name {key!r} is not allowed")
            if "\0" in value:
                raise ValueError(f"environment variable {key!r} contains a NUL byte")
        return v

    @field_validator("paths")
    @classmethod
    def _paths(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            if not p.startswith("/") or ":" in p or ".." in p.split("/"):
                raise ValueError(f"PATH entry {p!r} must be an absolute path without ':' or '..'")
        return v


class AppPersona(_Frozen):
    """A task environment: required applications, configuration, resources, access controls."""

    persona_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    persona_name: Name
    required_applications: tuple[str, ...] = ()
    application_configuration: dict[str, AppConfiguration] = Field(
        default_factory=lambda: {"default": AppConfiguration()}
    )
    resource_requirements: ResourceRequirements = ResourceRequirements()
    access_controls: AccessControls = AccessControls()

    @field_validator("required_applications")
    @classmethod
    def _packages(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            if not PACKAGE_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid package name")
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _has_default(self) -> AppPersona:
        if "default" not in self.application_configuration:
            raise ValueError("application_configuration needs a 'default' environment")
        return self

    def configuration(self, environment: str) -> AppConfiguration:
        """The configuration of ``environment``; a ValueError names an unknown one."""
        try:
            return self.application_configuration[environment]
        except KeyError:
            msg = f"persona {self.persona_id} has no environment {environment!r}"
            raise ValueError(msg) from None


class SessionRequest(_Frozen):
    """What a verified user asked for: one persona, in one environment, for one lease."""

    session_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{3,62}$")]
    persona_id: str
    user_id: str
    environment: str = "default"
    priority: int = Field(default=5, ge=0, le=9)
    preempt: bool = False
    lease_s: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    queue_timeout_s: int = Field(default=600, ge=1, le=24 * 3600)
