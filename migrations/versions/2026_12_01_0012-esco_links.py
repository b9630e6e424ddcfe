"""``esco`` on candidates and vacancies: their links to the ESCO taxonomy (each skill label to
skills, a vacancy's title and a candidate's desired occupations to occupations), derived on
write like the vectors and erased with the row; ``vacancies.occupation_uri``, the ESCO
occupation a caller says the vacancy is (theirs wins over the title's links).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("candidates", "vacancies"):
        op.add_column(table, sa.Column("esco", postgresql.JSONB(), nullable=True))
    op.add_column("vacancies", sa.Column("occupation_uri", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("vacancies", "occupation_uri")
    for table in ("candidates", "vacancies"):
        op.drop_column(table, "esco")
