"""The tenant's learned rankers as the API shows them, and switching between them: activate a
version, or roll back to whatever served before the current one (possibly the default
scorer). Every switch is a row of ``ranker_activations``, taken under the tenant's row lock,
and queues a re-rank of the tenant's open vacancies (app/services/jobs.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.ranker_tables import RankerModel
from app.errors import Conflict, NotFound
from app.repositories.rankers import RankerRepository
from app.repositories.tenants import TenantRepository
from app.schemas import Principal
from app.services import audit, model_registry
from app.services.jobs import queue_rerank
from app.services.rankers import ranker_for


def represent(model: RankerModel, active: str | None) -> dict[str, Any]:
    return {
        "version": model.version,
        "family": model.family,
        "sha256": model.sha256,
        "feature_version": model.feature_version,
        "embedding_model": model.embedding_model,
        "features": model.features,
        "libraries": model.libraries,
        "trained_from": model.trained_from,
        "trained_to": model.trained_to,
        "examples": model.examples,
        "positives": model.positives,
        "shortlists": model.shortlists,
        "holdout": model.holdout,
        "scoring": model.scoring,
        "parent_version": model.parent_version,
        "trained_by": model.trained_by,
        "created_at": model.created_at,
        "activated_at": model.activated_at,
        "activated_by": model.activated_by,
        "active": model.version == active,
    }


class RankerModelService:
    def __init__(
        self, session: AsyncSession, principal: Principal, model_id: str | None = None
    ) -> None:
        self.session = session
        self.principal = principal
        self.repo = RankerRepository(session)
        self.model_id = model_id  # the service's embedding model (what "serving" is judged by)

    async def _active(self) -> str | None:
        tenant = await TenantRepository(self.session).get(self.principal.tenant_id)
        return tenant.active_ranker if tenant else None

    async def list(self) -> dict[str, Any]:
        serving = await ranker_for(self.session, self.principal.tenant_id, model_id=self.model_id)
        active = await self._active()
        models = await self.repo.list(self.principal.tenant_id)
        return {
            "active": active,
            "serving": serving.version,
            "items": [represent(m, active) for m in models],
        }

    async def get(self, version: str) -> dict[str, Any]:
        model = await self.repo.get(self.principal.tenant_id, version)
        if model is None:
            raise NotFound(f"no model '{version}'")
        return represent(model, await self._active())

    async def activate(self, version: str) -> dict[str, Any]:
        """Serves ``version`` from the next request on; refused (409) if it cannot be loaded."""
        tenant_id = self.principal.tenant_id
        tenant = await self.repo.lock_tenant(tenant_id)
        assert tenant is not None
        model = await self.repo.get(tenant_id, version)
        if model is None:
            raise NotFound(f"no model '{version}'")
        try:
            await model_registry.load(self.session, tenant_id, version, self.model_id)
        except model_registry.ArtefactError as exc:
            raise Conflict(f"model '{version}' cannot be served: {exc}") from exc
        job = None
        if tenant.active_ranker != version:
            await self.repo.activate(
                tenant, version, tenant.active_ranker, "activate", self.principal.key_id
            )
            job = await self._queue_rerank("activate")
        shown = await self.get(version) | {"rerank_job_id": job}
        act = audit.Act(
            "model.activate",
            [audit.ref("model", version)],
            ranker_version=version,
            detail={"changed": job is not None},
        )
        await audit.record(self.session, self.principal, act)
        return shown

    async def rollback(self) -> dict[str, Any]:
        """Back to the ranker that served before the current one (None: the default)."""
        tenant_id = self.principal.tenant_id
        tenant = await self.repo.lock_tenant(tenant_id)
        assert tenant is not None
        current = await self.repo.latest_activation(tenant_id)
        if current is None:
            raise Conflict("nothing to roll back: the default scorer has always served")
        target = current.previous
        if target == current.version:
            raise Conflict("nothing to roll back to: nothing else served before")
        # Where the target came from, so a second rollback keeps walking back.
        origin = await self.repo.activation_of(tenant_id, target, current.id)
        before = origin.previous if origin is not None else None
        await self.repo.activate(tenant, target, before, "rollback", self.principal.key_id)
        serving = await ranker_for(self.session, tenant_id, model_id=self.model_id)
        answer = {
            "active": target,
            "serving": serving.version,
            "rolled_back": current.version,
            "rerank_job_id": await self._queue_rerank("rollback"),
        }
        act = audit.Act(
            "model.rollback",
            audit.refs("model", [current.version, target]),
            ranker_version=serving.version,
            detail={"from": current.version, "to": target},
        )
        await audit.record(self.session, self.principal, act)
        return answer

    async def _queue_rerank(self, trigger: str) -> uuid.UUID:
        """The open vacancies' shortlists are re-ranked with the ranker now serving (issue
        14): queued in this transaction, so the job exists exactly when the switch does."""
        job = await queue_rerank(
            self.session, self.principal.tenant_id, trigger, created_by=self.principal.key_id
        )
        return job.id
