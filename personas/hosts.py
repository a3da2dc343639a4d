"""Which host holds a machine-bound object: host ids and a placement's answer (pure data).

A workflow learns a :class:`HostClaim` from a placement activity (``activities.host``) and
schedules every later host-bound step on its pinned queue; a persona keeps the claim of its
warm agent sandbox in its live state, so the data lives here, below the activities.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

HOST_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def check_host_id(value: str) -> str:
    """``value`` if it is a host id (1-40 of ``[a-z0-9_.-]``, starting alphanumeric)."""
    if not HOST_ID_PATTERN.match(value):
        raise ValueError(f"host id {value[:40]!r} must be 1-40 characters of [a-z0-9_.-]")
    return value


HostId = Annotated[str, AfterValidator(check_host_id)]


class HostClaim(BaseModel):
    """A placement's answer: the host, its pinned task queue and its loss timeout."""

    model_config = ConfigDict(frozen=True)

    host_id: HostId
    task_queue: str = Field(min_length=1, max_length=200)
    loss_timeout_s: float = Field(gt=0, le=3600)
