"""A ranking's part that goes through the ESCO taxonomy (issue 15): whether the tenant matches
through it, each vacancy's targets (app/ml/taxonomy_match.py), and the three taxonomy features
of ranked pairs, for the pool path and the database path alike. RankingService
(app/services/ranking.py) asks; with no taxonomy, or the tenant's setting off, every answer is
"nothing", and the ranking is what it was before the taxonomy."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.encoder import Encoder
from app.ml.features import Pairs
from app.ml.skills import RequiredSkill, required_skills
from app.ml.taxonomy_match import (
    Linked,
    Targets,
    Taxonomy,
    linked_of,
    taxonomy_features,
    vacancy_targets,
)
from app.repositories.resources import RankingVacancy
from app.services.taxonomy_linking import TaxonomyLinker
from app.services.taxonomy_model import taxonomy_for


class RankingTaxonomy:
    """What one ranking service matches through the taxonomy (looked up once per instance)."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, encoder: Encoder) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.encoder = encoder
        self._taxonomy: tuple[Taxonomy | None] | None = None

    async def current(self) -> Taxonomy | None:
        """The taxonomy this tenant's rankings match through (None: none, or switched off)."""
        if self._taxonomy is None:
            imported = await TaxonomyLinker(self.session, self.encoder).current()
            self._taxonomy = (await taxonomy_for(self.session, self.tenant_id, imported),)
        return self._taxonomy[0]

    async def targets(
        self, vacancies: Sequence[RankingVacancy], required: Sequence[Sequence[RequiredSkill]]
    ) -> list[Targets | None]:
        """Each vacancy's targets (None each when matching through the taxonomy is off), the
        titles' nearest occupations looked up in one go."""
        taxonomy = await self.current()
        if taxonomy is None:
            return [None] * len(vacancies)
        titles = await self._title_occupations([(v.title, v.esco) for v in vacancies])
        return [
            vacancy_targets(taxonomy, v.esco, r, t)
            for v, r, t in zip(vacancies, required, titles, strict=True)
        ]

    async def add_features(
        self,
        pairs: Pairs,
        targets: Sequence[Targets],
        linked: Sequence[Linked],
        held: Any = None,
    ) -> None:
        """Sets the pairs' taxonomy features and explanation evidence (nothing when off).
        ``held``: per pair the weight of the targets the candidate holds, where a pool's
        retriever counted it."""
        taxonomy = await self.current()
        if taxonomy is None:
            return
        pairs.taxonomy, evidence = taxonomy_features(taxonomy, targets, linked, held)
        pairs.esco_evidence = [(taxonomy, t, e) for t, e in zip(targets, evidence, strict=True)]

    async def add_database_features(self, pairs: Pairs, rows: Sequence[Mapping[str, Any]]) -> None:
        """The database path's taxonomy features, from its feature rows (each vacancy's
        targets made once)."""
        taxonomy = await self.current()
        if taxonomy is None or not rows:
            return
        first = {row["vacancy_id"]: row for row in reversed(rows)}
        ids = list(first)
        titles = await self._title_occupations(
            [(first[i]["vacancy_title"], first[i]["vacancy_esco"]) for i in ids]
        )
        targets = {
            i: vacancy_targets(
                taxonomy,
                first[i]["vacancy_esco"],
                required_skills(first[i]["required_skills"] or []),
                title,
            )
            for i, title in zip(ids, titles, strict=True)
        }
        await self.add_features(
            pairs,
            [targets[row["vacancy_id"]] for row in rows],
            [linked_of(row["candidate_esco"]) for row in rows],
        )

    async def _title_occupations(
        self, vacancies: Sequence[tuple[str, Mapping[str, Any] | None]]
    ) -> list[dict[str, float]]:
        """Each (title, esco) vacancy's title's nearest occupations: as stored on write, else
        (a row linked before they were stored) looked up, in one go."""
        stored = [(esco or {}).get("title_occupations") for _, esco in vacancies]
        missing = [
            title for (title, _), held in zip(vacancies, stored, strict=True) if held is None
        ]
        found = iter(
            await TaxonomyLinker(self.session, self.encoder).title_occupations(missing)
            if missing
            else []
        )
        return [held if held is not None else next(found) for held in stored]
