"""Internships as a scout follows them up: running ones ending soon (extend, hire or end),
ended ones with their outcome. Folded from the feedback log (app/services/stints.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.feedback import FeedbackRepository
from app.schemas import Principal
from app.services.stints import fold


async def list_internships(
    session: AsyncSession,
    principal: Principal,
    *,
    status: Literal["active", "ended"] | None,
    ending_before: dt.date | None,
    limit: int,
) -> dict[str, Any]:
    """The tenant's internships, soonest planned end first, filtered by status and by a
    planned end before ``ending_before``."""
    rows = await FeedbackRepository(session).internship_events(principal.tenant_id)
    shown = {r.path_key: r for r in rows}
    items = []
    for pair, stint in fold(rows).items():
        row = shown[pair]
        for internship in stint.internships:
            state = "active" if internship.running else "ended"
            if status is not None and state != status:
                continue
            if ending_before is not None and internship.planned_end >= ending_before:
                continue
            items.append(
                {
                    "vacancy_external_id": row.vacancy_external_id,
                    "employer_external_id": row.employer_external_id,
                    "candidate_external_id": row.candidate_external_id,
                    "started_on": internship.started_on,
                    "planned_end": internship.planned_end,
                    "extensions": internship.extensions,
                    "status": state,
                    "outcome": internship.outcome,
                    "ended_on": internship.ended_at.date() if internship.ended_at else None,
                }
            )
    items.sort(key=lambda i: (i["planned_end"], i["candidate_external_id"]))
    return {"items": items[:limit], "total": len(items)}
