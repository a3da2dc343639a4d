"""Integration tests of the domain store on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy import create_engine, inspect, text

from activities.store import (
    PersonaRecord,
    Store,
    StoreError,
    UnknownContent,
    UnknownEntity,
    UnknownPersona,
)
from activities.store.store import MIGRATIONS_DIR
from activities.store.tables import Base
from personas.parts import BlobRef, JsonPart, TextPart, content_parts

T = TypeVar("T")
THREADS = 8
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _concurrently(fn: Callable[[int], T], n: int = THREADS) -> list[T]:
    """Run fn(0..n-1) in n threads released together by a barrier."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def _count_rows(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def _persona(
    store: Store,
    persona_id: str = "p1",
    name: str = "Ada",
    *,
    kind: str = "ai",
    body: dict[str, Any] | None = None,
    now: datetime | None = T0,
) -> PersonaRecord:
    store.upsert_entity("e1", "Entity one")
    return store.create_persona(
        kind=kind,
        persona_id=persona_id,
        entity_id="e1",
        name=name,
        body={"model": "m1"} if body is None else body,
        created_by="alice",
        now=now,
    )


# schema


def test_migration_creates_exactly_the_model_tables(store_url: str) -> None:
    store = Store(store_url)
    store.migrate()
    store.migrate()  # idempotent
    store.dispose()
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            expected = set(Base.metadata.tables)
            assert set(insp.get_table_names()) == expected | {"alembic_version"}
            for name, table in Base.metadata.tables.items():
                assert {c["name"] for c in insp.get_columns(name)} == set(table.columns.keys())
                pk = insp.get_pk_constraint(name)["constrained_columns"]
                assert set(pk) == {c.name for c in table.primary_key.columns}
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == []
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            assert version == ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    finally:
        engine.dispose()


def test_url_property(store: Store, store_url: str) -> None:
    assert store.url == store_url


# entities


def test_entity_resources_are_added_idempotently(store: Store) -> None:
    store.upsert_entity("e1", "One", ["gpu", "web"])
    store.upsert_entity("e1", "One renamed", ["web", "mail"])
    store.upsert_entity("e1", "One renamed")
    assert store.permitted_resources("e1") == {"gpu", "web", "mail"}
    store.upsert_entity("e2", "Two")
    assert store.permitted_resources("e2") == set()


def test_unknown_entity(store: Store) -> None:
    with pytest.raises(UnknownEntity, match="nobody"):
        store.permitted_resources("nobody")
    with pytest.raises(UnknownEntity):
        store.create_persona(
            kind="ai", persona_id="p", entity_id="nobody", name="n", body={}, created_by="x"
        )
    assert store.list_personas() == []


# personas


def test_create_persona(store: Store) -> None:
    now = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    p = _persona(store, body={"model": "m1", "scope": ["web"]}, kind="fleet", now=now)
    assert p.version == 1
    assert (p.persona_id, p.kind, p.entity_id, p.name) == ("p1", "fleet", "e1", "Ada")
    assert p.body == {"model": "m1", "scope": ["web"]}
    assert (p.created_by, p.usage_count, p.life_status) == ("alice", 0, "created")
    assert p.created_at == T0
    assert p.created_at.utcoffset() == timedelta(0)
    assert store.get_persona("p1") == p


def test_create_persona_default_time_is_now(store: Store) -> None:
    before = datetime.now(UTC)
    p = _persona(store, now=None)
    after = datetime.now(UTC)
    assert before <= store.get_persona("p1").created_at <= after
    assert p.created_at.tzinfo is not None


def test_naive_datetime_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        _persona(store, now=datetime(2025, 1, 1))


def test_duplicate_persona_id_and_name(store: Store) -> None:
    _persona(store)
    with pytest.raises(StoreError, match="p1 already exists"):
        _persona(store, name="Other")
    with pytest.raises(StoreError):
        _persona(store, persona_id="p2")  # same entity, same name
    assert [p.persona_id for p in store.list_personas()] == ["p1"]
    assert store.get_persona("p1").name == "Ada"


