"""The resource manager: host capacity and reservations in the store, reserved atomically.

Every method is one short transaction that first locks the host row (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), and usage is
raised by a conditional UPDATE that matches only while the capacity holds, so concurrent
requests can never over-commit. Every method is idempotent under retry by session id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.orm import Session

from activities.app.tables import AppHost, AppQueueEntry, AppReservation
from activities.store.db import engine_for, insert_ignore, rowcount, tx
from personas.app.placement import HostLoad
from personas.app.policy import Amount, Holder, Waiter, choose_victims, is_head, queue_key

LIVE = ("active", "preempting")


class Reservation(BaseModel):
    """The outcome of a reservation attempt."""

    model_config = ConfigDict(frozen=True)

    status: Literal["reserved", "queued", "too_big", "released"]
    detail: str = ""
    position: int = 0


class HostUsage(BaseModel):
    """A host's capacity and how much of it is reserved."""

    model_config = ConfigDict(frozen=True)

    host_id: str
    capacity: Amount
    used: Amount
    active: int
    queued: int


def _capacity(h: AppHost) -> Amount:
    return Amount(cpu_millis=h.cpu_millis, memory_mb=h.memory_mb, storage_mb=h.storage_mb)


def _used(h: AppHost) -> Amount:
    return Amount(
        cpu_millis=h.used_cpu_millis, memory_mb=h.used_memory_mb, storage_mb=h.used_storage_mb
    )


def _amount(r: AppReservation) -> Amount:
    return Amount(cpu_millis=r.cpu_millis, memory_mb=r.memory_mb, storage_mb=r.storage_mb)


