"""What clients see of a session, and the messages they send it.

Every message is bounded here (``MAX_*``); the view a session carries is bounded too: its
reason is cut to ``MAX_REASON``, its steps and compensations are short fixed lists, and its
usage history is capped by the settings (at most 1000 samples).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_REASON = 500
"""Longest reason a session keeps or a message carries."""
MAX_ARGS = 256
MAX_ARG = 8192
MAX_USER = 128
MAX_SESSION_ID = 63

UserId = Annotated[str, Field(min_length=1, max_length=MAX_USER)]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON)]


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
    host_id: str | None = None
    left_on_host: list[str] = Field(default_factory=list)
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

    user_id: UserId
    reason: Reason = "released by the user"


class RunCommand(BaseModel):
    """A verified user runs a command inside the session."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: UserId
    argv: Annotated[
        tuple[Annotated[str, Field(max_length=MAX_ARG)], ...],
        Field(min_length=1, max_length=MAX_ARGS),
    ]


class UsageQuery(BaseModel):
    """A verified user asks for a sample of the session's CPU and memory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: UserId


class PreemptNotice(BaseModel):
    """Notice to a lower-priority session that it is preempted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by_session: Annotated[str, Field(min_length=1, max_length=MAX_SESSION_ID)]
    priority: int = Field(ge=0, le=9)
    reason: Reason = "preempted by a higher-priority request"


class RevokeNotice(BaseModel):
    """The session's user lost the grant of its persona."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by: Annotated[str, Field(min_length=1, max_length=MAX_USER)] = "an administrator"


class GoneNotice(BaseModel):
    """The engine reported that the session's container died or was removed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    why: Reason
