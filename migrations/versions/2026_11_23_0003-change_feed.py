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

from alembic import op

from app.db.migration_helpers import add_change_feed, drop_change_feed

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION ponte_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.changed_xid := pg_current_xact_id()::text::bigint;
          RETURN NEW;
        END $$
        """
    )
    add_change_feed("candidates", "candidate_deletions", "candidate_id", "ponte_record_deletion")


def downgrade() -> None:
    drop_change_feed("candidates", "candidate_deletions", "ponte_record_deletion")
    op.execute("DROP FUNCTION ponte_stamp_change()")
