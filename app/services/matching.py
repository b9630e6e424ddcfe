"""Ranking: explained shortlists of candidates for a vacancy, and vacancies for a candidate.

Pipeline: gates (in SQL) → retrieval (vector, chunk and full-text candidates, merged) → pair
features (SQL + skill matching here) → the tenant's scorer → explanations → a stored snapshot.
"""

from __future__ import annotations

import asyncio
import functools
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.db.tables import Candidate, Shortlist, Vacancy
from app.errors import BadRequest, NotFound
from app.ml.encoder import Encoder
from app.ml.lexical import LexicalIndex
from app.ml.pool import F64, VacancyView, retrieve
from app.ml.scoring import (
    DEFAULT_WEIGHTS,
    FEATURES,
    GATES,
    SCORER_VERSION,
    Pairs,
    RequiredSkill,
    SkillMatrix,
    as_column,
    combine_many,
    explain,
    feature_columns,
    gate_state,
    match_skills,
    skill_matrix,
)
from app.ml.text import label_hash, skill_key, skill_labels
from app.repositories.matching import MatchRepository, Scope
from app.repositories.resources import CandidateRepository, RankingVacancy, VacancyRepository
from app.repositories.shortlists import ShortlistRepository
from app.repositories.tenants import TenantRepository
from app.repositories.vectors import VectorRepository
from app.schemas import Principal
from app.services.pool import candidate_pool, forget_candidates
from app.services.vectors import VectorService

# Below this many gate-passing rows an exact scan is cheaper and never misses a row.
EXACT_SCAN_BELOW = 2000

# One BM25 index per (tenant, side), rebuilt when the stamp (row count, last update) moves, so
# every process stays in step with the database without coordination.
_LEXICAL: dict[tuple[uuid.UUID, str], tuple[tuple[int, Any], LexicalIndex]] = {}
_LEXICAL_MAX = 64


def _required(items: Sequence[Any]) -> list[RequiredSkill]:
    return [
        RequiredSkill(i["label"], bool(i.get("must_have", True)), float(i.get("weight", 1.0)))
        for i in items
    ]


@functools.lru_cache(maxsize=65536)
def _matched_ref(label: str) -> str:
    # Snapshots keep a short hash of the candidate's label, not the label itself.
    return label_hash(label).hex()[:16]


def _pairs_of(rows: Sequence[Mapping[str, Any]], lexical: Sequence[float]) -> Pairs:
    """The database path's feature rows as :class:`Pairs`."""
    return Pairs(
        candidate_id=[row["candidate_id"] for row in rows],
        candidate_external_id=[row["candidate_external_id"] for row in rows],
        vacancy_id=[row["vacancy_id"] for row in rows],
        vacancy_external_id=[row["vacancy_external_id"] for row in rows],
        labels=[skill_labels(row["skills"]) for row in rows],
        required=[row["required_skills"] for row in rows],
        **{
            name: as_column([row[name] for row in rows])
            for name in (
                "semantic_profile",
                "semantic_chunk",
                "title",
                "title_profile",
                "language",
                "distance_km",
                "max_commute_km",
            )
        },
        remote=np.array([bool(row["remote"]) for row in rows], dtype=bool),
        lexical=as_column(lexical),
        gates={g: np.array([row[f"gate_{g}"] or 0 for row in rows], dtype=np.int8) for g in GATES},
    )


