"""Ranking: the tenant's candidates for a vacancy, or its open vacancies for a candidate.

Pipeline: gates → retrieval → pair features → the ranker handed in → explanations. Matching
through the ESCO taxonomy (app/ml/taxonomy_match.py) adds two retrievers and three features
when a taxonomy is imported and the tenant has not switched it off
(app/services/ranking_taxonomy.py). Two paths reach the same features: the in-process pool
(app/ml/retrieval.py; gates in numpy, exact retrieval over the gate-passing rows) serves
shortlists of tenants that fit one; the database path (gates and pair features in SQL,
app/repositories/matching.py) serves larger tenants and the candidate → vacancies direction.
Which ranker scores is decided by the caller (app/services/rankers.py); this module never
picks one.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.db.tables import Candidate
from app.errors import BadRequest, NotFound
from app.ml.centring import centred_query
from app.ml.encoder import Encoder
from app.ml.explain import explain, gate_state
from app.ml.features import Pairs, as_column, feature_columns
from app.ml.gates import VacancyView
from app.ml.pool import CandidatePool
from app.ml.ranker import Ranker
from app.ml.retrieval import NICE_TO_HAVE_HITS, Retrieved, block_products, retrieve
from app.ml.skills import RequiredSkill, SkillMatrix, match_skills, required_skills, skill_matrix
from app.ml.taxonomy_match import Targets, Taxonomy
from app.ml.text import skill_key, skill_labels
from app.repositories.change_feed import Side
from app.repositories.matching import MatchRepository, Scope
from app.repositories.resources import CandidateRepository, RankingVacancy, VacancyRepository
from app.schemas import Principal
from app.services.centroids import PRIOR_TEXTS, centroids
from app.services.lexical import lexical_index
from app.services.pool import candidate_pool, pooled_centroid
from app.services.ranking_taxonomy import RankingTaxonomy
from app.services.vectors import VectorService
from app.vocabulary import GATES

F64 = np.ndarray[Any, np.dtype[np.float64]]
# Below this many gate-passing rows an exact scan is cheaper and never misses a row.
EXACT_SCAN_BELOW = 2000
Ranked = tuple[list[dict[str, Any]], dict[str, int], int]  # items, excluded by gate, considered


def enabled_gates(switches: Mapping[str, bool] | None) -> tuple[str, ...]:
    """Returns the gates left on; unknown gate names are an error."""
    switches = switches or {}
    unknown = sorted(set(switches) - set(GATES))
    if unknown:
        raise BadRequest(f"unknown gates: {', '.join(unknown)}; known: {', '.join(GATES)}")
    return tuple(g for g in GATES if switches.get(g, True))


def _pairs_of(rows: Sequence[Mapping[str, Any]], lexical: Sequence[tuple[float, float]]) -> Pairs:
    """The database path's feature rows as :class:`Pairs`, with each pair's (BM25, the query's
    ceiling)."""

    def column(name: str) -> Any:
        return as_column([row[name] for row in rows])

    return Pairs(
        candidate_id=[row["candidate_id"] for row in rows],
        candidate_external_id=[row["candidate_external_id"] for row in rows],
        vacancy_id=[row["vacancy_id"] for row in rows],
        vacancy_external_id=[row["vacancy_external_id"] for row in rows],
        labels=[skill_labels(row["skills"]) for row in rows],
        required=[row["required_skills"] for row in rows],
        semantic_profile=column("semantic_profile"),
        semantic_chunk=column("semantic_chunk"),
        title=column("title"),
        title_profile=column("title_profile"),
        language=column("language"),
        distance_km=column("distance_km"),
        max_commute_km=column("max_commute_km"),
        remote=np.array([bool(row["remote"]) for row in rows], dtype=bool),
        lexical=as_column([bm25 for bm25, _ in lexical]),
        lexical_ceiling=as_column([ceiling for _, ceiling in lexical]),
        gates={g: np.array([row[f"gate_{g}"] or 0 for row in rows], dtype=np.int8) for g in GATES},
    )


def _retrieve(
    pool: CandidatePool,
    vacancy: RankingVacancy,
    required: Sequence[RequiredSkill],
    gates: tuple[str, ...],
    query: Any,
    centroid: Any,
    limit: int,
    products: tuple[Any, Any, Any, Any] | None = None,
    targets: Targets | None = None,
) -> Retrieved:
    """A vacancy's retrieval from the pool: each retriever proposes 2×limit (at least 50).
    ``query``: the vacancy's centred vector; ``centroid``: the candidates'; ``products``: the
    vacancy's column of the block's products made with these two; ``required``: its required
    skills, parsed (app/ml/skills.required_skills); ``targets``: its ESCO skills, when it is
    matched through the taxonomy."""
    view = VacancyView(
        vacancy.start_date, vacancy.remote, vacancy.lat, vacancy.lon, vacancy.languages or []
    )
    return retrieve(
        pool,
        view,
        gates,
        query,
        vacancy.title_embedding,
        vacancy.search_text or "",
        max(2 * limit, 50),
        [
            (skill_key(r.label), r.weight * (1.0 if r.must_have else NICE_TO_HAVE_HITS))
            for r in required
        ],
        centroid,
        products,
        [(uri, t.weight) for uri, t in targets.skills.items()] if targets is not None else (),
        list(targets.title.items()) if targets is not None else (),
    )


class RankingService:
    """Ranks within the caller's tenant with the ranker it is given."""

    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        encoder: Encoder,
        pool_max_rows: int | None = None,
    ) -> None:
        self.session = session
        self.pool_max_rows = (
            get_settings().pool_max_candidates if pool_max_rows is None else pool_max_rows
        )
        self.principal = principal
        self.encoder = encoder
        self.vectors = VectorService(session, encoder)
        self.repo = MatchRepository(session)
        self.through = RankingTaxonomy(session, principal.tenant_id, encoder)

    async def taxonomy(self) -> Taxonomy | None:
        """The taxonomy this tenant's rankings match through (None: none, or switched off)."""
        return await self.through.current()

    # -- the two directions ------------------------------------------------------------------

    async def vacancy(self, external_id: str) -> RankingVacancy:
        """The vacancy as ranking reads it, its vectors made current first."""
        repo = VacancyRepository(self.session)
        row = await repo.for_ranking(self.principal.tenant_id, external_id)
        if row is None:
            raise NotFound(f"no vacancy '{external_id}'")
        if await self.vectors.refresh_vacancies([row]):
            row = await repo.for_ranking(self.principal.tenant_id, external_id)
            if row is None:  # deleted while its vectors were being refreshed
                raise NotFound(f"no vacancy '{external_id}'")
        return row

    async def block_vacancies(self, ids: Sequence[uuid.UUID]) -> list[RankingVacancy]:
        """Those of these vacancies that exist, as ranking reads them, their vectors made current
        first (in one embedding call for the block), in the order of ``ids``."""
        repo = VacancyRepository(self.session)
        rows = await repo.block_for_ranking(self.principal.tenant_id, ids)
        if await self.vectors.refresh_vacancies(rows):
            rows = await repo.block_for_ranking(self.principal.tenant_id, [row.id for row in rows])
        return rows

    async def candidate(self, external_id: str) -> Candidate:
        """The candidate, its vectors made current first."""
        row = await CandidateRepository(self.session).get(self.principal.tenant_id, external_id)
        if row is None:
            raise NotFound(f"no candidate '{external_id}'")
        if await self.vectors.refresh_candidates([row]):
            await self.session.refresh(row)
        return row

    async def rank_candidates(
        self, vacancy: RankingVacancy, limit: int, ranker: Ranker, gates: tuple[str, ...] = GATES
    ) -> Ranked:
        """Ranks the tenant's candidates for a vacancy."""
        scope = Scope("shortlist", self.principal.tenant_id, vacancy.id, gates)
        pooled = await self._rank_pooled(scope, vacancy, limit, ranker)
        if pooled is not None:
            return pooled
        anchor = {
            "required_skills": vacancy.required_skills,
            "vacancy_esco": vacancy.esco,
            "vacancy_title": vacancy.title,
        }
        return await self._rank_in_database(
            scope, np.asarray(vacancy.embedding), vacancy.search_text or "", anchor, limit, ranker
        )

    async def rank_vacancies(
        self, candidate: Candidate, limit: int, ranker: Ranker, gates: tuple[str, ...] = GATES
    ) -> Ranked:
        """Ranks the tenant's open vacancies for a candidate."""
        scope = Scope("matches", self.principal.tenant_id, candidate.id, gates)
        anchor = {"skills": candidate.skills, "candidate_esco": candidate.esco}
        return await self._rank_in_database(
            scope,
            np.asarray(candidate.embedding),
            candidate.search_text or "",
            anchor,
            limit,
            ranker,
        )

    # -- retrieval paths ---------------------------------------------------------------------

    async def _rank_in_database(
        self,
        scope: Scope,
        query_vector: Any,
        query_text: str,
        anchor: Mapping[str, Any],
        limit: int,
        ranker: Ranker,
    ) -> Ranked:
        """``anchor``: the anchor's documents the rows share (MatchRepository.pair_features)."""
        counts = await self.repo.gate_counts(scope)
        passing = counts["passing"]
        # Each retriever proposes 2×limit (at least 50); the union is re-scored as a whole.
        k = max(2 * limit, 50)
        exact = passing <= EXACT_SCAN_BELOW
        await self.repo.tune_vector_search(k)
        ids = await self.repo.nearest(scope, query_vector, k, exact=exact)
        if scope.direction == "shortlist":
            ids += await self.repo.nearest_chunks(scope, query_vector, k, exact=exact)
        side: Side = "candidates" if scope.ranked == "c" else "vacancies"
        lexical = await lexical_index(self.session, scope.tenant_id, side)
        # Lexical hits are not gate-filtered yet: ask for more, pair_features drops failures.
        answer = lexical.answer(query_text)  # scored once: for retrieval and for features
        ids += [row_id for row_id, _ in answer.top(3 * k)]  # type: ignore[misc]
        ids = list(dict.fromkeys(ids))
        held = pooled_centroid(scope.tenant_id, PRIOR_TEXTS)
        centres = await centroids(self.session, scope.tenant_id, candidates=held is None)
        candidate_centroid = held if held is not None else centres.candidates
        rows = await self.repo.pair_features(
            scope, ids, anchor, candidate_centroid, centres.vacancies, self.encoder.dimension
        )
        key = "candidate_id" if scope.ranked == "c" else "vacancy_id"
        bm25 = answer.of([row[key] for row in rows])
        pairs = _pairs_of(rows, [bm25[row[key]] for row in rows])
        await self.through.add_database_features(pairs, rows)
        excluded = {g: counts[g] for g in scope.gates}
        return await self._score(pairs, scope, ranker, limit), excluded, counts["total"]

    async def _rank_pooled(
        self, scope: Scope, vacancy: RankingVacancy, limit: int, ranker: Ranker
    ) -> Ranked | None:
        """Ranks from the tenant's in-process pool; None when the tenant is too big for one (or
        the vacancy has no vector yet)."""
        if self.pool_max_rows <= 0 or vacancy.embedding is None:
            return None
        pool = await self._pool()
        if pool is None:
            return None
        # The candidates' centroid is the pool's own (kept as rows come and go); the vacancies'
        # is read from the database, a minute old at most.
        centres = await centroids(self.session, scope.tenant_id, candidates=False)
        query = centred_query(vacancy.embedding, centres.vacancies)
        required = required_skills(vacancy.required_skills)
        (targets,) = await self.through.targets([vacancy], [required])
        centroid = pool.centroid(PRIOR_TEXTS)
        found = _retrieve(
            pool, vacancy, required, scope.gates, query, centroid, limit, None, targets
        )
        vectors = await self._skill_vectors([(required, found)])
        return await self._ranked_pooled(
            pool, scope, vacancy, required, found, vectors, ranker, limit, targets
        )

    async def rank_candidates_block(
        self,
        vacancies: Sequence[RankingVacancy],
        limit: int,
        ranker: Ranker,
        gates: tuple[str, ...] = GATES,
    ) -> list[Ranked]:
        """Ranks the tenant's candidates for each vacancy of a block, each as
        :meth:`rank_candidates` would, with the work shared: the pool is synced once, its
        vectors meet all the block's queries in one matrix product, and skill vectors are
        looked up once. Vacancies the pool cannot serve take the single path.

        The same code ranks, with one difference: a vector product's last bit depends on the
        BLAS kernel, and a single ranking makes matrix-by-vector products (over the passing
        rows gathered when they are few) where the block makes one matrix product, so a
        similarity may differ by up to about 1e-7 (docs/ARCHITECTURE.md, Batch jobs)."""
        tenant_id = self.principal.tenant_id
        pool = None
        if self.pool_max_rows > 0 and any(v.embedding is not None for v in vacancies):
            pool = await self._pool()
        done: dict[uuid.UUID, Ranked] = {}
        served = [v for v in vacancies if v.embedding is not None] if pool is not None else []
        if pool is not None and served:
            centres = await centroids(self.session, tenant_id, candidates=False)
            queries = [
                centred_query(v.embedding, centres.vacancies)
                for v in served
                if v.embedding is not None
            ]
            centroid = pool.centroid(PRIOR_TEXTS)
            products = block_products(pool, queries, centroid)
            required = [required_skills(v.required_skills) for v in served]
            targets = await self.through.targets(served, required)
            found = [
                _retrieve(
                    pool, v, required[j], gates, queries[j], centroid, limit, products.of(j),
                    targets[j],
                )
                for j, v in enumerate(served)
            ]  # fmt: skip
            del products  # a block's products are the largest thing a batch holds
            vectors = await self._skill_vectors(list(zip(required, found, strict=True)))
            for j, (vacancy, retrieved) in enumerate(zip(served, found, strict=True)):
                scope = Scope("shortlist", tenant_id, vacancy.id, gates)
                done[vacancy.id] = await self._ranked_pooled(
                    pool, scope, vacancy, required[j], retrieved, vectors, ranker, limit,
                    targets[j],
                )  # fmt: skip
        return [
            done[v.id] if v.id in done else await self.rank_candidates(v, limit, ranker, gates)
            for v in vacancies
        ]

    async def _pool(self) -> CandidatePool | None:
        return await candidate_pool(
            self.session, self.principal.tenant_id, self.encoder.dimension, self.pool_max_rows
        )

    async def _skill_vectors(
        self, found: Sequence[tuple[Sequence[RequiredSkill], Retrieved]]
    ) -> dict[str, Any]:
        """The vectors skill matching needs for these retrievals, in one look-up: the keys the
        pool holds none for yet (from the skill cache, or embedded) and the required skills."""
        labels: list[str] = []
        for required, retrieved in found:
            keys = retrieved.label_keys
            labels += [keys.names[n] for n in np.flatnonzero(~keys.known).tolist()]
            labels += [r.label for r in required]
        return await self.vectors.skill_vectors(labels)

    async def _ranked_pooled(
        self,
        pool: CandidatePool,
        scope: Scope,
        vacancy: RankingVacancy,
        required: list[RequiredSkill],
        found: Retrieved,
        vectors: Mapping[str, Any],
        ranker: Ranker,
        limit: int,
        targets: Targets | None = None,
    ) -> Ranked:
        """Skill matching on the pool's key ids (the pool keeps the vectors it lacked for the
        next ranking), then scores: a pooled retrieval's ranking (``targets``: the vacancy's
        ESCO skills when it is matched through the taxonomy)."""
        keys = found.label_keys
        keys.complete(vectors)
        pool.remember_vectors(keys)
        matched = match_skills(required, keys, vectors, found.text_vectors)
        rows = len(found.ids)
        pairs = Pairs(
            candidate_id=found.ids,
            candidate_external_id=found.external_ids,
            vacancy_id=[vacancy.id] * rows,
            vacancy_external_id=[vacancy.external_id] * rows,
            labels=found.labels,
            required=[vacancy.required_skills] * rows,
            semantic_profile=found.semantic_profile,
            semantic_chunk=found.semantic_chunk,
            title=found.title,
            title_profile=found.title_profile,
            language=found.language,
            distance_km=found.distance_km,
            max_commute_km=found.max_commute_km,
            remote=np.full(rows, bool(vacancy.remote)),
            lexical=found.lexical,
            lexical_ceiling=found.lexical_ceiling,
            gates=found.gates,
        )
        if targets is not None:
            await self.through.add_features(
                pairs, [targets] * rows, found.linked, found.concept_hits
            )
        ranked = await self._score(pairs, scope, ranker, limit, (matched, required))
        return ranked, found.excluded, found.total

    # -- skills, scores, explanations ----------------------------------------------------------

    async def _match_groups(
        self, pairs: Pairs
    ) -> tuple[list[tuple[SkillMatrix, int, list[RequiredSkill]]], F64, F64]:
        """Matches each pair's candidate against its vacancy's skills, the pairs of one vacancy
        in one go: per pair (matrix, its row there, the skills), and the must-have and
        nice-to-have coverage."""
        n = len(pairs)
        labels = {label for row_labels in pairs.labels for label in row_labels}
        required_of = {id(items): items for items in pairs.required}
        labels |= {label for items in required_of.values() for label in skill_labels(items)}
        skill_vectors = await self.vectors.skill_vectors(labels)
        chunks = await self.repo.chunk_vectors(
            self.principal.tenant_id, list(set(pairs.candidate_id))
        )
        text_vectors = {
            cid: np.asarray(vectors, dtype=np.float32) for cid, vectors in chunks.items()
        }
        groups: dict[int, list[int]] = {}
        for i, items in enumerate(pairs.required):
            groups.setdefault(id(items), []).append(i)
        skills: list[tuple[SkillMatrix, int, list[RequiredSkill]]] = [None] * n  # type: ignore[list-item]
        must, nice = np.full(n, np.nan), np.full(n, np.nan)
        for members in groups.values():
            required = required_skills(pairs.required[members[0]])
            found = skill_matrix(
                required,
                [pairs.labels[i] for i in members],
                skill_vectors,
                [text_vectors.get(pairs.candidate_id[i]) for i in members],
            )
            must[members] = found.coverage(required, must_have=True)
            nice[members] = found.coverage(required, must_have=False)
            for position, i in enumerate(members):
                skills[i] = (found, position, required)
        return skills, must, nice

    async def _score(
        self,
        pairs: Pairs,
        scope: Scope,
        ranker: Ranker,
        limit: int | None = None,
        matched: tuple[SkillMatrix, list[RequiredSkill]] | None = None,
    ) -> list[dict[str, Any]]:
        """Scores every pair, sorts best first, keeps ``limit`` and explains those.
        ``matched``: the pairs' skill matching against one vacancy, when the caller has it."""
        n = len(pairs)
        if not n:
            return []
        if matched is not None:
            found, required = matched
            must = found.coverage(required, must_have=True)
            nice = found.coverage(required, must_have=False)
            skills = [(found, i, required) for i in range(n)]
        else:
            skills, must, nice = await self._match_groups(pairs)
        columns = feature_columns(pairs, must, nice)
        # The order is the ranker's to give (a re-ranker orders only its window by its score).
        raw, order_by = ranker.score_and_order(columns)
        scores = np.round(raw, 6).tolist()
        keys = np.round(order_by, 6).tolist()
        ids = pairs.candidate_id if scope.ranked == "c" else pairs.vacancy_id
        order = sorted(range(n), key=lambda i: (-keys[i], str(ids[i])))
        chosen = order if limit is None else order[:limit]
        picked = {name: values[chosen].tolist() for name, values in columns.items()}
        # rounded to four places, a column at a time (numpy: half-way values to even)
        credit = {
            name: np.round(values, 4).tolist()
            for name, values in ranker.contributions(
                {name: values[chosen] for name, values in columns.items()}
            ).items()
        }
        distance_km = pairs.distance_km[chosen].tolist()
        gate_values = {g: pairs.gates[g][chosen].tolist() for g in scope.gates}
        kept = []
        for at, i in enumerate(chosen):
            features = {
                name: None if math.isnan(values[at]) else values[at]
                for name, values in picked.items()
            }
            contributions = {
                name: None if math.isnan(values[at]) else values[at]
                for name, values in credit.items()
            }
            found, position, required = skills[i]
            # Only the gates that were applied are reported; a gate switched off says nothing.
            gates = {g: gate_state(values[at]) for g, values in gate_values.items()}
            km = None if math.isnan(distance_km[at]) else distance_km[at]
            remote = bool(pairs.remote[i])
            kept.append(
                {
                    "ranked_id": ids[i],
                    "candidate_id": pairs.candidate_id[i],
                    "candidate_external_id": pairs.candidate_external_id[i],
                    "vacancy_id": pairs.vacancy_id[i],
                    "vacancy_external_id": pairs.vacancy_external_id[i],
                    "score": scores[i],
                    "features": features,
                    "candidate_labels": pairs.labels[i],
                    "explanation": explain(
                        features,
                        found,
                        position,
                        required,
                        gates,
                        km,
                        remote,
                        contributions,
                        None if pairs.esco_evidence is None else pairs.esco_evidence[i],
                    ),
                }
            )
        return kept
