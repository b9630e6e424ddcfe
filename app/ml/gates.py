"""The hard gates over a pool's columns: per gate and slot 1 (pass), 0 (unknown), -1 (fail).

They mirror ``GATE_SQL`` in app/repositories/matching.py value for value; tests/test_pool.py
checks both on the same rows. Unknown never excludes: a gate that cannot tell lets the row
through and says so in the explanation.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.ml.geo import haversine_km, unit_point
from app.ml.pool import NO_DATE, STATUS_CODES, CandidatePool, day_number
from app.vocabulary import CANDIDATE_STATUSES, GATES, PROPOSABLE_STATUSES, cefr_rank

F64 = npt.NDArray[np.float64]
States = npt.NDArray[np.int8]

# By status code (an unknown status takes the last code): may this status be put forward?
_PROPOSABLE = np.array([s in PROPOSABLE_STATUSES for s in CANDIDATE_STATUSES] + [False])


@dataclass(frozen=True)
class VacancyView:
    """What the gates and the practical features need of the vacancy."""

    start_date: dt.date | None
    remote: bool
    lat: float | None
    lon: float | None
    languages: Sequence[Mapping[str, Any]]


def _sign(passed: npt.NDArray[np.bool_], unknown: npt.NDArray[np.bool_] | None = None) -> States:
    states = passed.astype(np.int8)
    states *= 2
    states -= 1
    if unknown is not None:
        states *= ~unknown
    return states


def _requirements(vacancy: VacancyView) -> list[tuple[str, int]]:
    """The vacancy's language requirements as (code, lowest stored level: rank + 1)."""
    return [
        (str(item.get("code", "")), cefr_rank(item.get("min_level")) + 1)
        for item in vacancy.languages
    ]


def status(pool: CandidatePool, vacancy: VacancyView, n: int) -> States:
    """Paused or withdrawn people are not put forward."""
    return _sign(_PROPOSABLE[pool.status[:n]])


def not_placed(pool: CandidatePool, vacancy: VacancyView, n: int) -> States:
    return _sign(pool.status[:n] != STATUS_CODES["placed"])


def availability(pool: CandidatePool, vacancy: VacancyView, n: int) -> States:
    if vacancy.start_date is None:
        return np.zeros(n, dtype=np.int8)
    available = pool.available[:n]
    return _sign(available <= day_number(vacancy.start_date), available == NO_DATE)


def language(pool: CandidatePool, vacancy: VacancyView, n: int) -> States:
    required = _requirements(vacancy)
    if not required:
        return np.ones(n, dtype=np.int8)
    passed = np.ones(n, dtype=bool)
    for code, level in required:
        levels = pool.languages.get(code)
        if levels is None:
            passed[:] = False
            break
        passed &= levels[:n] >= level
    return _sign(passed, pool.spoken[:n] == 0)


def commute(pool: CandidatePool, vacancy: VacancyView, n: int) -> States:
    if vacancy.remote:
        return np.ones(n, dtype=np.int8)
    if vacancy.lat is None or vacancy.lon is None:
        return np.zeros(n, dtype=np.int8)
    # Within reach when the angle to the vacancy is at most the commute limit's, i.e. its
    # cosine at least the limit's: one product over every row instead of the haversine.
    reach = pool.reach[:n]
    closeness = pool.unit[:n] @ np.array(
        unit_point(math.radians(vacancy.lat), math.radians(vacancy.lon))
    )
    with np.errstate(invalid="ignore"):
        passed = closeness >= reach
        # Within rounding of the limit, the haversine distance decides, as in SQL.
        edge = np.flatnonzero(np.abs(closeness - reach) < 1e-9)
    if len(edge):
        km = distances(pool, vacancy, edge)
        passed[edge] = km <= pool.commute[edge]
    return _sign(passed, np.isnan(reach))


def permit(pool: CandidatePool, vacancy: VacancyView, n: int) -> States:
    states: States = pool.permit[:n].copy()
    return states


_GATES = {
    "status": status,
    "not_placed": not_placed,
    "availability": availability,
    "language": language,
    "commute": commute,
    "permit": permit,
}
assert tuple(_GATES) == GATES


def gate_states(
    pool: CandidatePool, vacancy: VacancyView, gates: Sequence[str] = GATES
) -> dict[str, States]:
    """Returns, per gate, 1 / 0 / -1 for every slot (dead slots included; mask them)."""
    n = pool.size
    return {gate: _GATES[gate](pool, vacancy, n) for gate in gates}


def passing(pool: CandidatePool, states: Mapping[str, States]) -> npt.NDArray[np.bool_]:
    """Returns the live slots that no gate in ``states`` fails."""
    mask = pool.alive[: pool.size].copy()
    for values in states.values():
        mask &= values != -1
    return mask


def distances(pool: CandidatePool, vacancy: VacancyView, slots: Any) -> F64:
    """The km from the vacancy to each slot (NaN where either has no place), as SQL
    ``ponte_haversine_km`` computes it."""
    if vacancy.lat is None or vacancy.lon is None:
        return np.full(len(pool.commute[slots]), np.nan)
    return haversine_km(
        vacancy.lat, vacancy.lon, pool.lat[slots], pool.lon[slots], pool.cos_lat[slots]
    )


def language_fit(pool: CandidatePool, vacancy: VacancyView, slots: Any) -> F64 | None:
    """Share of the required languages spoken at the level asked, as SQL
    ``ponte_language_fit`` computes it (None when none is asked, 0.5 when none recorded)."""
    required = _requirements(vacancy)
    if not required:
        return None
    spoken = pool.spoken[slots]
    met = np.zeros(len(spoken), dtype=np.float64)
    for code, level in required:
        levels = pool.languages.get(code)
        if levels is not None:
            met += levels[slots] >= level
    fit: F64 = met / len(required)
    fit[spoken == 0] = 0.5
    return fit
