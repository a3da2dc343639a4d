"""Placing a session on a host: a pure choice over the hosts' capacity and load.

A session goes to a host where it fits now, the one left with the most headroom (the
smallest free fraction over CPU, memory and storage after it is placed), so sessions spread
across hosts. When it fits nowhere now, it goes to a host that could ever hold it, the one
with the shortest queue (then the most free room): there it queues by priority and age, and
preempts lower-priority sessions when it asks to; a session that may preempt prefers a host
where preempting lower-priority sessions would make it fit. Ties (hosts equally loaded, as when many
sessions are placed at once) go by rendezvous hashing of the session id and the host id, so
simultaneous sessions spread over the hosts and the choice stays deterministic.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from personas.app.policy import Amount


class HostLoad(BaseModel):
    """A host's capacity, what is reserved on it and how many sessions wait for it."""

    model_config = ConfigDict(frozen=True)

    host_id: str = Field(min_length=1, max_length=64)
    capacity: Amount
    used: Amount
    queued: int = Field(default=0, ge=0)
    preemptible: Amount = Amount()
    """What the host's active sessions of lower priority than the one being placed hold."""


def _fraction(part: int, whole: int) -> float:
    return part / whole if whole > 0 else 0.0


def headroom(amount: Amount, host: HostLoad) -> float:
    """The smallest free fraction of the host's capacity once ``amount`` is placed on it."""
    free = host.capacity - host.used - amount
    cap = host.capacity
    return min(
        _fraction(free.cpu_millis, cap.cpu_millis),
        _fraction(free.memory_mb, cap.memory_mb),
        _fraction(free.storage_mb, cap.storage_mb),
    )


def rendezvous(key: str, host_id: str) -> str:
    """The tie-break rank of ``host_id`` for ``key`` (highest random weight hashing)."""
    return hashlib.sha256(f"{key}\n{host_id}".encode()).hexdigest()


def choose_host(
    amount: Amount, hosts: list[HostLoad], key: str = "", preempt: bool = False
) -> str | None:
    """The host to place a session of ``amount`` on (``key``, its id, breaks ties; with
    ``preempt``, hosts where preemption makes it fit come first), or None when no host could
    ever hold it (its capacity is smaller than ``amount`` on every host)."""
    fit_now = [h for h in hosts if amount.fits_in(h.capacity - h.used)]
    if fit_now:
        return min(
            fit_now, key=lambda h: (-round(headroom(amount, h), 6), rendezvous(key, h.host_id))
        ).host_id
    could = [h for h in hosts if amount.fits_in(h.capacity)]
    if not could:
        return None

    def rank(h: HostLoad) -> tuple[bool, int, float, str]:
        frees = preempt and amount.fits_in(h.capacity - h.used + h.preemptible)
        return (not frees, h.queued, -round(headroom(amount, h), 6), rendezvous(key, h.host_id))

    return min(could, key=rank).host_id


def too_big_for(amount: Amount, hosts: list[HostLoad]) -> list[str]:
    """The dimensions in which ``amount`` exceeds even the largest host (for a refusal)."""
    if not hosts:
        return []
    largest = Amount(
        cpu_millis=max(h.capacity.cpu_millis for h in hosts),
        memory_mb=max(h.capacity.memory_mb for h in hosts),
        storage_mb=max(h.capacity.storage_mb for h in hosts),
    )
    return amount.exceeded(largest)
