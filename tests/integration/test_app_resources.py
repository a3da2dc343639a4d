"""The resource manager and the app repository on SQLite and PostgreSQL: atomic
reservations under concurrent threads, queue order, preemption marks, versions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import activities.app.tables as app_tables
from activities.app.repository import AppRepository
from activities.app.resources import Reservation, ResourceManager
from activities.store import Store, StoreError, UnknownPersona
from activities.store.tables import Base
from personas.app.models import AppPersona
from personas.app.policy import Amount

T = TypeVar("T")
THREADS = 16
HOST = "h1"
ONE = Amount(cpu_millis=1000, memory_mb=100, storage_mb=10)


def _concurrently(fn: Callable[[int], T], n: int = THREADS) -> list[T]:
    barrier = threading.Barrier(n)
    out: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [o for o in out if o is not None]


@pytest.fixture
def rm(store: Store) -> Iterator[ResourceManager]:
    """A resource manager with host h1 of 4 CPUs, 1000 MB, 100 MB storage."""
    manager = ResourceManager(store.url)
    manager.set_capacity(HOST, Amount(cpu_millis=4000, memory_mb=1000, storage_mb=100))
    yield manager
    manager.dispose()


def _reservation(
    rm: ResourceManager,
    sid: str,
    priority: int = 5,
    at: int = 0,
    amount: Amount = ONE,
    deployment: str | None = None,
) -> Reservation:
    """Reserve (or queue) ``amount`` on ``HOST`` for user ``u``'s session ``sid``."""
    return rm.reserve(
        session_id=sid,
        host_id=HOST,
        persona_id="p",
        user_id="u",
        priority=priority,
        amount=amount,
        now_ms=at,
        deployment=deployment,
    )


def _reserve(rm: ResourceManager, sid: str, priority: int = 5, at: int = 0) -> str:
    return _reservation(rm, sid, priority, at).status


def test_app_tables_match_the_migration(store: Store) -> None:
    assert "app_hosts" in Base.metadata.tables
    assert app_tables.AppHost.metadata is Base.metadata
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    ours = [d for d in diff if "app_" in repr(d)]
    assert ours == []


def test_concurrent_reservations_never_over_commit(rm: ResourceManager) -> None:
    statuses = _concurrently(lambda i: _reserve(rm, f"s{i}", at=i))
    assert statuses.count("reserved") == 4
    assert statuses.count("queued") == THREADS - 4
    usage = rm.usage(HOST)
    assert usage.used == Amount(cpu_millis=4000, memory_mb=400, storage_mb=40)
    assert usage.active == 4
    assert usage.queued == THREADS - 4


def test_concurrent_release_and_retry_are_idempotent(rm: ResourceManager) -> None:
    for i in range(4):
        assert _reserve(rm, f"s{i}") == "reserved"
    assert _reserve(rm, "s0") == "reserved"  # a retry of the same session
    _concurrently(lambda i: rm.release(f"s{i % 4}", HOST))
    assert rm.usage(HOST).used == Amount()
    assert _reserve(rm, "s0") == "released"


def test_queue_is_ordered_by_priority_then_age(rm: ResourceManager) -> None:
    for i in range(4):
        assert _reserve(rm, f"run{i}") == "reserved"
    assert _reserve(rm, "old-low", priority=2, at=1) == "queued"
    assert _reserve(rm, "new-high", priority=8, at=5) == "queued"
    assert _reserve(rm, "old-high", priority=8, at=2) == "queued"
    waiting = rm.release("run0", HOST)
    assert waiting == ["old-high", "new-high", "old-low"]
    assert _reserve(rm, "new-high", priority=8, at=5) == "queued"  # not the head
    assert _reserve(rm, "old-low", priority=2, at=1) == "queued"
    assert _reserve(rm, "old-high", priority=8, at=2) == "reserved"


