"""The database layer every store shares: the engine, transactions and small SQL helpers.

A process builds ONE engine with :func:`make_engine` and hands it to the domain store, the
funding database, the app repository and the resource manager, so a worker holds one
connection pool. On SQLite the engine lets SQLAlchemy issue ``BEGIN``: writes take the lock
at once (``BEGIN IMMEDIATE``), reads begin deferred beside a writer (WAL). On PostgreSQL
connections are checked before use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Engine,
    Table,
    create_engine,
    event,
    insert,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session

from activities.store.tables import Base

POOL_SIZE = 5
"""Connections the engine keeps open while idle."""
POOL_OVERFLOW = 50
"""Connections it may open beyond those under load: every thread of a worker (its activity
executor and the event loop's default executor) can hold one, so none waits for the pool."""
READ_ONLY = "personas_read_only"
"""Execution option marking a transaction that only reads (see :func:`read_tx`)."""


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, issue BEGIN (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # Reads begin deferred (WAL lets them run beside a writer); writes take the lock at once.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN DEFERRED")
        return
    # Take the write lock up front: a deferred transaction that reads and then writes can
    # fail with SQLITE_BUSY at once instead of waiting for the busy timeout.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """The engine for ``url`` (SQLite file or PostgreSQL), set up for short transactions.

    Build one per process and share it; the schema comes from ``Store.migrate``.
    """
    parsed = make_url(url)
    pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **pool)
    if parsed.database in (None, "", ":memory:"):
        pool = {}  # an in-memory database lives in one connection per thread, not a pool
    connect_args = {"check_same_thread": False, "timeout": 30.0}
    engine = create_engine(url, connect_args=connect_args, **pool)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def engine_for(database: Engine | str) -> Engine:
    """``database`` itself when it is an engine, else a new engine on that URL."""
    return make_engine(database) if isinstance(database, str) else database


@contextmanager
def tx(engine: Engine) -> Iterator[Session]:
    """One short transaction, committed on success and rolled back on error."""
    with Session(engine) as s, s.begin():
        yield s


@contextmanager
def read_tx(engine: Engine) -> Iterator[Session]:
    """A transaction that only reads: on SQLite it does not take the write lock."""
    with Session(engine.execution_options(**{READ_ONLY: True})) as s, s.begin():
        yield s


def utc(now: datetime | None) -> datetime:
    """``now`` in UTC (the current time when None); naive datetimes are refused."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware datetime")
    return now.astimezone(UTC)


def rowcount(result: object) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return cast(CursorResult[Any], result).rowcount


def revoke_once(s: Session, key: QueryableAttribute[str], value: str, at: datetime) -> bool:
    """Stamp ``revoked_at = at`` on the row whose ``key`` column is ``value`` unless it was
    revoked before; True when this call revoked it (a repeat keeps the first time)."""
    model = key.class_
    done = s.execute(
        update(model).where(key == value, model.revoked_at.is_(None)).values(revoked_at=at)
    )
    return rowcount(done) > 0


def insert_ignore(s: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """Insert a row unless it violates a unique constraint; True when it was inserted."""
    table = cast(Table, model.__table__)
    dialect = s.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = dialect_insert(table).values(values).on_conflict_do_nothing()
        return s.execute(stmt.returning(*table.primary_key.columns)).first() is not None
    try:  # any other backend: a savepoint, and the unique constraint's IntegrityError
        with s.begin_nested():
            s.execute(insert(table).values(values))
    except IntegrityError:
        return False
    return True


class Scope(TypedDict, total=False):
    """Which rows a query covers: one persona, one entity and ``since <= at < until``, each
    only when given; query methods take it as keyword arguments (``**scope``)."""

    persona_id: str | None
    entity_id: str | None
    since: datetime | None
    until: datetime | None


def scope_filter(
    *,
    at: QueryableAttribute[datetime],
    persona: QueryableAttribute[Any],
    entity: QueryableAttribute[Any] | None = None,
    **scope: Unpack[Scope],
) -> list[ColumnElement[bool]]:
    """Conditions selecting the rows of ``scope`` (see :class:`Scope`); pass them to
    ``where(*...)``.

    ``entity`` is the table's entity column; a table without one is filtered by persona only.
    """
    persona_id, entity_id = scope.get("persona_id"), scope.get("entity_id")
    since, until = scope.get("since"), scope.get("until")
    if entity_id is not None and entity is None:
        raise ValueError("an entity filter on a table without an entity column")
    conds: list[ColumnElement[bool]] = []
    if persona_id is not None:
        conds.append(persona == persona_id)
    if entity is not None and entity_id is not None:
        conds.append(entity == entity_id)
    if since is not None:
        conds.append(at >= utc(since))
    if until is not None:
        conds.append(at < utc(until))
    return conds
