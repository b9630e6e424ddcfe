"""Shortlist items lose their own foreign key to tenants.

The key to (tenant_id, shortlist_id) already ties each item to its snapshot's tenant (and
deletes it with the snapshot, which is deleted with the tenant), so the separate check to
tenants proved nothing more; it ran once per item and locked the tenant's row each time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(
        "fk_shortlist_items_tenant_id_tenants", "shortlist_items", type_="foreignkey"
    )


def downgrade() -> None:
    op.create_foreign_key(
        "fk_shortlist_items_tenant_id_tenants",
        "shortlist_items",
        "tenants",
        ["tenant_id"],
        ["id"],
        ondelete="CASCADE",
    )
