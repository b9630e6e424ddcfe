"""The feedback log: append, find by idempotency key, link to what a shortlist showed, and
read events back (with the candidate's external id and the note, while they exist)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.feedback_tables import FeedbackEvent, FeedbackNote

# An event as the API shows it: the log row, the candidate's external id (NULL once erased)
# and the note (gone once erased).
EVENT_ROWS = """
    SELECT e.id, e.vacancy_external_id, c.external_id AS candidate_external_id, e.event,
           e.reason, n.note, e.months, e.occurred_at, e.recorded_at, e.key_id, e.actor_ref,
           e.link, e.shortlist_id, e.rank, e.ranker_version, e.idempotency_key, e.retracts,
           e.body_hash, e.vacancy_id, e.candidate_id
      FROM feedback_events e
      LEFT JOIN candidates c ON c.tenant_id = e.tenant_id AND c.id = e.candidate_id
      LEFT JOIN feedback_notes n ON n.tenant_id = e.tenant_id AND n.event_id = e.id
"""
# An event that counts: not a retraction itself, and not retracted.
# (``r.retracts IS NOT NULL`` is implied, and lets the planner read the few retractions from
# the index on ``retracts`` instead of hashing the whole log.)
EFFECTIVE = (
    "e.event <> 'retracted' AND NOT EXISTS (SELECT FROM feedback_events r "
    "WHERE r.retracts IS NOT NULL AND r.tenant_id = e.tenant_id AND r.retracts = e.id)"
)


@dataclass(frozen=True)
class Shown:
    """What a shortlist showed of a candidate: the snapshot, the rank, score and versions."""

    shortlist_id: uuid.UUID
    rank: int
    score: float
    ranker_version: str
    feature_version: str
    created_at: dt.datetime


@dataclass(frozen=True)
class VacancyRef:
    """What recording feedback reads of a vacancy (not its texts or vectors)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    external_id: str
    employer_id: uuid.UUID
    contract: str | None
    duration_months: int | None
    positions: int
    status: str
    status_changed_at: dt.datetime | None
    status_source: str


@dataclass(frozen=True)
class CandidateRef:
    id: uuid.UUID
    tenant_id: uuid.UUID
    external_id: str
    status: str
    status_changed_at: dt.datetime | None
    status_source: str


_VACANCY_REF = (
    "SELECT id, tenant_id, external_id, employer_id, contract, duration_months, positions, "
    "status, status_changed_at, status_source FROM vacancies "
    "WHERE tenant_id = :t AND external_id = :e"
)
_CANDIDATE_REF = (
    "SELECT id, tenant_id, external_id, status, status_changed_at, status_source "
    "FROM candidates WHERE tenant_id = :t AND external_id = :e"
)


