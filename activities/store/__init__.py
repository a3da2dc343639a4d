"""The domain store (SQLAlchemy 2, SQLite or PostgreSQL, Alembic migrations)."""

from activities.store.store import (
    ContentRecord,
    OutcomeRecord,
    PersonaRecord,
    RoomPost,
    ShedRecord,
    Store,
    StoreError,
    UnknownContent,
    UnknownEntity,
    UnknownPersona,
)

__all__ = [
    "ContentRecord",
    "OutcomeRecord",
    "PersonaRecord",
    "RoomPost",
    "ShedRecord",
    "Store",
    "StoreError",
    "UnknownContent",
    "UnknownEntity",
    "UnknownPersona",
]

# Other persona kinds' tables join the same metadata, so migrations and checks see them.
import activities.agent.tables
import activities.api_access.tables
import activities.app.tables
import activities.funding.tables  # noqa: F401
