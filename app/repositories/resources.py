"""Employers, vacancies, candidates and candidates' sensitive data.

The three caller-addressed kinds share one repository shape: rows keyed by ``(tenant_id,
external_id)``, written by upsert, listed in ``external_id`` order with keyset pagination.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, CandidateSensitive, Employer, Vacancy
from app.repositories.vectors import vector_from_send

M = TypeVar("M", Employer, Vacancy, Candidate)
R = TypeVar("R")


async def versioned_upsert(
    session: AsyncSession, model: type[R], identity: dict[str, Any], values: dict[str, Any]
) -> tuple[R, bool]:
    """Inserts or replaces the row whose unique key is ``identity``, bumping its version.

    Returns the row and whether it was created (``xmax = 0`` marks a freshly inserted tuple).
    """
    table: Any = model
    tracked: dict[str, Any] = {}
    created: dict[str, Any] = {}
    if "status" in values and hasattr(table, "status_source"):
        # A caller's setting of a status is stamped, so feedback (placed, filled) overrides it
        # only with an event that happened later. The status a row is created with by default
        # is no setting: history back-filled after the row was made still takes effect.
        changed = table.status.is_distinct_from(insert(table).excluded.status)
        tracked = {
            "status_changed_at": case((changed, func.now()), else_=table.status_changed_at),
            "status_source": case((changed, literal("caller")), else_=table.status_source),
        }
        default = table.__table__.c.status.server_default.arg.text.strip("'")
        created = {"status_changed_at": None if values["status"] == default else func.now()}
    stmt = (
        insert(table)
        .values(**identity, **values, **created)
        .on_conflict_do_update(
            index_elements=list(identity),
            set_={**values, **tracked, "version": table.version + 1, "updated_at": func.now()},
        )
        .returning(table, literal_column("(xmax = 0)").label("created"))
    )
    row = (await session.execute(stmt, execution_options={"populate_existing": True})).one()
    return row[0], bool(row[1])


class ResourceRepository(Generic[M]):
    """Tenant-scoped reads and writes of one resource table."""

    model: ClassVar[type[Any]]
    # filter name -> (column or JSON path); equality filters only, see ``_filter``.
    equality_filters: ClassVar[dict[str, str]] = {}

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _base(self, tenant_id: uuid.UUID) -> Select[tuple[M]]:
        return select(self.model).where(self.model.tenant_id == tenant_id)

    async def get(
        self, tenant_id: uuid.UUID, external_id: str, *, for_update: bool = False
    ) -> M | None:
        """Returns the tenant's row with this external id (locked when ``for_update``)."""
        stmt = self._base(tenant_id).where(self.model.external_id == external_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)  # type: ignore[no-any-return]

    async def get_by_id(self, tenant_id: uuid.UUID, row_id: uuid.UUID) -> M | None:
        """Returns the tenant's row with this internal id."""
        stmt = self._base(tenant_id).where(self.model.id == row_id)
        return await self.session.scalar(stmt)  # type: ignore[no-any-return]

    async def upsert(
        self, tenant_id: uuid.UUID, external_id: str, values: dict[str, Any]
    ) -> tuple[M, bool]:
        """Creates or replaces the row; returns it and whether it was created."""
        return await versioned_upsert(
            self.session,
            self.model,
            {"tenant_id": tenant_id, "external_id": external_id},
            values,
        )

    async def set_status_from_feedback(
        self, tenant_id: uuid.UUID, row_id: uuid.UUID, status: str, at: dt.datetime
    ) -> None:
        """Sets the status as feedback's effect (placed, filled, and their undoing): a new
        version, stamped with the event's time. The row was read (and locked) by the caller."""
        table: Any = self.model
        stmt = (
            update(table)
            .where(table.tenant_id == tenant_id, table.id == row_id)
            .values(
                status=status,
                status_source="feedback",
                status_changed_at=at,
                version=table.version + 1,
                updated_at=func.now(),
            )
        )
        await self.session.execute(stmt)

    async def delete(self, row: M) -> None:
        """Deletes ``row`` (its tenant was checked when it was read)."""
        await self.session.delete(row)
        await self.session.flush()

    def _filter(self, name: str, value: Any) -> ColumnElement[bool]:
        target = self.equality_filters[name]
        if target.startswith("location."):
            key = target.split(".", 1)[1]
            return self.model.location[key].astext == str(value)  # type: ignore[no-any-return]
        return getattr(self.model, target) == value  # type: ignore[no-any-return]

    async def list(
        self,
        tenant_id: uuid.UUID,
        *,
        limit: int,
        after: str | None = None,
        filters: dict[str, Any] | None = None,
        updated_since: dt.datetime | None = None,
    ) -> Sequence[M]:
        """Returns up to ``limit`` rows after ``after`` in external-id order, filtered."""
        stmt = self._base(tenant_id)
        for name, value in (filters or {}).items():
            if value is not None:
                stmt = stmt.where(self._filter(name, value))
        if updated_since is not None:
            stmt = stmt.where(self.model.updated_at >= updated_since)
        if after is not None:
            stmt = stmt.where(self.model.external_id > after)
        stmt = stmt.order_by(self.model.external_id).limit(limit)
        return cast(Sequence[M], (await self.session.scalars(stmt)).all())


