"""Batch jobs: ``jobs`` and their ``job_tasks`` (blocks of vacancies a worker claims), and where
a shortlist snapshot came from (``origin``: request or batch; ``job_id`` of the batch run, at
most one snapshot per vacancy and run). Issue 14; app/db/job_tables.py says how a task's row
lock is its lease. ``webhook_deliveries``: a changed shortlist top to POST to the tenant's
webhook, naming the two snapshots compared (the payload is built when sent). No personal data
in any of them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db.migration_helpers import app_role

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelt out (a migration stays as it was written); tests/test_vocabulary.py holds them equal to
# app/vocabulary.py.
KIND_CHECK = "kind IN ('rerank')"
STATE_CHECK = "state IN ('queued', 'running', 'done', 'failed', 'cancelled')"
TRIGGER_CHECK = "trigger IN ('cli', 'api', 'activate', 'rollback', 'reembed', 'schedule')"
TASK_STATE_CHECK = "state IN ('queued', 'done', 'failed')"
ORIGIN_CHECK = "origin IN ('request', 'batch')"
DELIVERY_STATE_CHECK = "state IN ('queued', 'delivered', 'failed')"


def upgrade() -> None:
    uuid = postgresql.UUID(as_uuid=True)
    stamp = sa.DateTime(timezone=True)
    op.create_table(
        "jobs",
        sa.Column("id", uuid, server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", uuid, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), server_default="queued", nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column(
            "errors", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", stamp, server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", stamp, nullable=True),
        sa.Column("finished_at", stamp, nullable=True),
        sa.CheckConstraint(KIND_CHECK, name=op.f("ck_jobs_kind")),
        sa.CheckConstraint(STATE_CHECK, name=op.f("ck_jobs_state")),
        sa.CheckConstraint(TRIGGER_CHECK, name=op.f("ck_jobs_trigger")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_jobs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_jobs_tenant_id_id")),
    )
    op.create_index("ix_jobs_tenant_id_created_at", "jobs", ["tenant_id", "created_at"])
    op.create_index(
        "ix_jobs_unfinished",
        "jobs",
        ["created_at"],
        postgresql_where=sa.text("state IN ('queued', 'running')"),
    )
    op.create_table(
        "job_tasks",
        sa.Column("job_id", uuid, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("tenant_id", uuid, nullable=False),
        sa.Column("vacancy_ids", postgresql.ARRAY(uuid), nullable=False),
        sa.Column("state", sa.Text(), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("vacancies", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("finished_at", stamp, nullable=True),
        sa.CheckConstraint(TASK_STATE_CHECK, name=op.f("ck_job_tasks_state")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_job_tasks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "job_id"],
            ["jobs.tenant_id", "jobs.id"],
            name=op.f("fk_job_tasks_tenant_id_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_job_tasks")),
    )
    op.create_index(
        "ix_job_tasks_queued",
        "job_tasks",
        ["job_id", "seq"],
        postgresql_where=sa.text("state = 'queued'"),
    )
    op.add_column(
        "shortlists", sa.Column("origin", sa.Text(), server_default="request", nullable=False)
    )
    op.add_column("shortlists", sa.Column("job_id", uuid, nullable=True))
    op.create_check_constraint(op.f("ck_shortlists_origin"), "shortlists", ORIGIN_CHECK)
    op.create_foreign_key(
        op.f("fk_shortlists_tenant_id_job_id_jobs"),
        "shortlists",
        "jobs",
        ["tenant_id", "job_id"],
        ["tenant_id", "id"],
    )
    op.create_index(
        "ix_shortlists_job_id_vacancy_id",
        "shortlists",
        ["job_id", "vacancy_id"],
        unique=True,
        postgresql_where=sa.text("job_id IS NOT NULL"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", uuid, nullable=False),
        sa.Column("job_id", uuid, nullable=False),
        sa.Column("shortlist_id", uuid, nullable=False),
        sa.Column("previous_id", uuid, nullable=True),
        sa.Column("state", sa.Text(), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", stamp, server_default=sa.text("now()"), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", stamp, nullable=True),
        sa.Column("created_at", stamp, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(DELIVERY_STATE_CHECK, name=op.f("ck_webhook_deliveries_state")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_webhook_deliveries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "job_id"],
            ["jobs.tenant_id", "jobs.id"],
            name=op.f("fk_webhook_deliveries_tenant_id_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shortlist_id"],
            ["shortlists.tenant_id", "shortlists.id"],
            name=op.f("fk_webhook_deliveries_tenant_id_shortlist_id_shortlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_job_id", "webhook_deliveries", ["job_id"])
    op.create_index(
        "ix_webhook_deliveries_tenant_id_shortlist_id",
        "webhook_deliveries",
        ["tenant_id", "shortlist_id"],
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'queued'"),
    )
    role = app_role()
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON jobs, job_tasks, webhook_deliveries TO {role}")


def downgrade() -> None:
    op.drop_index("ix_shortlists_job_id_vacancy_id", table_name="shortlists")
    op.drop_constraint(op.f("fk_shortlists_tenant_id_job_id_jobs"), "shortlists")
    op.drop_constraint(op.f("ck_shortlists_origin"), "shortlists")
    op.drop_column("shortlists", "job_id")
    op.drop_column("shortlists", "origin")
    op.drop_table("webhook_deliveries")
    op.drop_table("job_tasks")
    op.drop_table("jobs")
