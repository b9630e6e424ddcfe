"""The taxonomy matching reads (app/ml/taxonomy_match.Taxonomy; about a second and some 20 MB
for the whole of ESCO) and the BM25 over its skill labels that linking reads
(app/ml/concept_lexicon.py; 0.2 s and 5 MB for ESCO's English skills) and its labels with
punctuation by word form, loaded once per import per process — and whether a tenant matches
through it: the tenant setting ``taxonomy`` (on unless switched off), given an imported
taxonomy embedded with the service's model (app/services/taxonomy_linking.TaxonomyLinker
.current tells which)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.concept_lexicon import ConceptLexicon
from app.ml.concept_links import LabelMatch, word_form_index
from app.ml.taxonomy_match import Taxonomy
from app.repositories.taxonomy_links import TaxonomyLinkRepository
from app.repositories.tenants import TenantRepository

SETTING = "taxonomy"
# Keyed by (import id, what): one import is current at a time, and what an older one held is
# dropped as the current one's is loaded.
_HELD: dict[tuple[str, str], Taxonomy] = {}  # (import, "matching") → its model
_LEXICONS: dict[tuple[str, str], ConceptLexicon] = {}  # (import, concept kind) → labels' BM25
# (import, concept kind) → its labels with punctuation, by word form
_WORD_FORMS: dict[tuple[str, str], dict[str, list[LabelMatch]]] = {}
# one load at a time per cache: a first link need not wait for a first ranking's model
_LOADING_MODEL = asyncio.Lock()
_LOADING_LEXICON = asyncio.Lock()
_LOADING_WORD_FORMS = asyncio.Lock()

V = TypeVar("V")


async def _once(
    held: dict[tuple[str, str], V],
    loading: asyncio.Lock,
    key: tuple[str, str],
    load: Callable[[], Awaitable[V]],
) -> V:
    """``held[key]``, loaded on first use (one load at a time under ``loading``)."""
    found = held.get(key)
    if found is not None:
        return found
    async with loading:
        found = held.get(key)
        if found is None:
            found = await load()
            for stale in [k for k in held if k[0] != key[0]]:
                del held[stale]  # an older import's: no longer read
            held[key] = found
    return found


async def taxonomy_of(session: AsyncSession, import_id: str) -> Taxonomy:
    """The matching model of an import, loaded on first use."""

    async def load() -> Taxonomy:
        groups, relations, labels = await TaxonomyLinkRepository(session).matching_rows()
        return Taxonomy(import_id, groups, relations, labels)

    return await _once(_HELD, _LOADING_MODEL, (import_id, "matching"), load)


async def lexicon_of(session: AsyncSession, import_id: str, concept_kind: str) -> ConceptLexicon:
    """BM25 over the import's labels of one concept kind, built on first use (0.2 s for ESCO's
    14,000 skills, in a worker thread)."""

    async def load() -> ConceptLexicon:
        rows = await TaxonomyLinkRepository(session).lexicon_rows(concept_kind)
        return await asyncio.to_thread(ConceptLexicon, rows)

    return await _once(_LEXICONS, _LOADING_LEXICON, (import_id, concept_kind), load)


async def word_forms_of(
    session: AsyncSession, import_id: str, concept_kind: str
) -> dict[str, list[LabelMatch]]:
    """The import's labels of one concept kind with punctuation between their words, by word
    form (app/ml/concept_links.word_form_index; 1,395 of ESCO's skill labels, 4,663 of its
    English and Italian occupation labels),
    loaded on first use."""

    async def load() -> dict[str, list[LabelMatch]]:
        rows = await TaxonomyLinkRepository(session).punctuated_labels(concept_kind)
        return word_form_index(rows)

    return await _once(_WORD_FORMS, _LOADING_WORD_FORMS, (import_id, concept_kind), load)


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
    _LEXICONS.clear()
    _WORD_FORMS.clear()
