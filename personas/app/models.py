"""The app persona and the requests around it, validated at the edge by pydantic.

Every string, list and mapping is bounded here, next to its model (the ``MAX_*`` constants
below, sized for what a user of the field could need); a persona as a whole stays well under
Temporal's 2 MB payload limit, since it crosses into the session workflow. Refusals quote at
most a short prefix of the offending value (:func:`short`).
"""

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

MAX_APPLICATIONS = 64
MAX_ENVIRONMENTS = 16
MAX_FILES = 64
MAX_FILE_CHARS = 256 * 1024
MAX_CONFIGURATION_CHARS = 512 * 1024
"""All files of one environment together."""
MAX_PERSONA_CONFIGURATION_CHARS = 1024 * 1024
"""All files of every environment of a persona together."""
MAX_PATH = 255
MAX_ENV_VARS = 128
MAX_ENV_VALUE = 4096
MAX_PATHS = 32
MAX_DATA_SOURCES = 32
MAX_EGRESS_RULES = 64
MAX_EGRESS_RULE = 260
PREFIX = 40
"""How much of a refused value a refusal quotes."""
PROCESS_RESERVE_MB = 16
"""Memory a session keeps for its processes beyond its tmpfs caps (tmpfs pages are charged to
the container's memory cgroup, so caps that fill the limit would OOM-kill its commands)."""

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][\w .-]*$")]
SessionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{3,62}$")]
PersonaId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
UserId = Annotated[str, Field(min_length=1, max_length=128)]
EnvironmentName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.-]{0,62}$")]


