"""Funding: ledger accounts, transactions, entries and holds; usage events; performance
outcomes; rules versions; API keys; the hash-chained audit log; ads and impressions.
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    """Create the funding tables."""

    op.create_table(
        "ad_impressions",
        sa.Column("impression_key", sa.String(length=255), nullable=False),
        sa.Column("persona_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("ad_id", sa.String(length=255), nullable=True),
        sa.Column("targeted", sa.Boolean(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("credited", sa.BigInteger(), nullable=False),
        sa.Column("tx_id", sa.String(length=255), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("impression_key", name=op.f("pk_ad_impressions")),
    )
    with op.batch_alter_table("ad_impressions", schema=None) as batch_op:
        batch_op.create_index("ix_ad_impressions_persona_id_at", ["persona_id", "at"], unique=False)

    op.create_table(
        "ad_preferences",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_ad_preferences")),
    )
    op.create_table(
        "ads",
        sa.Column("ad_id", sa.String(length=255), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("revenue_per_impression", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("ad_id", name=op.f("pk_ads")),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=255), nullable=False),
        sa.Column("persona_id", sa.String(length=255), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_persona_id"), ["persona_id"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("stream", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stream", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("persona_id", sa.String(length=255), nullable=True),
        sa.Column("entity_id", sa.String(length=255), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("stream", "seq", name=op.f("uq_audit_log_stream_seq")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_entity_id"), ["entity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_persona_id"), ["persona_id"], unique=False)

    op.create_table(
        "funding_accounts",
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=True),
        sa.Column("persona_id", sa.String(length=255), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("may_go_negative", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_funding_accounts")),
    )
    with op.batch_alter_table("funding_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_funding_accounts_entity_id_kind", ["entity_id", "kind"], unique=False
        )

    op.create_table(
        "funding_holds",
        sa.Column("hold_id", sa.String(length=255), nullable=False),
        sa.Column("persona_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("charged", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hold_id", name=op.f("pk_funding_holds")),
    )
    with op.batch_alter_table("funding_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_funding_holds_status_expires_at", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "funding_rules",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_funding_rules")),
    )
    op.create_table(
        "funding_transactions",
        sa.Column("tx_id", sa.String(length=255), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("persona_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tx_id", name=op.f("pk_funding_transactions")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_funding_transactions_idempotency_key")
        ),
    )
    with op.batch_alter_table("funding_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_funding_transactions_persona_id"), ["persona_id"], unique=False
        )

    op.create_table(
        "performance_outcomes",
        sa.Column("outcome_key", sa.String(length=255), nullable=False),
        sa.Column("persona_id", sa.String(length=255), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("accurate", sa.Boolean(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("outcome_key", name=op.f("pk_performance_outcomes")),
    )
    with op.batch_alter_table("performance_outcomes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_performance_outcomes_persona_id_recorded_at",
            ["persona_id", "recorded_at"],
            unique=False,
        )

    op.create_table(
        "usage_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=255), nullable=False),
        sa.Column("persona_id", sa.String(length=255), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("activity", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("tx_id", sa.String(length=255), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_usage_events_event_key")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_events_entity_id_occurred_at", ["entity_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_usage_events_persona_id_occurred_at", ["persona_id", "occurred_at"], unique=False
        )

    op.create_table(
        "funding_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tx_id", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["funding_accounts.account_id"],
            name=op.f("fk_funding_entries_account_id_funding_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["tx_id"],
            ["funding_transactions.tx_id"],
            name=op.f("fk_funding_entries_tx_id_funding_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_entries")),
    )
    with op.batch_alter_table("funding_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_funding_entries_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_funding_entries_tx_id"), ["tx_id"], unique=False)


def downgrade() -> None:
    """Drop the funding tables."""

    with op.batch_alter_table("funding_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_entries_tx_id"))
        batch_op.drop_index(batch_op.f("ix_funding_entries_account_id"))

    op.drop_table("funding_entries")
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_events_persona_id_occurred_at")
        batch_op.drop_index("ix_usage_events_entity_id_occurred_at")

    op.drop_table("usage_events")
    with op.batch_alter_table("performance_outcomes", schema=None) as batch_op:
        batch_op.drop_index("ix_performance_outcomes_persona_id_recorded_at")

    op.drop_table("performance_outcomes")
    with op.batch_alter_table("funding_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_transactions_persona_id"))

    op.drop_table("funding_transactions")
    op.drop_table("funding_rules")
    with op.batch_alter_table("funding_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_funding_holds_status_expires_at")

    op.drop_table("funding_holds")
    with op.batch_alter_table("funding_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_funding_accounts_entity_id_kind")

    op.drop_table("funding_accounts")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_persona_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_entity_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    op.drop_table("audit_head")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_persona_id"))

    op.drop_table("api_keys")
    op.drop_table("ads")
    op.drop_table("ad_preferences")
    with op.batch_alter_table("ad_impressions", schema=None) as batch_op:
        batch_op.drop_index("ix_ad_impressions_persona_id_at")

    op.drop_table("ad_impressions")
