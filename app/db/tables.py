"""Tables. Every row of a tenant's data carries ``tenant_id``; cross-table references include it,
so the database itself refuses a link between two tenants' rows."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.vocabulary import (
    CANDIDATE_STATUSES,
    SHORTLIST_ORIGINS,
    STATUS_SOURCES,
    VACANCY_CONTRACTS,
    VACANCY_STATUSES,
    WORK_PERMITS,
)

ROLES = ("admin", "integration", "scout")
# The size the migrations give the vector columns: the default model's (all-MiniLM-L6-v2).
# A deployment's model may have another; `ponte reembed --all` then resizes the columns
# (app/db/vector_dimension.py), and nothing in the code assumes this one.
EMBEDDING_DIM = 384
# Texts in Italian, Dutch and English meet in one deployment: index each under all three
# stemmers (and queries OR the three), so "magazzinieri" finds "magazziniere".
TSV_EXPRESSION = (
    "to_tsvector('english'::regconfig, coalesce(search_text, '')) || "
    "to_tsvector('italian'::regconfig, coalesce(search_text, '')) || "
    "to_tsvector('dutch'::regconfig, coalesce(search_text, ''))"
)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _created() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def _tenant_fk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def _change_feed_index(table: str) -> Index:
    """What the change feed reads: a tenant's rows written since a transaction id."""
    return Index(
        f"ix_{table}_tenant_id_changed_xid", "tenant_id", "changed_xid", postgresql_include=["id"]
    )


def _status_changed_at() -> Mapped[dt.datetime | None]:
    return mapped_column(DateTime(timezone=True))


def _status_source() -> Mapped[str]:
    return mapped_column(Text, nullable=False, server_default=text("'caller'"))


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[dt.datetime] = _created()
    # The learned ranker that serves the tenant's shortlists (ranker_models.version), NULL for
    # the default scorer. Set only with a row of ranker_activations, in one transaction; every
    # request reads it with the tenant, so each process serves an activation on its next one.
    active_ranker: Mapped[str | None] = mapped_column(Text)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        Index("ix_api_keys_tenant_id", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    role: Mapped[str] = mapped_column(Text, nullable=False)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class _Resource:
    """Columns every caller-addressed resource shares."""

    id: Mapped[uuid.UUID] = _uuid_pk()
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class _Embedded:
    """Columns of a resource that matching reads: its vectors, their model, its searchable text."""

    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=True)
    embedding_model: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    search_text: Mapped[str | None] = mapped_column(Text)
    # The search text's language, detected on write (app/ml/languages.py): fastText's code
    # (ISO 639-1 for the common languages), "und" when the detector was not sure, NULL for a
    # text written before detection existed (``ponte reembed`` detects those). BM25 stems by
    # it.
    text_language: Mapped[str | None] = mapped_column(String(8))
    search_tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(TSV_EXPRESSION, persisted=True), nullable=True
    )
    # Links to the ESCO taxonomy (skills, occupations), derived on write like the vectors
    # (app/services/taxonomy_linking.py); erased with the row.
    esco: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


def _vector_index(table: str, column: str = "embedding") -> Index:
    return Index(
        f"ix_{table}_{column}_hnsw",
        column,
        postgresql_using="hnsw",
        postgresql_ops={column: "vector_cosine_ops"},
    )


def _tsv_index(table: str) -> Index:
    return Index(f"ix_{table}_search_tsv", "search_tsv", postgresql_using="gin")


class Employer(_Resource, Base):
    __tablename__ = "employers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint(_in("size", ("micro", "small", "medium", "large")), name="size"),
    )

    name: Mapped[str] = mapped_column(Text, nullable=False)
    size: Mapped[str | None] = mapped_column(Text)
    sector: Mapped[str | None] = mapped_column(Text)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    contact: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


def _lat() -> Mapped[float | None]:
    return mapped_column(
        Double, Computed("((location ->> 'lat'))::double precision", persisted=True)
    )


def _lon() -> Mapped[float | None]:
    return mapped_column(
        Double, Computed("((location ->> 'lon'))::double precision", persisted=True)
    )


class Vacancy(_Embedded, _Resource, Base):
    __tablename__ = "vacancies"
    __table_args__ = (
        _vector_index("vacancies"),
        _tsv_index("vacancies"),
        UniqueConstraint("tenant_id", "external_id"),
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(
            ["tenant_id", "employer_id"],
            ["employers.tenant_id", "employers.id"],
        ),
        CheckConstraint(_in("contract", VACANCY_CONTRACTS), name="contract"),
        CheckConstraint(_in("status", VACANCY_STATUSES), name="status"),
        CheckConstraint(_in("status_source", STATUS_SOURCES), name="status_source"),
        _change_feed_index("vacancies"),
    )

    employer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    occupation_uri: Mapped[str | None] = mapped_column(Text)  # the caller's ESCO occupation
    description: Mapped[str | None] = mapped_column(Text)
    required_skills: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    languages: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    location: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    lat: Mapped[float | None] = _lat()
    lon: Mapped[float | None] = _lon()
    remote: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    contract: Mapped[str | None] = mapped_column(Text)
    duration_months: Mapped[int | None] = mapped_column(SmallInteger)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    positions: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    stipend: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'open'"))
    status_changed_at: Mapped[dt.datetime | None] = _status_changed_at()
    status_source: Mapped[str] = _status_source()
    title_embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=True)
    # Set by a trigger to the writing transaction's id: the change feed of in-process state.
    changed_xid: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))