def test_unknown_persona(store: Store) -> None:
    with pytest.raises(UnknownPersona, match="unknown persona ghost"):
        store.get_persona("ghost")
    with pytest.raises(UnknownPersona, match="unknown persona ghost"):
        store.update_persona("ghost", {}, "x")
    with pytest.raises(UnknownPersona):
        store.persona_versions("ghost")
    with pytest.raises(UnknownPersona):
        store.record_usage("ghost")
    with pytest.raises(UnknownPersona):
        store.set_life_status("ghost", "live")
    store.upsert_entity("e1", "E")
    with pytest.raises(UnknownPersona):
        store.find_persona_by_name("e1", "ghost")


def test_each_update_adds_a_version(store: Store) -> None:
    _persona(store)
    v2 = store.update_persona("p1", {"model": "m2"}, "bob", now=T0 + timedelta(hours=1))
    v3 = store.update_persona("p1", {"model": "m3"}, "carol", now=T0 + timedelta(hours=2))
    assert (v2.version, v2.body, v2.created_by) == (2, {"model": "m2"}, "bob")
    assert (v3.version, v3.body, v3.created_by) == (3, {"model": "m3"}, "carol")
    assert v3.created_at == T0 + timedelta(hours=2)
    assert store.get_persona("p1") == v3
    old = store.get_persona("p1", version=1)
    assert (old.version, old.body, old.created_by, old.created_at) == (
        1,
        {"model": "m1"},
        "alice",
        T0,
    )
    assert store.get_persona("p1", version=2).body == {"model": "m2"}
    versions = store.persona_versions("p1")
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.body["model"] for v in versions] == ["m1", "m2", "m3"]
    with pytest.raises(UnknownPersona, match="version 4"):
        store.get_persona("p1", version=4)


def test_usage_counts_per_version(store: Store) -> None:
    _persona(store)
    store.record_usage("p1")
    store.record_usage("p1")
    store.update_persona("p1", {"model": "m2"}, "bob")
    store.record_usage("p1")
    store.record_usage("p1", version=1)
    assert [v.usage_count for v in store.persona_versions("p1")] == [3, 1]
    assert store.get_persona("p1").usage_count == 1
    with pytest.raises(UnknownPersona, match="version 9"):
        store.record_usage("p1", version=9)


def test_life_status(store: Store) -> None:
    _persona(store)
    store.set_life_status("p1", "live")
    assert store.get_persona("p1").life_status == "live"
    store.update_persona("p1", {"model": "m2"}, "bob")
    assert store.get_persona("p1").life_status == "live"
    store.set_life_status("p1", "stopped")
    assert [v.life_status for v in store.persona_versions("p1")] == ["stopped", "stopped"]


def test_find_persona_by_name(store: Store) -> None:
    _persona(store)
    store.update_persona("p1", {"model": "m2"}, "bob")
    found = store.find_persona_by_name("e1", "Ada")
    assert (found.persona_id, found.version, found.body) == ("p1", 2, {"model": "m2"})
    store.upsert_entity("e2", "Two")
    with pytest.raises(UnknownPersona):
        store.find_persona_by_name("e2", "Ada")


def test_list_personas(store: Store) -> None:
    _persona(store, "p1", "Zed", kind="ai")
    _persona(store, "p2", "Bea", kind="app")
    _persona(store, "p3", "Cal", kind="ai")
    store.upsert_entity("e2", "Two")
    store.create_persona(
        kind="ai", persona_id="p4", entity_id="e2", name="Abe", body={}, created_by="x"
    )
    store.update_persona("p3", {"model": "new"}, "bob")
    everyone = store.list_personas()
    assert [p.name for p in everyone] == ["Abe", "Bea", "Cal", "Zed"]
    assert [p.version for p in everyone] == [1, 1, 2, 1]
    assert everyone[2].body == {"model": "new"}
    assert [p.persona_id for p in store.list_personas(kind="ai")] == ["p4", "p3", "p1"]
    assert [p.persona_id for p in store.list_personas(entity_id="e1")] == ["p2", "p3", "p1"]
    assert [p.persona_id for p in store.list_personas(kind="ai", entity_id="e2")] == ["p4"]
    assert store.list_personas(kind="fleet") == []
    assert store.persona_names("ai") == {"Abe", "Cal", "Zed"}
    assert store.persona_names("ai", entity_id="e2") == {"Abe"}
    assert store.persona_names("fleet") == set()


