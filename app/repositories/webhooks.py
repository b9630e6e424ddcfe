"""Webhook deliveries: queueing, claiming the next due one (``FOR UPDATE SKIP LOCKED``), a
job's deliveries; and the batch snapshot a new one is compared with."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.job_tables import WebhookDelivery
from app.db.tables import Shortlist

_CLAIM_DUE = text(
    "SELECT id FROM webhook_deliveries WHERE state = 'queued' AND next_attempt_at <= now() "
    "ORDER BY next_attempt_at, id FOR UPDATE SKIP LOCKED LIMIT 1"
)


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def previous_batch_snapshot(
        self,
        tenant_id: uuid.UUID,
        vacancy_id: uuid.UUID,
        shortlist_id: uuid.UUID,
        job_id: uuid.UUID,
    ) -> uuid.UUID | None:
        """The vacancy's latest batch snapshot made by another run than ``job_id``."""
        found: uuid.UUID | None = await self.session.scalar(
            select(Shortlist.id)
            .where(
                Shortlist.tenant_id == tenant_id,
                Shortlist.vacancy_id == vacancy_id,
                Shortlist.origin == "batch",
                Shortlist.id != shortlist_id,
                Shortlist.job_id != job_id,
            )
            .order_by(Shortlist.created_at.desc(), Shortlist.id)
            .limit(1)
        )
        return found

    async def add(
        self,
        tenant_id: uuid.UUID,
        job_id: uuid.UUID,
        shortlist_id: uuid.UUID,
        previous_id: uuid.UUID | None,
    ) -> None:
        self.session.add(
            WebhookDelivery(
                tenant_id=tenant_id,
                job_id=job_id,
                shortlist_id=shortlist_id,
                previous_id=previous_id,
            )
        )
        await self.session.flush()

    async def claim_due(self) -> WebhookDelivery | None:
        """Locks and returns the next due delivery nobody else holds (any tenant's: workers
        serve them all)."""
        found = await self.session.scalar(_CLAIM_DUE)
        if found is None:
            return None
        return await self.session.get(WebhookDelivery, found, populate_existing=True)

    async def counts(self, tenant_id: uuid.UUID, job_id: uuid.UUID) -> dict[str, int]:
        """A job's deliveries per state."""
        rows = await self.session.execute(
            select(WebhookDelivery.state, func.count())
            .where(WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.job_id == job_id)
            .group_by(WebhookDelivery.state)
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def of_job(
        self, tenant_id: uuid.UUID, job_id: uuid.UUID, limit: int
    ) -> Sequence[WebhookDelivery]:
        """A job's first ``limit`` deliveries, oldest first."""
        rows = await self.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.job_id == job_id)
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
        return rows.all()
