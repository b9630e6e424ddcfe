"""The ESCO taxonomy (issue 15; migration 0010): occupations, skills and ISCO groups with their
labels per language and the relations between them, shared by every tenant and read-only for
the service role (``ponte taxonomy import`` writes them as the owner).

No personal data: the taxonomy is public reference data. Labels are embedded through
``skill_embeddings`` (the label cache every skill label uses, keyed by model and label hash),
so a label ESCO and a profile share is embedded once; ``esco_label_vectors`` (migration 0011)
copies each concept label's vector beside its concept, indexed (HNSW, one index per concept
kind) for the nearest-label search linking makes — in PostgreSQL, so a service process holds
no taxonomy in memory however many languages are imported.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.tables import EMBEDDING_DIM, _created, _in, _uuid_pk
from app.vocabulary import CONCEPT_KINDS, IMPORT_STATES, LABEL_KINDS, RELATIONS


class TaxonomyImport(Base):
    """One run of ``ponte taxonomy import``: the version, the files read (name → sha256 and
    rows, once done: a rerun skips a file it has done unchanged), the label embedding."""

    __tablename__ = "taxonomy_imports"
    __table_args__ = (CheckConstraint(_in("state", IMPORT_STATES), name="state"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    source: Mapped[str] = mapped_column(Text, nullable=False)
    version: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="running")
    languages: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    files: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    model_id: Mapped[str | None] = mapped_column(Text)
    labels_embedded: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    embed_seconds: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")
    started_at: Mapped[dt.datetime] = _created()
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class EscoConcept(Base):
    """An occupation, skill or ISCO group by its URI. ``code``: an ISCO group's code or an
    occupation's ESCO code; ``isco_group``: an occupation's four-digit ISCO group."""

    __tablename__ = "esco_concepts"
    __table_args__ = (
        CheckConstraint(_in("kind", CONCEPT_KINDS), name="kind"),
        Index("ix_esco_concepts_isco_group", "isco_group"),
    )

    uri: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    code: Mapped[str | None] = mapped_column(Text)
    isco_group: Mapped[str | None] = mapped_column(Text)
    skill_type: Mapped[str | None] = mapped_column(Text)
    reuse_level: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)
    import_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("taxonomy_imports.id", ondelete="SET NULL")
    )


class EscoLabel(Base):
    """A label of a concept in a language; ``key`` is its comparison form (app/ml/text.py)."""

    __tablename__ = "esco_labels"
    __table_args__ = (
        CheckConstraint(_in("kind", LABEL_KINDS), name="kind"),
        Index("ix_esco_labels_key", "key"),
    )

    uri: Mapped[str] = mapped_column(
        Text, ForeignKey("esco_concepts.uri", ondelete="CASCADE"), primary_key=True
    )
    lang: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    label: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, nullable=False)


class EscoDescription(Base):
    __tablename__ = "esco_descriptions"

    uri: Mapped[str] = mapped_column(
        Text, ForeignKey("esco_concepts.uri", ondelete="CASCADE"), primary_key=True
    )
    lang: Mapped[str] = mapped_column(Text, primary_key=True)
    description: Mapped[str] = mapped_column(Text, nullable=False)


class EscoRelation(Base):
    """``source`` → ``target``: an occupation's essential or optional skill (``skill_type``
    knowledge / skill/competence where known), or a concept's broader concept."""

    __tablename__ = "esco_relations"
    __table_args__ = (
        CheckConstraint(_in("relation", RELATIONS), name="relation"),
        Index("ix_esco_relations_target_uri_relation", "target_uri", "relation"),
    )

    source_uri: Mapped[str] = mapped_column(
        Text, ForeignKey("esco_concepts.uri", ondelete="CASCADE"), primary_key=True
    )
    relation: Mapped[str] = mapped_column(Text, primary_key=True)
    target_uri: Mapped[str] = mapped_column(
        Text, ForeignKey("esco_concepts.uri", ondelete="CASCADE"), primary_key=True
    )
    skill_type: Mapped[str | None] = mapped_column(Text)


def _label_vector_index(concept_kind: str) -> Index:
    return Index(
        f"ix_esco_label_vectors_{concept_kind}_hnsw",
        "embedding",
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
        postgresql_where=text(f"concept_kind = '{concept_kind}'"),
    )


class EscoLabelVector(Base):
    """A concept label's vector under a model (preferred and alternative labels)."""

    __tablename__ = "esco_label_vectors"
    __table_args__ = (
        _label_vector_index("skill"),
        _label_vector_index("occupation"),
    )

    model_id: Mapped[str] = mapped_column(Text, primary_key=True)
    uri: Mapped[str] = mapped_column(
        Text, ForeignKey("esco_concepts.uri", ondelete="CASCADE"), primary_key=True
    )
    lang: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    label: Mapped[str] = mapped_column(Text, primary_key=True)
    concept_kind: Mapped[str] = mapped_column(Text, nullable=False)
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=False)
