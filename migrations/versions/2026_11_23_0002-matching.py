"""Matching: vectors and searchable text on vacancies and candidates, candidate text chunks,
the skill-label vector cache, and shortlist snapshots (append-only for the service role).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 02:49:30.393494
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from app.db.migration_helpers import app_role, grant_dml, revoke_all

DIM = 384
# Each text indexed under the English, Italian and Dutch stemmers at once.
TSV = (
    "to_tsvector('english'::regconfig, coalesce(search_text, '')) || "
    "to_tsvector('italian'::regconfig, coalesce(search_text, '')) || "
    "to_tsvector('dutch'::regconfig, coalesce(search_text, ''))"
)
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


FUNCTIONS = """
CREATE FUNCTION ponte_cefr_rank(level text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE upper(level)
    WHEN 'A1' THEN 1 WHEN 'A2' THEN 2 WHEN 'B1' THEN 3 WHEN 'B2' THEN 4
    WHEN 'C1' THEN 5 WHEN 'C2' THEN 6 WHEN 'NATIVE' THEN 7 ELSE 0 END
$$;

CREATE FUNCTION ponte_haversine_km(lat1 double precision, lon1 double precision,
                                   lat2 double precision, lon2 double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 2 * 6371.0088 * asin(sqrt(
    power(sin(radians(lat2 - lat1) / 2), 2)
    + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lon2 - lon1) / 2), 2)))
$$;

CREATE FUNCTION ponte_or_tsquery(query text) RETURNS tsquery
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT replace(plainto_tsquery('english'::regconfig, query)::text, ' & ', ' | ')::tsquery
      || replace(plainto_tsquery('italian'::regconfig, query)::text, ' & ', ' | ')::tsquery
      || replace(plainto_tsquery('dutch'::regconfig, query)::text, ' & ', ' | ')::tsquery
$$;

