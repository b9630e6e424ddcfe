"""Which candidates a retention period has run out for, and taking them for erasure."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, Tenant

# A candidate is inactive since ``cutoff`` when nothing touched them from then on: their profile
# and its sensitive part were not written, no feedback event about them was recorded or
# happened, and no shortlist (by request or batch) ranked them.
_INACTIVE = """
    c.tenant_id = :t AND c.updated_at < :cutoff
    AND NOT EXISTS (SELECT FROM candidate_sensitive x
                     WHERE x.candidate_id = c.id AND x.updated_at >= :cutoff)
    AND NOT EXISTS (SELECT FROM feedback_events e
                     WHERE e.tenant_id = c.tenant_id AND e.candidate_id = c.id
                       AND (e.recorded_at >= :cutoff OR e.occurred_at >= :cutoff))
    AND NOT EXISTS (SELECT FROM shortlist_items i
                      JOIN shortlists s ON s.tenant_id = i.tenant_id AND s.id = i.shortlist_id
                     WHERE i.candidate_id = c.id AND s.created_at >= :cutoff)
"""


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tenants_with_retention(self) -> Sequence[Tenant]:
        """The tenants that set a retention period."""
        stmt = select(Tenant).where(Tenant.settings["retention_days"].astext.isnot(None))
        return list(await self.session.scalars(stmt.order_by(Tenant.name)))

    async def inactive(
        self, tenant_id: uuid.UUID, cutoff: dt.datetime, limit: int
    ) -> list[tuple[uuid.UUID, str, dt.datetime]]:
        """Up to ``limit`` inactive candidates (id, external id, last write), oldest first."""
        sql = text(
            f"SELECT c.id, c.external_id, c.updated_at FROM candidates c WHERE {_INACTIVE} "  # noqa: S608 - constant
            "ORDER BY c.updated_at, c.id LIMIT :limit"
        )
        rows = await self.session.execute(sql, {"t": tenant_id, "cutoff": cutoff, "limit": limit})
        return [(row.id, row.external_id, row.updated_at) for row in rows]

    async def take_inactive(
        self, tenant_id: uuid.UUID, cutoff: dt.datetime, limit: int
    ) -> tuple[int, Sequence[Candidate]]:
        """Up to ``limit`` inactive candidates, locked for erasure; rows another purge holds
        are skipped (it erases them), so concurrent purges never take one person twice.
        Returns how many the first look found, and those still inactive once locked."""
        sql = text(
            f"SELECT c.id FROM candidates c WHERE {_INACTIVE} "  # noqa: S608 - constant
            "ORDER BY c.updated_at, c.id LIMIT :limit FOR UPDATE SKIP LOCKED"
        )
        params = {"t": tenant_id, "cutoff": cutoff, "limit": limit}
        ids = list(await self.session.scalars(sql, params))
        if not ids:
            return 0, []
        # Asked again now that they are locked, in a statement that sees all committed since
        # the first: a feedback event or shortlist that came in between keeps its person.
        again = text(
            f"SELECT c.* FROM candidates c WHERE c.id = ANY(:ids) AND {_INACTIVE} "  # noqa: S608 - constant
            "ORDER BY c.updated_at, c.id"
        )
        stmt = select(Candidate).from_statement(again)
        return len(ids), list(await self.session.scalars(stmt, {**params, "ids": ids}))
