"""Which Temporal task-queue priority a piece of a life's work runs at.

Temporal orders a backlogged task queue by ``priority_key`` (1 first; the server's default
is 3, and it knows 5 levels). A persona's urgent work (effective priority over
:data:`personas.items.HIGH_PRIORITY_BP`, see :func:`personas.cadence.is_urgent`) is given a
key ahead of ordinary work, so that when thousands of lives share one queue an urgent item's
tasks do not wait behind the ordinary backlog. A pure function, decided from the item's
effective priority in basis points.
"""

from __future__ import annotations

from personas.cadence import is_urgent

URGENT_TASK_PRIORITY = 1
"""The priority key of an urgent item's tasks: ahead of everything else."""
ORDINARY_TASK_PRIORITY = 3
"""The priority key of ordinary items' tasks: the server's default level."""


def task_priority_key(priority_bp: int) -> int:
    """The task-queue priority key for work on an item of effective priority ``priority_bp``
    (basis points): :data:`URGENT_TASK_PRIORITY` for urgent items, otherwise
    :data:`ORDINARY_TASK_PRIORITY`."""
    return URGENT_TASK_PRIORITY if is_urgent(priority_bp) else ORDINARY_TASK_PRIORITY
