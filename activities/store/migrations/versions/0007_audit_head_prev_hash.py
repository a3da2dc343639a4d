"""An audit stream's head keeps the hash before its last entry.

The ledger's posting on PostgreSQL advances the head and writes the entry in one statement:
the head's upsert computes the new hash from the old one and returns both (a RETURNING
clause sees only the new row, so the old hash is kept in the row). Other appends leave it
as it was; only the posting reads it, right after setting it.
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"


def upgrade() -> None:
    """Add the nullable ``prev_hash`` column."""
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("prev_hash")
