"""App personas: host capacity, reservations, the wait queue, sessions and grants."""

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"

ID = sa.String(length=255)


def upgrade() -> None:
    """Create the app persona tables."""
    op.create_table(
        "app_hosts",
        sa.Column("host_id", ID, nullable=False),
        sa.Column("cpu_millis", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("storage_mb", sa.Integer(), nullable=False),
        sa.Column("used_cpu_millis", sa.Integer(), nullable=False),
        sa.Column("used_memory_mb", sa.Integer(), nullable=False),
        sa.Column("used_storage_mb", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", name=op.f("pk_app_hosts")),
    )
    op.create_table(
        "app_reservations",
        sa.Column("session_id", ID, nullable=False),
        sa.Column("host_id", ID, nullable=False),
        sa.Column("persona_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("cpu_millis", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("storage_mb", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reserved_ms", sa.BigInteger(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_app_reservations")),
    )
    op.create_index("ix_app_reservations_host_id_state", "app_reservations", ["host_id", "state"])
    op.create_table(
        "app_queue",
        sa.Column("session_id", ID, nullable=False),
        sa.Column("host_id", ID, nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enqueued_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_app_queue")),
    )
    op.create_index("ix_app_queue_host_id", "app_queue", ["host_id"])
    op.create_table(
        "app_sessions",
        sa.Column("session_id", ID, nullable=False),
        sa.Column("persona_id", ID, nullable=False),
        sa.Column("persona_version", sa.Integer(), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_app_sessions")),
    )
    op.create_index("ix_app_sessions_user_id", "app_sessions", ["user_id"])
    op.create_table(
        "app_grants",
        sa.Column("persona_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("persona_id", "user_id", name=op.f("pk_app_grants")),
    )


def downgrade() -> None:
    """Drop the app persona tables."""
    op.drop_table("app_grants")
    op.drop_index("ix_app_sessions_user_id", table_name="app_sessions")
    op.drop_table("app_sessions")
    op.drop_index("ix_app_queue_host_id", table_name="app_queue")
    op.drop_table("app_queue")
    op.drop_index("ix_app_reservations_host_id_state", table_name="app_reservations")
    op.drop_table("app_reservations")
    op.drop_table("app_hosts")
