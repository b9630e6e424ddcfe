"""Which ranker serves a tenant: decided here, once, and handed to the ranking code.

Today every tenant is served by the weighted scorer with its own weights (defaults where it set
none; the matches direction has defaults of its own, app/ml/ranker.MATCH_WEIGHTS); a weight
change is a new ranker version. Learned rankers plug in here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.features import FEATURES
from app.ml.ranker import DEFAULT_WEIGHTS, MATCH_WEIGHTS, Ranker, WeightedRanker
from app.repositories.tenants import TenantRepository


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
    session: AsyncSession, tenant_id: uuid.UUID, direction: Direction = "shortlists"
) -> Ranker:
    """The ranker that serves the tenant now, in one direction: candidates for a vacancy
    (shortlists) or vacancies for a candidate (matches), each with its own default weights
    under the tenant's own."""
    tenant = await TenantRepository(session).get(tenant_id)
    custom = tenant_weights(tenant.settings if tenant else None)
    return WeightedRanker(custom, defaults=_DEFAULTS[direction])


def ranker_of_snapshot(ranker_version: str, params: Mapping[str, Any]) -> Ranker | None:
    """The ranker a stored snapshot was made with, rebuilt from what the snapshot keeps (None
    when it cannot be: an older version, or a ranker that is no longer held)."""
    weights = params.get("weights")
    if weights is None:
        return None
    ranker = WeightedRanker(weights)
    return ranker if ranker.version == ranker_version else None
