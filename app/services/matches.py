"""Matches: the tenant's open vacancies ranked for a candidate, explained (not stored)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Vacancy
from app.ml.encoder import Encoder
from app.ml.features import FEATURE_VERSION
from app.repositories.vectors import VectorRepository
from app.schemas import Principal
from app.services import audit
from app.services.explanations import public_explanation
from app.services.rankers import ranker_for
from app.services.ranking import RankingService, enabled_gates


async def matches_for_candidate(
    session: AsyncSession,
    principal: Principal,
    encoder: Encoder,
    candidate_external_id: str,
    limit: int,
    gate_switches: dict[str, bool] | None,
) -> dict[str, Any]:
    """Ranks the tenant's open vacancies for a candidate."""
    gates = enabled_gates(gate_switches)
    ranking = RankingService(session, principal, encoder)
    candidate = await ranking.candidate(candidate_external_id)
    # Vacancies are embedded when written; this catches rows left stale by a model change.
    stale = await VectorRepository(session).stale_in_tenant(
        Vacancy, principal.tenant_id, encoder.model_id
    )
    await ranking.vectors.refresh_vacancies(stale)
    ranker = await ranker_for(session, principal.tenant_id, "matches", model_id=None)
    ranked, excluded, total = await ranking.rank_vacancies(candidate, limit, ranker, gates)
    items = [
        {
            "rank": rank,
            "vacancy_external_id": item["vacancy_external_id"],
            "score": item["score"],
            # nothing is stored: no refs to make (they are only checked against later reads)
            "explanation": public_explanation(
                item["explanation"],
                item["candidate_labels"],
                item["features"],
                ranked_labels=True,
            ),
        }
        for rank, item in enumerate(ranked, start=1)
    ]
    await audit.record(
        session,
        principal,
        audit.Act(
            "matches.read",
            [
                audit.ref("candidate", candidate.id),
                *audit.refs("vacancy", (item["vacancy_id"] for item in ranked)),
            ],
            ranker_version=ranker.version,
            model_version=encoder.model_id,
            detail={"limit": limit, "items": len(items)},
        ),
    )
    return {
        "candidate_external_id": candidate_external_id,
        "ranker_version": ranker.version,
        "feature_version": FEATURE_VERSION,
        "embedding_model": encoder.model_id,
        "considered": total,
        "excluded_by_gate": excluded,
        "items": items,
    }
