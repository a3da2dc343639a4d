"""The funding stores' database: the process's engine, and the error they all refuse with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from activities.store.db import engine_for, read_tx, tx


class FundingError(Exception):
    """Base class of every refusal of the funding stores; its message is one clear line."""


class Database:
    """The funding stores' engine: the store's (shared), or one of its own on a URL."""

    def __init__(self, database: Engine | str) -> None:
        """Use ``database``: the process's engine from ``make_engine`` (its creator disposes
        it), or a URL to build one of its own; the schema comes from ``Store.migrate``."""
        self._owns_engine = isinstance(database, str)
        self.engine: Engine = engine_for(database)

    @property
    def url(self) -> str:
        """The database URL of the engine."""
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One short transaction, committed on success and rolled back on error."""
        with tx(self.engine) as s:
            yield s

    @contextmanager
    def read_tx(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it does not take the write lock."""
        with read_tx(self.engine) as s:
            yield s

    def dispose(self) -> None:
        """Close the pooled connections of an engine built from a URL (an injected engine is
        left to its creator)."""
        if self._owns_engine:
            self.engine.dispose()


class OnDatabase:
    """A base for the funding stores that work on one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        """Use ``db``'s engine (see :class:`Database`)."""
        self.db = db
