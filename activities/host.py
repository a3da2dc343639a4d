"""Host identity and the claim activity: Temporal's worker-specific task queue pattern.

Every ``host`` worker has a host id (``PERSONAS_HOST_ID`` or ``personas-worker --host-id``)
and polls two queues: ``<base>-host``, the placement queue any host worker may take a task
from, and ``<base>-host-<id>``, its own pinned queue (``activities.queues.host_queue``). A
workflow that needs a machine first runs a placement activity on the shared queue (``claim``
below: the host of whichever worker takes it; or ``app.place``, which chooses by capacity),
learns the host's pinned queue from its result and schedules every later host-bound step
there, with a schedule-to-start timeout of ``loss_timeout_s``: a step that no worker of that
host takes within it means the host is gone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from temporalio import activity

CLAIM = "host.claim"
"""Placement activity: the host of the worker that takes it."""

HOST_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
DEFAULT_LOSS_TIMEOUT_S = 30.0


def check_host_id(value: str) -> str:
    """``value`` if it is a host id (1-40 of ``[a-z0-9_.-]``, starting alphanumeric)."""
    if not HOST_ID_PATTERN.match(value):
        raise ValueError(f"host id {value[:40]!r} must be 1-40 characters of [a-z0-9_.-]")
    return value


HostId = Annotated[str, AfterValidator(check_host_id)]


class HostInfo(BaseModel):
    """Which host a worker's host-bound objects live on, and how long a step on its pinned
    queue may wait for it before the host counts as lost."""

    model_config = ConfigDict(frozen=True)

    host_id: HostId = "local"
    loss_timeout_s: float = Field(default=DEFAULT_LOSS_TIMEOUT_S, gt=0, le=3600)


class HostClaim(BaseModel):
    """A placement's answer: the host, its pinned task queue and its loss timeout."""

    model_config = ConfigDict(frozen=True)

    host_id: HostId
    task_queue: str = Field(min_length=1, max_length=200)
    loss_timeout_s: float = Field(gt=0, le=3600)


def base_of(placement_queue: str) -> str:
    """The base task queue of a placement queue ``<base>-host``."""
    return placement_queue.removesuffix("-host")


def host_queue(base: str, host_id: str) -> str:
    """The pinned task queue of host ``host_id`` for the base task queue ``base``."""
    return f"{base}-host-{host_id}"


def claim_activity(info: HostInfo) -> Callable[..., Any]:
    """The ``host.claim`` activity of a host worker with ``info``, served on its placement
    queue: returns this host and its pinned queue (derived from the queue it was taken
    from)."""

    @activity.defn(name=CLAIM)
    async def claim() -> HostClaim:
        base = base_of(activity.info().task_queue)
        return HostClaim(
            host_id=info.host_id,
            task_queue=host_queue(base, info.host_id),
            loss_timeout_s=info.loss_timeout_s,
        )

    return claim
