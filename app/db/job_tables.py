"""Jobs: batch runs split into tasks that workers claim (issue 14; migration 0009).

A job is one run for one tenant (``kind`` rerank: re-rank its open vacancies); its tasks are
blocks of vacancies. A worker claims a task with ``FOR UPDATE SKIP LOCKED`` and does its whole
work — the snapshots of its block and the task marked done — in that one transaction, so the
row lock is the lease: a worker that dies loses its connection, PostgreSQL rolls its work back
and releases the lock, and the task is claimed again, whole (app/services/worker.py). Neither
table holds personal data: vacancy ids, counts, and errors (the exception's type and message,
no ranked person). ``webhook_deliveries`` names the two snapshots a change set compares, not
the people: the payload is built from them when it is sent, so a person erased meanwhile is in
no payload sent after.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import PrimaryKeyConstraint

from app.db.base import Base
from app.db.tables import _created, _in, _tenant_fk, _uuid_pk
from app.vocabulary import DELIVERY_STATES, JOB_KINDS, JOB_STATES, JOB_TRIGGERS, TASK_STATES


class Job(Base):
    """One run of a batch job for one tenant. Progress is counted from its tasks."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint(_in("kind", JOB_KINDS), name="kind"),
        CheckConstraint(_in("state", JOB_STATES), name="state"),
        CheckConstraint(_in("trigger", JOB_TRIGGERS), name="trigger"),
        Index("ix_jobs_tenant_id_created_at", "tenant_id", "created_at"),
        # what a worker looks for: jobs with work left
        Index(
            "ix_jobs_unfinished",
            "created_at",
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="queued")
    trigger: Mapped[str] = mapped_column(Text, nullable=False)
    # What it was asked for: the shortlist length, the vacancies named (None: all open ones).
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    total: Mapped[int] = mapped_column(Integer, nullable=False)  # tasks
    errors: Mapped[list[Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    # per task seq, how many times a worker took it (migration 0013: a task that kills its
    # worker is seen coming back)
    claims: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class JobTask(Base):
    """One block of a job's vacancies: claimed by one worker at a time, done once."""

    __tablename__ = "job_tasks"
    __table_args__ = (
        PrimaryKeyConstraint("job_id", "seq"),
        ForeignKeyConstraint(
            ["tenant_id", "job_id"], ["jobs.tenant_id", "jobs.id"], ondelete="CASCADE"
        ),
        CheckConstraint(_in("state", TASK_STATES), name="state"),
        Index("ix_job_tasks_queued", "job_id", "seq", postgresql_where=text("state = 'queued'")),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    seq: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    vacancy_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # re-ranked, and skipped (closed, filled or deleted since the job was queued)
    vacancies: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(Text)  # host:pid that committed it
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """A changed top of a vacancy's shortlist, to be POSTed to the tenant's webhook."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "job_id"], ["jobs.tenant_id", "jobs.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "shortlist_id"],
            ["shortlists.tenant_id", "shortlists.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
        Index("ix_webhook_deliveries_job_id", "job_id"),
        # what the cascade from a deleted vacancy's snapshots looks up
        Index("ix_webhook_deliveries_tenant_id_shortlist_id", "tenant_id", "shortlist_id"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("state = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    shortlist_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # the snapshot it is compared with (None: the vacancy's first)
    previous_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = _created()
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _created()
