"""Candidates keep their search text's BM25 terms and counts, written with the text.

Loading a tenant's candidate pool then reads the terms instead of tokenising every text again
(tokenising was most of a 50,000-candidate first load). Rows written before stay NULL and are
tokenised when loaded; ``ponte reembed --all`` fills them in. The terms are derived from the
candidate's own text and live in the candidate's row: erasing the row erases them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("candidates", sa.Column("search_terms", postgresql.ARRAY(sa.Text())))
    op.add_column("candidates", sa.Column("search_counts", postgresql.ARRAY(sa.Integer())))


def downgrade() -> None:
    op.drop_column("candidates", "search_counts")
    op.drop_column("candidates", "search_terms")
