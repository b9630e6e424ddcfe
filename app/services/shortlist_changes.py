"""What changed between two snapshots of a vacancy's shortlist: who entered, who left, who
moved and by how much (``GET /v1/vacancies/{id}/shortlists/changes``; the batch job's
notifications, issue 14). People are named by external id only; an erased person is left out
of both sides (there is nobody to name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def compare(
    older: Sequence[tuple[int, str | None]],
    newer: Sequence[tuple[int, str | None]],
    top: int | None = None,
) -> dict[str, Any]:
    """Compares two rankings given as (rank, external id) pairs, within their first ``top``
    ranks when given. ``moved``: ``by`` > 0 is a move up."""
    before = {who: rank for rank, who in older if who is not None and (top is None or rank <= top)}
    after = {who: rank for rank, who in newer if who is not None and (top is None or rank <= top)}
    entered = [{"candidate_external_id": w, "rank": r} for w, r in after.items() if w not in before]
    left = [{"candidate_external_id": w, "rank": r} for w, r in before.items() if w not in after]
    moved = [
        {"candidate_external_id": w, "from": before[w], "to": r, "by": before[w] - r}
        for w, r in after.items()
        if w in before and before[w] != r
    ]
    return {
        "entered": sorted(entered, key=lambda e: e["rank"]),
        "left": sorted(left, key=lambda e: e["rank"]),
        "moved": sorted(moved, key=lambda e: e["to"]),
        "unchanged": sum(1 for w, r in after.items() if before.get(w) == r),
        "changed": bool(entered or left or moved),
    }
