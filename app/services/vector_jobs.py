"""Batch work on vectors: re-embedding after a model change, resumably."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, Vacancy
from app.ml.encoder import Encoder
from app.repositories.vectors import VectorRepository
from app.services.vectors import VectorService

KINDS: dict[str, type[Candidate] | type[Vacancy]] = {"candidates": Candidate, "vacancies": Vacancy}


async def mark_all_stale(session: AsyncSession) -> None:
    """Marks every row's vectors stale, so the next batches redo all of them."""
    repo = VectorRepository(session)
    for model in KINDS.values():
        await repo.forget_hashes(model)


async def reembed_batch(
    session: AsyncSession, encoder: Encoder, kind: str, batch: int
) -> list[uuid.UUID]:
    """Re-embeds up to ``batch`` stale rows of ``kind`` (all tenants); returns each row's
    tenant (none: nothing was stale)."""
    model = KINDS[kind]
    rows = await VectorRepository(session).stale(model, encoder.model_id, batch)
    if not rows:
        return []
    service = VectorService(session, encoder)
    if model is Candidate:
        await service.refresh_candidates(rows, force=True)
    else:
        await service.refresh_vacancies(rows, force=True)
    return [row.tenant_id for row in rows]