def test_records_are_frozen(store: Store) -> None:
    p = _persona(store)
    with pytest.raises(ValidationError):
        p.name = "changed"  # type: ignore[misc]


# content


def test_content_round_trip(store: Store) -> None:
    cid = store.put_content("message", text="hello")
    assert len(cid) == 32
    assert int(cid, 16) >= 0
    c = store.get_content(cid)
    assert (c.content_id, c.kind, c.text, c.data) == (cid, "message", "hello", None)
    assert c.created_at.tzinfo is not None
    did = store.put_content("state", data={"board": [[1, 2], [3]], "turn": "x"})
    assert did != cid
    d = store.get_content(did)
    assert (d.kind, d.text, d.data) == ("state", None, {"board": [[1, 2], [3]], "turn": "x"})


def test_put_content_with_id_is_idempotent(store: Store) -> None:
    assert store.put_content("output", text="first", content_id="out-1") == "out-1"
    assert store.put_content("output", text="second", content_id="out-1") == "out-1"
    assert store.get_content("out-1").text == "first"


def test_unknown_content(store: Store) -> None:
    with pytest.raises(UnknownContent, match="nothing"):
        store.get_content("nothing")


PNG = BlobRef(media_type="image/png", ref="https://cams.example/f1.png", size_bytes=2048)


def test_content_parts_round_trip(store: Store) -> None:
    mixed = (TextPart(text="the board"), JsonPart(data={"turn": "x", "cells": [1, None]}), PNG)
    c = store.get_content(store.put_content("game_state", parts=mixed))
    assert (c.kind, c.parts, c.text, c.data) == ("game_state", mixed, None, None)
    only_list = (JsonPart(data=[1, 2, 3]),)
    assert store.get_content(store.put_content("m", parts=only_list)).parts == only_list
    assert store.get_content(store.put_content("m", parts=[])).parts == ()


def test_a_lone_text_or_json_object_part_keeps_its_column(store: Store) -> None:
    t = store.get_content(store.put_content("chat", parts=[TextPart(text="hello")]))
    assert (t.text, t.data, t.parts) == ("hello", None, (TextPart(text="hello"),))
    d = store.get_content(store.put_content("state", parts=[JsonPart(data={"turn": "o"})]))
    assert (d.text, d.data, d.parts) == (None, {"turn": "o"}, (JsonPart(data={"turn": "o"}),))
    both = store.get_content(store.put_content("m", text="hi", data={"k": 1}))
    assert both.parts == (TextPart(text="hi"), JsonPart(data={"k": 1}))


def test_content_is_text_and_data_or_parts(store: Store) -> None:
    with pytest.raises(ValueError, match="not both"):
        store.put_content("m", text="x", parts=[TextPart(text="y")])
    with pytest.raises(ValidationError):
        store.put_content("m", parts=[TextPart(text="x")] * 65)


def _alembic(store_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", store_url.replace("%", "%%"))
    return cfg


def test_rows_written_before_parts_read_as_parts(store_url: str) -> None:
    command.upgrade(_alembic(store_url), "0004")
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO contents (content_id, kind, text, data, created_at) "
                    "VALUES ('old-text', 'chat', 'hello', NULL, :t), "
                    "('old-data', 'state', NULL, :data, :t)"
                ),
                {"t": T0, "data": '{"turn": "x"}'},
            )
    finally:
        engine.dispose()
    store = Store(store_url)
    store.migrate()
    try:
        assert store.get_content("old-text").parts == (TextPart(text="hello"),)
        old = store.get_content("old-data")
        assert (old.data, old.parts) == ({"turn": "x"}, (JsonPart(data={"turn": "x"}),))
    finally:
        store.dispose()


