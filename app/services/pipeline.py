"""A vacancy's pipeline: where each person proposed for it stands now."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.repositories.feedback import FeedbackRepository
from app.repositories.placement_spans import PlacementSpanRepository
from app.repositories.resources import VacancyRepository
from app.schemas import Principal
from app.services import audit


async def vacancy_pipeline(
    session: AsyncSession, principal: Principal, vacancy_external_id: str
) -> dict[str, Any]:
    """Each candidate's current stage for the vacancy (their latest event that was not
    retracted), the rank the latest shortlist showed them at and when, newest stage first."""
    vacancy = await VacancyRepository(session).get(principal.tenant_id, vacancy_external_id)
    if vacancy is None:
        raise NotFound(f"no vacancy '{vacancy_external_id}'")
    rows = [
        dict(row._mapping)
        for row in await FeedbackRepository(session).pipeline(principal.tenant_id, vacancy.id)
    ]
    spans = PlacementSpanRepository(session)
    answer = {
        "vacancy_external_id": vacancy.external_id,
        "positions": vacancy.positions,
        "positions_taken": await spans.positions_taken(principal.tenant_id, vacancy.id),
        "items": [{k: v for k, v in row.items() if k != "candidate_id"} for row in rows],
    }
    objects = [
        audit.ref("vacancy", vacancy.id),
        *audit.refs("candidate", (row["candidate_id"] for row in rows)),
    ]
    await audit.record(session, principal, audit.Act("pipeline.read", objects))
    return answer
