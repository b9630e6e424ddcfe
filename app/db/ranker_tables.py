"""Learned rankers: the registry of trained models and the history of which one served each
tenant (issue 13; migration 0008). The artefacts themselves are files under
``PONTE_MODELS_DIR``, named by their SHA-256 (app/services/model_registry.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import PrimaryKeyConstraint

from app.db.base import Base
from app.db.tables import _created, _in, _tenant_fk
from app.vocabulary import MODEL_ACTIONS, MODEL_FAMILIES


class RankerModel(Base):
    """One trained ranker of one tenant: immutable once written, but for when it was last
    activated and by whom. Holds no personal data (coefficients and counts)."""

    __tablename__ = "ranker_models"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "version"),
        CheckConstraint(_in("family", MODEL_FAMILIES), name="family"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    version: Mapped[str] = mapped_column(Text)
    family: Mapped[str] = mapped_column(Text, nullable=False)
    sha256: Mapped[str] = mapped_column(Text, nullable=False)
    feature_version: Mapped[str] = mapped_column(Text, nullable=False)
    # the model whose vectors made its features (None: trained before this was recorded)
    embedding_model: Mapped[str | None] = mapped_column(Text)
    features: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    # scikit-learn, numpy, skops (and Ponte) as they were when it was trained.
    libraries: Mapped[dict[str, str]] = mapped_column(JSONB, nullable=False)
    # The shortlists it learnt from: created in [trained_from, trained_to].
    trained_from: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    trained_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    examples: Mapped[int] = mapped_column(Integer, nullable=False)
    positives: Mapped[int] = mapped_column(Integer, nullable=False)
    shortlists: Mapped[int] = mapped_column(Integer, nullable=False)
    # The holdout comparison: this model's and the then-active ranker's IPS-weighted
    # nDCG@10, the bootstrap interval of the difference, the counts.
    holdout: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # How it scores, beyond the weights in the artefact: the prior's coefficient, the baseline
    # its contributions are measured from, its re-ranking window and its tilt's bound.
    scoring: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    parent_version: Mapped[str | None] = mapped_column(Text)  # what served when it was trained
    trained_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    activated_by: Mapped[str | None] = mapped_column(Text)


class RankerActivation(Base):
    """Which ranker a tenant was switched to, when, by whom: append-only. ``version`` NULL is
    the default scorer; ``previous`` is what served before, so a rollback knows where to go."""

    __tablename__ = "ranker_activations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "version"], ["ranker_models.tenant_id", "ranker_models.version"]
        ),
        CheckConstraint(_in("action", MODEL_ACTIONS), name="action"),
        Index("ix_ranker_activations_tenant_id_id", "tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    version: Mapped[str | None] = mapped_column(Text)
    previous: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    activated_at: Mapped[dt.datetime] = _created()
    activated_by: Mapped[str | None] = mapped_column(Text)
