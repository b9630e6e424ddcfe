"""The audit trail: ``audit_entries``, one row per accountable act, hash-chained per tenant
(issue 16).

Append-only at the database: the service role is granted SELECT and INSERT, nothing else, so
it can neither UPDATE, DELETE nor TRUNCATE an entry. ``seq`` numbers a tenant's entries 1, 2,
3 …; each entry carries the hash of the one before (``prev_hash``) and its own (``hash``, keyed
with the deployment's audit key, which the database never sees), which ``ponte audit verify``
recomputes. ``ponte_audit_append`` takes the tenant's chain lock (a transaction-level advisory
lock), reads the last entry's number and hash and, if they are the ones the caller chained
onto, inserts the caller's entries; otherwise it inserts nothing and returns them, for the
caller to chain again (under the lock it now holds, so the second call succeeds): one round
trip when the caller's guess is right, two when not. As a volatile function it reads under a
snapshot taken after the lock is granted, so two writers never chain onto the same entry.
Entries name objects by surrogate ids only.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db.migration_helpers import app_role

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTION_CHECK = r"action ~ '^[a-z]+(\.[a-z_]+)*$'"
OUTCOME_CHECK = "outcome IN ('ok', 'refused')"


def upgrade() -> None:
    jsonb = postgresql.JSONB()
    op.create_table(
        "audit_entries",
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("key_label", sa.Text(), nullable=True),
        sa.Column("actor_ref", sa.Text(), nullable=True),
        sa.Column("objects", jsonb, server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("ranker_version", sa.Text(), nullable=True),
        sa.Column("model_version", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("detail", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=True),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(ACTION_CHECK, name=op.f("ck_audit_entries_action")),
        sa.CheckConstraint(OUTCOME_CHECK, name=op.f("ck_audit_entries_outcome")),
        sa.CheckConstraint(
            "(seq = 1) = (prev_hash IS NULL)", name=op.f("ck_audit_entries_prev_hash")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_audit_entries_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name=op.f("pk_audit_entries")),
    )
    op.create_index("ix_audit_entries_tenant_id_at", "audit_entries", ["tenant_id", "at"])
    # Insert-only: let autovacuum visit it after every thousand entries, which also moves the
    # objects index's pending list into the index in the background (a request that finds the
    # list full does it itself, and waits tens of ms).
    op.execute(
        "ALTER TABLE audit_entries SET (autovacuum_vacuum_insert_threshold = 1000, "
        "autovacuum_vacuum_insert_scale_factor = 0)"
    )
    op.create_index(
        "ix_audit_entries_objects",
        "audit_entries",
        ["objects"],
        postgresql_using="gin",
        postgresql_ops={"objects": "jsonb_path_ops"},
    )
    # The chain lock's advisory-lock space, 0x41554454 ("AUDT"), is apart from the job
    # scheduler's ("PONT").
    op.execute(
        """
        CREATE FUNCTION ponte_audit_append(
            tenant uuid, expect_seq bigint, expect_hash bytea, entries jsonb,
            OUT appended boolean, OUT head_seq bigint, OUT head_hash bytea)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
          PERFORM pg_advisory_xact_lock(1096107092, hashtext(tenant::text));
          SELECT e.seq, e.hash INTO head_seq, head_hash FROM audit_entries e
           WHERE e.tenant_id = tenant ORDER BY e.seq DESC LIMIT 1;
          head_seq := coalesce(head_seq, 0);
          appended := head_seq = expect_seq AND head_hash IS NOT DISTINCT FROM expect_hash;
          IF appended THEN
            INSERT INTO audit_entries
            SELECT * FROM jsonb_populate_recordset(NULL::audit_entries, entries);
          END IF;
        END $$
        """
    )
    role = app_role()
    op.execute(f"GRANT SELECT, INSERT ON audit_entries TO {role}")
    op.execute(
        f"GRANT EXECUTE ON FUNCTION ponte_audit_append(uuid, bigint, bytea, jsonb) TO {role}"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION ponte_audit_append(uuid, bigint, bytea, jsonb)")
    op.drop_table("audit_entries")
