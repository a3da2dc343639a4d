"""Audit entries keyed for idempotent appends, and the funding administrators."""

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"

ID = sa.String(length=255)


def upgrade() -> None:
    """Add ``audit_log.entry_key`` (unique) and create ``funding_admins``."""
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("entry_key", sa.String(length=255), nullable=True))
        batch.create_unique_constraint(op.f("uq_audit_log_entry_key"), ["entry_key"])
    op.create_table(
        "funding_admins",
        sa.Column("admin_id", ID, nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("admin_id", name=op.f("pk_funding_admins")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_funding_admins_key_hash")),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("funding_admins")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(op.f("uq_audit_log_entry_key"), type_="unique")
        batch.drop_column("entry_key")
