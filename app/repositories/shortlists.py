"""Shortlist snapshots: written once, read back for audit, training and the scouts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, Shortlist, ShortlistItem, Vacancy


class ShortlistRepository:
    """Tenant-scoped snapshot storage."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, shortlist: dict[str, Any], items: Sequence[dict[str, Any]]) -> Shortlist:
        """Stores a snapshot and its ranked items; returns the snapshot row."""
        # One round trip: the id and creation time come back with the insert.
        row = (
            await self.session.scalars(insert(Shortlist).values(**shortlist).returning(Shortlist))
        ).one()
        if items:
            # All items as one JSON parameter: one statement, no per-row parameter binding.
            await self.session.execute(
                text(
                    "INSERT INTO shortlist_items "
                    "(shortlist_id, rank, tenant_id, candidate_id, score, features, explanation) "
                    "SELECT :shortlist_id, r.rank, :tenant_id, r.candidate_id, r.score, "
                    "r.features, r.explanation FROM jsonb_to_recordset(CAST(:items AS jsonb)) "
                    "AS r(rank integer, candidate_id uuid, score double precision, "
                    "features jsonb, explanation jsonb)"
                ),
                {
                    "shortlist_id": row.id,
                    "tenant_id": row.tenant_id,
                    "items": json.dumps(list(items), default=str),
                },
            )
        return row

    async def get(self, tenant_id: uuid.UUID, shortlist_id: uuid.UUID) -> Shortlist | None:
        """Returns one snapshot of the tenant."""
        stmt = select(Shortlist).where(
            Shortlist.tenant_id == tenant_id, Shortlist.id == shortlist_id
        )
        return await self.session.scalar(stmt)

    async def items(
        self, tenant_id: uuid.UUID, shortlist_id: uuid.UUID
    ) -> list[tuple[ShortlistItem, str | None, list[Any] | None]]:
        """Returns the items in rank order with the candidate's current external id and skills
        (None for both once the candidate has been erased)."""
        stmt = (
            select(ShortlistItem, Candidate.external_id, Candidate.skills)
            .outerjoin(
                Candidate,
                (Candidate.id == ShortlistItem.candidate_id)
                & (Candidate.tenant_id == ShortlistItem.tenant_id),
            )
            .where(ShortlistItem.tenant_id == tenant_id, ShortlistItem.shortlist_id == shortlist_id)
            .order_by(ShortlistItem.rank)
        )
        return [(row[0], row[1], row[2]) for row in await self.session.execute(stmt)]

    async def list_for_vacancy(
        self, tenant_id: uuid.UUID, vacancy_id: uuid.UUID, limit: int
    ) -> Sequence[Shortlist]:
        """Returns the vacancy's snapshots, newest first."""
        stmt = (
            select(Shortlist)
            .where(Shortlist.tenant_id == tenant_id, Shortlist.vacancy_id == vacancy_id)
            .order_by(Shortlist.created_at.desc(), Shortlist.id)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    async def vacancy_external_id(
        self, tenant_id: uuid.UUID, vacancy_id: uuid.UUID | None
    ) -> str | None:
        """Returns the external id of a snapshot's vacancy (None if it was deleted)."""
        if vacancy_id is None:
            return None
        stmt = select(Vacancy.external_id).where(
            Vacancy.tenant_id == tenant_id, Vacancy.id == vacancy_id
        )
        return await self.session.scalar(stmt)
