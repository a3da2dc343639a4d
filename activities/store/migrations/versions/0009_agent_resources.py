"""Agent resources, grants, recorded turn steps and the tool audit."""

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"


def upgrade() -> None:
    """Create the four agent tables."""
    op.create_table(
        "agent_resources",
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("location", sa.String(1024), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entities.entity_id"],
            name="fk_agent_resources_entity_id_entities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entity_id", "name", name="pk_agent_resources"),
    )
    op.create_table(
        "agent_grants",
        sa.Column("persona_id", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["persona_id"],
            ["personas.persona_id"],
            name="fk_agent_grants_persona_id_personas",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entity_id", "resource"],
            ["agent_resources.entity_id", "agent_resources.name"],
            name="fk_agent_grants_resource_agent_resources",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("persona_id", "resource", name="pk_agent_grants"),
    )
    op.create_table(
        "agent_steps",
        sa.Column("persona_id", sa.String(255), nullable=False),
        sa.Column("item_id", sa.String(255), nullable=False),
        sa.Column("step", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("persona_id", "item_id", "step", name="pk_agent_steps"),
    )
    op.create_table(
        "agent_tool_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("persona_id", sa.String(255), nullable=False),
        sa.Column("item_id", sa.String(255), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("args_digest", sa.String(64), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_tool_audit"),
        sa.UniqueConstraint(
            "persona_id", "item_id", "step", name="uq_agent_tool_audit_persona_id_item_id_step"
        ),
    )
    op.create_index("ix_agent_tool_audit_persona_id_at", "agent_tool_audit", ["persona_id", "at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_agent_tool_audit_persona_id_at", table_name="agent_tool_audit")
    op.drop_table("agent_tool_audit")
    op.drop_table("agent_steps")
    op.drop_table("agent_grants")
    op.drop_table("agent_resources")
