"""Tables. Every row of a tenant's data carries ``tenant_id``; cross-table references include it,
so the database itself refuses a link between two tenants' rows."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
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
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base

ROLES = ("admin", "integration", "scout")


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


VACANCY_CONTRACTS = ("internship", "apprenticeship", "fixed_term", "permanent")
VACANCY_STATUSES = ("open", "filled", "closed")
CANDIDATE_STATUSES = ("active", "paused", "placed", "withdrawn")
WORK_PERMITS = ("yes", "no", "pending", "unknown")


def _lat() -> Mapped[float | None]:
    return mapped_column(Double, Computed("((location ->> 'lat'))::double precision"))


def _lon() -> Mapped[float | None]:
    return mapped_column(Double, Computed("((location ->> 'lon'))::double precision"))


class Vacancy(_Resource, Base):
    __tablename__ = "vacancies"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(
            ["tenant_id", "employer_id"],
            ["employers.tenant_id", "employers.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(_in("contract", VACANCY_CONTRACTS), name="contract"),
        CheckConstraint(_in("status", VACANCY_STATUSES), name="status"),
    )

    employer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
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


class Candidate(_Resource, Base):
    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint(_in("status", CANDIDATE_STATUSES), name="status"),
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
    education_level: Mapped[int | None] = mapped_column(SmallInteger)
    work_permit: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'unknown'"))
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'active'"))


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
