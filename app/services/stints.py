"""A person's time at a vacancy, folded from the placement events of the feedback log.

The fold's result is kept, per path, as rows of ``placement_spans`` (one per internship or
contract; app/services/placement_spans.py rewrites a path's rows with every event that can
change them), which the status effects, the internship list and the outcome report read.
Events are
taken oldest first (``occurred_at``, then the order they were recorded); retracted events never
reach the fold, so a retraction undoes whatever its event did.

- ``internship_started`` opens an internship of the vacancy's duration (3 months by default),
  unless one is already running;
- ``internship_extended`` adds its months (3 by default) to the running internship;
- ``internship_completed`` ends it without a hire;
- ``hired`` ends a running internship as hired and starts a contract (also without one);
- ``dropped_out`` ends the running internship and any contract.

The person holds a position while an internship runs or a contract stands.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MONTHS = 3


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class Internship:
    started_at: dt.datetime
    months: int
    extensions: int = 0
    months_added: int = 0
    outcome: str | None = None  # hired, completed, dropped_out; None while it runs
    ended_at: dt.datetime | None = None

    @property
    def started_on(self) -> dt.date:
        return self.started_at.date()

    @property
    def planned_end(self) -> dt.date:
        return add_months(self.started_on, self.months + self.months_added)


@dataclass(frozen=True)
class Span:
    """An internship or a contract: ``[started_at, ended_at)``, ended_at None while it lasts;
    the person holds a position during it."""

    kind: str  # internship, contract
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str | None  # internship: hired, completed, dropped_out; contract: dropped_out
    planned_end: dt.date | None = None  # internships only
    extensions: int = 0


class Stint:
    """One (vacancy, candidate) pair's internships and contracts."""

    __slots__ = ("contracts", "internships", "running")

    def __init__(self) -> None:
        self.internships: list[Internship] = []
        self.running: Internship | None = None  # the internship under way
        # Each contract's [hired, ended) (ended None while it stands).
        self.contracts: list[list[dt.datetime | None]] = []

    @property
    def contract(self) -> bool:
        """Whether a contract stands now."""
        return bool(self.contracts) and self.contracts[-1][1] is None

    def apply(self, event: str, months: int | None, at: dt.datetime) -> None:
        running = self.running
        if event == "internship_started":
            if running is None:
                self.running = Internship(at, months or DEFAULT_MONTHS)
                self.internships.append(self.running)
        elif event == "internship_extended":
            if running is not None:
                running.extensions += 1
                running.months_added += months or DEFAULT_MONTHS
        else:  # internship_completed, hired, dropped_out
            if running is not None:
                running.outcome = "completed" if event == "internship_completed" else event
                running.ended_at = at
                self.running = None
            if event == "hired" and not self.contract:
                self.contracts.append([at, None])
            elif event == "dropped_out" and self.contract:
                self.contracts[-1][1] = at

    def spans(self) -> list[Span]:
        """The stint's internships and contracts as the rows a projection stores, in order."""
        rows = [
            Span(
                "internship",
                i.started_at,
                i.ended_at,
                i.outcome,
                i.planned_end,
                i.extensions,
            )
            for i in self.internships
        ]
        for began, ended in self.contracts:
            assert began is not None
            rows.append(Span("contract", began, ended, "dropped_out" if ended else None))
        return rows


def span_rows(tenant_id: Any, path_key: Any, events: Sequence[Any]) -> list[dict[str, Any]]:
    """The ``placement_spans`` rows of one path from its effective placement events (oldest
    first). Each event needs ``event``, ``months`` and ``occurred_at``; the references (vacancy,
    employer, contract, candidate, person) are taken from the latest one, as it recorded them."""
    if not events:
        return []
    stint = Stint()
    for e in events:
        stint.apply(e.event, e.months, e.occurred_at)
    latest = events[-1]
    refs = {
        "tenant_id": tenant_id,
        "path_key": path_key,
        "vacancy_id": latest.vacancy_id,
        "vacancy_external_id": latest.vacancy_external_id,
        "employer_id": latest.employer_id,
        "contract": latest.contract,
        "candidate_id": latest.candidate_id,
        "person_key": latest.person_key,
    }
    return [
        {**refs, "seq": seq, **dataclasses.asdict(span)} for seq, span in enumerate(stint.spans())
    ]
