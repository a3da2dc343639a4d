"""A class whose activity methods a worker registers: :class:`ActivitySet`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACTIVITY_DEFINITION = "__temporal_activity_definition"
"""The attribute ``temporalio.activity.defn`` sets on the function it decorates."""


class ActivitySet:
    """A base for classes of activities: :meth:`all` lists them, bound, for a worker."""

    def all(self) -> list[Callable[..., Any]]:
        """Every activity method (decorated with ``activity.defn``), in definition order."""
        names: dict[str, None] = {}
        for cls in reversed(type(self).__mro__):
            for name, member in vars(cls).items():
                if hasattr(member, ACTIVITY_DEFINITION):
                    names[name] = None
        return [getattr(self, name) for name in names]
