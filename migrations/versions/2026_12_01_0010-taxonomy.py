"""The ESCO taxonomy (issue 15): ``esco_concepts`` (occupations, skills, ISCO groups by URI),
their ``esco_labels`` and ``esco_descriptions`` per language, ``esco_relations`` (an
occupation's essential and optional skills, broader concepts), and ``taxonomy_imports`` (each
run of ``ponte taxonomy import``: version, files, label embedding). Shared by all tenants,
public reference data, no personal data; the service role may only read them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db.migration_helpers import app_role, revoke_all

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelt out (a migration stays as it was written); tests/test_vocabulary.py holds them equal to
# app/vocabulary.py.
KIND_CHECK = "kind IN ('occupation', 'skill', 'isco_group')"
LABEL_KIND_CHECK = "kind IN ('preferred', 'alternative', 'hidden')"
RELATION_CHECK = "relation IN ('essential', 'optional', 'broader')"
STATE_CHECK = "state IN ('running', 'done')"
TABLES = ("taxonomy_imports", "esco_concepts", "esco_labels", "esco_descriptions", "esco_relations")


def upgrade() -> None:
    op.create_table(
        "taxonomy_imports",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), server_default="running", nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("files", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("model_id", sa.Text(), nullable=True),
        sa.Column("labels_embedded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("embed_seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(STATE_CHECK, name=op.f("ck_taxonomy_imports_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxonomy_imports")),
    )
    op.create_table(
        "esco_concepts",
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("isco_group", sa.Text(), nullable=True),
        sa.Column("skill_type", sa.Text(), nullable=True),
        sa.Column("reuse_level", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("import_id", sa.UUID(), nullable=True),
        sa.CheckConstraint(KIND_CHECK, name=op.f("ck_esco_concepts_kind")),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["taxonomy_imports.id"],
            name=op.f("fk_esco_concepts_import_id_taxonomy_imports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_esco_concepts")),
    )
    op.create_index("ix_esco_concepts_isco_group", "esco_concepts", ["isco_group"])
    op.create_table(
        "esco_labels",
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("lang", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.CheckConstraint(LABEL_KIND_CHECK, name=op.f("ck_esco_labels_kind")),
        sa.ForeignKeyConstraint(
            ["uri"],
            ["esco_concepts.uri"],
            name=op.f("fk_esco_labels_uri_esco_concepts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uri", "lang", "kind", "label", name=op.f("pk_esco_labels")),
    )
    op.create_index("ix_esco_labels_key", "esco_labels", ["key"])
    op.create_table(
        "esco_descriptions",
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("lang", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uri"],
            ["esco_concepts.uri"],
            name=op.f("fk_esco_descriptions_uri_esco_concepts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uri", "lang", name=op.f("pk_esco_descriptions")),
    )
    op.create_table(
        "esco_relations",
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("relation", sa.Text(), nullable=False),
        sa.Column("target_uri", sa.Text(), nullable=False),
        sa.Column("skill_type", sa.Text(), nullable=True),
        sa.CheckConstraint(RELATION_CHECK, name=op.f("ck_esco_relations_relation")),
        sa.ForeignKeyConstraint(
            ["source_uri"],
            ["esco_concepts.uri"],
            name=op.f("fk_esco_relations_source_uri_esco_concepts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_uri"],
            ["esco_concepts.uri"],
            name=op.f("fk_esco_relations_target_uri_esco_concepts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "source_uri", "relation", "target_uri", name=op.f("pk_esco_relations")
        ),
    )
    op.create_index(
        "ix_esco_relations_target_uri_relation", "esco_relations", ["target_uri", "relation"]
    )
    role = app_role()
    op.execute(f"GRANT SELECT ON {', '.join(TABLES)} TO {role}")


def downgrade() -> None:
    revoke_all(*TABLES)
    for table in reversed(TABLES):
        op.drop_table(table)
