"""An agent persona's memory of each room and person: a bounded window and a summary.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``agent_memory``."""
    op.create_table(
        "agent_memory",
        sa.Column("persona_id", sa.String(255), nullable=False),
        sa.Column("about", sa.String(300), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["persona_id"],
            ["personas.persona_id"],
            ondelete="CASCADE",
            name="fk_agent_memory_persona_id_personas",
        ),
        sa.PrimaryKeyConstraint("persona_id", "about", name="pk_agent_memory"),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("agent_memory")
