"""Everything held about one candidate, read for their export (GDPR Art. 15 and 20): the rows
that are theirs and the rows of logs that point at them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import CandidateChunk
from app.repositories.feedback import EVENT_ROWS

_SHOWN_IN = text(
    "SELECT s.id AS shortlist_id, s.created_at, s.origin, v.external_id AS vacancy_external_id, "
    "s.ranker_version, s.feature_version, s.embedding_model, i.rank, i.score, i.features, "
    "i.explanation FROM shortlist_items i "
    "JOIN shortlists s ON s.tenant_id = i.tenant_id AND s.id = i.shortlist_id "
    "LEFT JOIN vacancies v ON v.tenant_id = s.tenant_id AND v.id = s.vacancy_id "
    "WHERE i.tenant_id = :t AND i.candidate_id = :c ORDER BY s.created_at, s.id"
)
_PLACEMENTS = text(
    "SELECT kind, vacancy_external_id, contract, started_at, ended_at, outcome, planned_end, "
    "extensions FROM placement_spans WHERE tenant_id = :t AND candidate_id = :c "
    "ORDER BY started_at, seq"
)


class ExportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, sql: Any, tenant_id: uuid.UUID, candidate_id: uuid.UUID) -> list[Any]:
        result = await self.session.execute(sql, {"t": tenant_id, "c": candidate_id})
        return [dict(row) for row in result.mappings()]

    async def chunks(self, tenant_id: uuid.UUID, candidate_id: uuid.UUID) -> list[Any]:
        """The candidate's text windows and their vectors."""
        stmt = (
            select(
                CandidateChunk.chunk_no,
                CandidateChunk.char_start,
                CandidateChunk.char_end,
                CandidateChunk.embedding,
            )
            .where(
                CandidateChunk.tenant_id == tenant_id, CandidateChunk.candidate_id == candidate_id
            )
            .order_by(CandidateChunk.chunk_no)
        )
        return [dict(row) for row in (await self.session.execute(stmt)).mappings()]

    async def shown_in(self, tenant_id: uuid.UUID, candidate_id: uuid.UUID) -> list[Any]:
        """Every snapshot item that ranked the candidate, with its snapshot's versions."""
        return await self._rows(_SHOWN_IN, tenant_id, candidate_id)

    async def feedback(self, tenant_id: uuid.UUID, candidate_id: uuid.UUID) -> list[Any]:
        """Every feedback event about the candidate, with its note, in the order they
        happened."""
        sql = text(
            f"{EVENT_ROWS} WHERE e.tenant_id = :t AND e.candidate_id = :c "
            "ORDER BY e.occurred_at, e.id"
        )
        return await self._rows(sql, tenant_id, candidate_id)

    async def placements(self, tenant_id: uuid.UUID, candidate_id: uuid.UUID) -> list[Any]:
        """The candidate's internships and contracts as folded from the feedback."""
        return await self._rows(_PLACEMENTS, tenant_id, candidate_id)
