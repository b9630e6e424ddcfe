"""Internships as a scout follows them up: running ones ending soon (extend, hire or end),
ended ones with their outcome. Read from the placement spans folded from the feedback log
(app/services/stints.py, app/services/placement_spans.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.placement_spans import PlacementSpanRepository
from app.schemas import Principal
from app.services import audit


async def list_internships(
    session: AsyncSession,
    principal: Principal,
    *,
    status: Literal["active", "ended"] | None,
    ending_before: dt.date | None,
    limit: int,
) -> dict[str, Any]:
    """The tenant's internships of people still on record, soonest planned end first,
    filtered by status and by a planned end before ``ending_before``."""
    rows, total = await PlacementSpanRepository(session).internships(
        principal.tenant_id,
        active=None if status is None else status == "active",
        ending_before=ending_before,
        limit=limit,
    )
    items = [
        {
            "vacancy_external_id": row.vacancy_external_id,
            "employer_external_id": row.employer_external_id,
            "candidate_external_id": row.candidate_external_id,
            "started_on": row.started_at.date(),
            "planned_end": row.planned_end,
            "extensions": row.extensions,
            "status": "active" if row.ended_at is None else "ended",
            "outcome": row.outcome,
            "ended_on": row.ended_at.date() if row.ended_at else None,
        }
        for row in rows
    ]
    objects = audit.refs("candidate", (row.candidate_id for row in rows))
    await audit.record(session, principal, audit.Act("internships.read", objects))
    return {"items": items, "total": total}
