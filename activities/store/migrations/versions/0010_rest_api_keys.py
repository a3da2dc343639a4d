"""The REST API's bearer keys (SHA-256 digests only) and idempotency records."""

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"


def upgrade() -> None:
    """Create ``rest_api_keys`` and ``rest_api_idempotency``."""
    op.create_table(
        "rest_api_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(255), nullable=True),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_rest_api_keys"),
        sa.UniqueConstraint("digest", name="uq_rest_api_keys_digest"),
    )
    op.create_table(
        "rest_api_idempotency",
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("location", sa.String(512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_rest_api_idempotency"),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("rest_api_idempotency")
    op.drop_table("rest_api_keys")
