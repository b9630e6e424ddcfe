"""Which ranker serves a tenant: decided here, once, and handed to the ranking code.

A tenant's shortlists are ranked by its active learned ranker (``tenants.active_ranker``,
app/services/model_registry.py) when it has one that loads; otherwise, and always for the
matches direction (learned rankers are trained on shortlist feedback, vacancy → candidates), by
the weighted scorer with the tenant's own weights (defaults where it set none; the matches
direction has defaults of its own, app/ml/ranker.MATCH_WEIGHTS); a weight change is a new
ranker version.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.features import FEATURES
from app.ml.ranker import DEFAULT_WEIGHTS, MATCH_WEIGHTS, Ranker, WeightedRanker
from app.repositories.tenants import TenantRepository
from app.services import model_registry


def tenant_weights(settings: Mapping[str, Any] | None) -> dict[str, float]:
    """The weights a tenant set for itself (unknown names ignored)."""
    custom = (settings or {}).get("weights", {})
    return {k: float(v) for k, v in custom.items() if k in FEATURES}


Direction = Literal["shortlists", "matches"]
_DEFAULTS: dict[Direction, dict[str, float]] = {
    "shortlists": DEFAULT_WEIGHTS,
    "matches": MATCH_WEIGHTS,
}


async def ranker_for(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    direction: Direction = "shortlists",
    *,
    model_id: str | None,
) -> Ranker:
    """The ranker that serves the tenant now, in one direction: candidates for a vacancy
    (shortlists) or vacancies for a candidate (matches), each with its own default weights
    under the tenant's own. ``model_id``: the embedding model the features are computed with
    (required: a learned ranker trained on another model's is not served, the default is;
    None only where no learned ranker can serve, as for matches)."""
    tenant = await TenantRepository(session).get(tenant_id)
    if tenant is not None and direction == "shortlists":
        if tenant.active_ranker is None:
            model_registry.forget_failure(tenant_id)
        else:
            learned = await model_registry.serving(
                session, tenant_id, tenant.active_ranker, model_id
            )
            if learned is not None:
                return learned
    return default_ranker(tenant.settings if tenant else None, direction)


def default_ranker(
    settings: Mapping[str, Any] | None, direction: Direction = "shortlists"
) -> WeightedRanker:
    """The weighted scorer with the tenant's own weights over the direction's defaults."""
    return WeightedRanker(tenant_weights(settings), defaults=_DEFAULTS[direction])


def ranker_of_snapshot(ranker_version: str, params: Mapping[str, Any]) -> Ranker | None:
    """The weighted ranker a stored snapshot was made with, rebuilt from what the snapshot
    keeps (None when it cannot be: an older version, or a learned ranker, which the registry
    holds by version)."""
    weights = params.get("weights")
    if weights is None:
        return None
    ranker = WeightedRanker(weights)
    return ranker if ranker.version == ranker_version else None
