"""Vacancies get the change feed candidates have; snapshots record their feature version.

Every vacancy write stamps the writing transaction's id (the same trigger function as for
candidates) and every deletion leaves a tombstone in ``vacancy_deletions`` (ids only), so the
in-process vacancy index follows late commits as the candidate pool does. Shortlists gain
``feature_version``: what the stored features mean (snapshots before this revision divided BM25
by the largest of their batch: ``features-v1``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.migration_helpers import add_change_feed, drop_change_feed

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_change_feed("vacancies", "vacancy_deletions", "vacancy_id", "ponte_record_vacancy_deletion")
    op.add_column("shortlists", sa.Column("feature_version", sa.Text(), nullable=True))
    op.execute("UPDATE shortlists SET feature_version = 'features-v1'")
    op.alter_column("shortlists", "feature_version", nullable=False)


def downgrade() -> None:
    op.drop_column("shortlists", "feature_version")
    drop_change_feed("vacancies", "vacancy_deletions", "ponte_record_vacancy_deletion")
