"""Initial schema: tenants, API keys, employers, vacancies, candidates, sensitive data; the
least-privilege service role and its grants; the pgvector extension.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 02:26:05.032485
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db.migration_helpers import app_role, ensure_app_role, grant_dml, revoke_all

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("tenants", "api_keys", "employers", "vacancies", "candidates", "candidate_sensitive")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    ensure_app_role()
    op.create_table(
        "tenants",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'integration', 'scout')", name=op.f("ck_api_keys_role")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "candidates",
        sa.Column(
            "skills",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column(
            "languages",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "lat",
            sa.Double(),
            sa.Computed("((location ->> 'lat'))::double precision", persisted=True),
            nullable=True,
        ),
        sa.Column(
            "lon",
            sa.Double(),
            sa.Computed("((location ->> 'lon'))::double precision", persisted=True),
            nullable=True,
        ),
        sa.Column("max_commute_km", sa.Double(), nullable=True),
        sa.Column("available_from", sa.Date(), nullable=True),
        sa.Column(
            "desired_occupations",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("education_level", sa.SmallInteger(), nullable=True),
        sa.Column("work_permit", sa.Text(), server_default=sa.text("'unknown'"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'placed', 'withdrawn')",
            name=op.f("ck_candidates_status"),
        ),
        sa.CheckConstraint(
            "work_permit IN ('yes', 'no', 'pending', 'unknown')",
            name=op.f("ck_candidates_work_permit"),
        ),
        sa.CheckConstraint(
            "education_level BETWEEN 1 AND 8", name=op.f("ck_candidates_education_level")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_candidates_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidates")),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_candidates_tenant_id_external_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_candidates_tenant_id_id")),
    )
    op.create_table(
        "employers",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("size", sa.Text(), nullable=True),
        sa.Column("sector", sa.Text(), nullable=True),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("contact", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "size IN ('micro', 'small', 'medium', 'large')", name=op.f("ck_employers_size")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_employers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employers")),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_employers_tenant_id_external_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_employers_tenant_id_id")),
    )
    op.create_table(
        "candidate_sensitive",
        sa.Column("candidate_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column(
            "support_tracks",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "fairness_consent", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("consent_recorded_on", sa.Date(), nullable=True),
        sa.Column("self_declared", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            name=op.f("fk_candidate_sensitive_tenant_id_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_candidate_sensitive_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("candidate_id", name=op.f("pk_candidate_sensitive")),
    )
    op.create_table(
        "vacancies",
        sa.Column("employer_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "required_skills",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "languages",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "lat",
            sa.Double(),
            sa.Computed("((location ->> 'lat'))::double precision", persisted=True),
            nullable=True,
        ),
        sa.Column(
            "lon",
            sa.Double(),
            sa.Computed("((location ->> 'lon'))::double precision", persisted=True),
            nullable=True,
        ),
        sa.Column("remote", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("contract", sa.Text(), nullable=True),
        sa.Column("duration_months", sa.SmallInteger(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("positions", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("stipend", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "contract IN ('internship', 'apprenticeship', 'fixed_term', 'permanent')",
            name=op.f("ck_vacancies_contract"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'filled', 'closed')", name=op.f("ck_vacancies_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "employer_id"],
            ["employers.tenant_id", "employers.id"],
            name=op.f("fk_vacancies_tenant_id_employer_id_employers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_vacancies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vacancies")),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_vacancies_tenant_id_external_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_vacancies_tenant_id_id")),
    )
    op.create_index(op.f("ix_vacancies_employer_id"), "vacancies", ["employer_id"], unique=False)
    op.create_index(op.f("ix_api_keys_tenant_id"), "api_keys", ["tenant_id"], unique=False)
    grant_dml(*TABLES)


def downgrade() -> None:
    revoke_all(*TABLES)
    op.drop_index(op.f("ix_api_keys_tenant_id"), table_name="api_keys")
    op.drop_index(op.f("ix_vacancies_employer_id"), table_name="vacancies")
    op.drop_table("vacancies")
    op.drop_table("candidate_sensitive")
    op.drop_table("employers")
    op.drop_table("candidates")
    op.drop_table("api_keys")
    op.drop_table("tenants")
    # The role is cluster-wide and may serve other databases: it stays, without privileges here.
    role = app_role()
    op.execute(f"REVOKE ALL ON alembic_version FROM {role}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
    op.execute("DROP EXTENSION IF EXISTS vector")
