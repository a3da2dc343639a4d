"""What clients see of a session, and the messages they send it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class UsageSample(BaseModel):
    """One periodic sample of a running session: cumulative CPU time, memory, processes,
    egress connections so far, and the CPU share since the previous sample (percent of one
    CPU)."""

    at: str
    cpu_seconds: float
    cpu_percent: float | None = None
    memory_mb: float
    memory_limit_mb: float
    pids: int
    egress_allowed: int = 0
    egress_refused: int = 0


class SessionView(BaseModel):
    """A session's state, the steps it went through and the compensations it ran."""

    session_id: str
    persona_id: str
    user_id: str
    priority: int
    state: str
    reason: str = ""
    persona_version: int | None = None
    image: str | None = None
    container_id: str | None = None
    steps: list[str] = Field(default_factory=list)
    compensated: list[str] = Field(default_factory=list)
    lease_expires_at: str | None = None
    queue_position: int | None = None
    ended: bool = False
    egress: bool = False
    usage: list[UsageSample] = Field(default_factory=list)
    samples_taken: int = 0
    samples_missed: int = 0


class ReleaseCommand(BaseModel):
    """A verified user asks to release a session."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str
    reason: str = "released by the user"


class RunCommand(BaseModel):
    """A verified user runs a command inside the session."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str
    argv: Annotated[tuple[str, ...], Field(min_length=1, max_length=256)]


class UsageQuery(BaseModel):
    """A verified user asks for a sample of the session's CPU and memory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str


class PreemptNotice(BaseModel):
    """Notice to a lower-priority session that it is preempted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by_session: str
    priority: int
    reason: str = "preempted by a higher-priority request"
