"""``candidates.text_language`` and ``vacancies.text_language``: the language each search text
is written in (fastText's code, ISO 639-1 for the common languages, or "und"), detected on
write, so BM25 stems each text in its own language. Rows written before stay NULL, analysed
as before, until ``ponte reembed`` detects them. Derived from the row's text alone, and erased
with the row.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 23:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("candidates", "vacancies")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("text_language", sa.String(8), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        op.drop_column(table, "text_language")