def test_too_big_is_refused_and_not_queued(rm: ResourceManager) -> None:
    got = _reservation(
        rm, "big", priority=9, amount=Amount(cpu_millis=1, memory_mb=5000, storage_mb=1)
    )
    assert got.status == "too_big"
    assert "memory_mb 5000 > 1000" in got.detail
    assert rm.usage(HOST).queued == 0


def test_preemption_marks_lowest_priority_once(rm: ResourceManager) -> None:
    for i, prio in enumerate([1, 3, 3, 6]):
        assert _reserve(rm, f"r{i}", priority=prio, at=i) == "reserved"
    assert _reserve(rm, "vip", priority=7, at=10) == "queued"
    big = Amount(cpu_millis=2000, memory_mb=100, storage_mb=10)
    assert rm.plan_preemption("vip", HOST, 7, big) == ["r0", "r2"]
    assert rm.plan_preemption("vip", HOST, 7, big) == []  # already being preempted
    assert rm.plan_preemption("vip", HOST, 2, Amount(cpu_millis=9000)) == []


def test_repository_keeps_versions(store: Store) -> None:
    store.upsert_entity("acme", "Acme")
    repo = AppRepository(store)
    p = AppPersona(persona_id="analyst", persona_name="Data Analyst")
    assert repo.save(p, "acme", "admin").version == 1
    p2 = p.model_copy(update={"required_applications": ("jq",)})
    assert repo.save(p2, "acme", "admin").version == 2
    assert repo.versions("analyst") == [1, 2]
    assert repo.get("analyst").persona.required_applications == ("jq",)
    assert repo.get("analyst", 1).persona.required_applications == ()
    with pytest.raises(UnknownPersona):
        repo.get("nobody")
    store.create_persona(
        kind="ai", persona_id="ai1", entity_id="acme", name="Ada", body={}, created_by="x"
    )
    with pytest.raises(UnknownPersona):
        repo.get("ai1")
    with pytest.raises(StoreError, match="is a ai persona"):
        repo.save(AppPersona(persona_id="ai1", persona_name="X"), "acme", "admin")
    repo.grant("analyst", "alice")
    repo.grant("analyst", "alice")
    assert repo.is_granted("analyst", "alice")
    assert not repo.is_granted("analyst", "bob")
    repo.revoke("analyst", "alice")
    assert not repo.is_granted("analyst", "alice")


def test_fifty_concurrent_reservations_against_room_for_ten(store: Store) -> None:
    """50 concurrent attempts on a host that admits exactly 10: exactly 10 are reserved."""
    manager = ResourceManager(store.url)
    try:
        manager.set_capacity("h10", Amount(cpu_millis=10_000, memory_mb=1000, storage_mb=100))
        statuses = _concurrently(
            lambda i: (
                manager.reserve(
                    session_id=f"c{i}",
                    host_id="h10",
                    persona_id="p",
                    user_id="u",
                    priority=5,
                    amount=ONE,
                    now_ms=i,
                ).status
            ),
            n=50,
        )
        assert statuses.count("reserved") == 10
        assert statuses.count("queued") == 40
        usage = manager.usage("h10")
        assert usage.used == Amount(cpu_millis=10_000, memory_mb=1000, storage_mb=100)
        assert (usage.active, usage.queued) == (10, 40)
    finally:
        manager.dispose()


def test_live_sessions_of_one_deployment_on_a_shared_store(rm: ResourceManager) -> None:
    """Two deployments sharing one store: each sees its own rows (and rows naming none)."""
    for sid, deployment in (("a1", "dep-a"), ("b1", "dep-b"), ("old", None)):
        _reservation(rm, sid, deployment=deployment)
    big = Amount(cpu_millis=4000, memory_mb=1, storage_mb=1)
    queued = _reservation(rm, "b2", at=1, amount=big, deployment="dep-b")
    assert queued.status == "queued"
    assert rm.live_sessions("dep-a") == {"a1", "old"}
    assert rm.live_sessions("dep-b") == {"b1", "b2", "old"}
    assert rm.live_sessions() == {"a1", "b1", "b2", "old"}
