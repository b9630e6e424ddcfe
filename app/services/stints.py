"""A person's time at a vacancy, folded from the placement events of the feedback log.

One fold, read by two features: the status effects (a person holding a position is ``placed``
and takes one of the vacancy's positions) and the internships a scout follows up. Events are
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
import datetime as dt
from collections.abc import Iterable
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

    @property
    def running(self) -> bool:
        return self.outcome is None


class Stint:
    """One (vacancy, candidate) pair's internships and contract, and the spans during which
    the person held a position (``[start, end)``, end None while it lasts)."""

    __slots__ = ("contract", "hired_at", "internships", "running", "worked")

    def __init__(self) -> None:
        self.internships: list[Internship] = []
        self.running: Internship | None = None  # the internship under way
        self.contract = False
        self.hired_at: dt.datetime | None = None
        self.worked: list[list[dt.datetime | None]] = []

    @property
    def holds_position(self) -> bool:
        return self.contract or self.running is not None

    def apply(self, event: str, months: int | None, at: dt.datetime) -> None:
        held = self.holds_position
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
                self.contract = True
                self.hired_at = at
            elif event == "dropped_out":
                self.contract = False
        holds = self.holds_position
        if holds and not held:
            self.worked.append([at, None])
        elif held and not holds:
            self.worked[-1][1] = at


def fold(events: Iterable[Any]) -> dict[Any, Stint]:
    """Per path (``path_key``: one vacancy and one person), the stint its events (oldest first)
    add up to. Each event needs ``path_key``, ``event``, ``months`` and ``occurred_at``."""
    stints: dict[Any, Stint] = {}
    for e in events:
        stint = stints.get(e.path_key)
        if stint is None:
            stint = stints[e.path_key] = Stint()
        stint.apply(e.event, e.months, e.occurred_at)
    return stints
