"""Worker roles and their task queues, declared once.

Every queue name derives from the settings' base task queue (``PERSONAS_TASK_QUEUE``):

- ``life`` polls the base queue itself: every workflow, and every activity not listed below
  (the store, the ledger, model calls, signalling personas);
- ``solver`` polls ``<base>-solver``: CPU-bound CP-SAT and learning activities, run with their
  own concurrency limit;
- ``host`` polls ``<base>-host``, the placement queue (:data:`PLACEMENT_ACTIVITIES`: which
  host takes a new object), and ``<base>-host-<host id>``, its own pinned queue
  (:func:`host_queue`): everything bound to a machine (Docker sandboxes, instance containers,
  nginx testbeds, egress proxies), :data:`HOST_ACTIVITIES`, runs there and only there.

Workflows name the queue of each activity they schedule with :func:`queue_for`, from their own
(life) queue, and the pinned queue of the host they were placed on for a host-bound one
(:func:`queue_for` refuses to route those); workers poll :func:`queue_name` for each role they
serve, and a host worker its pinned queue too.
"""

from __future__ import annotations

from typing import Literal

from activities import host
from activities.agent import contracts as agent
from activities.app import contracts as app
from activities.fleet import contracts as fleet
from activities.host import host_queue
from activities.instance import contracts as instance

__all__ = ["HOST_ACTIVITIES", "PLACEMENT_ACTIVITIES", "ROLES", "Role", "host_queue"]

Role = Literal["life", "solver", "host"]
ROLES: tuple[Role, ...] = ("life", "solver", "host")

SOLVER_ACTIVITIES: frozenset[str] = frozenset(
    {instance.ANALYZE, instance.SOLVE, instance.EVOLVE, fleet.PROPOSE, fleet.RELEARN}
)
"""CPU-bound: the CP-SAT solver, the workload analyzer and the fleet's learning."""

HOST_ACTIVITIES: frozenset[str] = frozenset(
    {
        agent.AGENT_TOOL,
        agent.AGENT_RELEASE,
        app.IMAGE,
        app.CREATE,
        app.CONFIGURE,
        app.START,
        app.HEALTH,
        app.REMOVE,
        app.EXEC,
        app.USAGE,
        app.RECONCILE,
        app.EGRESS_START,
        app.EGRESS_STOP,
        instance.PROVISION,
        instance.DEPROVISION,
        instance.OBSERVE,
        fleet.OBSERVE,
        fleet.APPLY,
        fleet.DEPLOY_VARIANT,
        fleet.MEASURE_SPLIT,
        fleet.RETIRE_VARIANTS,
    }
)
"""Bound to a machine: agent sandboxes and their tools, Docker objects, nginx testbeds (and the
fleet they drive), egress. Each runs on the pinned queue of the host that holds its object."""

PLACEMENT_ACTIVITIES: frozenset[str] = frozenset({host.CLAIM, app.PLACE})
"""Taken by any host worker from ``<base>-host``: they choose the host of a new object."""

_SUFFIX: dict[Role, str] = {"life": "", "solver": "-solver", "host": "-host"}


def role_of(activity: str) -> Role:
    """The role whose workers run ``activity`` (by its registered name)."""
    if activity in SOLVER_ACTIVITIES:
        return "solver"
    if activity in HOST_ACTIVITIES or activity in PLACEMENT_ACTIVITIES:
        return "host"
    return "life"


def queue_name(base: str, role: Role) -> str:
    """The task queue ``role`` polls for the base task queue ``base``."""
    return base + _SUFFIX[role]


def is_pinned(activity: str) -> bool:
    """True when ``activity`` must run on the pinned queue of its object's host."""
    return activity in HOST_ACTIVITIES


class Unpinned(ValueError):
    """A host-bound activity was routed without a host."""


def queue_for(activity: str, workflow_queue: str) -> str:
    """The queue to schedule ``activity`` on, from a workflow running on ``workflow_queue``
    (workflows run on the life queue, which is the base queue itself). A host-bound activity
    has no such queue: it goes to ``host_queue(base, host_id)`` of its object's host."""
    if is_pinned(activity):
        raise Unpinned(f"{activity} is host-bound: schedule it on its host's pinned queue")
    return queue_name(workflow_queue, role_of(activity))
