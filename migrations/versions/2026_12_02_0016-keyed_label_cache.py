"""The skill-label cache keyed with the deployment's secret, and forgettable.

``skill_embeddings`` was keyed by the plain SHA-256 of each label's skill key, which anyone
reading the table could reverse by hashing likely labels; it is now keyed by HMAC-SHA256 under
the deployment's label key (``PONTE_LABEL_KEY`` or ``<data_dir>/label.key``,
app/services/label_key.py). The rows there cannot be re-keyed without the secret, which a
migration never sees, so the table is emptied: it is a cache, and every label is embedded again
the first time it is needed. The service role may now delete from it, so an erasure can forget
the labels only the erased person held (app/services/label_cache.py).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from app.db.migration_helpers import app_role

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM skill_embeddings")
    op.execute(f"GRANT DELETE ON skill_embeddings TO {app_role()}")


def downgrade() -> None:
    # The rows are keyed by the secret, which the plain hashes of before cannot match.
    op.execute(f"REVOKE DELETE ON skill_embeddings FROM {app_role()}")
    op.execute("DELETE FROM skill_embeddings")
