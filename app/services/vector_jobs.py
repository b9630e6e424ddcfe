"""Batch work on vectors: re-embedding after a model change (the rows, the taxonomy's labels),
resumably; detecting the language of texts stored before detection."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.tables import Candidate, Vacancy
from app.ml.encoder import Encoder
from app.ml.languages import detect_language
from app.repositories.taxonomy import TaxonomyRepository
from app.repositories.taxonomy_links import TaxonomyLinkRepository
from app.repositories.vectors import VectorRepository
from app.services.taxonomy_import import embed_labels
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


async def detect_batch(session: AsyncSession, kind: str, batch: int) -> list[uuid.UUID]:
    """Detects the language of up to ``batch`` rows of ``kind`` stored before detection
    existed; returns each row's tenant (none: no row was left)."""
    model = KINDS[kind]
    repo = VectorRepository(session)
    rows = await repo.undetected(model, batch)
    await repo.set_languages(model, {row_id: detect_language(text) for row_id, _, text in rows})
    return [tenant_id for _, tenant_id, _ in rows]


async def embed_taxonomy_labels(
    sessions: async_sessionmaker[AsyncSession],
    encoder: Encoder,
    waiting: Callable[[], None] = lambda: None,
) -> int | None:
    """Embeds the imported taxonomy's labels under the encoder's model when none are (a new
    model); returns how many labels it embedded (None: no taxonomy imported; 0: they were).
    It holds the imports' lock, as an import does (one removing a language could remove
    labels while they are embedded): a running import is waited for (``waiting`` is told)."""
    async with sessions() as guard:  # its transaction, and the lock, last until the end
        repo = TaxonomyRepository(guard)
        if not await repo.lock_imports():
            waiting()
            await repo.lock_imports(wait=True)
        async with sessions() as session:
            if await TaxonomyRepository(session).latest() is None:
                return None
            if await TaxonomyLinkRepository(session).has_vectors("skill", encoder.model_id):
                return 0
        _, embedded, _ = await embed_labels(sessions, encoder, lambda *_: None)
        return embedded
