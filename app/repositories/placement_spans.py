"""Placement spans: the internships and contracts folded from the feedback log, one set of rows
per (vacancy, person) path (app/services/placement_spans.py keeps them equal to the log).

What reads them: the status effects (who holds a position), the internship list a scout
follows up, and the outcome report."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.feedback_tables import PlacementSpan
from app.repositories.feedback import EFFECTIVE
from app.vocabulary import PLACEMENT_EVENTS

# A path's effective placement events, oldest first, with the references its spans copy.
PATH_EVENTS = (
    "SELECT e.path_key, e.event, e.months, e.occurred_at, e.vacancy_id, e.vacancy_external_id, "
    "e.employer_id, e.contract, e.candidate_id, e.person_key FROM feedback_events e "
    "WHERE e.tenant_id = :t AND e.event = ANY(:kinds) AND {where} AND " + EFFECTIVE + " "
    "ORDER BY e.path_key, e.occurred_at, e.recorded_at, e.id"
)
_OPEN = "s.ended_at IS NULL"


class PlacementSpanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def path_events(
        self, tenant_id: uuid.UUID, path_key: uuid.UUID | None = None
    ) -> Sequence[Any]:
        """The effective placement events of one path (or of every path of the tenant), by
        path and oldest first."""
        where = "e.path_key = :p" if path_key is not None else "true"
        params = {"t": tenant_id, "p": path_key, "kinds": list(PLACEMENT_EVENTS)}
        return (await self.session.execute(text(PATH_EVENTS.format(where=where)), params)).all()

    async def replace(
        self, tenant_id: uuid.UUID, path_key: uuid.UUID, rows: list[dict[str, Any]]
    ) -> None:
        """Replaces one path's spans with ``rows``."""
        await self.session.execute(
            delete(PlacementSpan).where(
                PlacementSpan.tenant_id == tenant_id, PlacementSpan.path_key == path_key
            )
        )
        await self.add(rows)

    async def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(PlacementSpan), rows)

    async def lock(self) -> None:
        """Holds off every writer of spans until the transaction ends (they take ROW EXCLUSIVE
        to write, which this mode excludes), before a rebuild reads the log."""
        await self.session.execute(text("LOCK TABLE placement_spans IN SHARE ROW EXCLUSIVE MODE"))

    async def replace_all(self, tenant_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        """Replaces every span of the tenant (after :meth:`lock`)."""
        await self.session.execute(
            delete(PlacementSpan).where(PlacementSpan.tenant_id == tenant_id)
        )
        await self.add(rows)

    async def holds_position(self, tenant_id: uuid.UUID, candidate_id: uuid.UUID) -> bool:
        """Whether the candidate holds a position anywhere now."""
        sql = (
            "SELECT EXISTS (SELECT FROM placement_spans s WHERE s.tenant_id = :t "
            f"AND s.candidate_id = :c AND {_OPEN})"
        )
        return bool(await self.session.scalar(text(sql), {"t": tenant_id, "c": candidate_id}))

    async def positions_taken(self, tenant_id: uuid.UUID, vacancy_id: uuid.UUID) -> int:
        """How many people hold one of the vacancy's positions now (an erased person still
        holds theirs)."""
        sql = (
            "SELECT count(DISTINCT s.path_key) FROM placement_spans s WHERE s.tenant_id = :t "
            f"AND s.vacancy_id = :v AND {_OPEN}"
        )
        return int(await self.session.scalar(text(sql), {"t": tenant_id, "v": vacancy_id}) or 0)

    async def for_report(self, tenant_id: uuid.UUID) -> Sequence[Any]:
        """Every span of the tenant with its employer's external id, by path and in order."""
        sql = (
            "SELECT s.path_key, s.kind, s.started_at, s.ended_at, s.outcome, s.contract, "
            "m.external_id AS employer_external_id FROM placement_spans s "
            "LEFT JOIN employers m ON m.tenant_id = s.tenant_id AND m.id = s.employer_id "
            "WHERE s.tenant_id = :t ORDER BY s.path_key, s.seq"
        )
        return (await self.session.execute(text(sql), {"t": tenant_id})).all()

    async def first_shortlisted(self, tenant_id: uuid.UUID) -> dict[uuid.UUID, dt.datetime]:
        """Per path that holds an internship, when the person was first marked shortlisted
        for the vacancy (the earliest effective one, read from the index on the path's events
        by kind and time: a probe per path, not a pass over the log)."""
        sql = (
            "SELECT p.path_key, f.at FROM (SELECT DISTINCT s.path_key FROM placement_spans s "
            "WHERE s.tenant_id = :t AND s.kind = 'internship') p "
            "CROSS JOIN LATERAL (SELECT e.occurred_at AS at FROM feedback_events e "
            "WHERE e.tenant_id = :t AND e.path_key = p.path_key AND e.event = 'shortlisted' "
            f"AND {EFFECTIVE} ORDER BY e.occurred_at LIMIT 1) f"
        )
        return {r[0]: r[1] for r in await self.session.execute(text(sql), {"t": tenant_id})}

    async def internships(
        self,
        tenant_id: uuid.UUID,
        *,
        active: bool | None,
        ending_before: dt.date | None,
        limit: int,
    ) -> tuple[Sequence[Any], int]:
        """Internships of people still on record, soonest planned end first, and how many
        match in all."""
        where = ["s.tenant_id = :t", "s.kind = 'internship'"]
        if active is not None:
            where.append(_OPEN if active else "s.ended_at IS NOT NULL")
        if ending_before is not None:
            where.append("s.planned_end < :before")
        sql = (
            "SELECT s.vacancy_external_id, m.external_id AS employer_external_id, "
            "c.external_id AS candidate_external_id, s.started_at, s.planned_end, "
            "s.extensions, s.ended_at, s.outcome, s.candidate_id, count(*) OVER () AS total "
            "FROM placement_spans s "
            "JOIN candidates c ON c.tenant_id = s.tenant_id AND c.id = s.candidate_id "
            "LEFT JOIN employers m ON m.tenant_id = s.tenant_id AND m.id = s.employer_id "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY s.planned_end, c.external_id, s.path_key, s.seq LIMIT :limit"
        )
        params = {"t": tenant_id, "before": ending_before, "limit": limit}
        rows = (await self.session.execute(text(sql), params)).all()
        # ``limit`` is at least 1: no row means none matched.
        return rows, (rows[0].total if rows else 0)