class FeedbackRepository:
    """Tenant-scoped reads and appends of the feedback log."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def subjects(
        self, tenant_id: uuid.UUID, vacancy: str, candidate: str, *, lock: bool
    ) -> tuple[VacancyRef | None, CandidateRef | None]:
        """The vacancy and the candidate an event is about, locked (in that order) when the
        event may change their state."""
        # NO KEY: the lock serialises feedback effects without blocking the foreign-key checks
        # of other writes that reference these rows.
        suffix = " FOR NO KEY UPDATE" if lock else ""
        v = (
            await self.session.execute(text(_VACANCY_REF + suffix), {"t": tenant_id, "e": vacancy})
        ).first()
        c = (
            await self.session.execute(
                text(_CANDIDATE_REF + suffix), {"t": tenant_id, "e": candidate}
            )
        ).first()
        return (VacancyRef(*v) if v else None), (CandidateRef(*c) if c else None)

    async def insert(self, values: dict[str, Any]) -> tuple[uuid.UUID, dt.datetime] | None:
        """Appends an event and returns its id and recording time; None when its idempotency
        key is already taken (the unique constraint decides, so simultaneous retries leave one
        row)."""
        stmt = (
            insert(FeedbackEvent)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
            .returning(FeedbackEvent.id, FeedbackEvent.recorded_at)
        )
        row = (await self.session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    async def add_note(
        self, tenant_id: uuid.UUID, event_id: uuid.UUID, candidate_id: uuid.UUID, note: str
    ) -> None:
        await self.session.execute(
            insert(FeedbackNote).values(
                tenant_id=tenant_id, event_id=event_id, candidate_id=candidate_id, note=note
            )
        )

    async def delete_note(self, tenant_id: uuid.UUID, event_id: uuid.UUID) -> None:
        """Erases an event's note (the event stays)."""
        await self.session.execute(
            text("DELETE FROM feedback_notes WHERE tenant_id = :t AND event_id = :id"),
            {"t": tenant_id, "id": event_id},
        )

    async def by_key(self, tenant_id: uuid.UUID, key: str) -> dict[str, Any] | None:
        return await self._one("e.idempotency_key = :key", {"t": tenant_id, "key": key})

    async def by_id(self, tenant_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._one("e.id = :id", {"t": tenant_id, "id": event_id})

    async def retraction_of(self, tenant_id: uuid.UUID, event_id: uuid.UUID) -> uuid.UUID | None:
        """The id of the event that retracts this one, if any."""
        found: uuid.UUID | None = await self.session.scalar(
            text("SELECT id FROM feedback_events WHERE tenant_id = :t AND retracts = :id"),
            {"t": tenant_id, "id": event_id},
        )
        return found

    async def _one(self, where: str, params: dict[str, Any]) -> dict[str, Any] | None:
        sql = f"{EVENT_ROWS} WHERE e.tenant_id = :t AND {where}"
        row = (await self.session.execute(text(sql), params)).mappings().first()
        return dict(row) if row is not None else None

    async def page(
        self,
        tenant_id: uuid.UUID,
        *,
        limit: int,
        after: tuple[dt.datetime, uuid.UUID] | None,
        vacancy_external_id: str | None = None,
        candidate_external_id: str | None = None,
        event: str | None = None,
        occurred_from: dt.datetime | None = None,
        occurred_to: dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Events in (occurred_at, id) order after the cursor, filtered."""
        where = ["e.tenant_id = :t"]
        params: dict[str, Any] = {"t": tenant_id, "limit": limit}
        for column, value in (
            ("e.vacancy_external_id", vacancy_external_id),
            ("c.external_id", candidate_external_id),
            ("e.event", event),
        ):
            if value is not None:
                name = column.replace(".", "_")
                where.append(f"{column} = :{name}")
                params[name] = value
        if occurred_from is not None:
            where.append("e.occurred_at >= :occurred_from")
            params["occurred_from"] = occurred_from
        if occurred_to is not None:
            where.append("e.occurred_at < :occurred_to")
            params["occurred_to"] = occurred_to
        if after is not None:
            where.append("(e.occurred_at, e.id) > (:after_at, :after_id)")
            params["after_at"], params["after_id"] = after
        sql = f"{EVENT_ROWS} WHERE {' AND '.join(where)} ORDER BY e.occurred_at, e.id LIMIT :limit"
        return [dict(row) for row in (await self.session.execute(text(sql), params)).mappings()]

    async def shown_in(
        self,
        tenant_id: uuid.UUID,
        shortlist_id: uuid.UUID,
        vacancy_id: uuid.UUID,
        candidate_id: uuid.UUID,
    ) -> tuple[bool, Shown | None]:
        """Whether the shortlist is one of this vacancy's, and what it showed of the candidate."""
        sql = """
            SELECT s.id, i.rank, i.score, s.ranker_version, s.feature_version, s.created_at,
                   i.candidate_id IS NOT NULL AS shown
              FROM shortlists s
              LEFT JOIN shortlist_items i
                ON i.tenant_id = s.tenant_id AND i.shortlist_id = s.id
               AND i.candidate_id = :c
             WHERE s.tenant_id = :t AND s.id = :s AND s.vacancy_id = :v
        """
        row = (
            await self.session.execute(
                text(sql), {"t": tenant_id, "s": shortlist_id, "v": vacancy_id, "c": candidate_id}
            )
        ).first()
        if row is None:
            return False, None
        if not row.shown:
            return True, None
        return True, Shown(row[0], row[1], row[2], row[3], row[4], row[5])

    async def latest_shown(
        self, tenant_id: uuid.UUID, vacancy_id: uuid.UUID, candidate_id: uuid.UUID
    ) -> Shown | None:
        """The vacancy's most recent shortlist that showed the candidate."""
        sql = """
            SELECT s.id, i.rank, i.score, s.ranker_version, s.feature_version, s.created_at
              FROM shortlist_items i
              JOIN shortlists s ON s.tenant_id = i.tenant_id AND s.id = i.shortlist_id
             WHERE i.tenant_id = :t AND i.candidate_id = :c AND s.vacancy_id = :v
             ORDER BY s.created_at DESC, s.id DESC LIMIT 1
        """
        row = (
            await self.session.execute(
                text(sql), {"t": tenant_id, "v": vacancy_id, "c": candidate_id}
            )
        ).first()
        return Shown(row[0], row[1], row[2], row[3], row[4], row[5]) if row else None

    async def pipeline(self, tenant_id: uuid.UUID, vacancy_id: uuid.UUID) -> Sequence[Any]:
        """Per candidate still on record: the latest effective event, how many there were, and
        the latest shortlist of this vacancy that showed them."""
        sql = f"""
            WITH eff AS (
                SELECT e.candidate_id, e.event, e.occurred_at,
                       row_number() OVER (PARTITION BY e.candidate_id
                                          ORDER BY e.occurred_at DESC, e.recorded_at DESC,
                                                   e.id DESC) AS nth,
                       count(*) OVER (PARTITION BY e.candidate_id) AS events
                  FROM feedback_events e
                 WHERE e.tenant_id = :t AND e.vacancy_id = :v AND e.candidate_id IS NOT NULL
                   AND {EFFECTIVE}
            )
            SELECT c.external_id AS candidate_external_id, eff.event AS stage,
                   eff.occurred_at AS stage_at, eff.events, shown.rank AS shown_rank,
                   shown.created_at AS shown_at, eff.candidate_id
              FROM eff
              JOIN candidates c ON c.tenant_id = :t AND c.id = eff.candidate_id
              LEFT JOIN LATERAL (
                  SELECT i.rank, s.created_at
                    FROM shortlist_items i
                    JOIN shortlists s ON s.tenant_id = i.tenant_id AND s.id = i.shortlist_id
                   WHERE i.tenant_id = :t AND i.candidate_id = eff.candidate_id
                     AND s.vacancy_id = :v
                   ORDER BY s.created_at DESC, s.id DESC LIMIT 1
              ) shown ON true
             WHERE eff.nth = 1
             ORDER BY eff.occurred_at DESC, c.external_id
        """
        return (await self.session.execute(text(sql), {"t": tenant_id, "v": vacancy_id})).all()
