"""Erasing a candidate reaches the logs that point at them (issue 16): before the row goes, a
trigger empties the ``features`` and ``explanation`` of their ``shortlist_items`` (the numbers
and words derived from their profile), keeping rank and score, and replaces the caller's
``idempotency_key`` of their feedback events (callers often build it from their own ids) by
the event's id, and its ``body_hash`` (of a request that named them) by a hash of that id,
keeping every figure (callers may not send keys of that form); the foreign keys then set
``candidate_id`` to NULL as before. Snapshots
and the feedback log are append-only for the service role, so the trigger's function runs with
its owner's rights (SECURITY DEFINER, a fixed search_path), and does only this.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 02:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Owner's rights: every name is qualified and the search path is the catalog's alone, so
    # nothing the caller made (a temporary table or function of the same name) is reached.
    op.execute(
        """
        CREATE FUNCTION ponte_erase_from_snapshots() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
          UPDATE public.shortlist_items
             SET features = '{}'::pg_catalog.jsonb, explanation = '{}'::pg_catalog.jsonb
           WHERE candidate_id = OLD.id AND tenant_id = OLD.tenant_id;
          UPDATE public.feedback_events
             SET idempotency_key = 'erased:' OPERATOR(pg_catalog.||) id::pg_catalog.text,
                 body_hash = pg_catalog.sha256(
                     pg_catalog.convert_to(id::pg_catalog.text, 'UTF8'::pg_catalog.name))
           WHERE candidate_id = OLD.id AND tenant_id = OLD.tenant_id;
          RETURN OLD;
        END $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION ponte_erase_from_snapshots() FROM PUBLIC")
    op.execute(
        "CREATE TRIGGER candidates_erase_from_snapshots BEFORE DELETE ON candidates "
        "FOR EACH ROW EXECUTE FUNCTION ponte_erase_from_snapshots()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER candidates_erase_from_snapshots ON candidates")
    op.execute("DROP FUNCTION ponte_erase_from_snapshots()")
