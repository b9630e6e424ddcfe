"""Fairness monitoring: how each group of people fares through the ranker and the recruiters'
decisions, by an attribute the people chose to declare for it (the only use of those
attributes, and only of the people who consented).

For each value of the attribute (a group), among the consented people who declared it and were
on record before the period's end:

- ``in_top``: the share a shortlist made in the period placed within its first ``top`` ranks —
  what the ranker did;
- ``shortlisted``, ``interviewed``, ``internship_started``, ``hired``: the share with that
  decision or outcome recorded in the period — what people did with the ranking.

Each share is a selection rate (people of the group with the stage ÷ people of the group), and
per stage the report compares the groups as fairness practice does (fairlearn's demographic
parity ratio and difference, over the groups shown): the lowest rate ÷ the highest, the
highest − the lowest, and whether the ratio falls under four fifths (the "four-fifths rule" of
the US employment-selection guidelines, a common flag for adverse impact). These are signals
for the programme to look into, not verdicts: the groups differ in more than the attribute.

No figure is a few people's, so that the report can be shared without telling anyone who
knows some of the decisions what those people declared: a group of fewer than ``min_group``
people is not shown, nor counted in any figure the report gives (how many groups were held
back is said); within a group shown, a stage's count is held back when it, or the rest of the
group, is 1 to ``min_group`` - 1 people (none, or all, are shown); and a stage compares only
the groups whose count for it is shown, two at least. "prefer not to say" is not a group: who
chose it is left out, as is who did not declare the attribute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.metrics import FAIRNESS_EVENTS, MetricsRepository
from app.schemas import Principal
from app.services import audit

STAGES = ("in_top", *FAIRNESS_EVENTS)
FOUR_FIFTHS = 0.8


def _shown(count: int, people: int, min_group: int) -> bool:
    """Whether a stage's count in a group may be shown: neither it nor the rest of the group
    is a few people (1 to ``min_group`` - 1); none, or all, may be."""
    return all(n == 0 or n >= min_group for n in (count, people - count))


def _disparity(groups: Sequence[Any], stage: str, min_group: int) -> dict[str, Any] | None:
    """The comparison of the groups' rates for one stage, over the groups whose count for it is
    shown (None with fewer than two: a comparison with a held-back count would reveal it)."""
    rates = sorted(
        (getattr(g, stage) / g.people, g.grp)
        for g in groups
        if _shown(getattr(g, stage), g.people, min_group)
    )
    if len(rates) < 2:
        return None
    (low, lowest), (high, highest) = rates[0], rates[-1]
    ratio = low / high if high > 0 else None
    return {
        "groups": len(rates),
        "ratio": None if ratio is None else round(ratio, 4),
        "difference": round(high - low, 4),
        "lowest": lowest,
        "highest": highest,
        "below_four_fifths": None if ratio is None else ratio < FOUR_FIFTHS,
    }


def _stage(count: int, people: int, min_group: int) -> dict[str, Any]:
    if not _shown(count, people, min_group):
        return {"people": None, "rate": None, "held_back": True}
    return {"people": count, "rate": round(count / people, 4), "held_back": False}


async def fairness_metrics(
    session: AsyncSession,
    principal: Principal,
    attribute: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    top: int,
    min_group: int,
) -> dict[str, Any]:
    """The report of the module docstring (reading it is recorded in the audit trail)."""
    rows = await MetricsRepository(session).fairness_counts(
        principal.tenant_id, attribute, start, end, top
    )
    shown = [row for row in rows if row.people >= min_group]
    groups = [
        {
            "group": row.grp,
            "people": row.people,
            **{stage: _stage(getattr(row, stage), row.people, min_group) for stage in STAGES},
        }
        for row in shown
    ]
    report = {
        "attribute": attribute,
        "from": start,
        "to": end,
        "top": top,
        "min_group": min_group,
        "people": sum(row.people for row in shown),
        "groups": groups,
        "groups_not_shown": len(rows) - len(shown),
        "disparity": {stage: _disparity(shown, stage, min_group) for stage in STAGES},
    }
    # what was asked, so that a series of narrow reads (one shortlist, top k then k + 1) shows
    # in the trail
    asked = {"from": start, "to": end}
    detail = {
        "attribute": attribute,
        **{k: v.isoformat() for k, v in asked.items() if v is not None},
        "top": top,
        "min_group": min_group,
        "groups": len(shown),
        "groups_not_shown": len(rows) - len(shown),
    }
    await audit.record(session, principal, audit.Act("fairness.read", detail=detail))
    return report
