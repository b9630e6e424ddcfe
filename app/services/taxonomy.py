"""The taxonomy as callers use it: link texts to ESCO skills or occupations
(app/ml/concept_links.py), and read a concept with its labels and relations.

Linking embeds the texts with the service's model and searches the label vectors the import
stored under that model (``esco_label_vectors``); nothing of the taxonomy is held in the
process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.ml.concept_links import Link
from app.ml.encoder import Encoder
from app.repositories.taxonomy import TaxonomyRepository
from app.repositories.taxonomy_links import TaxonomyLinkRepository
from app.services.taxonomy_linking import TaxonomyLinker

CONCEPT_KINDS = ("skill", "occupation")
_URI_OR_ID = re.compile(r"^[A-Za-z0-9:/._-]{1,300}$")
URI_PREFIX = {
    "skill": "http://data.europa.eu/esco/skill/",
    "occupation": "http://data.europa.eu/esco/occupation/",
}


class TaxonomyService:
    def __init__(self, session: AsyncSession, encoder: Encoder) -> None:
        self.session = session
        self.encoder = encoder
        self.links = TaxonomyLinkRepository(session)

    async def link(self, concept_kind: str, texts: Sequence[str], limit: int) -> list[list[Link]]:
        """Per text, its ``limit`` best concepts of this kind (409 when nothing can be linked
        from: no taxonomy imported, or its labels not embedded with this model)."""
        linker = TaxonomyLinker(self.session, self.encoder)
        if await linker.current(fresh=True) is None:
            if await TaxonomyRepository(self.session).latest() is None:
                raise Conflict("no ESCO taxonomy is imported (ponte taxonomy import)")
            raise Conflict(
                f"the taxonomy's labels are not embedded with the model "
                f"'{self.encoder.model_id}' (ponte taxonomy import embeds them)"
            )
        return await linker.links(concept_kind, texts, limit)

    async def link_view(
        self, concept_kind: str, texts: Sequence[str], limit: int, lang: str
    ) -> list[dict[str, Any]]:
        """The link endpoints' answer: per text, in order, its concepts with the preferred
        label in ``lang`` (else English), the score and how it matched."""
        linked = await self.link(concept_kind, texts, limit)
        names = await self.links.preferred_labels(
            [link.uri for links in linked for link in links], lang
        )
        return [
            {
                "text": text,
                "concepts": [
                    {
                        "uri": link.uri,
                        "label": names.get(link.uri, link.label),
                        "score": round(link.score, 4),
                        "matched": {"label": link.label, "how": link.how},
                    }
                    for link in links
                ],
            }
            for text, links in zip(texts, linked, strict=True)
        ]

    async def concept(self, concept_kind: str, uri_or_id: str) -> dict[str, Any]:
        """A skill or occupation by URI (or the URI's last segment): its labels per language,
        descriptions and relations."""
        if not _URI_OR_ID.match(uri_or_id):
            raise NotFound(f"no ESCO {concept_kind} '{uri_or_id[:200]}'")
        # a proxy that merges slashes turns http:// into http:/
        uri = re.sub(r"^(https?):/(?=[^/])", r"\1://", uri_or_id)
        uri = uri if "://" in uri else URI_PREFIX[concept_kind] + uri
        found = await self.links.concept(concept_kind, uri)
        if found is None:
            raise NotFound(f"no ESCO {concept_kind} '{uri_or_id}'")
        return found