def short(value: object) -> str:
    """A refused value as a short quoted prefix (never the whole of a huge value)."""
    text = str(value)
    quoted = repr(text[:PREFIX])
    # An escaped character takes up to ten characters, so the quote is cut too.
    cut = len(text) > PREFIX or len(quoted) > 3 * PREFIX
    return quoted[: 3 * PREFIX] + ("..." if cut else "")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResourceRequirements(_Frozen):
    """What one session needs: CPU in millicores, RAM, storage, network bandwidth, processes."""

    cpu_millis: int = Field(default=500, ge=10, le=256_000)
    memory_mb: int = Field(default=128, ge=8, le=1_048_576)
    storage_mb: int = Field(default=64, ge=1, le=10_485_760)
    bandwidth_mbps: int = Field(default=0, ge=0, le=100_000)
    pids: int = Field(default=64, ge=8, le=4096)
    tmp_mb: int = Field(default=16, ge=1, le=1_048_576, description="cap of the /tmp tmpfs")
    home_mb: int = Field(default=8, ge=1, le=1_048_576, description="cap of /home/app (tmpfs)")

    @model_validator(mode="after")
    def _tmpfs_fit(self) -> ResourceRequirements:
        tmpfs = self.storage_mb + self.tmp_mb + self.home_mb
        if tmpfs + PROCESS_RESERVE_MB > self.memory_mb:
            raise ValueError(
                f"tmpfs caps (workspace {self.storage_mb} + /tmp {self.tmp_mb} + /home"
                f" {self.home_mb} = {tmpfs} MB) plus {PROCESS_RESERVE_MB} MB for processes"
                f" exceed memory_mb {self.memory_mb}: tmpfs is charged to the memory limit"
            )
        return self


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

    data_sources: Annotated[tuple[DataSource, ...], Field(max_length=MAX_DATA_SOURCES)] = ()
    network_egress: bool = False
    egress_allowlist: Annotated[
        tuple[Annotated[str, Field(max_length=MAX_EGRESS_RULE)], ...],
        Field(max_length=MAX_EGRESS_RULES),
    ] = ()

    @field_validator("egress_allowlist")
    @classmethod
    def _rules(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for rule in v:
            if not EGRESS_RULE.match(rule):
                raise ValueError(f"egress destination {short(rule)} must be host:port (port or *)")
            port = rule.rsplit(":", 1)[1]
            if port != "*" and not 1 <= int(port) <= 65535:
                raise ValueError(f"egress destination {short(rule)} has a port outside 1-65535")
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

    files: Annotated[
        dict[
            Annotated[str, Field(max_length=MAX_PATH)],
            Annotated[str, Field(max_length=MAX_FILE_CHARS)],
        ],
        Field(max_length=MAX_FILES),
    ] = Field(default_factory=dict)
    env: Annotated[
        dict[
            Annotated[str, Field(max_length=128)],
            Annotated[str, Field(max_length=MAX_ENV_VALUE)],
        ],
        Field(max_length=MAX_ENV_VARS),
    ] = Field(default_factory=dict)
    paths: Annotated[
        tuple[Annotated[str, Field(max_length=MAX_PATH)], ...], Field(max_length=MAX_PATHS)
    ] = ()

    @field_validator("files")
    @classmethod
    def _files(cls, v: dict[str, str]) -> dict[str, str]:
        for path in v:
            parts = path.split("/")
            if not path.startswith(CONFIG_ROOT + "/") or ".." in parts or "" in parts[1:]:
                raise ValueError(
                    f"configuration file {short(path)} must be a plain path under /config"
                )
        total = sum(len(text) for text in v.values())
        if total > MAX_CONFIGURATION_CHARS:
            raise ValueError(
                f"configuration files hold {total} characters, more than {MAX_CONFIGURATION_CHARS}"
            )
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not ENV_NAME.match(key) or key == "PATH":
                raise ValueError(f"environment variable name {short(key)} is not allowed")
            if "\0" in value:
                raise ValueError(f"environment variable {short(key)} contains a NUL byte")
        return v

    @field_validator("paths")
    @classmethod
    def _paths(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            if not p.startswith("/") or ":" in p or ".." in p.split("/"):
                raise ValueError(
                    f"PATH entry {short(p)} must be an absolute path without ':' or '..'"
                )
        return v


class AppPersona(_Frozen):
    """A task environment: required applications, configuration, resources, access controls."""

    persona_id: PersonaId
    persona_name: Name
    required_applications: Annotated[
        tuple[Annotated[str, Field(max_length=128)], ...], Field(max_length=MAX_APPLICATIONS)
    ] = ()
    application_configuration: Annotated[
        dict[EnvironmentName, AppConfiguration], Field(min_length=1, max_length=MAX_ENVIRONMENTS)
    ] = Field(default_factory=lambda: {"default": AppConfiguration()})
    resource_requirements: ResourceRequirements = ResourceRequirements()
    access_controls: AccessControls = AccessControls()

    @field_validator("required_applications")
    @classmethod
    def _packages(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            if not PACKAGE_NAME.match(name):
                raise ValueError(f"{short(name)} is not a valid package name")
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _has_default(self) -> AppPersona:
        if "default" not in self.application_configuration:
            raise ValueError("application_configuration needs a 'default' environment")
        total = sum(
            len(text)
            for conf in self.application_configuration.values()
            for text in conf.files.values()
        )
        if total > MAX_PERSONA_CONFIGURATION_CHARS:
            raise ValueError(
                f"the configuration files of every environment hold {total} characters, more"
                f" than {MAX_PERSONA_CONFIGURATION_CHARS}"
            )
        return self

    def configuration(self, environment: str) -> AppConfiguration:
        """The configuration of ``environment``; a ValueError names an unknown one."""
        try:
            return self.application_configuration[environment]
        except KeyError:
            msg = f"persona {self.persona_id} has no environment {short(environment)}"
            raise ValueError(msg) from None


class SessionRequest(_Frozen):
    """What a verified user asked for: one persona, in one environment, for one lease."""

    session_id: SessionId
    persona_id: PersonaId
    user_id: UserId
    environment: EnvironmentName = "default"
    priority: int = Field(default=5, ge=0, le=9)
    preempt: bool = False
    lease_s: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    queue_timeout_s: int = Field(default=600, ge=1, le=24 * 3600)
