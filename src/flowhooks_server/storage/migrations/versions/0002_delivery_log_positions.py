"""delivery log positions: the writing transaction of each entry, for gap-free watch cursors

Revision ID: 0002
Revises: 0001

`delivery_logs.txid` is the id of the transaction that wrote the row, filled in by the
database: on PostgreSQL (13 or later) `pg_current_xact_id()`, on SQLite 0 (one writer at a
time, so `seq` order already is commit order). A log entry's position, and a watch cursor, is
`(txid, seq)`; see `flowhooks_server.storage.logs`.

Rows already there get txid 0, which puts them before everything written from now on, in
their `seq` order, which is where the bare-seq cursors of earlier versions point. On
PostgreSQL the column is added with the constant default first (stored in the catalog, no
table rewrite) and only then given the per-transaction default, for rows written later.

The watch indexes gain `txid` ahead of `seq`. Built inside the migration's transaction, so
writes to `delivery_logs` wait for them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WRITER_TXID = "pg_current_xact_id()::text::bigint"


def upgrade() -> None:
    op.add_column(
        "delivery_logs",
        sa.Column("txid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    if op.get_context().dialect.name == "postgresql":
        op.alter_column("delivery_logs", "txid", server_default=sa.text(WRITER_TXID))
    with op.batch_alter_table("delivery_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_logs_tenant_webhook")
        batch_op.drop_index("ix_logs_tenant_type")
        batch_op.create_index("ix_logs_position", ["txid", "seq"], unique=False)
        batch_op.create_index(
            "ix_logs_tenant_webhook_position",
            ["tenant_id", "webhook_id", "txid", "seq"],
            unique=False,
        )
        batch_op.create_index(
            "ix_logs_tenant_type_position", ["tenant_id", "event_type", "txid", "seq"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_logs_tenant_type_position")
        batch_op.drop_index("ix_logs_tenant_webhook_position")
        batch_op.drop_index("ix_logs_position")
        batch_op.create_index(
            "ix_logs_tenant_type", ["tenant_id", "event_type", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_logs_tenant_webhook", ["tenant_id", "webhook_id", "seq"], unique=False
        )
    # Not in batch mode: on SQLite that would rebuild the table, without its AUTOINCREMENT.
    op.drop_column("delivery_logs", "txid")
