"""``ranker_models.embedding_model``: the model whose vectors made the features a learned ranker
was trained on. Its semantic features (cosines) are that model's: after a model change
(``ponte reembed``) they mean something else, so the registry refuses to serve or activate it
under another model, and training reads only shortlists made with the service's model. NULL
for a ranker trained before this was recorded (served as before).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ranker_models", sa.Column("embedding_model", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("ranker_models", "embedding_model")
