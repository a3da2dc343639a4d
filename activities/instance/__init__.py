"""Instance personas' side effects, and what a worker registers for them.

Wire into a worker with ``workflows=[..., *instance_workflows()]`` and
``activities=[..., *instance_activities(store)]``. The workflow is imported inside the function
because the workflow module imports this package's contracts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from activities.instance.providers import InstanceProvider
    from activities.store import Store


def instance_workflows() -> list[type]:
    """The instance workflows (imported lazily: workflows import this package's contracts)."""
    from workflows.negotiation import InstanceNegotiation

    return [InstanceNegotiation]


def instance_activities(
    store: Store,
    providers: dict[str, InstanceProvider] | None = None,
    **options: Any,
) -> list[Callable[..., Any]]:
    """The instance activities bound to ``store`` and ``providers`` (local Docker by default).

    ``options`` go to :class:`activities.instance.activities.InstanceActivities`
    (``catalog``, ``dataset``).
    """
    from activities.instance.activities import InstanceActivities
    from activities.instance.providers import LocalDockerProvider

    if providers is None:
        providers = {"docker": LocalDockerProvider()}
    acts = InstanceActivities(store, providers, **options)
    return [
        acts.analyze,
        acts.save_persona,
        acts.solve,
        acts.provision,
        acts.deprovision,
        acts.observe,
        acts.evolve,
    ]
