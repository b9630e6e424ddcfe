"""Retention (GDPR Art. 5(1)(e)): a tenant's candidates are kept while they are active, and
erased once ``retention_days`` (a tenant setting; none: kept) have passed without activity —
no write of the profile or its sensitive part, no feedback event, in no shortlist.

``ponte purge`` runs it for one tenant or all, and every standing worker runs it hourly
(app/services/worker.py). A run erases in batches, each its own transaction; it takes the
inactive candidates with ``FOR UPDATE SKIP LOCKED``, so runs may overlap (two workers, a
worker and an operator): each person is erased by exactly one of them, and a run simply finds
nothing left. Each erasure is a ``candidate.erase`` entry of the audit trail (reason
"retention") and each run, per tenant with a period, one ``purge`` entry with its figures.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.tables import Tenant
from app.repositories.retention import RetentionRepository
from app.schemas import Principal
from app.services import audit
from app.services.erasure import erase_candidates
from app.services.tenant_settings import RETENTION

BATCH = 100  # candidates erased per transaction
log = logging.getLogger("ponte.retention")


@dataclass
class PurgeReport:
    """What a run did (or, dry, would do) for one tenant."""

    tenant: str
    retention_days: int | None
    cutoff: dt.datetime | None = None
    erased: int = 0
    # dry run only: who would go, (external id, last write), oldest first
    would_erase: list[tuple[str, dt.datetime]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "retention_days": self.retention_days,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "erased": self.erased,
        }


def retention_days(tenant: Tenant) -> int | None:
    days = (tenant.settings or {}).get(RETENTION)
    return int(days) if days else None


async def purge_tenant(
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    actor: Principal,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> PurgeReport:
    """Erases (``dry_run``: lists) the tenant's candidates past its retention period."""
    days = retention_days(tenant)
    report = PurgeReport(tenant.name, days)
    if days is None:
        return report
    report.cutoff = cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    if dry_run:
        async with sessions() as session:
            rows = await RetentionRepository(session).inactive(tenant.id, cutoff, 1_000_000)
        report.would_erase = [(external_id, at) for _, external_id, at in rows]
        return report
    while True:
        async with sessions() as session, session.begin():
            looked, taken = await RetentionRepository(session).take_inactive(
                tenant.id, cutoff, BATCH
            )
            acts = await erase_candidates(session, taken, reason="retention")
            await audit.record(session, actor, *acts)
        report.erased += len(taken)
        if not looked:  # (a batch that the re-check under the lock emptied is not the end)
            break
    async with sessions() as session, session.begin():
        detail = {"erased": report.erased, "retention_days": days, "cutoff": cutoff.isoformat()}
        await audit.record(session, actor, audit.Act("purge", detail=detail))
    return report


async def purge_all(
    sessions: async_sessionmaker[AsyncSession],
    kind: Literal["worker", "operator"] = "worker",
    *,
    dry_run: bool = False,
) -> list[PurgeReport]:
    """Runs :func:`purge_tenant` for every tenant that set a retention period, as a worker
    (``kind``) or an operator's command."""
    async with sessions() as session:
        tenants = await RetentionRepository(session).tenants_with_retention()
    reports = []
    for tenant in tenants:
        actor = Principal.operator(tenant.id, tenant.name, "retention", kind)
        try:
            reports.append(await purge_tenant(sessions, tenant, actor, dry_run=dry_run))
        except Exception:  # one tenant's failure must not keep the others' people past due
            log.exception("retention purge failed", extra={"tenant": tenant.name})
    return reports
