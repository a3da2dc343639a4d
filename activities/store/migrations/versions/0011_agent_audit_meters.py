"""The tool audit's meters as columns: result reference, CPU milliseconds, bytes read and
written (they were spelled out in ``reason``, which now says only ok, error or why refused).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METERS = ("cpu_ms", "bytes_read", "bytes_written")


def upgrade() -> None:
    """Add ``result_ref`` and the meters (0 for rows audited before)."""
    op.add_column("agent_tool_audit", sa.Column("result_ref", sa.String(300), nullable=True))
    for name in METERS:
        op.add_column(
            "agent_tool_audit",
            sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"),
        )


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("agent_tool_audit") as batch:
        for name in ("result_ref", *METERS):
            batch.drop_column(name)
