"""Aggregations of the feedback log for outcome, cohort, ranking-quality and fairness reports.

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
from app.vocabulary import POSITIVE_EVENTS

GroupBy = Literal["month", "quarter", "employer", "contract"]
NONE = "(none)"
# The group of an event, by its own time or by the vacancy's employer and contract as they
# were when it was recorded: the key events are grouped on (cheap to hash), and the label a
# group is shown with. "(none)" marks an event whose employer is gone or unknown.
GROUP_KEY: dict[str, str] = {
    "month": "date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')",
    "quarter": "date_trunc('quarter', e.occurred_at AT TIME ZONE 'UTC')",
    "employer": "e.employer_id",
    "contract": "e.contract",
}
GROUP_LABEL: dict[str, str] = {
    "month": "to_char(g.grp, 'YYYY-MM')",
    "quarter": "to_char(g.grp, 'YYYY-\"Q\"Q')",
    "employer": "coalesce(m.external_id, '(none)')",
    "contract": "coalesce(g.grp, '(none)')",
}
# Each count: the event it counts, and whether it counts people (once each) or events.
# person_key outlives an erasure: an erased person still counts once.
COUNTS: dict[str, tuple[str, bool]] = {
    "candidates_shortlisted": ("shortlisted", True),
    "contacted": ("contacted", True),
    "interviews": ("interviewed", False),
    "internships_started": ("internship_started", False),
    "internships_extended": ("internship_extended", False),
    "internships_completed": ("internship_completed", False),
    "contracts": ("hired", False),
    "dropouts": ("dropped_out", False),
}


# The recruiters' decisions and outcomes a fairness report follows per group, in the order a
# person passes them.
FAIRNESS_EVENTS = ("shortlisted", "interviewed", "internship_started", "hired")


def _tallies() -> str:
    """The counts over rows of (event, person, n events), one row per person and event."""
    return ", ".join(
        f"count(*) FILTER (WHERE event = '{event}') AS {name}"
        if people
        else f"coalesce(sum(n) FILTER (WHERE event = '{event}'), 0)::bigint AS {name}"
        for name, (event, people) in COUNTS.items()
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
        """Per group (and a totals row, ``grp`` NULL), the counts of :data:`COUNTS`.

        One pass over the period's counted events folds them to one row per group, event and
        person (a hash, no sort); the groups and the totals are counted from those rows, the
        totals over people across groups (a person shortlisted in two months counts once)."""
        await self.session.execute(text("SET LOCAL work_mem = '32MB'"))
        join = (
            "LEFT JOIN employers m ON m.tenant_id = :t AND m.id = g.grp"
            if group_by == "employer"
            else ""
        )
        tallies = _tallies()
        sql = f"""
            WITH x AS MATERIALIZED (
                SELECT {GROUP_KEY[group_by]} AS grp, e.event, e.person_key, count(*) AS n
                  FROM feedback_events e
                 WHERE e.tenant_id = :t AND e.event = ANY(:counted)
                   AND {_period("e.occurred_at", start, end)} AND {EFFECTIVE}
                 GROUP BY 1, 2, 3
            ), g AS (SELECT grp, {tallies} FROM x GROUP BY grp)
            SELECT {GROUP_LABEL[group_by]} AS grp, {", ".join(f"g.{n}" for n in COUNTS)}
              FROM g {join}
            UNION ALL
            SELECT NULL, {tallies}
              FROM (SELECT event, person_key, sum(n) AS n FROM x GROUP BY 1, 2) y
            ORDER BY 1 NULLS LAST
        """
        counted = sorted({event for event, _ in COUNTS.values()})
        params = {"t": tenant_id, "start": start, "end": end, "counted": counted}
        return (await self.session.execute(text(sql), params)).all()

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

    async def fairness_counts(
        self,
        tenant_id: uuid.UUID,
        attribute: str,
        start: dt.datetime | None,
        end: dt.datetime | None,
        top: int,
    ) -> Sequence[Any]:
        """Per value of a self-declared ``attribute`` (app/schemas: ``SelfDeclared``), among the
        people who consented to fairness monitoring, declared it (not as "prefer not to say")
        and were on record before the period's end: how many they are, how many a shortlist
        made in the period placed within its first ``top`` ranks (``in_top``), and how many
        had each of :data:`FAIRNESS_EVENTS` recorded in the period (people, once each;
        effective events only). An erased person has no sensitive part left, so is in no
        group."""
        stages = ", ".join(
            f"count(*) FILTER (WHERE '{event}' = ANY(ev.events)) AS {event}"
            for event in FAIRNESS_EVENTS
        )
        sql = f"""
            WITH p AS MATERIALIZED (
                SELECT s.candidate_id AS id, s.self_declared ->> :attribute AS grp
                  FROM candidate_sensitive s
                  JOIN candidates c ON c.tenant_id = s.tenant_id AND c.id = s.candidate_id
                 WHERE s.tenant_id = :t AND s.fairness_consent
                   AND s.self_declared ->> :attribute IS NOT NULL
                   AND s.self_declared ->> :attribute <> 'prefer_not_to_say'
                   AND (CAST(:end AS timestamptz) IS NULL OR c.created_at < :end)
            ), ranked AS (
                SELECT DISTINCT i.candidate_id AS id
                  FROM shortlist_items i
                  JOIN shortlists sh ON sh.tenant_id = i.tenant_id AND sh.id = i.shortlist_id
                 WHERE i.tenant_id = :t AND i.rank <= :top AND i.candidate_id IN (SELECT id FROM p)
                   AND {_period("sh.created_at", start, end)}
            ), ev AS (
                SELECT e.candidate_id AS id, array_agg(DISTINCT e.event) AS events
                  FROM feedback_events e
                 WHERE e.tenant_id = :t AND e.candidate_id IN (SELECT id FROM p)
                   AND e.event = ANY(:events) AND {_period("e.occurred_at", start, end)}
                   AND {EFFECTIVE}
                 GROUP BY 1
            )
            SELECT p.grp, count(*) AS people, count(ranked.id) AS in_top, {stages}
              FROM p LEFT JOIN ranked ON ranked.id = p.id LEFT JOIN ev ON ev.id = p.id
             GROUP BY p.grp ORDER BY p.grp
        """
        params = {
            "t": tenant_id,
            "attribute": attribute,
            "start": start,
            "end": end,
            "top": top,
            "events": list(FAIRNESS_EVENTS),
        }
        return (await self.session.execute(text(sql), params)).all()
