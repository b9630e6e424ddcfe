"""The learned rankers' registry rows, their activation history, and the training set: shown
shortlist items with the feedback linked to them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.ranker_tables import RankerActivation, RankerModel
from app.db.tables import Tenant
from app.repositories.feedback import EFFECTIVE


class RankerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> None:
        """Registers a model; a model with the same version (the same bytes: two runs on the
        same data) is registered once."""
        await self.session.execute(insert(RankerModel).values(**values).on_conflict_do_nothing())

    async def get(self, tenant_id: uuid.UUID, version: str) -> RankerModel | None:
        return await self.session.get(RankerModel, (tenant_id, version))

    async def list(self, tenant_id: uuid.UUID) -> Sequence[RankerModel]:
        rows = await self.session.scalars(
            select(RankerModel)
            .where(RankerModel.tenant_id == tenant_id)
            .order_by(RankerModel.created_at.desc(), RankerModel.version)
        )
        return rows.all()

    async def lock_tenant(self, tenant_id: uuid.UUID) -> Tenant | None:
        """The tenant's row, locked: activations of one tenant are taken one at a time."""
        # populate_existing: the session may hold the row already (the request's login read
        # it); the locked read must replace what it holds, not return the stale copy.
        # FOR NO KEY UPDATE: it must not wait for the key-share locks that rows referring to
        # the tenant take (a batch task's snapshots hold them for the whole task).
        return await self.session.scalar(
            select(Tenant)
            .where(Tenant.id == tenant_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )

    async def activate(
        self,
        tenant: Tenant,
        version: str | None,
        previous: str | None,
        action: str,
        actor: str | None,
    ) -> None:
        """Makes ``version`` (None: the default scorer) the tenant's ranker, and records it."""
        tenant.active_ranker = version
        self.session.add(
            RankerActivation(
                tenant_id=tenant.id,
                version=version,
                previous=previous,
                action=action,
                activated_by=actor,
            )
        )
        if version is not None:
            await self.session.execute(
                update(RankerModel)
                .where(RankerModel.tenant_id == tenant.id, RankerModel.version == version)
                .values(activated_at=dt.datetime.now(dt.UTC), activated_by=actor)
            )
        await self.session.flush()

    async def latest_activation(self, tenant_id: uuid.UUID) -> RankerActivation | None:
        return await self.session.scalar(
            select(RankerActivation)
            .where(RankerActivation.tenant_id == tenant_id)
            .order_by(RankerActivation.id.desc())
            .limit(1)
        )

    async def activation_of(
        self, tenant_id: uuid.UUID, version: str | None, before_id: int
    ) -> RankerActivation | None:
        """The latest activation of ``version`` before the activation ``before_id``."""
        match = (
            RankerActivation.version.is_(None)
            if version is None
            else RankerActivation.version == version
        )
        return await self.session.scalar(
            select(RankerActivation)
            .where(RankerActivation.tenant_id == tenant_id, match, RankerActivation.id < before_id)
            .order_by(RankerActivation.id.desc())
            .limit(1)
        )

    async def training_rows(
        self,
        tenant_id: uuid.UUID,
        feature_versions: Sequence[str],
        since: dt.datetime | None,
        model_id: str | None = None,
    ) -> Sequence[Any]:
        """Every item of the tenant's shortlists (made with one of ``feature_versions``, since
        ``since``, with the vectors of ``model_id`` when given) that received any effective
        linked feedback, with the effective events linked to that item's person: its stored
        features, never recomputed ones. Items whose person was erased (candidate NULL) are
        left out, and so is a shortlist whose only feedback was on people erased since (its
        others would count as unwanted)."""
        # One pass over the tenant's linked events, grouped per (shortlist, person) and kept
        # (materialised: it is read twice); the shortlists are those it names.
        sql = f"""
            WITH linked AS MATERIALIZED (
                SELECT e.shortlist_id, e.candidate_id,
                       array_agg(e.event ORDER BY e.occurred_at, e.id) AS events,
                       array_agg(coalesce(e.reason, '') ORDER BY e.occurred_at, e.id) AS reasons
                  FROM feedback_events e
                 WHERE e.tenant_id = :t AND e.shortlist_id IS NOT NULL
                   AND e.candidate_id IS NOT NULL AND {EFFECTIVE}
                 GROUP BY 1, 2
            ), fed AS MATERIALIZED (
                SELECT s.id, s.created_at FROM shortlists s
                 WHERE s.tenant_id = :t AND s.feature_version = ANY(:fv)
                   AND (CAST(:since AS timestamptz) IS NULL OR s.created_at >= :since)
                   AND (CAST(:model AS text) IS NULL OR s.embedding_model = :model)
                   AND s.id IN (SELECT shortlist_id FROM linked)
            )
            SELECT fed.id AS shortlist_id, fed.created_at, i.rank, i.features,
                   coalesce(linked.events, '{{}}') AS events,
                   coalesce(linked.reasons, '{{}}') AS reasons
              FROM fed
              JOIN shortlist_items i ON i.tenant_id = :t AND i.shortlist_id = fed.id
              LEFT JOIN linked ON linked.shortlist_id = fed.id
                              AND linked.candidate_id = i.candidate_id
             WHERE i.candidate_id IS NOT NULL
             ORDER BY fed.created_at, fed.id, i.rank
        """
        params = {"t": tenant_id, "fv": list(feature_versions), "since": since, "model": model_id}
        return (await self.session.execute(text(sql), params)).all()