def test_downgrading_keeps_parts_as_json_text(store: Store, store_url: str) -> None:
    frame = store.put_content("frame", parts=[PNG, TextPart(text="door")])
    plain = store.put_content("chat", text="hello")
    store.dispose()
    command.downgrade(_alembic(store_url), "0004")
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            result = conn.execute(text("SELECT content_id, text FROM contents"))
            rows: dict[str, str] = {str(cid): str(body) for cid, body in result}
    finally:
        engine.dispose()
    assert rows[plain] == "hello"
    assert content_parts.validate_json(rows[frame]) == (PNG, TextPart(text="door"))


# shed items


def test_record_shed(store: Store) -> None:
    assert store.record_shed("p1", "i1", "overflow", 2500, {"text": "a"}, now=T0) is True
    assert store.record_shed("p1", "i1", "other", 10, {"text": "b"}, now=T0) is False
    assert store.record_shed("p1", "i2", "stale", 100, {"text": "c"}, now=T0) is True
    assert store.record_shed("p2", "i1", "overflow", 1, {}) is True
    items = store.shed_items("p1")
    assert [(i.item_id, i.reason, i.priority_bp, i.item) for i in items] == [
        ("i1", "overflow", 2500, {"text": "a"}),
        ("i2", "stale", 100, {"text": "c"}),
    ]
    assert all(i.persona_id == "p1" and i.shed_at == T0 for i in items)
    assert store.count_shed("p1") == 2
    assert store.count_shed("p2") == 1
    assert store.count_shed("p3") == 0


def test_record_shed_many(store: Store) -> None:
    store.record_shed("p1", "i1", "overflow", 1, {})
    rows = [("i1", "x", 1, {}), ("i2", "x", 2, {"k": 2}), ("i3", "y", 3, {}), ("i2", "z", 9, {})]
    assert store.record_shed_many("p1", rows) == 2
    assert store.record_shed_many("p1", rows) == 0
    assert store.record_shed_many("p1", []) == 0
    assert [(i.item_id, i.reason) for i in store.shed_items("p1")] == [
        ("i1", "overflow"),
        ("i2", "x"),
        ("i3", "y"),
    ]
    assert store.count_shed("p1") == 3


# outcomes


def test_record_outcome_once(store: Store) -> None:
    first = store.record_outcome("p1", "i1", "done", "c-1", tokens_in=10, tokens_out=20, now=T0)
    assert (first.persona_id, first.item_id, first.outcome, first.output_ref) == (
        "p1",
        "i1",
        "done",
        "c-1",
    )
    assert (first.tokens_in, first.tokens_out, first.recorded_at) == (10, 20, T0)
    again = store.record_outcome("p1", "i1", "failed", None, tokens_in=99)
    assert again == first
    assert store.get_outcome("p1", "i1") == first
    assert store.get_outcome("p1", "nope") is None
    store.record_outcome("p1", "i2", "failed", None)
    store.record_outcome("p1", "i3", "done", None)
    store.record_outcome("p2", "i1", "done", None)
    assert store.count_outcomes("p1") == 3
    assert store.count_outcomes("p1", "done") == 2
    assert store.count_outcomes("p1", "failed") == 1
    assert store.count_outcomes("p1", "skipped") == 0
    assert store.count_outcomes("p9") == 0


# rooms