class MatchingService:
    """Ranks within the caller's tenant with its weights."""

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
        self.shortlists = ShortlistRepository(session)
        self._weights: dict[str, float] | None = None

    async def weights(self) -> dict[str, float]:
        """Returns the tenant's scorer weights (defaults where the tenant set none)."""
        if self._weights is None:
            tenant = await TenantRepository(self.session).get(self.principal.tenant_id)
            custom = (tenant.settings or {}).get("weights", {}) if tenant else {}
            self._weights = {
                **DEFAULT_WEIGHTS,
                **{k: float(v) for k, v in custom.items() if k in FEATURES},
            }
        return self._weights

    @staticmethod
    def enabled_gates(switches: dict[str, bool] | None) -> tuple[str, ...]:
        """Returns the gates left on; unknown gate names are an error."""
        switches = switches or {}
        unknown = sorted(set(switches) - set(GATES))
        if unknown:
            raise BadRequest(f"unknown gates: {', '.join(unknown)}; known: {', '.join(GATES)}")
        return tuple(g for g in GATES if switches.get(g, True))

    async def _lexical_index(self, scope: Scope) -> LexicalIndex:
        key = (scope.tenant_id, scope.ranked)
        stamp = await self.repo.lexical_stamp(scope)
        cached = _LEXICAL.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        rows = await self.repo.lexical_texts(scope)
        index = await asyncio.to_thread(
            LexicalIndex, [row_id for row_id, _ in rows], [text for _, text in rows]
        )
        if len(_LEXICAL) >= _LEXICAL_MAX:
            _LEXICAL.clear()
        _LEXICAL[key] = (stamp, index)
        return index

    async def _rank(
        self, scope: Scope, query_vector: Any, query_text: str, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, int], int]:
        counts = await self.repo.gate_counts(scope)
        passing = counts["passing"]
        # Each retriever proposes 2×limit (at least 50); the union is re-scored as a whole.
        k = max(2 * limit, 50)
        exact = passing <= EXACT_SCAN_BELOW
        await self.repo.tune_vector_search(k)
        ids = await self.repo.nearest(scope, query_vector, k, exact=exact)
        if scope.direction == "shortlist":
            ids += await self.repo.nearest_chunks(scope, query_vector, k, exact=exact)
        lexical = await self._lexical_index(scope)
        # Lexical hits are not gate-filtered yet: ask for more, pair_features drops failures.
        ids += [row_id for row_id, _ in lexical.top(query_text, 3 * k)]  # type: ignore[misc]
        ids = list(dict.fromkeys(ids))
        rows = await self.repo.pair_features(scope, ids)
        key = "candidate_id" if scope.ranked == "c" else "vacancy_id"
        bm25 = lexical.score_of(query_text, [row[key] for row in rows])
        pairs = _pairs_of(rows, [bm25[row[key]] for row in rows])
        excluded = {g: counts[g] for g in scope.gates}
        return await self._score(pairs, scope, limit), excluded, counts["total"]

    async def _rank_pooled(
        self, scope: Scope, vacancy: RankingVacancy, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, int], int] | None:
        """Ranks from the tenant's in-process pool; None when the tenant is too big for one (or
        the vacancy has no vector yet)."""
        if self.pool_max_rows <= 0 or vacancy.embedding is None:
            return None
        pool = await candidate_pool(
            self.session, scope.tenant_id, self.encoder.dimension, self.pool_max_rows
        )
        if pool is None:
            return None
        k = max(2 * limit, 50)
        view = VacancyView(
            vacancy.start_date, vacancy.remote, vacancy.lat, vacancy.lon, vacancy.languages or []
        )
        required = _required(vacancy.required_skills)
        found = retrieve(
            pool,
            view,
            scope.gates,
            GATES,
            vacancy.embedding,
            vacancy.title_embedding,
            vacancy.search_text or "",
            k,
            k,
            await self.weights(),
            [(skill_key(r.label), r.weight * (1.0 if r.must_have else 0.2)) for r in required],
        )
        # Skill matching on the pool's key ids; keys it holds no vector for yet come from the
        # skill cache (or are embedded), and the pool keeps them for the next ranking.
        keys = found.label_keys
        wanted = [keys.names[n] for n in np.flatnonzero(~keys.known).tolist()]
        vectors = await self.vectors.skill_vectors(wanted + [r.label for r in required])
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
            gates=found.gates,
        )
        ranked = await self._score(pairs, scope, limit, (matched, required))
        return ranked, found.excluded, found.total

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
            required = _required(pairs.required[members[0]])
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
        scores = np.round(combine_many(columns, await self.weights()), 6).tolist()
        ids = pairs.candidate_id if scope.ranked == "c" else pairs.vacancy_id
        order = sorted(range(n), key=lambda i: (-scores[i], str(ids[i])))
        chosen = order if limit is None else order[:limit]
        picked = {name: values[chosen].tolist() for name, values in columns.items()}
        distance_km = pairs.distance_km[chosen].tolist()
        gate_values = {g: pairs.gates[g][chosen].tolist() for g in scope.gates}
        kept = []
        for at, i in enumerate(chosen):
            features = {
                name: None if math.isnan(values[at]) else values[at]
                for name, values in picked.items()
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
                    "explanation": explain(features, found, position, required, gates, km, remote),
                }
            )
        return kept

    async def _vacancy(self, external_id: str) -> RankingVacancy:
        repo = VacancyRepository(self.session)
        row = await repo.for_ranking(self.principal.tenant_id, external_id)
        if row is None:
            raise NotFound(f"no vacancy '{external_id}'")
        if await self.vectors.refresh_vacancies([row]):
            row = await repo.for_ranking(self.principal.tenant_id, external_id)
            if row is None:  # deleted while its vectors were being refreshed
                raise NotFound(f"no vacancy '{external_id}'")
        return row

    async def _candidate(self, external_id: str) -> Candidate:
        row = await CandidateRepository(self.session).get(self.principal.tenant_id, external_id)
        if row is None:
            raise NotFound(f"no candidate '{external_id}'")
        if await self.vectors.refresh_candidates([row]):
            await self.session.refresh(row)
        return row

    async def rank_candidates(
        self, vacancy_external_id: str, limit: int, gates: tuple[str, ...] = GATES
    ) -> tuple[RankingVacancy, list[dict[str, Any]], dict[str, int], int]:
        """Ranks the tenant's candidates for a vacancy: (vacancy, items, excluded, considered)."""
        vacancy = await self._vacancy(vacancy_external_id)
        scope = Scope("shortlist", self.principal.tenant_id, vacancy.id, gates)
        pooled = await self._rank_pooled(scope, vacancy, limit)
        if pooled is None:
            pooled = await self._rank(
                scope, np.asarray(vacancy.embedding), vacancy.search_text or "", limit
            )
        ranked, excluded, total = pooled
        return vacancy, ranked, excluded, total

    async def create_shortlist(
        self, vacancy_external_id: str, limit: int, gate_switches: dict[str, bool] | None
    ) -> dict[str, Any]:
        """Ranks the tenant's candidates for a vacancy and stores the result as a snapshot."""
        gates = self.enabled_gates(gate_switches)
        vacancy, ranked, excluded, total = await self.rank_candidates(
            vacancy_external_id, limit, gates
        )
        params = {"limit": limit, "gates": {g: g in gates for g in GATES}}
        stored = [self._stored_explanation(item) for item in ranked]
        snapshot, kept = await self.shortlists.create(
            {
                "tenant_id": self.principal.tenant_id,
                "vacancy_id": vacancy.id,
                "key_id": self.principal.key_id,
                "ranker_version": SCORER_VERSION,
                "embedding_model": self.encoder.model_id,
                "params": {**params, "weights": await self.weights()},
                "excluded_by_gate": excluded,
                "considered": total,
            },
            [
                {
                    "rank": rank,
                    "candidate_id": item["candidate_id"],
                    "score": item["score"],
                    "features": item["features"],
                    "explanation": explanation,
                }
                for rank, (item, explanation) in enumerate(zip(ranked, stored, strict=True), 1)
            ],
        )
        if len(kept) < len(ranked):
            # Someone was erased while this ranked (or behind the change feed's back): the
            # snapshot left them out, so does the answer, and so does the pool from now on.
            gone = {item["candidate_id"] for item in ranked} - set(kept)
            forget_candidates(self.principal.tenant_id, gone)
            pairs = [
                (i, e) for i, e in zip(ranked, stored, strict=True) if i["candidate_id"] not in gone
            ]
        else:
            pairs = list(zip(ranked, stored, strict=True))
        # The answer is rendered from what was just stored, as a later read would render it.
        items = [
            {
                "rank": rank,
                "candidate_external_id": item["candidate_external_id"],
                "score": item["score"],
                "explanation": self._public_explanation(explanation, item["candidate_labels"]),
            }
            for rank, (item, explanation) in enumerate(pairs, start=1)
        ]
        return self._snapshot_view(snapshot, vacancy.external_id, items)

    @staticmethod
    def _stored_explanation(item: dict[str, Any]) -> dict[str, Any]:
        """The item's explanation as a snapshot keeps it: each matched skill also carries a
        short hash of the candidate's label (``matched_ref``), never the label itself."""
        explanation: dict[str, Any] = item["explanation"]
        labels = item["candidate_labels"]
        for m in explanation["matched_skills"]:
            index = m["matched_index"]
            m["matched_ref"] = _matched_ref(labels[index]) if index is not None else None
        return explanation

    @staticmethod
    def _public_explanation(stored: dict[str, Any], labels: list[str] | None) -> dict[str, Any]:
        """Renders a stored explanation, naming the candidate's matching skill if it still
        holds the same label at the same place (after an erasure or an edit it is null)."""
        matched = []
        for m in stored.get("matched_skills", []):
            index = m.get("matched_index")
            label = (
                labels[index]
                if labels is not None and index is not None and index < len(labels)
                else None
            )
            if label is not None and _matched_ref(label) != m.get("matched_ref"):
                label = None
            matched.append(
                {
                    "required": m["required"],
                    "matched_by": label,
                    "kind": m["kind"],
                    "similarity": m["similarity"],
                }
            )
        return {
            "summary": stored["summary"],
            "components": stored["components"],
            "matched_skills": matched,
            "missing_skills": stored["missing_skills"],
            "gates": stored["gates"],
            "distance_km": stored["distance_km"],
        }

    async def read_shortlist(self, shortlist_id: uuid.UUID) -> dict[str, Any]:
        """Returns a stored snapshot with its items."""
        tenant_id = self.principal.tenant_id
        snapshot = await self.shortlists.get(tenant_id, shortlist_id)
        if snapshot is None:
            raise NotFound(f"no shortlist '{shortlist_id}'")
        items = []
        for item, external_id, skills in await self.shortlists.items(tenant_id, snapshot.id):
            labels = skill_labels(skills) if skills is not None else None
            items.append(
                {
                    "rank": item.rank,
                    "candidate_external_id": external_id,
                    "score": item.score,
                    "explanation": self._public_explanation(item.explanation, labels),
                }
            )
        vacancy_external_id = await self.shortlists.vacancy_external_id(
            tenant_id, snapshot.vacancy_id
        )
        return self._snapshot_view(snapshot, vacancy_external_id, items)

    @staticmethod
    def _snapshot_view(
        snapshot: Shortlist, vacancy_external_id: str | None, items: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "id": snapshot.id,
            "vacancy_external_id": vacancy_external_id,
            "created_at": snapshot.created_at,
            "ranker_version": snapshot.ranker_version,
            "embedding_model": snapshot.embedding_model,
            "params": {k: v for k, v in snapshot.params.items() if k != "weights"},
            "considered": snapshot.considered,
            "excluded_by_gate": snapshot.excluded_by_gate,
            "items": items,
        }

    async def list_shortlists(self, vacancy_external_id: str, limit: int) -> list[dict[str, Any]]:
        """Returns the vacancy's snapshots, newest first, without their items."""
        vacancy = await VacancyRepository(self.session).get(
            self.principal.tenant_id, vacancy_external_id
        )
        if vacancy is None:
            raise NotFound(f"no vacancy '{vacancy_external_id}'")
        rows = await self.shortlists.list_for_vacancy(self.principal.tenant_id, vacancy.id, limit)
        return [
            {
                "id": row.id,
                "vacancy_external_id": vacancy_external_id,
                "created_at": row.created_at,
                "ranker_version": row.ranker_version,
                "embedding_model": row.embedding_model,
                "considered": row.considered,
                "excluded_by_gate": row.excluded_by_gate,
            }
            for row in rows
        ]

    async def matches_for_candidate(
        self, candidate_external_id: str, limit: int, gate_switches: dict[str, bool] | None
    ) -> dict[str, Any]:
        """Ranks the tenant's open vacancies for a candidate (not stored)."""
        gates = self.enabled_gates(gate_switches)
        candidate = await self._candidate(candidate_external_id)
        scope = Scope("matches", self.principal.tenant_id, candidate.id, gates)
        # Vacancies are embedded when written; this catches rows left stale by a model change.
        stale = await VectorRepository(self.session).stale_in_tenant(
            Vacancy, self.principal.tenant_id, self.encoder.model_id
        )
        await self.vectors.refresh_vacancies(stale)
        ranked, excluded, total = await self._rank(
            scope, np.asarray(candidate.embedding), candidate.search_text or "", limit
        )
        items = []
        for rank, item in enumerate(ranked, start=1):
            stored = self._stored_explanation(item)
            items.append(
                {
                    "rank": rank,
                    "vacancy_external_id": item["vacancy_external_id"],
                    "score": item["score"],
                    "explanation": self._public_explanation(stored, item["candidate_labels"]),
                }
            )
        return {
            "candidate_external_id": candidate_external_id,
            "ranker_version": SCORER_VERSION,
            "embedding_model": self.encoder.model_id,
            "considered": total,
            "excluded_by_gate": excluded,
            "items": items,
        }
