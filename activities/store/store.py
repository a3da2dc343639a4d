"""The domain store: entities, versioned personas, content, shed items, outcomes, rooms.

Every public method runs in its own short transaction (`activities.store.db.tx` or
`read_tx`), so one `Store` may be shared by the threads of an activity worker. Writes
that must be idempotent under retry rely on unique constraints and insert with ON CONFLICT
DO NOTHING, then read the surviving row back: no read-then-write races.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from alembic import command
from alembic.config import Config
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from activities.store.content_parts import decode_parts, encode_parts
from activities.store.db import engine_for, insert_ignore, read_tx, rowcount, tx, utc
from activities.store.tables import (
    Content,
    Entity,
    EntityResource,
    Outcome,
    Persona,
    PersonaVersion,
    RoomPostRow,
    ShedItem,
)
from personas.parts import ContentPart

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_LOCK_ID = 0x5E5A  # PostgreSQL advisory lock taken while migrating


class StoreError(Exception):
    """Base class of the store's errors."""


class UnknownPersona(StoreError):
    """No persona (or no such version of it) has the given id."""


class UnknownEntity(StoreError):
    """No entity has the given id."""


class UnknownContent(StoreError):
    """No content has the given id."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class PersonaRecord(_Record):
    """One version of a persona, with its identity, usage count and life status."""

    persona_id: str
    kind: str
    entity_id: str
    name: str
    version: int
    body: dict[str, Any]
    created_by: str
    created_at: datetime
    usage_count: int
    life_status: str


class ContentRecord(_Record):
    """A stored payload: its parts, and its lone text or JSON object when it is one."""

    content_id: str
    kind: str
    text: str | None
    data: dict[str, Any] | None
    parts: tuple[ContentPart, ...]
    created_at: datetime


class ShedRecord(_Record):
    """An inbox item that a persona shed, with why and at what priority."""

    persona_id: str
    item_id: str
    reason: str
    priority_bp: int
    item: dict[str, Any]
    shed_at: datetime


class OutcomeRecord(_Record):
    """The outcome of processing one inbox item."""

    persona_id: str
    item_id: str
    outcome: str
    output_ref: str | None
    tokens_in: int
    tokens_out: int
    recorded_at: datetime


class RoomPost(_Record):
    """A message a persona posted to a room; the text is stored as content."""

    room_id: str
    message_id: str
    persona_id: str
    content_ref: str
    posted_at: datetime


def _unknown_persona(persona_id: str, version: int | None = None) -> UnknownPersona:
    suffix = "" if version is None else f" version {version}"
    return UnknownPersona(f"unknown persona {persona_id}{suffix}")


def _persona_record(p: Persona, v: PersonaVersion) -> PersonaRecord:
    return PersonaRecord(
        persona_id=p.persona_id,
        kind=p.kind,
        entity_id=p.entity_id,
        name=p.name,
        version=v.version,
        body=v.body,
        created_by=v.created_by,
        created_at=v.created_at,
        usage_count=v.usage_count,
        life_status=p.life_status,
    )


def _load_persona(s: Session, persona_id: str, version: int | None = None) -> PersonaRecord:
    p = s.get(Persona, persona_id)
    if p is None:
        raise _unknown_persona(persona_id)
    v = s.get(PersonaVersion, (persona_id, p.latest_version if version is None else version))
    if v is None:
        raise _unknown_persona(persona_id, version)
    return _persona_record(p, v)


class Store:
    """The domain store over SQLite (a file URL) or PostgreSQL (psycopg 3).

    Thread-safe: each method opens and closes its own session. The schema is managed
    by Alembic only; call `migrate()` before use.
    """

    def __init__(self, database: Engine | str) -> None:
        """Use ``database``: the process's engine from :func:`make_engine` (its creator
        disposes it), or a URL such as ``sqlite:///var/personas.db`` for an engine of its own.
        """
        self._owns_engine = isinstance(database, str)
        self._engine = engine_for(database)

    @property
    def engine(self) -> Engine:
        """The engine this store runs on; share it with the process's other stores."""
        return self._engine

    @property
    def url(self) -> str:
        """The database URL of this store's engine."""
        return self._engine.url.render_as_string(hide_password=False)

    def migrate(self) -> None:
        """Upgrade the schema to the latest Alembic revision (safe to call repeatedly)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        """Close the pooled connections of the engine this store built from a URL (an
        injected engine is left to its creator)."""
        if self._owns_engine:
            self._engine.dispose()

    # entities

    def upsert_entity(self, entity_id: str, name: str, resources: Iterable[str] = ()) -> None:
        """Create the entity or rename it, and add `resources` to what it may grant."""
        with tx(self._engine) as s:
            values = {"entity_id": entity_id, "name": name, "created_at": utc(None)}
            if not insert_ignore(s, Entity, values):
                s.execute(update(Entity).where(Entity.entity_id == entity_id).values(name=name))
            for resource in sorted(set(resources)):
                insert_ignore(s, EntityResource, {"entity_id": entity_id, "resource": resource})

    def permitted_resources(self, entity_id: str) -> set[str]:
        """The resources the entity may grant to its personas."""
        with read_tx(self._engine) as s:
            if s.get(Entity, entity_id) is None:
                raise UnknownEntity(f"unknown entity {entity_id}")
            stmt = select(EntityResource.resource).where(EntityResource.entity_id == entity_id)
            return set(s.scalars(stmt))

    # personas

    def create_persona(
        self,
        *,
        kind: str,
        persona_id: str,
        entity_id: str,
        name: str,
        body: dict[str, Any],
        created_by: str,
        now: datetime | None = None,
    ) -> PersonaRecord:
        """Create version 1 of a new persona.

        Raises UnknownEntity when the entity is missing, and StoreError when the id is
        taken or the entity already has a persona of that name.
        """
        at = utc(now)
        try:
            with tx(self._engine) as s:
                if s.get(Entity, entity_id) is None:
                    raise UnknownEntity(f"unknown entity {entity_id}")
                if s.get(Persona, persona_id) is not None:
                    raise StoreError(f"persona {persona_id} already exists")
                p = Persona(
                    persona_id=persona_id,
                    kind=kind,
                    entity_id=entity_id,
                    name=name,
                    latest_version=1,
                    life_status="created",
                    created_at=at,
                )
                v = PersonaVersion(
                    persona_id=persona_id,
                    version=1,
                    body=body,
                    created_by=created_by,
                    created_at=at,
                    usage_count=0,
                )
                s.add(p)
                s.flush()
                s.add(v)
                s.flush()
                return _persona_record(p, v)
        except IntegrityError as exc:
            raise StoreError(
                f"persona {persona_id} already exists, or entity {entity_id} "
                f"already has a persona named {name!r}"
            ) from exc

    def update_persona(
        self, persona_id: str, body: dict[str, Any], created_by: str, now: datetime | None = None
    ) -> PersonaRecord:
        """Add a new version (latest + 1) of the persona with `body`."""
        with tx(self._engine) as s:
            p = s.get(Persona, persona_id, with_for_update=True)
            if p is None:
                raise _unknown_persona(persona_id)
            p.latest_version += 1
            v = PersonaVersion(
                persona_id=persona_id,
                version=p.latest_version,
                body=body,
                created_by=created_by,
                created_at=utc(now),
                usage_count=0,
            )
            s.add(v)
            s.flush()
            return _persona_record(p, v)

    def get_persona(self, persona_id: str, version: int | None = None) -> PersonaRecord:
        """The given version of the persona, or its latest when `version` is None."""
        with read_tx(self._engine) as s:
            return _load_persona(s, persona_id, version)

    def get_latest_personas(self, persona_ids: Iterable[str]) -> dict[str, PersonaRecord]:
        """The latest version of each persona found, by id, in one query (unknown ids are
        absent): a room's delivery reads every member at once."""
        ids = sorted(set(persona_ids))
        if not ids:
            return {}
        stmt = (
            select(Persona, PersonaVersion)
            .join(
                PersonaVersion,
                (PersonaVersion.persona_id == Persona.persona_id)
                & (PersonaVersion.version == Persona.latest_version),
            )
            .where(Persona.persona_id.in_(ids))
        )
        with read_tx(self._engine) as s:
            return {p.persona_id: _persona_record(p, v) for p, v in s.execute(stmt).all()}

    def find_persona_by_name(self, entity_id: str, name: str) -> PersonaRecord:
        """The latest version of the entity's persona called `name`."""
        stmt = select(Persona.persona_id).where(
            Persona.entity_id == entity_id, Persona.name == name
        )
        with read_tx(self._engine) as s:
            persona_id = s.scalar(stmt)
            if persona_id is None:
                raise UnknownPersona(f"unknown persona {name!r} of entity {entity_id}")
            return _load_persona(s, persona_id)

    def list_personas(
        self, kind: str | None = None, entity_id: str | None = None
    ) -> list[PersonaRecord]:
        """Latest versions of all personas, optionally of one kind or entity, by name."""
        latest = and_(
            PersonaVersion.persona_id == Persona.persona_id,
            PersonaVersion.version == Persona.latest_version,
        )
        stmt = select(Persona, PersonaVersion).join(PersonaVersion, latest)
        if kind is not None:
            stmt = stmt.where(Persona.kind == kind)
        if entity_id is not None:
            stmt = stmt.where(Persona.entity_id == entity_id)
        with read_tx(self._engine) as s:
            rows = s.execute(stmt.order_by(Persona.name, Persona.persona_id))
            return [_persona_record(p, v) for p, v in rows]

    def persona_names(self, kind: str, entity_id: str | None = None) -> set[str]:
        """Names of the personas of a kind (optionally of one entity), without their bodies."""
        stmt = select(Persona.name).where(Persona.kind == kind)
        if entity_id is not None:
            stmt = stmt.where(Persona.entity_id == entity_id)
        with read_tx(self._engine) as s:
            return set(s.scalars(stmt))

    def persona_versions(self, persona_id: str) -> list[PersonaRecord]:
        """Every version of the persona, oldest first."""
        with read_tx(self._engine) as s:
            p = s.get(Persona, persona_id)
            if p is None:
                raise _unknown_persona(persona_id)
            stmt = (
                select(PersonaVersion)
                .where(PersonaVersion.persona_id == persona_id)
                .order_by(PersonaVersion.version)
            )
            return [_persona_record(p, v) for v in s.scalars(stmt)]

    def record_usage(self, persona_id: str, version: int | None = None) -> None:
        """Atomically add one to the usage count of a version (the latest when None)."""
        target = (
            select(Persona.latest_version).where(Persona.persona_id == persona_id).scalar_subquery()
            if version is None
            else version
        )
        stmt = (
            update(PersonaVersion)
            .where(PersonaVersion.persona_id == persona_id, PersonaVersion.version == target)
            .values(usage_count=PersonaVersion.usage_count + 1)
            .execution_options(synchronize_session=False)
        )
        with tx(self._engine) as s:
            if rowcount(s.execute(stmt)) != 1:
                raise _unknown_persona(persona_id, version)

    def set_life_status(self, persona_id: str, status: str) -> None:
        """Set the persona's life status ("created", "live", "stopped", ...)."""
        stmt = (
            update(Persona)
            .where(Persona.persona_id == persona_id)
            .values(life_status=status)
            .execution_options(synchronize_session=False)
        )
        with tx(self._engine) as s:
            if rowcount(s.execute(stmt)) != 1:
                raise _unknown_persona(persona_id)

    def set_life_statuses(self, persona_ids: Iterable[str], status: str) -> int:
        """Set the life status of many personas in one statement; how many changed (a
        broadcast wakes thousands of lives, and one write per persona would be its cost)."""
        ids = sorted(set(persona_ids))
        if not ids:
            return 0
        stmt = (
            update(Persona)
            .where(Persona.persona_id.in_(ids), Persona.life_status != status)
            .values(life_status=status)
            .execution_options(synchronize_session=False)
        )
        with tx(self._engine) as s:
            return rowcount(s.execute(stmt))

    # content

    def put_content(
        self,
        kind: str,
        text: str | None = None,
        data: dict[str, Any] | None = None,
        content_id: str | None = None,
        *,
        parts: Sequence[ContentPart] | None = None,
    ) -> str:
        """Store a payload and return its id (a new uuid4 hex when none is given).

        The payload is `text` and/or `data`, or else `parts` (validated and bounded).
        With a `content_id` that exists already, nothing is written and the id is
        returned unchanged, so a retried activity stores its payload once.
        """
        stored: list[Any] | None = None
        if parts is not None:
            if text is not None or data is not None:
                raise ValueError("a content is text and/or data, or parts: not both")
            text, data, stored = encode_parts(parts)
        cid = uuid4().hex if content_id is None else content_id
        values = {"content_id": cid, "kind": kind, "text": text, "data": data, "parts": stored}
        with tx(self._engine) as s:
            insert_ignore(s, Content, {**values, "created_at": utc(None)})
        return cid

    def get_content(self, content_id: str) -> ContentRecord:
        """The stored payload with this id."""
        with read_tx(self._engine) as s:
            row = s.get(Content, content_id)
            if row is None:
                raise UnknownContent(f"unknown content {content_id}")
            return ContentRecord(
                content_id=row.content_id,
                kind=row.kind,
                text=row.text,
                data=row.data,
                parts=decode_parts(row.text, row.data, row.parts),
                created_at=row.created_at,
            )

    # shed items

    def record_shed(
        self,
        persona_id: str,
        item_id: str,
        reason: str,
        priority_bp: int,
        item: dict[str, Any],
        now: datetime | None = None,
    ) -> bool:
        """Record a shed inbox item; True if new, False if it was recorded already."""
        return self.record_shed_many(persona_id, [(item_id, reason, priority_bp, item)], now) == 1

    def record_shed_many(
        self,
        persona_id: str,
        rows: list[tuple[str, str, int, dict[str, Any]]],
        now: datetime | None = None,
    ) -> int:
        """Record (item_id, reason, priority_bp, item) rows in one transaction.

        Items recorded already are left alone; returns how many were new.
        """
        at = utc(now)
        with tx(self._engine) as s:
            return sum(
                insert_ignore(
                    s,
                    ShedItem,
                    {
                        "persona_id": persona_id,
                        "item_id": item_id,
                        "reason": reason,
                        "priority_bp": priority_bp,
                        "item": item,
                        "shed_at": at,
                    },
                )
                for item_id, reason, priority_bp, item in rows
            )

    def shed_items(self, persona_id: str) -> list[ShedRecord]:
        """The persona's shed items, in the order they were recorded."""
        stmt = select(ShedItem).where(ShedItem.persona_id == persona_id).order_by(ShedItem.id)
        with read_tx(self._engine) as s:
            return [ShedRecord.model_validate(row) for row in s.scalars(stmt)]

    def recent_shed(
        self, persona_id: str, limit: int, reason: str | None = None
    ) -> list[ShedRecord]:
        """The persona's latest ``limit`` shed items, newest first; with ``reason``, only
        those whose reason starts with it (``unfunded`` matches ``unfunded: ...``)."""
        stmt = select(ShedItem).where(ShedItem.persona_id == persona_id)
        if reason is not None:
            stmt = stmt.where(ShedItem.reason.startswith(reason, autoescape=True))
        stmt = stmt.order_by(ShedItem.id.desc()).limit(max(0, limit))
        with read_tx(self._engine) as s:
            return [ShedRecord.model_validate(row) for row in s.scalars(stmt)]

    def count_shed(self, persona_id: str) -> int:
        """How many items the persona has shed."""
        with read_tx(self._engine) as s:
            stmt = (
                select(func.count()).select_from(ShedItem).where(ShedItem.persona_id == persona_id)
            )
            return s.execute(stmt).scalar_one()

    # outcomes

    def record_outcome(
        self,
        persona_id: str,
        item_id: str,
        outcome: str,
        output_ref: str | None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        now: datetime | None = None,
    ) -> OutcomeRecord:
        """Record how an item was processed, once: an existing row is returned unchanged."""
        values = {
            "persona_id": persona_id,
            "item_id": item_id,
            "outcome": outcome,
            "output_ref": output_ref,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "recorded_at": utc(now),
        }
        with tx(self._engine) as s:
            insert_ignore(s, Outcome, values)
            stmt = select(Outcome).where(
                Outcome.persona_id == persona_id, Outcome.item_id == item_id
            )
            return OutcomeRecord.model_validate(s.scalars(stmt).one())

    def record_output(
        self,
        persona_id: str,
        item_id: str,
        outcome: str,
        text: str,
        tokens_in: int = 0,
        tokens_out: int = 0,
        also: Callable[[Session, OutcomeRecord], object] | None = None,
    ) -> OutcomeRecord:
        """Store an item's output (content ``out-<persona>-<item>``) and record its outcome,
        in one transaction, once: what :meth:`put_content` then :meth:`record_outcome` do,
        at the cost of one write (a model call's result is the store's most frequent
        write). ``also`` runs in the same transaction with the outcome recorded (an audit
        entry), so that on SQLite's single writer an item costs one write lock."""
        content_id = f"out-{persona_id}-{item_id}"
        content = {"content_id": content_id, "kind": "output", "text": text, "data": None}
        values = {
            "persona_id": persona_id,
            "item_id": item_id,
            "outcome": outcome,
            "output_ref": content_id,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "recorded_at": utc(None),
        }
        with tx(self._engine) as s:
            insert_ignore(s, Content, {**content, "parts": None, "created_at": utc(None)})
            insert_ignore(s, Outcome, values)
            stmt = select(Outcome).where(
                Outcome.persona_id == persona_id, Outcome.item_id == item_id
            )
            recorded = OutcomeRecord.model_validate(s.scalars(stmt).one())
            if also is not None:
                also(s, recorded)
            return recorded

    def get_outcome(self, persona_id: str, item_id: str) -> OutcomeRecord | None:
        """The recorded outcome of the item, or None."""
        stmt = select(Outcome).where(Outcome.persona_id == persona_id, Outcome.item_id == item_id)
        with read_tx(self._engine) as s:
            row = s.scalars(stmt).one_or_none()
            return None if row is None else OutcomeRecord.model_validate(row)

    def recent_outcomes(self, persona_id: str, limit: int) -> list[OutcomeRecord]:
        """The persona's latest ``limit`` outcomes, newest first."""
        stmt = (
            select(Outcome)
            .where(Outcome.persona_id == persona_id)
            .order_by(Outcome.recorded_at.desc(), Outcome.item_id)
            .limit(max(0, limit))
        )
        with read_tx(self._engine) as s:
            return [OutcomeRecord.model_validate(row) for row in s.scalars(stmt)]

    def count_outcomes(self, persona_id: str, outcome: str | None = None) -> int:
        """How many outcomes the persona has recorded (of one kind when given)."""
        stmt = select(func.count()).select_from(Outcome).where(Outcome.persona_id == persona_id)
        if outcome is not None:
            stmt = stmt.where(Outcome.outcome == outcome)
        with read_tx(self._engine) as s:
            return s.execute(stmt).scalar_one()

    def outcome_counts(self, persona_ids: Iterable[str]) -> dict[str, int]:
        """How many outcomes each of these personas has recorded, in one query (personas
        without any are absent)."""
        ids = sorted(set(persona_ids))
        if not ids:
            return {}
        stmt = (
            select(Outcome.persona_id, func.count())
            .where(Outcome.persona_id.in_(ids))
            .group_by(Outcome.persona_id)
        )
        with read_tx(self._engine) as s:
            return {str(pid): int(n) for pid, n in s.execute(stmt).all()}

    def output_size(self, persona_id: str) -> int:
        """Characters of the outputs the persona has stored (its metered storage)."""
        stmt = (
            select(func.coalesce(func.sum(func.length(Content.text)), 0))
            .select_from(Outcome)
            .join(Content, Content.content_id == Outcome.output_ref)
            .where(Outcome.persona_id == persona_id)
        )
        with read_tx(self._engine) as s:
            return int(s.execute(stmt).scalar_one())

    # rooms

    def post_to_room(
        self,
        room_id: str,
        message_id: str,
        persona_id: str,
        content_ref: str,
        now: datetime | None = None,
    ) -> RoomPost:
        """Post a message to a room, once per (room, message, persona); returns the post."""
        values = {
            "room_id": room_id,
            "message_id": message_id,
            "persona_id": persona_id,
            "content_ref": content_ref,
            "posted_at": utc(now),
        }
        stmt = select(RoomPostRow).where(
            RoomPostRow.room_id == room_id,
            RoomPostRow.message_id == message_id,
            RoomPostRow.persona_id == persona_id,
        )
        with tx(self._engine) as s:
            insert_ignore(s, RoomPostRow, values)
            return RoomPost.model_validate(s.scalars(stmt).one())

    def room_transcript(self, room_id: str) -> list[RoomPost]:
        """The room's posts, oldest first."""
        stmt = (
            select(RoomPostRow)
            .where(RoomPostRow.room_id == room_id)
            .order_by(RoomPostRow.posted_at, RoomPostRow.id)
        )
        with read_tx(self._engine) as s:
            return [RoomPost.model_validate(row) for row in s.scalars(stmt)]
