"""Names and payloads of the app activities, shared by the workflow and the worker."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from activities.app.egress import PACKAGES as EGRESS_PACKAGES
from activities.app.resources import Reservation
from activities.app.sandbox import ExecResult, SandboxSpec, Usage
from personas.app.models import (
    MAX_APPLICATIONS,
    MAX_EGRESS_RULES,
    AppConfiguration,
    AppPersona,
    SessionId,
    SessionRequest,
    UserId,
)
from personas.app.policy import Amount
from personas.app.views import MAX_ARG, MAX_ARGS, MAX_REASON

VALIDATE = "app_validate"
RESERVE = "app_reserve"
PLAN_PREEMPTION = "app_plan_preemption"
RELEASE = "app_release"
IMAGE = "app_image"
CREATE = "app_create"
CONFIGURE = "app_configure"
START = "app_start"
HEALTH = "app_health"
REMOVE = "app_remove"
END = "app_end"
EXEC = "app_exec"
USAGE = "app_usage"
RECONCILE = "app_reconcile"
EGRESS_START = "app_egress_start"
EGRESS_STOP = "app_egress_stop"
RECORD_STATE = "app_record_state"
PLACE = "app_place"
HOSTS = "app_hosts"

SANDBOX_GONE = "SandboxGone"
"""Error type of an activity that found the session's container gone or stopped."""

MAX_REPORTED = 1000
"""Most session ids and object names a reconciler report lists."""

Id = Annotated[str, Field(min_length=1, max_length=255)]
Short = Annotated[str, Field(max_length=MAX_REASON)]

STEPS = ("validate", "place", "reserve", "image", "create", "configure", "start", "health")
"""The saga's steps for every session; a session allowed egress adds ``egress`` after image."""


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


class Validated(_Msg):
    """A request that passed every check, with the persona version it will run."""

    persona: AppPersona
    version: int
    entity_id: Id
    amount: Amount
    configuration: AppConfiguration
    usage_interval_s: int = 60
    usage_history: int = 60


class PlaceRequest(_Msg):
    """Choose the host of a session of ``amount``."""

    session_id: SessionId
    amount: Amount
    priority: int = Field(default=5, ge=0, le=9)
    preempt: bool = False


class ReserveRequest(_Msg):
    """Reserve (or queue) a session's resources."""

    session_id: SessionId
    host_id: Id
    persona_id: Id
    user_id: UserId
    priority: int
    amount: Amount
    now_ms: int


class ReleaseRequest(_Msg):
    """Free a session's reservation."""

    session_id: SessionId
    host_id: Id


class ImageRequest(_Msg):
    """Build or find the image of a set of applications."""

    session_id: SessionId
    applications: Annotated[tuple[str, ...], Field(max_length=MAX_APPLICATIONS + 8)]


class EgressRequest(_Msg):
    """Start (serve) a session's egress proxy with its allowlist."""

    session_id: SessionId
    allow: Annotated[tuple[str, ...], Field(max_length=MAX_EGRESS_RULES)]
    bandwidth_mbps: int = Field(default=0, ge=0, le=100_000)


class ConfigureRequest(_Msg):
    """Write a session's configuration files."""

    session_id: SessionId
    configuration: AppConfiguration


class SessionRef(_Msg):
    """A session, for the steps that need only its id."""

    session_id: SessionId


class EndRequest(_Msg):
    """Record how a session ended."""

    session_id: SessionId
    state: Annotated[str, Field(max_length=32)]
    reason: Annotated[str, Field(max_length=2000)]


class StateRequest(_Msg):
    """Record the state a session's workflow is in (queued, running, releasing)."""

    session_id: SessionId
    state: Annotated[str, Field(max_length=32)]


class ExecRequest(_Msg):
    """Run a command in a session, for a user whose grant is checked again at run time."""

    session_id: SessionId
    argv: Annotated[
        tuple[Annotated[str, Field(max_length=MAX_ARG)], ...], Field(max_length=MAX_ARGS)
    ]
    persona_id: Annotated[str, Field(max_length=255)] = ""
    user_id: Annotated[str, Field(max_length=255)] = ""


class RunResult(_Msg):
    """A command's result and the usage sampled right after it."""

    result: ExecResult
    usage: Usage


class ReconcileReport(_Msg):
    """What the reconciler found orphaned and removed."""

    checked: int
    host_id: str = Field(default="", max_length=64)
    orphaned: Annotated[list[str], Field(max_length=MAX_REPORTED)]
    removed: Annotated[list[str], Field(max_length=MAX_REPORTED)]
    unreachable: Annotated[list[str], Field(max_length=MAX_REPORTED)] = []


__all__ = [
    "EGRESS_PACKAGES",
    "Amount",
    "ExecResult",
    "Reservation",
    "SandboxSpec",
    "SessionRequest",
    "Usage",
]
