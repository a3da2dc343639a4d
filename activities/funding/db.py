"""Shared helpers of the funding stores: the engine, transactions, idempotent inserts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine
from sqlalchemy.orm import Session

from activities.store.store import _insert_ignore, _make_engine
from activities.store.tables import Base


class FundingError(Exception):
    """Base class of every refusal of the funding stores; its message is one clear line."""


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


def insert_ignore(s: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """Insert unless a unique constraint is violated; True when the row was inserted."""
    return _insert_ignore(s, model, values)


class Database:
    """An engine on the store's URL with SQLite set up like the store's (BEGIN IMMEDIATE)."""

    def __init__(self, url: str) -> None:
        """Create the engine; the schema comes from ``Store.migrate``."""
        self.url = url
        self.engine: Engine = _make_engine(url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One short transaction, committed on success and rolled back on error."""
        with Session(self.engine) as s, s.begin():
            yield s

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