CREATE FUNCTION ponte_language_gate(required jsonb, spoken jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN jsonb_array_length(required) = 0 THEN 1
    WHEN jsonb_array_length(spoken) = 0 THEN 0
    WHEN EXISTS (
      SELECT FROM jsonb_array_elements(required) r
      WHERE NOT EXISTS (
        SELECT FROM jsonb_array_elements(spoken) s
        WHERE s ->> 'code' = r ->> 'code'
          AND ponte_cefr_rank(s ->> 'level') >= ponte_cefr_rank(r ->> 'min_level')))
    THEN -1 ELSE 1 END
$$;

CREATE FUNCTION ponte_language_fit(required jsonb, spoken jsonb) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN jsonb_array_length(required) = 0 THEN NULL
    WHEN jsonb_array_length(spoken) = 0 THEN 0.5
    ELSE (SELECT avg(CASE WHEN EXISTS (
            SELECT FROM jsonb_array_elements(spoken) s
            WHERE s ->> 'code' = r ->> 'code'
              AND ponte_cefr_rank(s ->> 'level') >= ponte_cefr_rank(r ->> 'min_level'))
          THEN 1.0 ELSE 0.0 END)
          FROM jsonb_array_elements(required) r) END
$$;
"""

FUNCTION_NAMES = (
    "ponte_language_fit(jsonb, jsonb)",
    "ponte_language_gate(jsonb, jsonb)",
    "ponte_or_tsquery(text)",
    "ponte_haversine_km(double precision, double precision, double precision, double precision)",
    "ponte_cefr_rank(text)",
)


def upgrade() -> None:
    # asyncpg prepares each statement: one CREATE FUNCTION at a time.
    for statement in FUNCTIONS.split("\n\n"):
        if statement.strip():
            op.execute(statement)
    op.create_table(
        "skill_embeddings",
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("label_hash", sa.LargeBinary(), nullable=False),
        sa.Column("embedding", Vector(DIM), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "label_hash", name=op.f("pk_skill_embeddings")),
    )
    op.create_table(
        "candidate_chunks",
        sa.Column("candidate_id", sa.UUID(), nullable=False),
        sa.Column("chunk_no", sa.SmallInteger(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("char_start", sa.Integer(), nullable=False),
        sa.Column("char_end", sa.Integer(), nullable=False),
        sa.Column("embedding", Vector(DIM), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            name=op.f("fk_candidate_chunks_tenant_id_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_candidate_chunks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("candidate_id", "chunk_no", name=op.f("pk_candidate_chunks")),
    )
    op.create_index(
        "ix_candidate_chunks_embedding_hnsw",
        "candidate_chunks",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_table(
        "shortlists",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("vacancy_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("key_id", sa.Text(), nullable=True),
        sa.Column("ranker_version", sa.Text(), nullable=False),
        sa.Column("embedding_model", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("excluded_by_gate", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("considered", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "vacancy_id"],
            ["vacancies.tenant_id", "vacancies.id"],
            name=op.f("fk_shortlists_tenant_id_vacancy_id_vacancies"),
            ondelete="SET NULL (vacancy_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_shortlists_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shortlists")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_shortlists_tenant_id_id")),
    )
    op.create_index(
        "ix_shortlists_tenant_id_vacancy_id_created_at",
        "shortlists",
        ["tenant_id", "vacancy_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "shortlist_items",
        sa.Column("shortlist_id", sa.UUID(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("candidate_id", sa.UUID(), nullable=True),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("features", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("explanation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            name=op.f("fk_shortlist_items_tenant_id_candidate_id_candidates"),
            ondelete="SET NULL (candidate_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shortlist_id"],
            ["shortlists.tenant_id", "shortlists.id"],
            name=op.f("fk_shortlist_items_tenant_id_shortlist_id_shortlists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_shortlist_items_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shortlist_id", "rank", name=op.f("pk_shortlist_items")),
    )
    op.create_index(
        "ix_shortlist_items_candidate_id", "shortlist_items", ["candidate_id"], unique=False
    )
    op.add_column("candidates", sa.Column("occupation_embedding", Vector(DIM), nullable=True))
    op.add_column("candidates", sa.Column("embedding", Vector(DIM), nullable=True))
    op.add_column("candidates", sa.Column("embedding_model", sa.Text(), nullable=True))
    op.add_column("candidates", sa.Column("content_hash", sa.LargeBinary(), nullable=True))
    op.add_column("candidates", sa.Column("search_text", sa.Text(), nullable=True))
    op.add_column(
        "candidates",
        sa.Column(
            "search_tsv",
            postgresql.TSVECTOR(),
            sa.Computed(TSV, persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_candidates_embedding_hnsw",
        "candidates",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index(
        "ix_candidates_search_tsv",
        "candidates",
        ["search_tsv"],
        unique=False,
        postgresql_using="gin",
    )
    op.add_column("vacancies", sa.Column("title_embedding", Vector(DIM), nullable=True))
    op.add_column("vacancies", sa.Column("embedding", Vector(DIM), nullable=True))
    op.add_column("vacancies", sa.Column("embedding_model", sa.Text(), nullable=True))
    op.add_column("vacancies", sa.Column("content_hash", sa.LargeBinary(), nullable=True))
    op.add_column("vacancies", sa.Column("search_text", sa.Text(), nullable=True))
    op.add_column(
        "vacancies",
        sa.Column(
            "search_tsv",
            postgresql.TSVECTOR(),
            sa.Computed(TSV, persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_vacancies_embedding_hnsw",
        "vacancies",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index(
        "ix_vacancies_search_tsv", "vacancies", ["search_tsv"], unique=False, postgresql_using="gin"
    )
    grant_dml("candidate_chunks")
    role = app_role()
    # The cache only grows; snapshots are written once and never changed by the service.
    for table in ("skill_embeddings", "shortlists", "shortlist_items"):
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {role}")


def downgrade() -> None:
    for name in FUNCTION_NAMES:
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
    revoke_all("candidate_chunks", "skill_embeddings", "shortlists", "shortlist_items")
    op.drop_index("ix_vacancies_search_tsv", table_name="vacancies", postgresql_using="gin")
    op.drop_index(
        "ix_vacancies_embedding_hnsw",
        table_name="vacancies",
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.drop_column("vacancies", "search_tsv")
    op.drop_column("vacancies", "search_text")
    op.drop_column("vacancies", "content_hash")
    op.drop_column("vacancies", "embedding_model")
    op.drop_column("vacancies", "embedding")
    op.drop_column("vacancies", "title_embedding")
    op.drop_index("ix_candidates_search_tsv", table_name="candidates", postgresql_using="gin")
    op.drop_index(
        "ix_candidates_embedding_hnsw",
        table_name="candidates",
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.drop_column("candidates", "search_tsv")
    op.drop_column("candidates", "search_text")
    op.drop_column("candidates", "content_hash")
    op.drop_column("candidates", "embedding_model")
    op.drop_column("candidates", "embedding")
    op.drop_column("candidates", "occupation_embedding")
    op.drop_index("ix_shortlist_items_candidate_id", table_name="shortlist_items")
    op.drop_table("shortlist_items")
    op.drop_index("ix_shortlists_tenant_id_vacancy_id_created_at", table_name="shortlists")
    op.drop_table("shortlists")
    op.drop_index(
        "ix_candidate_chunks_embedding_hnsw",
        table_name="candidate_chunks",
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.drop_table("candidate_chunks")
    op.drop_table("skill_embeddings")
