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

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from personas.hosts import HOST_ID_PATTERN, HostClaim, HostId, check_host_id

__all__ = ["HOST_ID_PATTERN", "HostClaim", "HostId", "HostInfo", "check_host_id"]

CLAIM = "host.claim"
"""Placement activity: the host of the worker that takes it."""

DEFAULT_LOSS_TIMEOUT_S = 30.0


class HostInfo(BaseModel):
    """Which host a worker's host-bound objects live on, and how long a step on its pinned
    queue may wait for it before the host counts as lost."""

    model_config = ConfigDict(frozen=True)

    host_id: HostId = "local"
    loss_timeout_s: float = Field(default=DEFAULT_LOSS_TIMEOUT_S, gt=0, le=3600)


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
