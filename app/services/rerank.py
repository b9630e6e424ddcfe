"""Re-ranking a block of a tenant's open vacancies: one task of a ``rerank`` job.

Each vacancy's shortlist is made as ``POST /v1/vacancies/{id}/shortlists`` makes it (the same
gates, retrievers, features and ranker), the block's vacancies together: the pool is synced
once, its vectors meet all of them in one matrix product, skill vectors are looked up once
(RankingService.rank_candidates_block). Each is stored as a snapshot with ``origin`` batch and
the job's id. The tenant's active ranker is read once per
task (a task is one transaction: an activation that lands meanwhile is served from the next
task on). A vacancy closed, filled or deleted since the job was queued is skipped. A snapshot
whose top 10 changed queues the tenant's webhook, if it has one (app/services/webhooks.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Tenant
from app.ml.encoder import Encoder
from app.repositories.jobs import JobRepository
from app.schemas import Principal
from app.services import audit, webhooks
from app.services.rankers import ranker_for
from app.services.shortlists import ShortlistService

DEFAULT_LIMIT = 50
DEFAULT_BLOCK = 25  # vacancies per task


@dataclass(frozen=True)
class BlockResult:
    reranked: int
    skipped: int
    notified: int = 0  # webhook deliveries queued (the top 10 changed)


def batch_principal(tenant: Tenant) -> Principal:
    """Who a batch run acts as: the tenant itself (its snapshots carry no API key)."""
    return Principal.operator(tenant.id, tenant.name, "batch", "worker")


async def rerank_block(
    session: AsyncSession,
    encoder: Encoder,
    tenant_id: uuid.UUID,
    vacancy_ids: Sequence[uuid.UUID],
    limit: int,
    job_id: uuid.UUID,
) -> BlockResult:
    """Stores a batch snapshot for each vacancy of the block still open; returns the counts."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        return BlockResult(0, len(vacancy_ids))
    rows = await JobRepository(session).still_open(tenant_id, vacancy_ids)
    service = ShortlistService(session, batch_principal(tenant), encoder)
    ranker = await ranker_for(session, tenant_id, model_id=encoder.model_id)
    made = await service.create_batch_shortlists([row[0] for row in rows], limit, ranker, job_id)
    notified = 0
    for vacancy_id, snapshot, _ in made:
        notified += await webhooks.note_snapshot(session, tenant, vacancy_id, snapshot, job_id)
    # last: the tenant's audit chain stays locked until this commits
    await audit.record(session, service.principal, *(act for _, _, act in made))
    return BlockResult(len(made), len(vacancy_ids) - len(made), notified)
