"""The shared database layer on SQLite and PostgreSQL: one injected engine serves every
store, migrations run through it, and only its creator disposes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.app.resources import ResourceManager
from activities.funding.audit_log import AuditLog
from activities.funding.db import Database
from activities.funding.tables import AuditRow, PerformanceRecord
from activities.store import Store
from activities.store.db import make_engine, scope_filter
from personas.app.policy import Amount


def test_one_injected_engine_serves_every_store(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        store = Store(engine)
        store.migrate()
        store.migrate()  # idempotent
        db, rm = Database(store.engine), ResourceManager(store.engine)
        assert store.engine is engine
        assert db.engine is engine
        assert rm.engine is engine
        store.upsert_entity("acme", "Acme")
        AuditLog(db).append("test", "tester", {}, entity_id="acme")
        rm.set_capacity("h1", Amount(cpu_millis=1000, memory_mb=10, storage_mb=1))
        pool = engine.pool
        store.dispose()
        db.dispose()
        rm.dispose()
        assert engine.pool is pool  # an injected engine is left to its creator
        assert store.permitted_resources("acme") == set()
        assert len(AuditLog(db).entries(entity_id="acme")) == 1
        assert rm.usage("h1").capacity.cpu_millis == 1000
    finally:
        engine.dispose()


def test_a_store_built_from_a_url_disposes_its_engine(store_url: str) -> None:
    store = Store(store_url)
    store.migrate()
    pool = store.engine.pool
    store.dispose()
    assert store.engine.pool is not pool


def test_scope_filter_bounds_persona_entity_and_period() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    conds = scope_filter(
        at=AuditRow.at,
        persona=AuditRow.persona_id,
        entity=AuditRow.entity_id,
        persona_id="p",
        entity_id="e",
        since=at,
        until=at + timedelta(days=1),
    )
    assert len(conds) == 4
    assert scope_filter(at=AuditRow.at, persona=AuditRow.persona_id) == []
    with pytest.raises(ValueError, match="entity column"):
        scope_filter(
            at=PerformanceRecord.recorded_at, persona=PerformanceRecord.persona_id, entity_id="e"
        )