def test_rooms(store: Store) -> None:
    a = store.post_to_room("r1", "m1", "p1", "c-a", now=T0 + timedelta(minutes=2))
    b = store.post_to_room("r1", "m2", "p2", "c-b", now=T0)
    c = store.post_to_room("r1", "m3", "p1", "c-c", now=T0)
    assert (a.room_id, a.message_id, a.persona_id, a.content_ref) == ("r1", "m1", "p1", "c-a")
    assert a.posted_at == T0 + timedelta(minutes=2)
    assert store.post_to_room("r1", "m1", "p1", "c-other") == a
    store.post_to_room("r1", "m1", "p2", "c-a2", now=T0 + timedelta(minutes=5))
    store.post_to_room("r2", "m1", "p1", "c-x")
    transcript = store.room_transcript("r1")
    assert [(p.message_id, p.persona_id) for p in transcript] == [
        ("m2", "p2"),
        ("m3", "p1"),
        ("m1", "p1"),
        ("m1", "p2"),
    ]
    assert transcript[:3] == [b, c, a]
    assert [p.content_ref for p in store.room_transcript("r2")] == ["c-x"]
    assert store.room_transcript("empty") == []


# concurrency


def test_concurrent_record_outcome(store: Store) -> None:
    results = _concurrently(lambda i: store.record_outcome("p1", "i1", f"o{i}", f"ref{i}", i, i))
    assert all(r == results[0] for r in results)
    assert results[0].outcome in {f"o{i}" for i in range(THREADS)}
    assert store.count_outcomes("p1") == 1
    assert store.get_outcome("p1", "i1") == results[0]


def test_concurrent_record_shed(store: Store) -> None:
    results = _concurrently(lambda i: store.record_shed("p1", "i1", f"r{i}", i, {"i": i}))
    assert sorted(results) == [False] * (THREADS - 1) + [True]
    assert store.count_shed("p1") == 1
    many = _concurrently(
        lambda i: store.record_shed_many("p2", [("a", "r", 1, {}), ("b", "r", 1, {})])
    )
    assert sum(many) == 2
    assert store.count_shed("p2") == 2


def test_concurrent_put_content(store: Store) -> None:
    ids = _concurrently(lambda i: store.put_content("output", text=f"t{i}", content_id="c-1"))
    assert ids == ["c-1"] * THREADS
    assert _count_rows(store.url, "contents") == 1
    assert store.get_content("c-1").text in {f"t{i}" for i in range(THREADS)}


def test_concurrent_updates_and_usage(store: Store) -> None:
    _persona(store)
    versions = _concurrently(lambda i: store.update_persona("p1", {"n": i}, f"u{i}").version)
    assert sorted(versions) == list(range(2, THREADS + 2))
    _concurrently(lambda i: store.record_usage("p1", version=1))
    assert store.get_persona("p1", version=1).usage_count == THREADS
    assert [v.version for v in store.persona_versions("p1")] == list(range(1, THREADS + 2))


def test_record_output_stores_content_and_outcome_once(store: Store) -> None:
    first = store.record_output("p1", "i1", "respond", "an answer", 10, 3)
    again = store.record_output("p1", "i1", "respond", "another answer", 99, 99)
    assert first.output_ref == again.output_ref == "out-p1-i1"
    assert (again.tokens_in, again.tokens_out) == (10, 3)
    assert store.get_content("out-p1-i1").text == "an answer"
    assert store.count_outcomes("p1") == 1


def test_outcome_counts_in_one_query(store: Store) -> None:
    for persona, item in [("p1", "a"), ("p1", "b"), ("p2", "a"), ("p3", "a")]:
        store.record_outcome(persona, item, "respond", None)
    assert store.outcome_counts(["p1", "p2", "nobody"]) == {"p1": 2, "p2": 1}
    assert store.outcome_counts([]) == {}


def test_set_life_statuses_changes_only_those_not_already_so(store: Store) -> None:
    for i in range(3):
        _persona(store, f"p{i}", f"Ada{i}")
    store.set_life_status("p0", "live")
    assert store.set_life_statuses(["p0", "p1", "p1", "missing"], "live") == 1
    assert [store.get_persona(f"p{i}").life_status for i in range(3)] == ["live", "live", "created"]
    assert store.set_life_statuses([], "live") == 0
