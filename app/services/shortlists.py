"""Shortlists: rank a vacancy's candidates with the tenant's ranker and store the result as an
immutable snapshot (the audit record, and what learning reads); read snapshots back.

A snapshot records the ranker's version, the features' version, the embedding model, the
request's parameters and the ranker's weights, and per item the rank, score, every feature and
the explanation — enough to re-score it with the ranker that made it (tests do).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Shortlist
from app.db.transactions import each_statement_commits
from app.errors import NotFound
from app.ml.encoder import Encoder
from app.ml.features import FEATURE_VERSION
from app.ml.ranker import Ranker, WeightedRanker
from app.ml.taxonomy_match import Taxonomy
from app.ml.text import skill_labels
from app.repositories.resources import RankingVacancy, VacancyRepository
from app.repositories.shortlists import ShortlistRepository, SnapshotRows, Stored
from app.schemas import Principal
from app.services import audit
from app.services.explanations import public_explanation, stored_explanation
from app.services.pool import forget_candidates
from app.services.rankers import ranker_for
from app.services.ranking import Ranked, RankingService, enabled_gates
from app.services.shortlist_changes import compare
from app.vocabulary import GATES


def _ranker_params(ranker: Ranker) -> dict[str, Any]:
    """What a snapshot keeps of its ranker beyond the version (the weighted scorer's weights)."""
    return {"weights": ranker.weights} if isinstance(ranker, WeightedRanker) else {}


class ShortlistService:
    """Creates and reads the caller's tenant's snapshots."""

    def __init__(self, session: AsyncSession, principal: Principal, encoder: Encoder) -> None:
        self.session = session
        self.principal = principal
        self.encoder = encoder
        self.repo = ShortlistRepository(session)

    async def rank(
        self,
        vacancy_external_id: str,
        limit: int,
        gates: tuple[str, ...] = GATES,
        ranker: Ranker | None = None,
        ranking: RankingService | None = None,
    ) -> tuple[RankingVacancy, Ranker, Ranked]:
        """Ranks the tenant's candidates for a vacancy with ``ranker`` (default: the tenant's
        active one), storing nothing (what evaluation and benchmarks measure): the vacancy, the
        ranker, the ranking."""
        ranking = ranking or RankingService(self.session, self.principal, self.encoder)
        vacancy = await ranking.vacancy(vacancy_external_id)
        if ranker is None:
            ranker = await ranker_for(
                self.session, self.principal.tenant_id, model_id=self.encoder.model_id
            )
        return vacancy, ranker, await ranking.rank_candidates(vacancy, limit, ranker, gates)

    async def create_shortlist(
        self,
        vacancy_external_id: str,
        limit: int,
        gate_switches: dict[str, bool] | None,
    ) -> dict[str, Any]:
        """Ranks the tenant's candidates for a vacancy with its active ranker and stores the
        result as a request's snapshot."""
        gates = enabled_gates(gate_switches)
        ranking = RankingService(self.session, self.principal, self.encoder)
        vacancy, ranker, ranked = await self.rank(
            vacancy_external_id, limit, gates, ranking=ranking
        )
        taxonomy = await ranking.taxonomy()
        (made,) = await self._store(
            [(vacancy, ranked)], ranker, limit, gates, None, taxonomy, record=True
        )
        if made is None:
            raise NotFound(f"vacancy '{vacancy_external_id}' was deleted while it was ranked")
        return made[0]

    async def create_batch_shortlists(
        self, vacancy_ids: Sequence[uuid.UUID], limit: int, ranker: Ranker, job_id: uuid.UUID
    ) -> list[tuple[uuid.UUID, dict[str, Any], audit.Act]]:
        """Ranks a block of the tenant's vacancies with ``ranker`` (what a batch run was
        handed), every gate on, each as :meth:`create_shortlist` ranks one but with the work
        shared (RankingService.rank_candidates_block), and stores each as a snapshot of the
        run ``job_id``: per vacancy that still exists (one deleted meanwhile is not stored),
        its id, the snapshot and the act the caller is to record in the audit trail (last in
        its transaction)."""
        ranking = RankingService(self.session, self.principal, self.encoder)
        vacancies = await ranking.block_vacancies(vacancy_ids)
        block = await ranking.rank_candidates_block(vacancies, limit, ranker, GATES)
        made = await self._store(
            list(zip(vacancies, block, strict=True)),
            ranker,
            limit,
            GATES,
            job_id,
            await ranking.taxonomy(),
        )
        return [
            (vacancy.id, *stored)
            for vacancy, stored in zip(vacancies, made, strict=True)
            if stored is not None
        ]

    async def _store(
        self,
        rankings: Sequence[tuple[RankingVacancy, Ranked]],
        ranker: Ranker,
        limit: int,
        gates: tuple[str, ...],
        job_id: uuid.UUID | None,
        taxonomy: Taxonomy | None,
        *,
        record: bool = False,
    ) -> list[tuple[dict[str, Any], audit.Act] | None]:
        """Stores rankings as snapshots, in one statement: a request's, or (``job_id``) a batch
        run's; returns their representations and audit acts, in order (None: the vacancy was
        deleted).
        ``taxonomy``: what they were matched through (its import is recorded; None: off).
        ``record``: the acts are also recorded here — appended by the snapshots' own
        statement, all or nothing and its own transaction, when everything is stored as ranked
        (no round trip of their own, the chain's lock not held past the statement); else the
        snapshots are stored as they can be and their acts recorded as stored, as the request's
        transaction's last act."""
        params = {
            "limit": limit,
            "gates": {g: g in gates for g in GATES},
            "taxonomy": None if taxonomy is None else taxonomy.import_id,
            **_ranker_params(ranker),
        }
        origin = "batch" if job_id else "request"
        ids = [uuid.uuid4() for _ in rankings]
        stored = [[stored_explanation(item) for item in ranked] for _, (ranked, _, _) in rankings]
        # The answer is rendered from what is stored, as a later read would render it — before
        # the statement, so that nothing but the statement stands between a transaction
        # holding the chain's lock and its commit.
        shown = [
            [
                public_explanation(
                    e, item["candidate_labels"], item["features"], ranked_labels=True
                )
                for item, e in zip(r, es, strict=True)
            ]
            for (_, (r, _, _)), es in zip(rankings, stored, strict=True)
        ]
        snapshots = self._snapshot_rows(rankings, ids, stored, origin, job_id, ranker, params)
        made = None
        if record:
            acts = [
                self._act(snapshot_id, origin, vacancy, ranked, ranker, job_id, limit)
                for snapshot_id, (vacancy, (ranked, _, _)) in zip(ids, rankings, strict=True)
            ]
            made = await self._insert_sealed(snapshots, acts)
        # not sealed (something was gone when it was stored, or the chain moved twice): stored
        # as it can be, in the request's transaction, its entries recorded as stored below
        unsealed = made is None
        if made is None:
            made, _ = await self.repo.create_many(self.principal.tenant_id, snapshots)
        views: list[tuple[dict[str, Any], audit.Act] | None] = []
        for (vacancy, (ranked, _, _)), rendered, stored_one in zip(
            rankings, shown, made, strict=True
        ):
            if stored_one is None:
                views.append(None)
                continue
            snapshot, kept = stored_one
            pairs = list(zip(ranked, rendered, strict=True))
            if len(kept) < len(ranked):
                # Someone was erased while this ranked (or behind the change feed's back): the
                # snapshot left them out, so does the answer, and so does the pool from now on.
                gone = {item["candidate_id"] for item in ranked} - set(kept)
                await forget_candidates(self.principal.tenant_id, gone)
                pairs = [(i, e) for i, e in pairs if i["candidate_id"] not in gone]
            items = [
                {
                    "rank": rank,
                    "candidate_external_id": item["candidate_external_id"],
                    "score": item["score"],
                    "explanation": explanation,
                }
                for rank, (item, explanation) in enumerate(pairs, start=1)
            ]
            act = self._act(
                snapshot.id, origin, vacancy, [i for i, _ in pairs], ranker, job_id, limit
            )
            views.append((_snapshot_view(snapshot, vacancy.external_id, items), act))
        if record and unsealed:
            await audit.record(self.session, self.principal, *(v[1] for v in views if v))
        return views

    async def _insert_sealed(
        self, snapshots: Sequence[SnapshotRows], acts: Sequence[audit.Act]
    ) -> list[Stored | None] | None:
        """A request's snapshots and their audit entries in one statement that is its own
        transaction, all or nothing (repositories/shortlists.py): the chain's lock is released
        as the statement ends. None when nothing was stored: something was gone meanwhile, or
        the chain moved (another process appended) before each of two tries."""
        onto = None
        async with each_statement_commits(self.session):
            for _ in range(2):
                prepared = await audit.prepare(self.session, self.principal, *acts, onto=onto)
                try:
                    made, sealed = await self.repo.create_many(
                        self.principal.tenant_id, snapshots, (prepared.onto, prepared.rows)
                    )
                except BaseException:
                    audit.settle(prepared, None)  # nothing was appended: the chain is where it was
                    raise
                audit.settle(prepared, sealed)
                if sealed is None:
                    return None
                if sealed[0]:
                    return made
                onto = sealed[1], sealed[2]  # chain onto what is there
        return None

    def _snapshot_rows(
        self,
        rankings: Sequence[tuple[RankingVacancy, Ranked]],
        ids: Sequence[uuid.UUID],
        stored: Sequence[Sequence[dict[str, Any]]],
        origin: str,
        job_id: uuid.UUID | None,
        ranker: Ranker,
        params: dict[str, Any],
    ) -> list[SnapshotRows]:
        """The rows the snapshots' statement stores: per ranking, its snapshot and items."""
        return [
            (
                {
                    "id": snapshot_id,
                    "tenant_id": self.principal.tenant_id,
                    "vacancy_id": vacancy.id,
                    "key_id": None if job_id else self.principal.key_id,
                    "origin": origin,
                    "job_id": job_id,
                    "ranker_version": ranker.version,
                    "feature_version": FEATURE_VERSION,
                    "embedding_model": self.encoder.model_id,
                    "params": params,
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
                    for rank, (item, explanation) in enumerate(
                        zip(ranked, explanations, strict=True), 1
                    )
                ],
            )
            for snapshot_id, (vacancy, (ranked, excluded, total)), explanations in zip(
                ids, rankings, stored, strict=True
            )
        ]

    def _act(
        self,
        snapshot_id: uuid.UUID,
        origin: str,
        vacancy: RankingVacancy,
        ranked: Sequence[dict[str, Any]],
        ranker: Ranker,
        job_id: uuid.UUID | None,
        limit: int,
    ) -> audit.Act:
        """The audit act of storing a snapshot of ``ranked`` (its items, in rank order)."""
        return audit.Act(
            "shortlist.create",
            [
                audit.ref("shortlist", snapshot_id),
                audit.ref("vacancy", vacancy.id),
                *audit.refs("job", [job_id]),
                *audit.refs("candidate", (item["candidate_id"] for item in ranked)),
            ],
            ranker_version=ranker.version,
            model_version=self.encoder.model_id,
            detail={"origin": origin, "limit": limit, "items": len(ranked)},
        )

    async def read_shortlist(self, shortlist_id: uuid.UUID) -> dict[str, Any]:
        """Returns a stored snapshot with its items."""
        tenant_id = self.principal.tenant_id
        snapshot = await self.repo.get(tenant_id, shortlist_id)
        if snapshot is None:
            raise NotFound(f"no shortlist '{shortlist_id}'")
        items = []
        shown = []
        for item, external_id, skills in await self.repo.items(tenant_id, snapshot.id):
            shown.append(item.candidate_id)
            labels = skill_labels(skills) if skills is not None else None
            items.append(
                {
                    "rank": item.rank,
                    "candidate_external_id": external_id,
                    "score": item.score,
                    # emptied when the candidate was erased
                    "explanation": public_explanation(item.explanation, labels, item.features)
                    if item.explanation
                    else None,
                }
            )
        vacancy_external_id = await self.repo.vacancy_external_id(tenant_id, snapshot.vacancy_id)
        await audit.record(
            self.session,
            self.principal,
            audit.Act(
                "shortlist.read",
                [
                    audit.ref("shortlist", snapshot.id),
                    *audit.refs("vacancy", [snapshot.vacancy_id]),
                    *audit.refs("candidate", shown),
                ],
                ranker_version=snapshot.ranker_version,
                model_version=snapshot.embedding_model,
            ),
        )
        return _snapshot_view(snapshot, vacancy_external_id, items)

    async def list_shortlists(self, vacancy_external_id: str, limit: int) -> list[dict[str, Any]]:
        """Returns the vacancy's snapshots, newest first, without their items."""
        vacancy = await VacancyRepository(self.session).get(
            self.principal.tenant_id, vacancy_external_id
        )
        if vacancy is None:
            raise NotFound(f"no vacancy '{vacancy_external_id}'")
        rows = await self.repo.list_for_vacancy(self.principal.tenant_id, vacancy.id, limit)
        objects = [audit.ref("vacancy", vacancy.id), *audit.refs("shortlist", (r.id for r in rows))]
        await audit.record(self.session, self.principal, audit.Act("shortlist.list", objects))
        return [_summary(row, vacancy_external_id) for row in rows]

    async def changes(self, vacancy_external_id: str, top: int | None) -> dict[str, Any]:
        """Compares the vacancy's two latest snapshots (the latest with nothing when it is the
        only one): who entered, left and moved, within the first ``top`` ranks if given."""
        tenant_id = self.principal.tenant_id
        vacancy = await VacancyRepository(self.session).get(tenant_id, vacancy_external_id)
        if vacancy is None:
            raise NotFound(f"no vacancy '{vacancy_external_id}'")
        latest = await self.repo.list_for_vacancy(tenant_id, vacancy.id, 2)
        if not latest:
            raise NotFound(f"vacancy '{vacancy_external_id}' has no shortlist yet")
        ranked: list[list[tuple[int, str | None]]] = []
        shown: list[uuid.UUID | None] = []
        for snapshot in latest:
            items = await self.repo.items(tenant_id, snapshot.id)
            ranked.append([(item.rank, external_id) for item, external_id, _ in items])
            shown.extend(item.candidate_id for item, _, _ in items)
        newer, older = ranked[0], ranked[1] if len(ranked) > 1 else []
        objects = [
            audit.ref("vacancy", vacancy.id),
            *audit.refs("shortlist", (snapshot.id for snapshot in latest)),
            *audit.refs("candidate", shown),
        ]
        await audit.record(
            self.session,
            self.principal,
            audit.Act("shortlist.read", objects, detail={"changes": True}),
        )
        return {
            "vacancy_external_id": vacancy_external_id,
            "top": top,
            "newer": _summary(latest[0], vacancy_external_id),
            "older": _summary(latest[1], vacancy_external_id) if len(latest) > 1 else None,
            **compare(older, newer, top),
        }


def _summary(snapshot: Shortlist, vacancy_external_id: str | None) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "vacancy_external_id": vacancy_external_id,
        "created_at": snapshot.created_at,
        "ranker_version": snapshot.ranker_version,
        "feature_version": snapshot.feature_version,
        "embedding_model": snapshot.embedding_model,
        "considered": snapshot.considered,
        "excluded_by_gate": snapshot.excluded_by_gate,
        "origin": snapshot.origin,
        "job_id": snapshot.job_id,
    }


def _snapshot_view(
    snapshot: Shortlist, vacancy_external_id: str | None, items: list[dict[str, Any]]
) -> dict[str, Any]:
    view = _summary(snapshot, vacancy_external_id)
    view["params"] = {k: v for k, v in snapshot.params.items() if k != "weights"}
    view["items"] = items
    return view
