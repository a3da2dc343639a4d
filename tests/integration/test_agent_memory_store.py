"""Agent memories in the store, on SQLite and PostgreSQL: folded in once, read back by a
fresh store object (another worker), listed per persona."""

from __future__ import annotations

from activities.agent.memory_store import MemoryStore
from activities.store import Store
from personas.agent.memory import WINDOW, Exchange


def test_memories_are_kept_per_room_and_person_and_outlive_the_worker(store: Store) -> None:
    store.upsert_entity("acme", "Acme")
    store.create_persona(
        kind="ai", persona_id="p1", entity_id="acme", name="Ada", body={}, created_by="t"
    )
    memories = MemoryStore(store.engine)
    for n in range(WINDOW + 1):
        memories.remember("p1", "person:bob", Exchange.of(f"i{n}", f"q{n}", f"a{n}."))
    again = memories.remember("p1", "person:bob", Exchange.of(f"i{WINDOW}", "x", "y"))
    memories.remember("p1", "room:r1", Exchange.of("i9", "hello room", "hi."))

    fresh = MemoryStore(store.engine)  # another worker, after a restart
    bob = fresh.get("p1", "person:bob")
    assert bob == again
    assert [e.item_id for e in bob.window] == [f"i{n}" for n in range(1, WINDOW + 1)]
    assert (bob.folded, bob.summary) == (1, "Asked: q0 Answered: a0.")
    assert list(fresh.all_of("p1")) == ["person:bob", "room:r1"]
    assert fresh.get("p1", "person:alice").window == ()
