"""The audit trail (issue 16; migration 0017): one row per accountable act, append-only for the
service role (it may INSERT and SELECT, never UPDATE, DELETE or TRUNCATE), hash-chained per
tenant so a changed, removed or inserted entry shows (app/services/audit.py).

Entries name people and objects by internal surrogate ids only (``objects``); the mapping to
a caller's external id lives in the rows erasure deletes, so an entry about an erased person
stays and names nobody."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import PrimaryKeyConstraint

from app.db.base import Base
from app.db.tables import _in
from app.vocabulary import AUDIT_OUTCOMES

# A dotted lower-case name: ``shortlist.create``, ``purge``.
ACTION_PATTERN = r"^[a-z]+(\.[a-z_]+)*$"


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "seq"),
        CheckConstraint(f"action ~ '{ACTION_PATTERN}'", name="action"),
        CheckConstraint(_in("outcome", AUDIT_OUTCOMES), name="outcome"),
        CheckConstraint("(seq = 1) = (prev_hash IS NULL)", name="prev_hash"),
        Index("ix_audit_entries_tenant_id_at", "tenant_id", "at"),
        Index(
            "ix_audit_entries_objects",
            "objects",
            postgresql_using="gin",
            postgresql_ops={"objects": "jsonb_path_ops"},
        ),
    )

    # No ON DELETE CASCADE: deleting a tenant must not take its trail with it (a cascade runs
    # with the owner's rights, past the service role's grants); a tenant with entries cannot
    # be deleted.
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False
    )
    # 1, 2, 3 … per tenant, with no gap: the chain's order.
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    # Who: the API key (id, role, label) and the caller's own user reference when it sent one;
    # an operator's command or a worker have no key and the role "operator" / "worker".
    key_id: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    key_label: Mapped[str | None] = mapped_column(Text)
    actor_ref: Mapped[str | None] = mapped_column(Text)
    # What it concerned: [{"type": "candidate", "id": "<uuid>"}, …], surrogate ids only.
    objects: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    ranker_version: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    # Figures and parameters of the act (counts, limits, reasons), never personal content.
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # SHA-256 of the previous entry's hash and this entry's canonical form (NULL: the first).
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class DeploymentKeyFingerprint(Base):
    """A fingerprint of a deployment secret (migration 0019; app/services/deployment_keys.py):
    the first process writes it, every later one checks its own key against it."""

    __tablename__ = "deployment_keys"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
