"""``ranker_models.embedding_model``: the model whose vectors made the features a learned ranker
was trained on. Its semantic features (cosines) are that model's: after a model change
(``ponte reembed``) they mean something else, so the registry refuses to serve or activate it
under another model, and training reads only shortlists made with the service's model. A
ranker trained before takes the model of the shortlists of its training window when they were
all made with one; NULL (served as before) when they mixed models.

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
    op.execute(
        """
        UPDATE ranker_models r SET embedding_model = m.model
          FROM (SELECT r2.tenant_id, r2.version, min(s.embedding_model) AS model
                  FROM ranker_models r2
                  JOIN shortlists s ON s.tenant_id = r2.tenant_id
                   AND s.created_at BETWEEN r2.trained_from AND r2.trained_to
                 GROUP BY 1, 2
                HAVING count(DISTINCT s.embedding_model) = 1) m
         WHERE r.tenant_id = m.tenant_id AND r.version = m.version
        """
    )


def downgrade() -> None:
    op.drop_column("ranker_models", "embedding_model")
