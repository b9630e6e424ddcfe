"""``candidates.desired_occupation_uris``: per desired occupation (by its label) the ESCO
occupation the caller linked it to; theirs wins over Ponte's link of the name. Erased with the
row.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 20:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "candidates", sa.Column("desired_occupation_uris", postgresql.JSONB(), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("candidates", "desired_occupation_uris")
