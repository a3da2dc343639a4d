"""Names and payloads of the app activities, shared by the workflow and the worker."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from activities.app.egress import PACKAGES as EGRESS_PACKAGES
from activities.app.resources import Reservation
from activities.app.sandbox import ExecResult, SandboxSpec, Usage
from personas.app.models import AppConfiguration, AppPersona, SessionRequest
from personas.app.policy import Amount

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

STEPS = ("validate", "reserve", "image", "create", "configure", "start", "health")
"""The saga's steps for every session; a session allowed egress adds ``egress`` after image."""


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


class Validated(_Msg):
    """A request that passed every check, with the persona version it will run."""

    persona: AppPersona
    version: int
    entity_id: str
    amount: Amount
    configuration: AppConfiguration
    host_id: str
    usage_interval_s: int = 60
    usage_history: int = 60


class ReserveRequest(_Msg):
    """Reserve (or queue) a session's resources."""

    session_id: str
    host_id: str
    persona_id: str
    user_id: str
    priority: int
    amount: Amount
    now_ms: int


class ReleaseRequest(_Msg):
    """Free a session's reservation."""

    session_id: str
    host_id: str


class ImageRequest(_Msg):
    """Build or find the image of a set of applications."""

    session_id: str
    applications: tuple[str, ...]


class EgressRequest(_Msg):
    """Start (serve) a session's egress proxy with its allowlist."""

    session_id: str
    allow: tuple[str, ...]
    bandwidth_mbps: int = 0


class ConfigureRequest(_Msg):
    """Write a session's configuration files."""

    session_id: str
    configuration: AppConfiguration


class SessionRef(_Msg):
    """A session, for the steps that need only its id."""

    session_id: str


class EndRequest(_Msg):
    """Record how a session ended."""

    session_id: str
    state: str
    reason: str


class ExecRequest(_Msg):
    """Run a command in a session."""

    session_id: str
    argv: tuple[str, ...]


class RunResult(_Msg):
    """A command's result and the usage sampled right after it."""

    result: ExecResult
    usage: Usage


class ReconcileReport(_Msg):
    """What the reconciler found orphaned and removed."""

    checked: int
    orphaned: list[str]
    removed: list[str]


__all__ = [
    "EGRESS_PACKAGES",
    "Amount",
    "ExecResult",
    "Reservation",
    "SandboxSpec",
    "SessionRequest",
    "Usage",
]
