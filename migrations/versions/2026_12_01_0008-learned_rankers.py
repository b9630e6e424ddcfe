"""Learned rankers: their registry and activation history, and each tenant's active one
(issue 13).

``ranker_models`` holds one row per trained model (the artefact is a file named by its
SHA-256 under ``PONTE_MODELS_DIR``); the service role may SELECT, INSERT and UPDATE only
``activated_at`` / ``activated_by``, never DELETE: a version once served stays
explainable. ``ranker_activations`` is append-only (SELECT, INSERT). ``tenants.active_ranker``
names the model serving the tenant, NULL for the default scorer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db.migration_helpers import app_role

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAMILY_CHECK = "family IN ('pairwise', 'pointwise')"
ACTION_CHECK = "action IN ('train', 'activate', 'rollback')"


def upgrade() -> None:
    uuid = postgresql.UUID(as_uuid=True)
    jsonb = postgresql.JSONB()
    stamp = sa.DateTime(timezone=True)
    op.add_column("tenants", sa.Column("active_ranker", sa.Text(), nullable=True))
    op.create_table(
        "ranker_models",
        sa.Column("tenant_id", uuid, nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("family", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("feature_version", sa.Text(), nullable=False),
        sa.Column("features", jsonb, nullable=False),
        sa.Column("libraries", jsonb, nullable=False),
        sa.Column("trained_from", stamp, nullable=True),
        sa.Column("trained_to", stamp, nullable=True),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("positives", sa.Integer(), nullable=False),
        sa.Column("shortlists", sa.Integer(), nullable=False),
        sa.Column("holdout", jsonb, nullable=False),
        sa.Column("scoring", jsonb, nullable=False),
        sa.Column("parent_version", sa.Text(), nullable=True),
        sa.Column("trained_by", sa.Text(), nullable=True),
        sa.Column("created_at", stamp, server_default=sa.text("now()"), nullable=False),
        sa.Column("activated_at", stamp, nullable=True),
        sa.Column("activated_by", sa.Text(), nullable=True),
        sa.CheckConstraint(FAMILY_CHECK, name=op.f("ck_ranker_models_family")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ranker_models_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "version", name=op.f("pk_ranker_models")),
    )
    op.create_table(
        "ranker_activations",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", uuid, nullable=False),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("previous", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("activated_at", stamp, server_default=sa.text("now()"), nullable=False),
        sa.Column("activated_by", sa.Text(), nullable=True),
        sa.CheckConstraint(ACTION_CHECK, name=op.f("ck_ranker_activations_action")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ranker_activations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "version"],
            ["ranker_models.tenant_id", "ranker_models.version"],
            name=op.f("fk_ranker_activations_tenant_id_version_ranker_models"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranker_activations")),
    )
    op.create_index("ix_ranker_activations_tenant_id_id", "ranker_activations", ["tenant_id", "id"])
    role = app_role()
    op.execute(
        f"GRANT SELECT, INSERT, UPDATE (activated_at, activated_by) ON ranker_models TO {role}"
    )
    op.execute(f"GRANT SELECT, INSERT ON ranker_activations TO {role}")


def downgrade() -> None:
    op.drop_table("ranker_activations")
    op.drop_table("ranker_models")
    op.drop_column("tenants", "active_ranker")
