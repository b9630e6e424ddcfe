"""Outcome and cohort reports: what programmes are funded on (internships that become
contracts), read from the feedback log.

Event counts come from SQL (app/repositories/metrics.py). The figures that need a person's
path through a vacancy — conversion, the medians, time in work — come from the placement spans,
the internships and contracts folded from the log (app/services/stints.py), which the status
effects read too:

- ``conversion_rate``: internships that ended in the period with a hire ÷ all that ended in it
  (completed, dropped out or hired), in the group of the day they ended; null when none ended.
- ``median_days_shortlist_to_internship``: from the first ``shortlisted`` event of the person
  for that vacancy to the internship's start, for internships started in the period.
- ``median_days_internship_to_contract``: from an internship's start to the hire that ended
  it, for hires in the period.
- the optional savings estimate: months in which people held a position (internship or
  contract) within the period × the tenant's ``monthly_support_cost_eur`` — support months
  the programme did not have to pay, an estimate some municipalities publish, labelled as one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.metrics import COUNTS, NONE, GroupBy, MetricsRepository
from app.repositories.placement_spans import PlacementSpanRepository
from app.repositories.tenants import TenantRepository
from app.schemas import Principal

DAYS_PER_MONTH = 365.25 / 12
COHORT_WINDOWS = (30, 90, 180, 365)


def period_key(at: dt.datetime | dt.date, by: str) -> str:
    """The calendar month (``2026-11``) or quarter (``2026-Q4``) of a moment, in UTC."""
    if isinstance(at, dt.datetime):
        at = at.astimezone(dt.UTC).date()
    if by == "quarter":
        return f"{at.year:04d}-Q{(at.month - 1) // 3 + 1}"
    return f"{at.year:04d}-{at.month:02d}"


def _within(at: dt.datetime | None, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    return at is not None and (start is None or at >= start) and (end is None or at < end)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


class _Paths:
    """Conversion and medians per group, from the folded placement events."""

    def __init__(self) -> None:
        self.ended: dict[str | None, int] = defaultdict(int)
        self.hired: dict[str | None, int] = defaultdict(int)
        self.to_internship: dict[str | None, list[float]] = defaultdict(list)
        self.to_contract: dict[str | None, list[float]] = defaultdict(list)

    def figures(self, group: str | None) -> dict[str, Any]:
        ended = self.ended.get(group, 0)
        return {
            "internships_ended": ended,
            "conversion_rate": round(self.hired.get(group, 0) / ended, 4) if ended else None,
            "median_days_shortlist_to_internship": _median(self.to_internship.get(group, [])),
            "median_days_internship_to_contract": _median(self.to_contract.get(group, [])),
        }


async def outcome_metrics(
    session: AsyncSession,
    principal: Principal,
    group_by: GroupBy,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> dict[str, Any]:
    """Per group and in total: the pipeline's counts, conversion and medians (module doc)."""
    tenant_id = principal.tenant_id
    counts = await MetricsRepository(session).outcome_counts(tenant_id, group_by, start, end)
    repo = PlacementSpanRepository(session)
    spans = await repo.for_report(tenant_id)
    first_shortlisted = await repo.first_shortlisted(tenant_id)

    def group(span: Any, at: dt.datetime) -> str:
        if group_by in ("month", "quarter"):
            return period_key(at, group_by)
        if group_by == "employer":
            return span.employer_external_id or NONE
        return span.contract or NONE

    paths = _Paths()
    for span in spans:
        if span.kind != "internship":
            continue
        if _within(span.ended_at, start, end):
            key = group(span, span.ended_at)
            hired = span.outcome == "hired"
            for g in (key, None):
                paths.ended[g] += 1
                paths.hired[g] += hired
            if hired:
                days = (span.ended_at - span.started_at).total_seconds() / 86400
                for g in (key, None):
                    paths.to_contract[g].append(days)
        shortlisted = first_shortlisted.get(span.path_key)
        if (
            _within(span.started_at, start, end)
            and shortlisted is not None
            and shortlisted <= span.started_at
        ):
            days = (span.started_at - shortlisted).total_seconds() / 86400
            for g in (group(span, span.started_at), None):
                paths.to_internship[g].append(days)
    groups, totals = [], None
    for row in counts:
        figures = {name: getattr(row, name) for name in COUNTS}
        figures |= paths.figures(row.grp)
        if row.grp is None:
            totals = figures
        else:
            groups.append({"group": row.grp, **figures})
    empty = {name: 0 for name in COUNTS} | paths.figures(None)
    answer: dict[str, Any] = {
        "group_by": group_by,
        "from": start,
        "to": end,
        "groups": groups,
        "totals": totals or empty,
    }
    tenant = await TenantRepository(session).get(tenant_id)
    cost = (tenant.settings or {}).get("monthly_support_cost_eur") if tenant else None
    if cost:
        months = _months_in_work(spans, start, end)
        answer["estimate"] = {
            "label": "estimate: support months avoided (months people held a position in "
            "the period) × the tenant's monthly support cost",
            "support_months_avoided": round(months, 1),
            "monthly_support_cost_eur": cost,
            "savings_eur": round(months * cost, 2),
        }
    return answer


def _months_in_work(spans: Any, start: dt.datetime | None, end: dt.datetime | None) -> float:
    """Months in which people held a position within ``[start, end)`` (up to now): per path,
    the union of its spans (an internship that ends in a hire runs on into the contract)."""
    now = dt.datetime.now(dt.UTC)
    until = min(end, now) if end is not None else now
    days = 0.0
    for _, path in itertools.groupby(spans, key=lambda s: s.path_key):
        covered: dt.datetime | None = None  # the latest moment already counted on this path
        for span in sorted(path, key=lambda s: s.started_at):
            low = max(span.started_at, start) if start is not None else span.started_at
            if covered is not None:
                low = max(low, covered)
            high = min(span.ended_at or until, until)
            if high > low:
                days += (high - low).total_seconds() / 86400
                covered = high
    return days / DAYS_PER_MONTH


async def cohort_metrics(session: AsyncSession, principal: Principal, by: str) -> dict[str, Any]:
    """Candidates grouped by when they entered the programme; per cohort its size and the share
    in work (an internship or a contract) within 30, 90, 180 and 365 days of entering. A share
    is taken over the members whose window has fully passed (``eligible``), so a young cohort is
    not reported as failing; null while no member's window has passed."""
    today = dt.datetime.now(dt.UTC).date()
    cohorts: dict[str, list[Any]] = defaultdict(list)
    for member in await MetricsRepository(session).cohort_members(principal.tenant_id):
        cohorts[period_key(member.entered, by)].append(member)
    out = []
    for key in sorted(cohorts):
        members = cohorts[key]
        windows = {}
        for days in COHORT_WINDOWS:
            eligible = [m for m in members if m.entered + dt.timedelta(days=days) <= today]
            in_work = sum(
                1 for m in eligible if m.worked is not None and (m.worked - m.entered).days <= days
            )
            windows[f"within_{days}_days"] = {
                "eligible": len(eligible),
                "in_work": in_work,
                "share": round(in_work / len(eligible), 4) if eligible else None,
            }
        out.append({"cohort": key, "size": len(members), **windows})
    return {"by": by, "cohorts": out}
