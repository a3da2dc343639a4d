"""Initial schema.

Entities and their resources, personas and their versions, contents, shed items,
outcomes and room posts.
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None

ID = sa.String(255)


def _time(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "entities",
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("entity_id", name="pk_entities"),
    )
    op.create_table(
        "entity_resources",
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entities.entity_id"],
            name="fk_entity_resources_entity_id_entities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entity_id", "resource", name="pk_entity_resources"),
    )
    op.create_table(
        "personas",
        sa.Column("persona_id", ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("life_status", sa.String(32), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.entity_id"], name="fk_personas_entity_id_entities"
        ),
        sa.PrimaryKeyConstraint("persona_id", name="pk_personas"),
        sa.UniqueConstraint("entity_id", "name", name="uq_personas_entity_id_name"),
    )
    op.create_index("ix_personas_kind", "personas", ["kind"])
    op.create_table(
        "persona_versions",
        sa.Column("persona_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        _time("created_at"),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["persona_id"],
            ["personas.persona_id"],
            name="fk_persona_versions_persona_id_personas",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("persona_id", "version", name="pk_persona_versions"),
    )
    op.create_table(
        "contents",
        sa.Column("content_id", ID, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("content_id", name="pk_contents"),
    )
    op.create_table(
        "shed_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("persona_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("priority_bp", sa.Integer(), nullable=False),
        sa.Column("item", sa.JSON(), nullable=False),
        _time("shed_at"),
        sa.PrimaryKeyConstraint("id", name="pk_shed_items"),
        sa.UniqueConstraint("persona_id", "item_id", name="uq_shed_items_persona_id_item_id"),
    )
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("persona_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("output_ref", ID, nullable=True),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        _time("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_outcomes"),
        sa.UniqueConstraint("persona_id", "item_id", name="uq_outcomes_persona_id_item_id"),
    )
    op.create_table(
        "room_posts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("room_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("persona_id", ID, nullable=False),
        sa.Column("content_ref", ID, nullable=False),
        _time("posted_at"),
        sa.PrimaryKeyConstraint("id", name="pk_room_posts"),
        sa.UniqueConstraint(
            "room_id",
            "message_id",
            "persona_id",
            name="uq_room_posts_room_id_message_id_persona_id",
        ),
    )
    op.create_index("ix_room_posts_room_id_posted_at", "room_posts", ["room_id", "posted_at"])


def downgrade() -> None:
    """Drop the tables."""
    op.drop_index("ix_room_posts_room_id_posted_at", table_name="room_posts")
    op.drop_table("room_posts")
    op.drop_table("outcomes")
    op.drop_table("shed_items")
    op.drop_table("contents")
    op.drop_table("persona_versions")
    op.drop_index("ix_personas_kind", table_name="personas")
    op.drop_table("personas")
    op.drop_table("entity_resources")
    op.drop_table("entities")
