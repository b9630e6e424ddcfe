"""``esco_label_vectors``: each ESCO concept label's vector under a model, beside its concept,
with an HNSW index per concept kind (skills, occupations) for linking's nearest-label search.
Public reference data; the service role may only read it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

from app.db.migration_helpers import app_role, revoke_all

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIM = 384


def upgrade() -> None:
    op.create_table(
        "esco_label_vectors",
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("lang", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("concept_kind", sa.Text(), nullable=False),
        sa.Column("embedding", Vector(DIM), nullable=False),
        sa.ForeignKeyConstraint(
            ["uri"],
            ["esco_concepts.uri"],
            name=op.f("fk_esco_label_vectors_uri_esco_concepts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "model_id", "uri", "lang", "kind", "label", name=op.f("pk_esco_label_vectors")
        ),
    )
    for concept_kind in ("skill", "occupation"):
        op.create_index(
            f"ix_esco_label_vectors_{concept_kind}_hnsw",
            "esco_label_vectors",
            ["embedding"],
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
            postgresql_where=sa.text(f"concept_kind = '{concept_kind}'"),
        )
    op.execute(f"GRANT SELECT ON esco_label_vectors TO {app_role()}")


def downgrade() -> None:
    revoke_all("esco_label_vectors")
    op.drop_table("esco_label_vectors")
