"""``deployment_keys``: a fingerprint of each deployment secret (the label key, the audit key),
written by the first process that uses the database, checked by every process that starts
after: one with another key refuses to start instead of silently chaining the audit trail
(or hashing labels) under it. A fingerprint is the key's HMAC of a fixed text: it tells keys
apart and says nothing of them. The service role may read and add rows, never change them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.migration_helpers import app_role

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployment_keys",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployment_keys")),
    )
    op.execute(f"GRANT SELECT, INSERT ON deployment_keys TO {app_role()}")


def downgrade() -> None:
    op.drop_table("deployment_keys")
