"""A tenant's own settings: the weighted scorer's weights, whether it matches through the ESCO
taxonomy, the monthly support cost that the
outcome report's savings estimate uses, the schedule of its batch re-ranks, and the webhook
that hears of changed shortlists (its secret is write-only), and how long an inactive
candidate is kept (``retention_days``, app/services/retention.py). Every change is an entry of
the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound, ValidationFailed
from app.ml.ranker import DEFAULT_WEIGHTS, MATCH_WEIGHTS, WeightedRanker
from app.repositories.tenants import TenantRepository
from app.schemas import Principal
from app.schemas.matching import TenantSettingsPatch
from app.services import audit, schedule, webhooks
from app.services.rankers import tenant_weights
from app.services.taxonomy_model import SETTING as TAXONOMY

RETENTION = "retention_days"
# A shorter period is more likely a slip than a policy: every inactive person would go.
MIN_RETENTION_DAYS = 30


async def read_settings(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """Returns the effective weights and the defaults they override."""
    tenant = await TenantRepository(session).get(principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    custom = tenant_weights(tenant.settings)
    weights = {**DEFAULT_WEIGHTS, **custom}
    return {
        "weights": weights,
        "default_weights": DEFAULT_WEIGHTS,
        # What shortlists are stamped with from now on: a weight change is a new version.
        "ranker_version": WeightedRanker(weights).version,
        "matches_ranker_version": WeightedRanker(custom, defaults=MATCH_WEIGHTS).version,
        # On unless switched off; it takes effect where a taxonomy is imported.
        "taxonomy": (tenant.settings or {}).get(TAXONOMY) is not False,
        "monthly_support_cost_eur": (tenant.settings or {}).get("monthly_support_cost_eur"),
        "rerank_schedule": (tenant.settings or {}).get("rerank_schedule"),
        "webhook_url": (tenant.settings or {}).get("webhook_url"),
        "webhook_secret_set": bool((tenant.settings or {}).get("webhook_secret")),
        "retention_days": (tenant.settings or {}).get(RETENTION),
    }


async def update_settings(
    session: AsyncSession, principal: Principal, patch: TenantSettingsPatch
) -> dict[str, Any]:
    """Merges new weights into the tenant's settings; at least one weight must stay positive."""
    repo = TenantRepository(session)
    tenant = await repo.get(principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    settings = dict(tenant.settings or {})
    if patch.weights is not None:
        weights = {**settings.get("weights", {}), **patch.weights.model_dump(exclude_none=True)}
        if not any(v > 0 for v in {**DEFAULT_WEIGHTS, **weights}.values()):
            raise ValidationFailed.of_field("weights", "at least one weight must be positive")
        settings["weights"] = weights
    if patch.taxonomy is not None:
        settings[TAXONOMY] = patch.taxonomy
    if patch.monthly_support_cost_eur is not None:
        settings["monthly_support_cost_eur"] = patch.monthly_support_cost_eur or None
    if patch.rerank_schedule is not None:
        expression = patch.rerank_schedule.strip()
        if expression and expression != settings.get(schedule.SETTING):
            settings[schedule.SETTING] = schedule.validate(expression)
            settings[schedule.SINCE] = dt.datetime.now(dt.UTC).isoformat()
        elif not expression:
            settings.pop(schedule.SETTING, None)
            settings.pop(schedule.SINCE, None)
    if patch.webhook_url is not None:
        url = str(patch.webhook_url)
        refused = await webhooks.refusal(url) if url else None
        if refused is not None:
            raise ValidationFailed.of_field("webhook_url", refused)
        settings["webhook_url"] = url or None
    if patch.retention_days is not None:
        if 0 < patch.retention_days < MIN_RETENTION_DAYS:
            raise ValidationFailed.of_field(
                RETENTION, f"keep people at least {MIN_RETENTION_DAYS} days (0: keep them)"
            )
        settings[RETENTION] = patch.retention_days or None
    if patch.webhook_secret is not None:
        settings["webhook_secret"] = patch.webhook_secret
    if settings.get("webhook_url") and not settings.get("webhook_secret"):
        raise ValidationFailed.of_field(
            "webhook_secret", "a webhook needs a secret to sign its payloads with"
        )
    await repo.set_settings(tenant, settings)
    shown = await read_settings(session, principal)
    # which settings were sent, not their values (one is a secret)
    changed = sorted(patch.model_dump(exclude_none=True))
    # a weight change is a new version of the default scorer: the entry names it
    ranker = shown["ranker_version"] if patch.weights is not None else None
    act = audit.Act("settings.update", ranker_version=ranker, detail={"changed": changed})
    await audit.record(session, principal, act)
    return shown
