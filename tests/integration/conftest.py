"""Fixtures for the store's integration tests, run on SQLite and on PostgreSQL.

PostgreSQL is required, never skipped: the URL comes from PERSONAS_TEST_POSTGRES_URL
(default below); a fresh, uniquely named database is created for the test session and
dropped at its end, and every test starts from an empty schema.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from activities.store import Store
from tests.helpers import fresh_postgres_database

DEFAULT_POSTGRES_URL = "postgresql+psycopg://personas:personas@127.0.0.1:5432/personas_test"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database created for this test session (dropped afterwards)."""
    server_url = os.environ.get("PERSONAS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    base = make_url(server_url)
    name = f"{base.database or 'personas_test'}_{uuid4().hex[:12]}"
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_postgres_database(server_url, name))
        except DBAPIError as exc:
            pytest.fail(
                "PostgreSQL is required by the store's integration tests, but database "
                f"{name!r} could not be created through {base.render_as_string()} "
                f"(set PERSONAS_TEST_POSTGRES_URL to a role allowed to CREATEDB): {exc}",
                pytrace=False,
            )
        yield url


def _drop_all_tables(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            metadata = MetaData()
            metadata.reflect(conn)
            metadata.drop_all(conn)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database (no tables) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _drop_all_tables(url)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    s = Store(store_url)
    s.migrate()
    yield s
    s.dispose()
