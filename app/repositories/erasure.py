"""What erasing a candidate reaches, counted before it goes (for the erasure's audit entry)."""

from __future__ import annotations

import uuid

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

    async def reached(self, tenant_id: uuid.UUID, candidate_id: uuid.UUID) -> dict[str, int]:
        """How many rows of each kind hold or point at the candidate."""
        counts = ", ".join(
            f"(SELECT count(*) FROM {table} WHERE tenant_id = :t AND candidate_id = :c) "  # noqa: S608 - names from the table above
            f"AS {name}"
            for name, table in _REACHED.items()
        )
        row = (
            await self.session.execute(
                text(f"SELECT {counts}"),
                {"t": tenant_id, "c": candidate_id},
            )
        ).one()
        return {name: int(getattr(row, name)) for name in _REACHED}
