"""signing secrets: every webhook has one; a previous secret signs until a stored moment

Revision ID: 0003
Revises: 0002

SPEC §7: every webhook has a signing secret. Rows written before this version may have none:
each gets a generated `whsec_` secret of 32 random bytes, as a webhook created without one
gets now, so every delivery is signed from here on (the receiver reads the secret with
`GET .../secret`). The column stays nullable: NOT NULL on SQLite means rebuilding the table
(batch mode), and dropping the old `webhooks` there would cascade to its deliveries. The
service always writes a secret.

`secret_rotated_at` (a previous secret signed for a fixed 24 h after it) gives way to
`previous_secret_expires_at`, the end of the rotation's grace period, which a rotation now
chooses (0 to 7 days). A rotation under way keeps its end, rotated_at + 24 h; a previous secret
whose 24 h are over is dropped. The values are computed here in Python rather than in SQL, the
same way on both databases; both columns are added and dropped without batch mode (SQLite
3.35+ drops a column in place, keeping the table and its AUTOINCREMENT).

The generation is written out here, not imported, so this revision stays what it is when the
application code changes.
"""

import base64
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD_OVERLAP = timedelta(hours=24)


def _generated_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stored(moment: datetime | None, dialect: str) -> datetime | None:
    if moment is None or dialect != "sqlite":
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _webhooks() -> sa.TableClause:
    return sa.table(
        "webhooks",
        sa.column("id", sa.String()),
        sa.column("secret", sa.String()),
        sa.column("previous_secret", sa.String()),
        sa.column("secret_rotated_at", sa.DateTime(timezone=True)),
        sa.column("previous_secret_expires_at", sa.DateTime(timezone=True)),
    )


def upgrade() -> None:
    op.add_column(
        "webhooks",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    conn = op.get_bind()
    dialect = conn.dialect.name
    hooks = _webhooks()
    unsigned = conn.execute(sa.select(hooks.c.id).where(hooks.c.secret.is_(None))).scalars()
    fills = [{"hook": hook_id, "value": _generated_secret()} for hook_id in unsigned]
    if fills:
        conn.execute(
            hooks.update()
            .where(hooks.c.id == sa.bindparam("hook"))
            .values(secret=sa.bindparam("value")),
            fills,
        )
    now = datetime.now(UTC)
    live, over = [], []
    for hook_id, rotated_at in conn.execute(
        sa.select(hooks.c.id, hooks.c.secret_rotated_at).where(
            hooks.c.previous_secret.is_not(None)
        )
    ):
        expires = _aware(rotated_at) + OLD_OVERLAP if rotated_at is not None else None
        if expires is not None and expires > now:
            live.append({"hook": hook_id, "expires": _stored(expires, dialect)})
        else:
            over.append({"hook": hook_id})
    by_id = hooks.c.id == sa.bindparam("hook")
    if live:
        conn.execute(
            hooks.update().where(by_id).values(previous_secret_expires_at=sa.bindparam("expires")),
            live,
        )
    if over:
        conn.execute(hooks.update().where(by_id).values(previous_secret=None), over)
    # Not in batch mode: on SQLite that would rebuild the table (see above).
    op.drop_column("webhooks", "secret_rotated_at")


def downgrade() -> None:
    op.add_column(
        "webhooks", sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True)
    )
    conn = op.get_bind()
    dialect = conn.dialect.name
    hooks = _webhooks()
    # The old schema knew only a fixed 24 h overlap: a grace ending at E began at E - 24 h.
    batch = [
        {"hook": hook_id, "rotated": _stored(_aware(expires) - OLD_OVERLAP, dialect)}
        for hook_id, expires in conn.execute(
            sa.select(hooks.c.id, hooks.c.previous_secret_expires_at).where(
                hooks.c.previous_secret_expires_at.is_not(None)
            )
        )
    ]
    if batch:
        conn.execute(
            hooks.update()
            .where(hooks.c.id == sa.bindparam("hook"))
            .values(secret_rotated_at=sa.bindparam("rotated")),
            batch,
        )
    op.drop_column("webhooks", "previous_secret_expires_at")
