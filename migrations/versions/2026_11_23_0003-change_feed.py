"""Change feed for in-process matching state: every candidate write stamps the writing
transaction's id, and every deletion leaves a tombstone (ids only, no personal data).

A process that keeps a tenant's candidates in memory asks for rows and tombstones stamped at or
after the oldest transaction that was still running at its last refresh
(``pg_snapshot_xmin``), so it never misses a write that committed late.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.migration_helpers import app_role, revoke_all

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENTS = (
    """
    CREATE FUNCTION ponte_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.changed_xid := pg_current_xact_id()::text::bigint;
      RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION ponte_record_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO candidate_deletions (tenant_id, deleted_xid, candidate_id)
      VALUES (OLD.tenant_id, pg_current_xact_id()::text::bigint, OLD.id);
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER candidates_stamp_change BEFORE INSERT OR UPDATE ON candidates
    FOR EACH ROW EXECUTE FUNCTION ponte_stamp_change()
    """,
    """
    CREATE TRIGGER candidates_record_deletion AFTER DELETE ON candidates
    FOR EACH ROW EXECUTE FUNCTION ponte_record_deletion()
    """,
)


def upgrade() -> None:
    op.add_column(
        "candidates",
        sa.Column("changed_xid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index(
        "ix_candidates_tenant_id_changed_xid",
        "candidates",
        ["tenant_id", "changed_xid"],
        unique=False,
        postgresql_include=["id"],
    )
    op.create_table(
        "candidate_deletions",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("deleted_xid", sa.BigInteger(), nullable=False),
        sa.Column("candidate_id", sa.UUID(), nullable=False),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "deleted_xid", "candidate_id", name=op.f("pk_candidate_deletions")
        ),
    )
    for statement in STATEMENTS:
        op.execute(statement)
    # Tombstones are written by the trigger, read by the service and pruned by it when old.
    op.execute(f"GRANT SELECT, INSERT, DELETE ON candidate_deletions TO {app_role()}")


def downgrade() -> None:
    op.execute("DROP TRIGGER candidates_record_deletion ON candidates")
    op.execute("DROP TRIGGER candidates_stamp_change ON candidates")
    op.execute("DROP FUNCTION ponte_record_deletion()")
    op.execute("DROP FUNCTION ponte_stamp_change()")
    revoke_all("candidate_deletions")
    op.drop_table("candidate_deletions")
    op.drop_index("ix_candidates_tenant_id_changed_xid", table_name="candidates")
    op.drop_column("candidates", "changed_xid")
