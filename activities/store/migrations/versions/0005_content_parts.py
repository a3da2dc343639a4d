"""Content parts: a ``contents.parts`` JSON column.

A content is a sequence of parts (text, JSON, blob references). Rows written before this
revision need no rewrite: their ``text`` reads as a single text part and their ``data`` as a
single JSON part (see ``activities/store/content_parts.py``), which is also how such simple
contents are still written, so plain text is never stored twice.
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    """Add ``contents.parts`` (nullable JSON)."""
    with op.batch_alter_table("contents") as batch:
        batch.add_column(sa.Column("parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop ``contents.parts``, first keeping a parts-only content's parts as JSON text."""
    op.execute(
        "UPDATE contents SET text = CAST(parts AS TEXT) WHERE parts IS NOT NULL AND text IS NULL"
    )
    with op.batch_alter_table("contents") as batch:
        batch.drop_column("parts")