class ResourceManager:
    """Capacity and reservations of hosts, on the store's database."""

    def __init__(self, database: Engine | str) -> None:
        """Use ``database``: the process's engine from ``make_engine`` (its creator disposes
        it), or a URL to build one of its own; the schema comes from ``Store.migrate``."""
        self._owns_engine = isinstance(database, str)
        self.engine: Engine = engine_for(database)

    def dispose(self) -> None:
        """Close the pooled connections of an engine built from a URL (an injected engine is
        left to its creator)."""
        if self._owns_engine:
            self.engine.dispose()

    @staticmethod
    def _host(s: Session, host_id: str) -> AppHost:
        host = s.scalars(
            select(AppHost).where(AppHost.host_id == host_id).with_for_update()
        ).one_or_none()
        if host is None:
            raise LookupError(f"unknown host {host_id}")
        return host

    def set_capacity(self, host_id: str, capacity: Amount) -> None:
        """Create the host or change its capacity (reservations are kept)."""
        with tx(self.engine) as s:
            values = {
                "host_id": host_id,
                **capacity.model_dump(),
                "used_cpu_millis": 0,
                "used_memory_mb": 0,
                "used_storage_mb": 0,
            }
            if not insert_ignore(s, AppHost, values):
                s.execute(
                    update(AppHost)
                    .where(AppHost.host_id == host_id)
                    .values(**capacity.model_dump())
                )

    def usage(self, host_id: str) -> HostUsage:
        """Capacity, reserved amounts and counts of the host."""
        with tx(self.engine) as s:
            host = self._host(s, host_id)
            active = s.scalars(
                select(AppReservation.session_id).where(
                    AppReservation.host_id == host_id, AppReservation.state.in_(LIVE)
                )
            ).all()
            queued = s.scalars(
                select(AppQueueEntry.session_id).where(AppQueueEntry.host_id == host_id)
            ).all()
            return HostUsage(
                host_id=host_id,
                capacity=_capacity(host),
                used=_used(host),
                active=len(active),
                queued=len(queued),
            )

    def hosts(self, below_priority: int = 0) -> list[HostLoad]:
        """Every registered host with its capacity, reserved amounts, queue length and what
        its active sessions of priority below ``below_priority`` hold (preemptible)."""
        with tx(self.engine) as s:
            queued: dict[str, int] = {}
            for host_id in s.scalars(select(AppQueueEntry.host_id)).all():
                queued[host_id] = queued.get(host_id, 0) + 1
            lower: dict[str, Amount] = {}
            for r in s.scalars(
                select(AppReservation).where(
                    AppReservation.state == "active", AppReservation.priority < below_priority
                )
            ).all():
                lower[r.host_id] = lower.get(r.host_id, Amount()) + _amount(r)
            return [
                HostLoad(
                    host_id=h.host_id,
                    capacity=_capacity(h),
                    used=_used(h),
                    queued=queued.get(h.host_id, 0),
                    preemptible=lower.get(h.host_id, Amount()),
                )
                for h in s.scalars(select(AppHost).order_by(AppHost.host_id)).all()
            ]

    def live_sessions(self, deployment: str | None = None, host_id: str | None = None) -> set[str]:
        """Sessions holding a reservation or waiting in a queue, on any host (only those of
        ``deployment``, and rows that name none, when given; only on ``host_id`` when
        given)."""
        held_q = select(AppReservation.session_id).where(AppReservation.state.in_(LIVE))
        wait_q = select(AppQueueEntry.session_id)
        if host_id is not None:
            held_q = held_q.where(AppReservation.host_id == host_id)
            wait_q = wait_q.where(AppQueueEntry.host_id == host_id)
        if deployment is not None:
            held_q = held_q.where(
                or_(AppReservation.deployment == deployment, AppReservation.deployment.is_(None))
            )
            wait_q = wait_q.where(
                or_(AppQueueEntry.deployment == deployment, AppQueueEntry.deployment.is_(None))
            )
        with tx(self.engine) as s:
            return set(s.scalars(held_q).all()) | set(s.scalars(wait_q).all())

    def reserve(
        self,
        *,
        session_id: str,
        host_id: str,
        persona_id: str,
        user_id: str,
        priority: int,
        amount: Amount,
        now_ms: int,
        deployment: str | None = None,
    ) -> Reservation:
        """Reserve ``amount`` for the session if it heads the queue and fits; else queue it
        (both rows name ``deployment``, the deployment whose reconciler may free them)."""
        with tx(self.engine) as s:
            host = self._host(s, host_id)
            existing = s.get(AppReservation, session_id)
            if existing is not None:
                status = "reserved" if existing.state in LIVE else "released"
                return Reservation(status=status)
            over = amount.exceeded(_capacity(host))
            if over:
                s.execute(delete(AppQueueEntry).where(AppQueueEntry.session_id == session_id))
                return Reservation(
                    status="too_big", detail=f"beyond host {host_id}: {', '.join(over)}"
                )
            insert_ignore(
                s,
                AppQueueEntry,
                {
                    "session_id": session_id,
                    "host_id": host_id,
                    "priority": priority,
                    "enqueued_ms": now_ms,
                    "deployment": deployment,
                },
            )
            waiters = self._waiters(s, host_id)
            if not is_head(session_id, waiters) or not amount.fits_in(
                _capacity(host) - _used(host)
            ):
                order = [w.session_id for w in sorted(waiters, key=queue_key)]
                return Reservation(status="queued", position=order.index(session_id))
            raised = s.execute(
                update(AppHost)
                .where(
                    AppHost.host_id == host_id,
                    AppHost.used_cpu_millis + amount.cpu_millis <= AppHost.cpu_millis,
                    AppHost.used_memory_mb + amount.memory_mb <= AppHost.memory_mb,
                    AppHost.used_storage_mb + amount.storage_mb <= AppHost.storage_mb,
                )
                .values(
                    used_cpu_millis=AppHost.used_cpu_millis + amount.cpu_millis,
                    used_memory_mb=AppHost.used_memory_mb + amount.memory_mb,
                    used_storage_mb=AppHost.used_storage_mb + amount.storage_mb,
                )
                .execution_options(synchronize_session=False)
            )
            if rowcount(raised) != 1:
                return Reservation(status="queued")
            s.add(
                AppReservation(
                    session_id=session_id,
                    host_id=host_id,
                    persona_id=persona_id,
                    user_id=user_id,
                    priority=priority,
                    state="active",
                    reserved_ms=now_ms,
                    deployment=deployment,
                    **amount.model_dump(),
                )
            )
            s.execute(delete(AppQueueEntry).where(AppQueueEntry.session_id == session_id))
            return Reservation(status="reserved")

    @staticmethod
    def _waiters(s: Session, host_id: str) -> list[Waiter]:
        rows = s.scalars(select(AppQueueEntry).where(AppQueueEntry.host_id == host_id)).all()
        return [
            Waiter(session_id=r.session_id, priority=r.priority, enqueued_ms=r.enqueued_ms)
            for r in rows
        ]

    def release(self, session_id: str, host_id: str) -> list[str]:
        """Free the session's reservation and leave the queue (idempotent).

        Returns the sessions still waiting on the host, in queue order, to be woken. The
        reservation is freed on the host it was made on, whichever ``host_id`` names (a
        reconciler of another host may free it).
        """
        with tx(self.engine) as s:
            placed = s.scalar(
                select(AppReservation.host_id).where(AppReservation.session_id == session_id)
            )
            host_id = placed or host_id
            if placed is None and s.get(AppHost, host_id) is None:  # never placed anywhere
                s.execute(delete(AppQueueEntry).where(AppQueueEntry.session_id == session_id))
                return []
            self._host(s, host_id)  # the host row first, as every method locks it
            r = s.get(AppReservation, session_id, with_for_update=True)
            if r is not None and r.state in LIVE:
                a = _amount(r)
                s.execute(
                    update(AppHost)
                    .where(AppHost.host_id == host_id)
                    .values(
                        used_cpu_millis=AppHost.used_cpu_millis - a.cpu_millis,
                        used_memory_mb=AppHost.used_memory_mb - a.memory_mb,
                        used_storage_mb=AppHost.used_storage_mb - a.storage_mb,
                    )
                    .execution_options(synchronize_session=False)
                )
                r.state = "released"
                r.released_at = datetime.now(UTC)
            s.execute(delete(AppQueueEntry).where(AppQueueEntry.session_id == session_id))
            return [w.session_id for w in sorted(self._waiters(s, host_id), key=queue_key)]

    def head(self, host_id: str) -> str | None:
        """The session at the head of the host's queue, or None when nobody waits."""
        with tx(self.engine) as s:
            waiters = self._waiters(s, host_id)
            return min(waiters, key=queue_key).session_id if waiters else None

    def leave_queue(self, session_id: str) -> bool:
        """Remove a session's queue entry (a dead head skipped); True if it was queued."""
        with tx(self.engine) as s:
            done = s.execute(delete(AppQueueEntry).where(AppQueueEntry.session_id == session_id))
            return rowcount(done) > 0

    def plan_preemption(
        self, session_id: str, host_id: str, priority: int, amount: Amount
    ) -> list[str]:
        """Mark the lower-priority sessions to preempt so the head of the queue fits.

        Returns [] unless ``session_id`` heads the queue and preemption can make it fit;
        sessions already being preempted count as freed, so none is chosen twice.
        """
        with tx(self.engine) as s:
            host = self._host(s, host_id)
            if not is_head(session_id, self._waiters(s, host_id)):
                return []
            rows = s.scalars(
                select(AppReservation).where(
                    AppReservation.host_id == host_id, AppReservation.state.in_(LIVE)
                )
            ).all()
            free = _capacity(host) - _used(host)
            for r in rows:
                if r.state == "preempting":
                    free = free + _amount(r)
            if amount.fits_in(free):
                return []
            holders = [
                Holder(
                    session_id=r.session_id,
                    priority=r.priority,
                    reserved_ms=r.reserved_ms,
                    amount=_amount(r),
                )
                for r in rows
                if r.state == "active"
            ]
            victims = choose_victims(amount, free, priority, holders)
            for r in rows:
                if r.session_id in victims:
                    r.state = "preempting"
            return victims
