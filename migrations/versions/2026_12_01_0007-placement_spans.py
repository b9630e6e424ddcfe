"""Placement spans: the internships and contracts folded from the feedback log (issue 12).

A derived table, kept equal to the fold of the log by the service (a path's rows are rewritten
with every event that can change them), so the outcome report, the internship list and the
status effects read a few rows per path instead of folding the log on every request. The
service role may SELECT, INSERT and DELETE (a path's rows are replaced whole, never updated).
References follow the log's rules: NULL when the vacancy, candidate or employer goes;
``person_key`` outlives an erasure.

The index on ``(tenant_id, path_key)`` of ``feedback_events`` becomes one on
``(tenant_id, path_key, event, occurred_at)``: the report looks up when each placed person was
first shortlisted.

The upgrade fills the table from the log already recorded, with the fold of this release
(``app.services.stints.span_rows``, a pure function of the events).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db.migration_helpers import app_role

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND_CHECK = "kind IN ('internship', 'contract')"
# Every effective placement event, by tenant and path, oldest first.
PLACEMENT_EVENTS_SQL = """
    SELECT e.tenant_id, e.path_key, e.event, e.months, e.occurred_at, e.vacancy_id,
           e.vacancy_external_id, e.employer_id, e.contract, e.candidate_id, e.person_key
      FROM feedback_events e
     WHERE e.event IN ('internship_started', 'internship_extended', 'internship_completed',
                       'hired', 'dropped_out')
       AND NOT EXISTS (SELECT FROM feedback_events r
                        WHERE r.retracts IS NOT NULL AND r.tenant_id = e.tenant_id
                          AND r.retracts = e.id)
     ORDER BY e.tenant_id, e.path_key, e.occurred_at, e.recorded_at, e.id
"""


def _fill(spans: sa.Table) -> None:
    from app.services.stints import span_rows

    bind = op.get_bind()
    rows = []
    events = bind.execute(sa.text(PLACEMENT_EVENTS_SQL)).all()
    for (tenant_id, path_key), path in itertools.groupby(events, key=lambda e: e[:2]):
        rows.extend(span_rows(tenant_id, path_key, list(path)))
    if rows:
        bind.execute(spans.insert(), rows)


def upgrade() -> None:
    uuid = postgresql.UUID(as_uuid=True)
    spans = op.create_table(
        "placement_spans",
        sa.Column("tenant_id", uuid, nullable=False),
        sa.Column("path_key", uuid, nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("vacancy_id", uuid, nullable=True),
        sa.Column("vacancy_external_id", sa.Text(), nullable=False),
        sa.Column("employer_id", uuid, nullable=True),
        sa.Column("contract", sa.Text(), nullable=True),
        sa.Column("candidate_id", uuid, nullable=True),
        sa.Column("person_key", uuid, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("planned_end", sa.Date(), nullable=True),
        sa.Column("extensions", sa.SmallInteger(), server_default="0", nullable=False),
        sa.CheckConstraint(KIND_CHECK, name=op.f("ck_placement_spans_kind")),
        sa.CheckConstraint(
            "(kind = 'internship') = (planned_end IS NOT NULL)",
            name=op.f("ck_placement_spans_planned_end"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_placement_spans_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "vacancy_id"],
            ["vacancies.tenant_id", "vacancies.id"],
            name=op.f("fk_placement_spans_tenant_id_vacancy_id_vacancies"),
            ondelete="SET NULL (vacancy_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            name=op.f("fk_placement_spans_tenant_id_candidate_id_candidates"),
            ondelete="SET NULL (candidate_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "employer_id"],
            ["employers.tenant_id", "employers.id"],
            name=op.f("fk_placement_spans_tenant_id_employer_id_employers"),
            ondelete="SET NULL (employer_id)",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "path_key", "seq", name=op.f("pk_placement_spans")),
    )
    for column in ("candidate_id", "vacancy_id", "planned_end"):
        op.create_index(
            f"ix_placement_spans_tenant_id_{column}", "placement_spans", ["tenant_id", column]
        )
    op.drop_index("ix_feedback_events_tenant_id_path_key", table_name="feedback_events")
    op.create_index(
        "ix_feedback_events_tenant_id_path_key_event",
        "feedback_events",
        ["tenant_id", "path_key", "event", "occurred_at"],
    )
    _fill(spans)
    op.execute(f"GRANT SELECT, INSERT, DELETE ON placement_spans TO {app_role()}")


def downgrade() -> None:
    op.drop_index("ix_feedback_events_tenant_id_path_key_event", table_name="feedback_events")
    op.create_index(
        "ix_feedback_events_tenant_id_path_key", "feedback_events", ["tenant_id", "path_key"]
    )
    op.drop_table("placement_spans")
