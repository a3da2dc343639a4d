"""Pure resource policies: fitting, queue order by priority and age, choosing victims."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Amount(BaseModel):
    """CPU millicores, memory and storage in MB; the unit the resource manager counts in."""

    model_config = ConfigDict(frozen=True)

    cpu_millis: int = 0
    memory_mb: int = 0
    storage_mb: int = 0

    def __add__(self, other: Amount) -> Amount:
        return Amount(
            cpu_millis=self.cpu_millis + other.cpu_millis,
            memory_mb=self.memory_mb + other.memory_mb,
            storage_mb=self.storage_mb + other.storage_mb,
        )

    def __sub__(self, other: Amount) -> Amount:
        return Amount(
            cpu_millis=self.cpu_millis - other.cpu_millis,
            memory_mb=self.memory_mb - other.memory_mb,
            storage_mb=self.storage_mb - other.storage_mb,
        )

    def fits_in(self, room: Amount) -> bool:
        """True when every dimension is within ``room``."""
        return (
            self.cpu_millis <= room.cpu_millis
            and self.memory_mb <= room.memory_mb
            and self.storage_mb <= room.storage_mb
        )

    def exceeded(self, room: Amount) -> list[str]:
        """The dimensions in which this amount is larger than ``room``, as readable text."""
        out = []
        for field in ("cpu_millis", "memory_mb", "storage_mb"):
            need, have = getattr(self, field), getattr(room, field)
            if need > have:
                out.append(f"{field} {need} > {have}")
        return out


class Waiter(BaseModel):
    """A request waiting in the queue."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    priority: int
    enqueued_ms: int


def queue_key(w: Waiter) -> tuple[int, int, str]:
    """Order of the queue: higher priority first, then older first, then by id (total)."""
    return (-w.priority, w.enqueued_ms, w.session_id)


def is_head(session_id: str, waiters: list[Waiter]) -> bool:
    """True when ``session_id`` is first in queue order (an empty queue has no head)."""
    return bool(waiters) and min(waiters, key=queue_key).session_id == session_id


class Holder(BaseModel):
    """An active reservation that preemption may take back."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    priority: int
    reserved_ms: int
    amount: Amount


def choose_victims(need: Amount, free: Amount, priority: int, holders: list[Holder]) -> list[str]:
    """Sessions to preempt so that ``need`` fits, or [] when preemption cannot make it fit.

    Only holders of strictly lower priority are candidates; the lowest priority goes first,
    and among equals the youngest (least invested) goes first. No more are taken than needed.
    """
    candidates = sorted(
        (h for h in holders if h.priority < priority),
        key=lambda h: (h.priority, -h.reserved_ms, h.session_id),
    )
    room, chosen = free, []
    for h in candidates:
        if need.fits_in(room):
            break
        chosen.append(h.session_id)
        room = room + h.amount
    return chosen if need.fits_in(room) else []


def egress_allows(rules: tuple[str, ...], host: str, port: int) -> bool:
    """True when ``host:port`` matches one of the allowlist ``rules`` (see AccessControls).

    ``*.example.com`` matches sub-domains of example.com, not example.com itself; the host is
    compared as given (names are not resolved), case-insensitively.
    """
    host = host.lower().rstrip(".")
    for rule in rules:
        pattern, _, rule_port = rule.rpartition(":")
        if rule_port != "*" and rule_port != str(port):
            continue
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False
