"""The taxonomy matching reads (app/ml/taxonomy_match.Taxonomy), loaded once per import per
process — about a second and some 20 MB for the whole of ESCO — and whether a tenant matches
through it: the tenant setting ``taxonomy`` (on unless switched off), given an imported
taxonomy embedded with the service's model (app/services/taxonomy_linking.TaxonomyLinker
.current tells which)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.taxonomy_match import Taxonomy
from app.repositories.taxonomy_links import TaxonomyLinkRepository
from app.repositories.tenants import TenantRepository

SETTING = "taxonomy"
_HELD: dict[str, Taxonomy] = {}  # import id → its model; one import is current at a time
_LOADING = asyncio.Lock()


async def taxonomy_of(session: AsyncSession, import_id: str) -> Taxonomy:
    """The matching model of an import, loaded on first use."""
    held = _HELD.get(import_id)
    if held is not None:
        return held
    async with _LOADING:
        held = _HELD.get(import_id)
        if held is None:
            groups, relations, labels = await TaxonomyLinkRepository(session).matching_rows()
            held = Taxonomy(import_id, groups, relations, labels)
            _HELD.clear()  # an older import's model is no longer read
            _HELD[import_id] = held
    return held


async def taxonomy_for(
    session: AsyncSession, tenant_id: uuid.UUID, imported: str | None
) -> Taxonomy | None:
    """The taxonomy a tenant's rankings match through, given the current import: None when
    there is none, or the tenant switched matching through the taxonomy off."""
    if imported is None:
        return None
    tenant = await TenantRepository(session).get(tenant_id)
    if tenant is not None and (tenant.settings or {}).get(SETTING) is False:
        return None
    return await taxonomy_of(session, imported)


def forget_taxonomy() -> None:
    """Drops the models held (tests)."""
    _HELD.clear()
