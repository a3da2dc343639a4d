"""The append-only, hash-chained audit log, one chain per stream (persona, entity, system)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from temporalio import activity

from activities.funding.db import OnDatabase
from activities.funding.tables import AuditHead, AuditRow
from activities.store.db import Scope, scope_filter, utc
from personas.funding.audit import GENESIS, AuditEntry, entry_hash, verify_chain

SYSTEM = "system"


def stream_of(persona_id: str | None, entity_id: str | None) -> str:
    """The chain an entry joins: its persona's, else its entity's, else the system's."""
    if persona_id:
        return f"persona:{persona_id}"
    if entity_id:
        return f"entity:{entity_id}"
    return SYSTEM


def calling_activity_key() -> str:
    """A key naming the running activity: the same for each of its retries, and unique
    among activities (workflow, run, activity id)."""
    info = activity.info()
    return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"


_HEADS = cast(Table, AuditHead.__table__)
_LOCK_HEAD = {
    dialect: ins(_HEADS)
    .values(stream=bindparam("stream"), seq=0, hash=GENESIS)
    .on_conflict_do_update(index_elements=[_HEADS.c.stream], set_={"seq": _HEADS.c.seq})
    .returning(_HEADS.c.seq, _HEADS.c.hash)
    for dialect, ins in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
"""Lock a stream's head in one statement: an upsert whose no-op update locks the existing
row (or creates the stream's genesis head), returning its values."""
_ADVANCE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.stream == bindparam("head"))
    .values(seq=bindparam("next_seq"), hash=bindparam("next_hash"))
)
_LOG = cast(Table, AuditRow.__table__)
_ROWS = insert(_LOG)
_ROW_AND_HEAD_POSTGRES = text(
    """
    WITH advanced AS (
        UPDATE audit_head SET seq = :seq, hash = :hash WHERE stream = :stream
    )
    INSERT INTO audit_log
        (stream, seq, at, kind, actor, persona_id, entity_id, data, prev_hash, hash, entry_key)
    VALUES (:stream, :seq, :at, :kind, :actor, :persona_id, :entity_id, CAST(:data AS json),
            :prev_hash, :hash, :entry_key)
    """
)
"""The entry and its stream's new head in one statement (PostgreSQL runs a data-modifying
CTE; SQLite takes the two statements)."""


@dataclass(frozen=True)
class Appended:
    """An entry to append: what happened, who did it, to whose stream, and when."""

    kind: str
    actor: str
    data: dict[str, Any]
    persona_id: str | None
    entity_id: str | None
    at: datetime


def lock_stream(s: Session | Connection, stream: str) -> tuple[int, str]:
    """Lock the stream's head row for the rest of the transaction; its (seq, hash)."""
    conn = s.connection() if isinstance(s, Session) else s
    head = conn.execute(_LOCK_HEAD[conn.dialect.name], {"stream": stream}).one()
    return head.seq, head.hash


class EntryOptions(TypedDict, total=False):
    """What an appended entry may name besides its kind, actor and data."""

    persona_id: str | None
    """The persona it is about (its stream, with ``entity_id``)."""
    entity_id: str | None
    """The entity it is about."""
    now: datetime | None
    """Its time (now when not given)."""
    key: str | None
    """An idempotency key: an entry with it is appended once."""


def append(
    s: Session | Connection,
    kind: str,
    actor: str,
    data: dict[str, Any],
    **options: Unpack[EntryOptions],
) -> AuditEntry:
    """Append an entry inside the caller's transaction, locking its stream's head row.

    With ``key`` the append is idempotent: when an entry with that key exists (a retried
    activity), nothing is added and the existing entry is returned.
    """
    persona_id, entity_id = options.get("persona_id"), options.get("entity_id")
    key = options.get("key")
    conn = s.connection() if isinstance(s, Session) else s
    stream = stream_of(persona_id, entity_id)
    head_seq, head_hash = lock_stream(conn, stream)
    if key is not None:
        # Checked under the head's lock: a concurrent append of the same key waits here.
        existing = conn.execute(select(*_LOG.c).where(_LOG.c.entry_key == key)).one_or_none()
        if existing is not None:
            return AuditEntry.model_validate(existing)
    at = utc(options.get("now")).replace(microsecond=0)
    seq = head_seq + 1
    digest = entry_hash(head_hash, stream, seq, at, kind, actor, persona_id, entity_id, data)
    row = {
        "stream": stream,
        "seq": seq,
        "at": at,
        "kind": kind,
        "actor": actor,
        "persona_id": persona_id,
        "entity_id": entity_id,
        "data": data,
        "prev_hash": head_hash,
        "hash": digest,
    }
    if conn.dialect.name == "postgresql":
        params = {**row, "data": json.dumps(data), "entry_key": key}
        conn.execute(_ROW_AND_HEAD_POSTGRES, params)
    else:
        conn.execute(_ROWS, {**row, "entry_key": key})
        conn.execute(_ADVANCE_HEAD, {"head": stream, "next_seq": seq, "next_hash": digest})
    return AuditEntry.model_validate(row)


class AuditLog(OnDatabase):
    """Reading, appending and verifying the audit chains."""

    def append(
        self, kind: str, actor: str, data: dict[str, Any], **options: Unpack[EntryOptions]
    ) -> AuditEntry:
        """Append one entry in its own transaction (once per ``key`` when given)."""
        with self.db.tx() as s:
            return append(s, kind, actor, data, **options)

    def entries(self, **scope: Unpack[Scope]) -> list[AuditEntry]:
        """Entries in append order, filtered by persona, entity and ``since <= at < until``."""
        conds = scope_filter(
            at=AuditRow.at, persona=AuditRow.persona_id, entity=AuditRow.entity_id, **scope
        )
        stmt = select(AuditRow).where(*conds).order_by(AuditRow.id)
        with self.db.tx() as s:
            return [AuditEntry.model_validate(r) for r in s.scalars(stmt)]

    def verify(self) -> tuple[bool, str]:
        """Verify every stream's chain, and that each head points at its stream's end."""
        with self.db.tx() as s:
            heads = {h.stream: (h.seq, h.hash) for h in s.scalars(select(AuditHead))}
            rows = [
                AuditEntry.model_validate(r)
                for r in s.scalars(select(AuditRow).order_by(AuditRow.stream, AuditRow.seq))
            ]
        streams: dict[str, list[AuditEntry]] = {}
        for entry in rows:
            streams.setdefault(entry.stream, []).append(entry)
        for stream in sorted(set(streams) | set(heads)):
            chain = streams.get(stream, [])
            ok, reason = verify_chain(chain)
            if not ok:
                return False, f"{stream}: {reason}"
            end = (chain[-1].seq, chain[-1].hash) if chain else (0, GENESIS)
            if heads.get(stream) != end:
                return False, f"{stream}: the head does not match the last entry (entries removed)"
        return True, f"{len(rows)} entries in {len(streams)} chain(s), intact"
