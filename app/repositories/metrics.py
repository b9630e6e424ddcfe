"""Aggregations of the feedback log for outcome, cohort and ranking-quality reports.

Every figure counts effective events only (not retractions, nor events retracted). Periods are
half-open, ``[from, to)``, on ``occurred_at`` (events) or ``created_at`` (shortlists); months
and quarters are calendar ones in UTC.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.feedback import EFFECTIVE
from app.vocabulary import PLACEMENT_EVENTS, POSITIVE_EVENTS

GroupBy = Literal["month", "quarter", "employer", "contract"]
NONE = "(none)"
# The group of an event, by its own time or by the vacancy's employer and contract as they
# were when it was recorded. "(none)" marks an event whose employer is gone or unknown.
GROUP_SQL: dict[str, str] = {
    "month": "to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM')",
    "quarter": "to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-\"Q\"Q')",
    "employer": "coalesce(m.external_id, '(none)')",
    "contract": "coalesce(e.contract, '(none)')",
}
# person_key outlives an erasure: an erased person still counts once.
_PERSON = "e.person_key"
COUNTS: dict[str, str] = {
    "candidates_shortlisted": f"count(DISTINCT {_PERSON}) FILTER (WHERE e.event = 'shortlisted')",
    "contacted": f"count(DISTINCT {_PERSON}) FILTER (WHERE e.event = 'contacted')",
    "interviews": "count(*) FILTER (WHERE e.event = 'interviewed')",
    "internships_started": "count(*) FILTER (WHERE e.event = 'internship_started')",
    "internships_extended": "count(*) FILTER (WHERE e.event = 'internship_extended')",
    "internships_completed": "count(*) FILTER (WHERE e.event = 'internship_completed')",
    "contracts": "count(*) FILTER (WHERE e.event = 'hired')",
    "dropouts": "count(*) FILTER (WHERE e.event = 'dropped_out')",
}
_FROM = (
    "FROM feedback_events e "
    "LEFT JOIN employers m ON m.tenant_id = e.tenant_id AND m.id = e.employer_id"
)


def _period(column: str, start: dt.datetime | None, end: dt.datetime | None) -> str:
    where = []
    if start is not None:
        where.append(f"{column} >= :start")
    if end is not None:
        where.append(f"{column} < :end")
    return " AND ".join(where) or "true"


class MetricsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def outcome_counts(
        self,
        tenant_id: uuid.UUID,
        group_by: GroupBy,
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> Sequence[Any]:
        """Per group (and a totals row, ``grp`` NULL), the event counts of :data:`COUNTS`."""
        # A report sorts the period's events by group for its distinct counts: give this
        # transaction the memory to do it without spilling to disk.
        await self.session.execute(text("SET LOCAL work_mem = '32MB'"))
        group = GROUP_SQL[group_by]
        columns = ", ".join(f"{sql} AS {name}" for name, sql in COUNTS.items())
        sql = (
            f"SELECT CASE WHEN GROUPING({group}) = 0 THEN {group} END AS grp, {columns} "
            f"{_FROM} WHERE e.tenant_id = :t AND {_period('e.occurred_at', start, end)} "
            f"AND {EFFECTIVE} GROUP BY GROUPING SETS (({group}), ()) ORDER BY 1 NULLS LAST"
        )
        params = {"t": tenant_id, "start": start, "end": end}
        return (await self.session.execute(text(sql), params)).all()

    async def placement_events(self, tenant_id: uuid.UUID) -> Sequence[Any]:
        """Every effective placement event (any time: an internship started before a period
        can end in it), oldest first, with the vacancy's employer and contract as recorded, by
        path (an erased person's, or a deleted vacancy's, stay apart)."""
        sql = (
            "SELECT e.path_key, e.event, e.months, e.occurred_at, "
            "m.external_id AS employer_external_id, e.contract "
            f"{_FROM} "
            f"WHERE e.tenant_id = :t AND e.event = ANY(:kinds) AND {EFFECTIVE} "
            "ORDER BY e.occurred_at, e.recorded_at, e.id"
        )
        params = {"t": tenant_id, "kinds": list(PLACEMENT_EVENTS)}
        return (await self.session.execute(text(sql), params)).all()

    async def first_shortlisted(self, tenant_id: uuid.UUID) -> dict[uuid.UUID, dt.datetime]:
        """Per (vacancy, person) path that started an internship, when the person was first
        marked shortlisted for it."""
        sql = (
            "SELECT e.path_key, min(e.occurred_at) FROM feedback_events e "
            f"WHERE e.tenant_id = :t AND e.event = 'shortlisted' AND {EFFECTIVE} "
            "AND EXISTS (SELECT FROM feedback_events s WHERE s.tenant_id = e.tenant_id "
            "AND s.path_key = e.path_key AND s.event = 'internship_started') GROUP BY 1"
        )
        rows = await self.session.execute(text(sql), {"t": tenant_id})
        return {r[0]: r[1] for r in rows}

    async def cohort_members(self, tenant_id: uuid.UUID) -> Sequence[Any]:
        """Each candidate on record: the day they entered the programme and the day of their
        first work experience (internship or contract) on or after it, if any."""
        sql = f"""
            WITH m AS (
                SELECT c.id, c.tenant_id,
                       coalesce(c.entered_on, (c.created_at AT TIME ZONE 'UTC')::date) AS entered
                  FROM candidates c WHERE c.tenant_id = :t
            )
            SELECT m.entered,
                   (SELECT min(e.occurred_at AT TIME ZONE 'UTC')::date FROM feedback_events e
                     WHERE e.tenant_id = m.tenant_id AND e.candidate_id = m.id
                       AND e.event IN ('internship_started', 'hired') AND {EFFECTIVE}
                       AND (e.occurred_at AT TIME ZONE 'UTC')::date >= m.entered) AS worked
              FROM m
        """
        return (await self.session.execute(text(sql), {"t": tenant_id})).all()

    async def shortlists_by_version(
        self, tenant_id: uuid.UUID, start: dt.datetime | None, end: dt.datetime | None
    ) -> dict[str, int]:
        sql = (
            "SELECT s.ranker_version, count(*) FROM shortlists s WHERE s.tenant_id = :t "
            f"AND {_period('s.created_at', start, end)} GROUP BY 1"
        )
        rows = await self.session.execute(text(sql), {"t": tenant_id, "start": start, "end": end})
        return {r[0]: r[1] for r in rows}

    async def linked_by_version(
        self, tenant_id: uuid.UUID, start: dt.datetime | None, end: dt.datetime | None
    ) -> Sequence[Any]:
        """Per ranker version: linked events, and positive ones per rank bucket."""
        sql = (
            f"SELECT e.ranker_version, count(*) AS linked, "
            f"count(*) FILTER (WHERE e.event = ANY(:positive)) AS positive, "
            f"count(*) FILTER (WHERE e.event = ANY(:positive) AND e.rank <= 5) AS r1_5, "
            f"count(*) FILTER (WHERE e.event = ANY(:positive) AND e.rank BETWEEN 6 AND 10) "
            f"AS r6_10, "
            f"count(*) FILTER (WHERE e.event = ANY(:positive) AND e.rank BETWEEN 11 AND 20) "
            f"AS r11_20, "
            f"count(*) FILTER (WHERE e.event = ANY(:positive) AND e.rank > 20) AS r21 "
            f"FROM feedback_events e WHERE e.tenant_id = :t AND e.link <> 'none' "
            f"AND {_period('e.occurred_at', start, end)} AND {EFFECTIVE} GROUP BY 1"
        )
        params = {"t": tenant_id, "start": start, "end": end, "positive": list(POSITIVE_EVENTS)}
        return (await self.session.execute(text(sql), params)).all()

    async def reciprocal_ranks(
        self, tenant_id: uuid.UUID, start: dt.datetime | None, end: dt.datetime | None
    ) -> Sequence[Any]:
        """Per ranker version, the mean over shortlists made in the period that received any
        linked feedback of 1 / (rank of the first positive), 0 where none was positive."""
        sql = (
            "SELECT s.ranker_version, count(*) AS shortlists_with_feedback, "
            "avg(coalesce(1.0 / f.best, 0)) AS mrr FROM shortlists s "
            "JOIN LATERAL (SELECT min(e.rank) FILTER (WHERE e.event = ANY(:positive)) AS best "
            "FROM feedback_events e WHERE e.tenant_id = s.tenant_id AND e.shortlist_id = s.id "
            f"AND {EFFECTIVE} HAVING count(*) > 0) f ON true "
            f"WHERE s.tenant_id = :t AND {_period('s.created_at', start, end)} GROUP BY 1"
        )
        params = {"t": tenant_id, "start": start, "end": end, "positive": list(POSITIVE_EVENTS)}
        return (await self.session.execute(text(sql), params)).all()
