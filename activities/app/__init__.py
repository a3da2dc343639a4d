"""App personas' side effects, and what a worker registers for them.

Wire into a worker with ``workflows=[..., *app_workflows()]`` and
``activities=[..., *app_activities(store)]``. Workflows are imported inside the function
because the workflow modules import this package's contracts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from activities.app.settings import AppSettings
    from activities.store import Store


def app_workflows() -> list[type]:
    """The app session workflow and the reconciler the schedule runs."""
    from workflows.app_reconciler import AppReconciler
    from workflows.app_session import AppSession

    return [AppSession, AppReconciler]


def app_activities(
    store: Store, settings: AppSettings | None = None, **options: Any
) -> list[Callable[..., Any]]:
    """The app activities bound to ``store``; ``options`` go to ``AppActivities``
    (``sandboxes``, ``builder``, ``faults``). Nothing touches Docker until the first session:
    the host's capacity is registered then, so a worker starts without a Docker engine.
    """
    from activities.app.activities import AppActivities
    from activities.app.settings import get_app_settings

    return AppActivities(store, settings or get_app_settings(), **options).all()