class EmployerRepository(ResourceRepository[Employer]):
    model = Employer
    equality_filters: ClassVar[dict[str, str]] = {
        "size": "size",
        "sector": "sector",
        "municipality": "location.municipality",
    }

    async def count_vacancies(self, tenant_id: uuid.UUID, employer_id: uuid.UUID) -> int:
        """Returns how many vacancies (any status) refer to this employer."""
        stmt = (
            select(func.count())
            .select_from(Vacancy)
            .where(Vacancy.tenant_id == tenant_id, Vacancy.employer_id == employer_id)
        )
        return int(await self.session.scalar(stmt) or 0)

    async def external_ids(
        self, tenant_id: uuid.UUID, employer_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """Returns the external id of each of these employers."""
        if not employer_ids:
            return {}
        stmt = select(Employer.id, Employer.external_id).where(
            Employer.tenant_id == tenant_id, Employer.id.in_(set(employer_ids))
        )
        return {row.id: row.external_id for row in await self.session.execute(stmt)}


@dataclass(frozen=True)
class RankingVacancy:
    """What ranking reads of a vacancy: the fields it matches on, its vectors (float32; None
    until embedded) and what tells whether they are current."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    external_id: str
    title: str
    description: str | None
    required_skills: list[dict[str, Any]]
    languages: list[dict[str, Any]]
    lat: float | None
    lon: float | None
    remote: bool
    start_date: dt.date | None
    search_text: str | None
    content_hash: bytes | None
    embedding_model: str | None
    embedding: npt.NDArray[np.float32] | None
    title_embedding: npt.NDArray[np.float32] | None
    esco: dict[str, Any] | None  # its ESCO links (app/services/taxonomy_linking.py)


# Read on every shortlist request: built once (construction and its cache key are not free).
_RANKING_COLUMNS = (
    Vacancy.id, Vacancy.tenant_id, Vacancy.external_id, Vacancy.title, Vacancy.description,
    Vacancy.required_skills, Vacancy.languages, Vacancy.lat, Vacancy.lon, Vacancy.remote,
    Vacancy.start_date, Vacancy.search_text, Vacancy.content_hash, Vacancy.embedding_model,
    func.vector_send(Vacancy.embedding).label("embedding"),
    func.vector_send(Vacancy.title_embedding).label("title_embedding"), Vacancy.esco,
)  # fmt: skip
_FOR_RANKING = select(*_RANKING_COLUMNS).where(
    Vacancy.tenant_id == bindparam("tenant_id"), Vacancy.external_id == bindparam("external_id")
)
_BLOCK_FOR_RANKING = select(*_RANKING_COLUMNS).where(
    Vacancy.tenant_id == bindparam("tenant_id"), Vacancy.id.in_(bindparam("ids", expanding=True))
)


def _ranking_vacancy(row: Any) -> RankingVacancy:
    values = dict(row._mapping)
    for name in ("embedding", "title_embedding"):
        values[name] = vector_from_send(values[name])
    return RankingVacancy(**values)


class VacancyRepository(ResourceRepository[Vacancy]):
    model = Vacancy
    equality_filters: ClassVar[dict[str, str]] = {
        "status": "status",
        "contract": "contract",
        "remote": "remote",
        "employer_id": "employer_id",
        "municipality": "location.municipality",
    }

    async def for_ranking(self, tenant_id: uuid.UUID, external_id: str) -> RankingVacancy | None:
        """Returns what ranking needs of the tenant's vacancy, vectors in binary form (one
        plain query; a shortlist reads this on every request)."""
        row = (
            await self.session.execute(
                _FOR_RANKING, {"tenant_id": tenant_id, "external_id": external_id}
            )
        ).first()
        return None if row is None else _ranking_vacancy(row)

    async def block_for_ranking(
        self, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
    ) -> list[RankingVacancy]:
        """What ranking needs of these vacancies of the tenant (those that exist), in one
        query, in the order of ``ids``."""
        if not ids:
            return []
        rows = await self.session.execute(
            _BLOCK_FOR_RANKING, {"tenant_id": tenant_id, "ids": list(ids)}
        )
        found = {vacancy.id: vacancy for vacancy in map(_ranking_vacancy, rows)}
        return [found[i] for i in ids if i in found]


class CandidateRepository(ResourceRepository[Candidate]):
    model = Candidate
    equality_filters: ClassVar[dict[str, str]] = {
        "status": "status",
        "work_permit": "work_permit",
        "municipality": "location.municipality",
    }


class SensitiveRepository:
    """The sensitive part of candidates; read and written only through these methods."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, tenant_id: uuid.UUID, candidate_id: uuid.UUID, *, for_update: bool = False
    ) -> CandidateSensitive | None:
        """Returns the sensitive record of one candidate of the tenant."""
        stmt = select(CandidateSensitive).where(
            CandidateSensitive.tenant_id == tenant_id,
            CandidateSensitive.candidate_id == candidate_id,
        )
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def upsert(
        self, tenant_id: uuid.UUID, candidate_id: uuid.UUID, values: dict[str, Any]
    ) -> tuple[CandidateSensitive, bool]:
        """Creates or replaces the record; returns it and whether it was created."""
        # candidate_id is unique across tenants; the tenant goes with it in every insert.
        return await versioned_upsert(
            self.session,
            CandidateSensitive,
            {"candidate_id": candidate_id},
            {"tenant_id": tenant_id, **values},
        )

    async def delete(self, row: CandidateSensitive) -> None:
        """Deletes the record."""
        await self.session.delete(row)
        await self.session.flush()
