"""App reservations and queue entries name their deployment.

Two deployments may share one store (two Temporal namespaces on one database); each
reconciler then frees only its own deployment's reservations and queue entries. Rows written
before this revision have no deployment (NULL) and are seen by every deployment's reconciler,
as they were before.
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"

TABLES = ("app_reservations", "app_queue")


def upgrade() -> None:
    """Add a nullable ``deployment`` column to the reservations and the queue."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("deployment", sa.String(63), nullable=True))


def downgrade() -> None:
    """Drop the ``deployment`` columns."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deployment")
