"""Delegations between personas (the persona -> persona edges of the delegation graph).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``agent_delegations``."""
    persona = sa.String(255)
    op.create_table(
        "agent_delegations",
        sa.Column("from_persona", persona, nullable=False),
        sa.Column("to_persona", persona, nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("entity_id", persona, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_persona"],
            ["personas.persona_id"],
            ondelete="CASCADE",
            name="fk_agent_delegations_from_persona_personas",
        ),
        sa.ForeignKeyConstraint(
            ["to_persona"],
            ["personas.persona_id"],
            ondelete="CASCADE",
            name="fk_agent_delegations_to_persona_personas",
        ),
        sa.ForeignKeyConstraint(
            ["entity_id", "resource"],
            ["agent_resources.entity_id", "agent_resources.name"],
            ondelete="CASCADE",
            name="fk_agent_delegations_resource_agent_resources",
        ),
        sa.PrimaryKeyConstraint(
            "from_persona", "to_persona", "resource", name="pk_agent_delegations"
        ),
    )
    op.create_index("ix_agent_delegations_entity_id", "agent_delegations", ["entity_id"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_agent_delegations_entity_id", table_name="agent_delegations")
    op.drop_table("agent_delegations")
