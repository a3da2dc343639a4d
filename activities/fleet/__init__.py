"""Fleet personas' side effects, and what a worker registers for them.

Wire into a worker with ``workflows=[..., *fleet_workflows()]`` and
``activities=[..., *fleet_activities(store)]`` (a simulated fleet by default; pass
``driver=TestbedFleet(testbed)`` for the real nginx testbed, or
``driver=driver_from_settings(settings)`` for the one ``PERSONAS_FLEET_DRIVER`` chooses).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from activities.fleet.drivers import FleetDriver
    from activities.store import Store
    from personas.fleet.simulator import SimParams


def fleet_workflows() -> list[type]:
    """The fleet workflows (imported lazily: workflows import this package's contracts)."""
    from workflows.fleet_ab import FleetABTest, FleetVariant
    from workflows.fleet_adaptation import FleetAdaptation

    return [FleetAdaptation, FleetABTest, FleetVariant]


def fleet_activities(
    store: Store, driver: FleetDriver | None = None, params: SimParams | None = None
) -> list[Callable[..., Any]]:
    """The fleet activities bound to ``store`` and ``driver`` (a simulated fleet by default)."""
    from activities.fleet.activities import FleetActivities
    from activities.fleet.drivers import SimFleet

    acts = FleetActivities(store, driver or SimFleet(params), params)
    return [
        acts.observe,
        acts.apply,
        acts.save_persona,
        acts.deploy_variant,
        acts.measure_split,
        acts.retire_variants,
        acts.propose,
        acts.relearn,
    ]
