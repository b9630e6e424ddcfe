"""Online ranking quality per ranker version, from the feedback linked to shortlists: how a
ranker is judged in use (a learned one against the weighted default, issue 13).

- ``shortlists``: shortlists the version made in the period;
- ``events_linked``: events in the period linked to a shortlist item of the version;
- ``positive_share_by_rank``: of the linked positive events (shortlisted, contacted,
  interviewed, offered, internship_started, hired), the share shown at ranks 1–5, 6–10, 11–20
  and beyond;
- ``mrr_first_positive``: over the version's shortlists of the period that received any linked
  feedback, the mean of 1 / (rank of the first positive), counting 0 where none was positive.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.metrics import MetricsRepository
from app.schemas import Principal

BUCKETS = (("1-5", "r1_5"), ("6-10", "r6_10"), ("11-20", "r11_20"), ("21+", "r21"))


async def ranking_metrics(
    session: AsyncSession, principal: Principal, start: dt.datetime | None, end: dt.datetime | None
) -> dict[str, Any]:
    repo = MetricsRepository(session)
    made = await repo.shortlists_by_version(principal.tenant_id, start, end)
    linked = {
        r.ranker_version: r for r in await repo.linked_by_version(principal.tenant_id, start, end)
    }
    ranks = {
        r.ranker_version: r for r in await repo.reciprocal_ranks(principal.tenant_id, start, end)
    }
    versions = []
    for version in sorted(set(made) | set(linked) | set(ranks)):
        row, rr = linked.get(version), ranks.get(version)
        positive = row.positive if row else 0
        versions.append(
            {
                "ranker_version": version,
                "shortlists": made.get(version, 0),
                "events_linked": row.linked if row else 0,
                "positive_events": positive,
                "positive_share_by_rank": {
                    label: round(getattr(row, column) / positive, 4) if positive else None
                    for label, column in BUCKETS
                },
                "shortlists_with_feedback": rr.shortlists_with_feedback if rr else 0,
                "mrr_first_positive": round(float(rr.mrr), 4) if rr else None,
            }
        )
    return {"from": start, "to": end, "versions": versions}
