"""What erasing a candidate reaches, counted before it goes (for the erasure's audit entry)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Per table, the rows of one candidate: what the deletion removes (chunks, sensitive part,
# notes) or cuts loose (snapshot items, feedback events and placements keep their figures).
_REACHED = {
    "chunks": "candidate_chunks",
    "sensitive": "candidate_sensitive",
    "feedback_notes": "feedback_notes",
    "shortlist_items": "shortlist_items",
    "feedback_events": "feedback_events",
    "placement_spans": "placement_spans",
}


class ErasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def reached(
        self, tenant_id: uuid.UUID, candidate_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, int]]:
        """Per candidate of the tenant, how many rows of each kind hold or point at them (one
        statement for all of them)."""
        counts = " UNION ALL ".join(
            f"SELECT '{name}' AS kind, candidate_id, count(*) AS n FROM {table} "  # noqa: S608 - names from the table above
            "WHERE tenant_id = :t AND candidate_id = ANY(CAST(:c AS uuid[])) GROUP BY candidate_id"
            for name, table in _REACHED.items()
        )
        found: dict[uuid.UUID, dict[str, int]] = {
            i: dict.fromkeys(_REACHED, 0) for i in candidate_ids
        }
        rows = await self.session.execute(text(counts), {"t": tenant_id, "c": list(found)})
        for kind, candidate_id, n in rows:
            found[candidate_id][kind] = int(n)
        return found
