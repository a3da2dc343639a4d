"""Typed entity resources and the grants that make a persona's scope.

A resource is owned by an entity and has a type (``files``: a directory tree; ``sql``: a
SQLite file; ``http`` and ``mcp`` are reserved for later and refused today). A grant gives a
persona one resource at a level (``read`` or ``write``, write implying read); a persona's
scope is the set of its grants, written ``resource:level``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: A resource name: what grants and tools refer to.
RESOURCE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
MAX_LOCATION = 1024
MAX_GRANTS = 64
MAX_RESOURCES = 256

ResourceName = Annotated[str, Field(pattern=RESOURCE_NAME_PATTERN, max_length=64)]


class ResourceType(StrEnum):
    """What a resource is; each type has its tools."""

    FILES = "files"
    SQL = "sql"
    # Reserved: HTTP = "http" (through the egress broker), MCP = "mcp" (an MCP server).


class Level(StrEnum):
    """How much of a resource a grant gives; ``write`` includes ``read``."""

    READ = "read"
    WRITE = "write"

    def covers(self, needed: Level) -> bool:
        """Whether a grant at this level allows an access that needs ``needed``."""
        return self is Level.WRITE or needed is Level.READ


class Resource(BaseModel):
    """A typed resource an entity owns: where it is and what it can grant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_id: str = Field(min_length=1, max_length=255)
    name: ResourceName
    type: ResourceType
    location: str = Field(min_length=1, max_length=MAX_LOCATION)
    """An absolute directory (``files``) or SQLite file path (``sql``) on the worker's host."""
    levels: tuple[Level, ...] = Field(default=(Level.READ,), min_length=1, max_length=2)
    """The levels this resource may be granted at."""
    description: str = Field(default="", max_length=500)

    @field_validator("location")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or "\x00" in value or "/../" in f"{value}/":
            raise ValueError("location must be an absolute path without '..'")
        return value


class Grant(BaseModel):
    """One resource granted to a persona at a level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: ResourceName
    level: Level = Level.READ

    def __str__(self) -> str:
        return f"{self.resource}:{self.level.value}"


_GRANT_RE = re.compile(r"^(?P<resource>[^:]+?)(?::(?P<level>read|write))?$")


def parse_grant(text: str) -> Grant:
    """``docs``, ``docs:read`` or ``docs:write`` as a grant (read when no level is given)."""
    if len(text) > 80:
        raise ValueError(f"grant too long ({len(text)} characters, at most 80)")
    match = _GRANT_RE.match(text)
    if match is None:
        raise ValueError(f"invalid grant {text[:40]!r}: expected RESOURCE[:read|write]")
    return Grant(resource=match["resource"], level=Level(match["level"] or "read"))


class ScopedResource(BaseModel):
    """A resource as the persona holds it: the resource and the level granted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: Resource
    level: Level


class Scope(BaseModel):
    """A persona's current scope: the resources it holds, each at its granted level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    persona_id: str = Field(min_length=1, max_length=255)
    resources: tuple[ScopedResource, ...] = Field(default=(), max_length=MAX_GRANTS)

    def find(self, name: str) -> ScopedResource | None:
        """The held resource named ``name``, or None."""
        return next((r for r in self.resources if r.resource.name == name), None)

    def allows(self, name: str, type_: ResourceType, needed: Level) -> bool:
        """Whether the scope holds ``name``, of type ``type_``, at ``needed`` or above."""
        held = self.find(name)
        return held is not None and held.resource.type is type_ and held.level.covers(needed)


def check_grant(resource: Resource, grant: Grant) -> None:
    """Refuse a grant at a level the resource cannot give."""
    if grant.level not in resource.levels and not (
        grant.level is Level.READ and Level.WRITE in resource.levels
    ):
        allowed = ", ".join(level.value for level in resource.levels)
        raise ValueError(f"resource {resource.name} can be granted at {allowed}, not {grant.level}")
