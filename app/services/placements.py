"""What feedback does to state: a person who starts an internship or is hired is ``placed``
(so the not_placed gate keeps them out of other shortlists) and takes one of the vacancy's
positions; a vacancy whose positions are all taken is ``filled``. Dropping out, an internship
completed without a hire, or the retraction of the event that caused it undoes the effect.

The effect is recomputed from the log after every event, never applied as a delta, so events
that arrive out of order or are retracted later still add up: the event's path is refolded
into ``placement_spans`` (app/services/placement_spans.py) and the statuses follow the spans.
A caller's own status setting wins over an automatic change unless the event is newer than it
(a status feedback set is always brought in line with the log, whatever order events arrive
in); an automatic status is undone only while it is still the automatic one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.feedback import CandidateRef, VacancyRef
from app.repositories.placement_spans import PlacementSpanRepository
from app.repositories.resources import CandidateRepository, VacancyRepository
from app.services.placement_spans import project_path


def _newer(at: dt.datetime, row: Any) -> bool:
    """Whether feedback at ``at`` may set the row's status: always over a status feedback set
    (the log decides, whatever order its events arrive in), over a caller's own setting only
    when the event happened after it."""
    if row.status_source == "feedback" or row.status_changed_at is None:
        return True
    return bool(at > row.status_changed_at)


def _later(at: dt.datetime, row: Any) -> dt.datetime:
    return at if row.status_changed_at is None else max(at, row.status_changed_at)


async def apply_effects(
    session: AsyncSession,
    vacancy: VacancyRef,
    candidate: CandidateRef,
    path_key: uuid.UUID,
    at: dt.datetime,
) -> None:
    """Refolds the pair's path and brings the candidate's and the vacancy's status in line
    with the log, after an event on it that happened at ``at``. Both rows are locked by the
    caller."""
    await project_path(session, candidate.tenant_id, path_key)
    spans = PlacementSpanRepository(session)
    placed = await spans.holds_position(candidate.tenant_id, candidate.id)
    candidates = CandidateRepository(session)
    if placed and candidate.status != "placed" and _newer(at, candidate):
        await candidates.set_status_from_feedback(candidate.tenant_id, candidate.id, "placed", at)
    elif not placed and candidate.status == "placed" and candidate.status_source == "feedback":
        await candidates.set_status_from_feedback(
            candidate.tenant_id, candidate.id, "active", _later(at, candidate)
        )

    taken = await spans.positions_taken(vacancy.tenant_id, vacancy.id)
    vacancies = VacancyRepository(session)
    if taken >= vacancy.positions and vacancy.status == "open" and _newer(at, vacancy):
        await vacancies.set_status_from_feedback(vacancy.tenant_id, vacancy.id, "filled", at)
    elif (
        taken < vacancy.positions
        and vacancy.status == "filled"
        and vacancy.status_source == "feedback"
    ):
        await vacancies.set_status_from_feedback(
            vacancy.tenant_id, vacancy.id, "open", _later(at, vacancy)
        )
