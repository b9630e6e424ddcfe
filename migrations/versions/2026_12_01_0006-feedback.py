"""Recruiter feedback and placement outcomes (issue 12).

``feedback_events`` is append-only for the service role: it is granted SELECT and INSERT only,
so neither a bug nor a stolen key can rewrite the log a programme is funded on and a ranker is
trained from; a correction is a new ``retracted`` event. References to vacancies, candidates,
employers and shortlists are set to NULL by the database when those rows go (referential actions
run as the table's owner), so an erased person's events keep their figures and lose the person;
``person_key`` and ``path_key`` (hashes of ids that erasure deletes) still group them.
The free-text note, which may hold personal data, lives in ``feedback_notes`` (SELECT, INSERT,
DELETE): deleted with its candidate, or on its own.

Candidates and vacancies gain ``status_changed_at`` (NULL until a status other than the one a
row is created with is set) and ``status_source`` (caller or feedback), so feedback moves a
status only when it is newer than a caller's own setting; candidates gain
``entered_on``, the day they entered the programme (cohorts).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db.migration_helpers import app_role

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The vocabularies as of this revision, spelled out as CHECK constraints (tests/test_vocabulary.py
# holds them equal to app/vocabulary.py).
EVENT_CHECK = (
    "event IN ('viewed', 'shortlisted', 'contacted', 'interviewed', 'offered', "
    "'internship_started', 'internship_extended', 'internship_completed', 'hired', 'rejected', "
    "'candidate_declined', 'dropped_out', 'retracted')"
)
REASON_CHECK = (
    "reason IS NULL OR reason IN ('skills', 'language', 'distance', 'availability', 'permit', "
    "'documents', 'employer_declined', 'candidate_declined', 'no_show', 'other')"
)
LINK_CHECK = "link IN ('given', 'latest_shortlist', 'none')"
SOURCE_CHECK = "status_source IN ('caller', 'feedback')"


def _status_columns(table: str, default: str) -> None:
    op.add_column(table, sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        table,
        sa.Column("status_source", sa.Text(), server_default=sa.text("'caller'"), nullable=False),
    )
    # A status other than the one a row is created with was set by its caller.
    op.execute(
        f"UPDATE {table} SET status_changed_at = updated_at WHERE status <> '{default}'"  # noqa: S608
    )
    op.create_check_constraint(op.f(f"ck_{table}_status_source"), table, SOURCE_CHECK)


def upgrade() -> None:
    uuid = postgresql.UUID(as_uuid=True)
    _status_columns("vacancies", "open")
    _status_columns("candidates", "active")
    op.add_column("candidates", sa.Column("entered_on", sa.Date(), nullable=True))
    op.create_table(
        "feedback_events",
        sa.Column("id", uuid, server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", uuid, nullable=False),
        sa.Column("vacancy_id", uuid, nullable=True),
        sa.Column("vacancy_external_id", sa.Text(), nullable=False),
        sa.Column("employer_id", uuid, nullable=True),
        sa.Column("contract", sa.Text(), nullable=True),
        sa.Column("candidate_id", uuid, nullable=True),
        sa.Column("person_key", uuid, nullable=False),
        sa.Column("path_key", uuid, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("months", sa.SmallInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("key_id", sa.Text(), nullable=True),
        sa.Column("actor_ref", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("body_hash", sa.LargeBinary(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("shortlist_id", uuid, nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("ranker_version", sa.Text(), nullable=True),
        sa.Column("feature_version", sa.Text(), nullable=True),
        sa.Column("retracts", uuid, nullable=True),
        sa.CheckConstraint(EVENT_CHECK, name=op.f("ck_feedback_events_event")),
        sa.CheckConstraint(REASON_CHECK, name=op.f("ck_feedback_events_reason")),
        sa.CheckConstraint(LINK_CHECK, name=op.f("ck_feedback_events_link")),
        sa.CheckConstraint(
            "(event = 'retracted') = (retracts IS NOT NULL)",
            name=op.f("ck_feedback_events_retracts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_feedback_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "vacancy_id"],
            ["vacancies.tenant_id", "vacancies.id"],
            name=op.f("fk_feedback_events_tenant_id_vacancy_id_vacancies"),
            ondelete="SET NULL (vacancy_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            name=op.f("fk_feedback_events_tenant_id_candidate_id_candidates"),
            ondelete="SET NULL (candidate_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "employer_id"],
            ["employers.tenant_id", "employers.id"],
            name=op.f("fk_feedback_events_tenant_id_employer_id_employers"),
            ondelete="SET NULL (employer_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shortlist_id"],
            ["shortlists.tenant_id", "shortlists.id"],
            name=op.f("fk_feedback_events_tenant_id_shortlist_id_shortlists"),
            ondelete="SET NULL (shortlist_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "retracts"],
            ["feedback_events.tenant_id", "feedback_events.id"],
            name=op.f("fk_feedback_events_tenant_id_retracts_feedback_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_events")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_feedback_events_tenant_id_id")),
        sa.UniqueConstraint(
            "tenant_id",
            "idempotency_key",
            name=op.f("uq_feedback_events_tenant_id_idempotency_key"),
        ),
        sa.UniqueConstraint("retracts", name=op.f("uq_feedback_events_retracts")),
    )
    op.create_index(
        "ix_feedback_events_tenant_id_occurred_at",
        "feedback_events",
        ["tenant_id", "occurred_at", "id"],
    )
    op.create_index(
        "ix_feedback_events_tenant_id_vacancy_id", "feedback_events", ["tenant_id", "vacancy_id"]
    )
    op.create_index(
        "ix_feedback_events_tenant_id_candidate_id",
        "feedback_events",
        ["tenant_id", "candidate_id"],
    )
    op.create_index("ix_feedback_events_shortlist_id", "feedback_events", ["shortlist_id"])
    op.create_index(
        "ix_feedback_events_tenant_id_path_key", "feedback_events", ["tenant_id", "path_key"]
    )
    op.create_table(
        "feedback_notes",
        sa.Column("event_id", uuid, nullable=False),
        sa.Column("tenant_id", uuid, nullable=False),
        sa.Column("candidate_id", uuid, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "event_id"],
            ["feedback_events.tenant_id", "feedback_events.id"],
            name=op.f("fk_feedback_notes_tenant_id_event_id_feedback_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            name=op.f("fk_feedback_notes_tenant_id_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_feedback_notes")),
    )
    op.create_index("ix_feedback_notes_candidate_id", "feedback_notes", ["candidate_id"])
    role = app_role()
    op.execute(f"GRANT SELECT, INSERT ON feedback_events TO {role}")
    op.execute(f"GRANT SELECT, INSERT, DELETE ON feedback_notes TO {role}")


def downgrade() -> None:
    op.drop_table("feedback_notes")
    op.drop_table("feedback_events")
    op.drop_column("candidates", "entered_on")
    for table in ("candidates", "vacancies"):
        op.drop_constraint(op.f(f"ck_{table}_status_source"), table, type_="check")
        op.drop_column(table, "status_source")
        op.drop_column(table, "status_changed_at")