class _Tombstone:
    """A deleted row's tenant and the deleting transaction (written by a trigger): ids only,
    pruned when old. The change feed's deletions."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    deleted_xid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deleted_at: Mapped[dt.datetime] = _created()


class VacancyDeletion(_Tombstone, Base):
    __tablename__ = "vacancy_deletions"

    vacancy_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)


class Candidate(_Embedded, _Resource, Base):
    __tablename__ = "candidates"
    __table_args__ = (
        _vector_index("candidates"),
        _tsv_index("candidates"),
        _change_feed_index("candidates"),
        UniqueConstraint("tenant_id", "external_id"),
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint(_in("status", CANDIDATE_STATUSES), name="status"),
        CheckConstraint(_in("status_source", STATUS_SOURCES), name="status_source"),
        CheckConstraint(_in("work_permit", WORK_PERMITS), name="work_permit"),
        CheckConstraint("education_level BETWEEN 1 AND 8", name="education_level"),
    )

    skills: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    summary: Mapped[str | None] = mapped_column(Text)
    languages: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    location: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    lat: Mapped[float | None] = _lat()
    lon: Mapped[float | None] = _lon()
    max_commute_km: Mapped[float | None] = mapped_column(Double)
    available_from: Mapped[dt.date | None] = mapped_column(Date)
    desired_occupations: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    # label → the ESCO occupation the caller linked that desired occupation to
    desired_occupation_uris: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    education_level: Mapped[int | None] = mapped_column(SmallInteger)
    work_permit: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'unknown'"))
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'active'"))
    # When and by whom the status was last set (NULL: never, beyond the default it was created
    # with): feedback moves it (placed) only when the event is newer than a caller's setting.
    status_changed_at: Mapped[dt.datetime | None] = _status_changed_at()
    status_source: Mapped[str] = _status_source()
    # When the person entered the programme (cohorts); NULL reads as the day of creation.
    entered_on: Mapped[dt.date | None] = mapped_column(Date)
    occupation_embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=True)
    # Set by a trigger to the writing transaction's id: the change feed of in-process state.
    changed_xid: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))


class CandidateDeletion(_Tombstone, Base):
    __tablename__ = "candidate_deletions"

    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)


class CandidateSensitive(Base):
    """Special-category data, stored apart from the profile and never read by matching."""

    __tablename__ = "candidate_sensitive"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="CASCADE",
        ),
    )

    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    support_tracks: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    fairness_consent: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    consent_recorded_on: Mapped[dt.date | None] = mapped_column(Date)
    self_declared: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class CandidateChunk(Base):
    """One window of a candidate's text with its vector, so a long CV is searched whole."""

    __tablename__ = "candidate_chunks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="CASCADE",
        ),
        _vector_index("candidate_chunks"),
    )

    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    chunk_no: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    char_start: Mapped[int] = mapped_column(Integer, nullable=False)
    char_end: Mapped[int] = mapped_column(Integer, nullable=False)
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=False)


class SkillEmbedding(Base):
    """Cache of skill-label vectors per model, shared by every tenant, keyed by the label's
    keyed hash (HMAC-SHA256 under the deployment's label key): it holds no text."""

    __tablename__ = "skill_embeddings"

    model_id: Mapped[str] = mapped_column(Text, primary_key=True)
    label_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=False)


class Shortlist(Base):
    """An immutable snapshot of one ranking, for audit and for training the re-ranker."""

    __tablename__ = "shortlists"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(
            ["tenant_id", "vacancy_id"],
            ["vacancies.tenant_id", "vacancies.id"],
            ondelete="SET NULL (vacancy_id)",
        ),
        Index(
            "ix_shortlists_tenant_id_vacancy_id_created_at", "tenant_id", "vacancy_id", "created_at"
        ),
        # a batch job's run (app/db/job_tables.py) stores one snapshot per vacancy, never two
        ForeignKeyConstraint(["tenant_id", "job_id"], ["jobs.tenant_id", "jobs.id"]),
        Index(
            "ix_shortlists_job_id_vacancy_id",
            "job_id",
            "vacancy_id",
            unique=True,
            postgresql_where=text("job_id IS NOT NULL"),
        ),
        CheckConstraint(_in("origin", SHORTLIST_ORIGINS), name="origin"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    vacancy_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[dt.datetime] = _created()
    key_id: Mapped[str | None] = mapped_column(Text)
    ranker_version: Mapped[str] = mapped_column(Text, nullable=False)
    feature_version: Mapped[str] = mapped_column(Text, nullable=False)
    embedding_model: Mapped[str] = mapped_column(Text, nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    excluded_by_gate: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    considered: Mapped[int] = mapped_column(Integer, nullable=False)
    origin: Mapped[str] = mapped_column(Text, nullable=False, server_default="request")
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class ShortlistItem(Base):
    """One ranked candidate of a snapshot, by internal id only (erasure cuts the link)."""

    __tablename__ = "shortlist_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "shortlist_id"],
            ["shortlists.tenant_id", "shortlists.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="SET NULL (candidate_id)",
        ),
        Index("ix_shortlist_items_candidate_id", "candidate_id"),
    )

    shortlist_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key of its own to tenants: the one to (tenant_id, shortlist_id) already ties
    # the item to its snapshot's tenant and deletes it with it, and a third check per item
    # would lock the tenant's row fifty times per snapshot.
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    score: Mapped[float] = mapped_column(Double, nullable=False)
    features: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
