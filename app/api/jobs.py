"""Batch jobs: the tenant's runs and their progress, queueing a re-rank, cancelling (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from app.deps import SessionDep, require
from app.schemas import Principal, Strict
from app.services import jobs as job_service
from app.services.authz import Permission
from app.services.rerank import DEFAULT_BLOCK, DEFAULT_LIMIT

router = APIRouter(tags=["jobs"])
Reader = Annotated[Principal, require(Permission.jobs_read)]
Manager = Annotated[Principal, require(Permission.jobs_manage)]


class RerankRequest(Strict):
    vacancies: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None,
        max_length=10000,
        description="External ids of the vacancies to re-rank (default: every open one)",
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=200, description="Shortlist length")
    block: int = Field(default=DEFAULT_BLOCK, ge=1, le=1000, description="Vacancies per task")


@router.get("/v1/jobs", summary="The tenant's jobs, newest first, with their progress")
async def list_jobs(
    session: SessionDep, principal: Reader, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Any:
    return {"items": await job_service.list_jobs(session, principal.tenant_id, limit)}


@router.get("/v1/jobs/{job_id}", summary="One job: state, tasks done and failed, errors")
async def get_job(job_id: uuid.UUID, session: SessionDep, principal: Reader) -> Any:
    return await job_service.get_job(session, principal.tenant_id, job_id)


@router.post(
    "/v1/jobs/rerank",
    status_code=202,
    summary="Queue a re-rank of the tenant's open vacancies (run by `ponte worker`)",
)
async def queue_rerank(body: RerankRequest, session: SessionDep, principal: Manager) -> Any:
    job = await job_service.queue_rerank(
        session,
        principal.tenant_id,
        "api",
        limit=body.limit,
        vacancies=body.vacancies,
        block=body.block,
        created_by=principal.key_id,
    )
    return await job_service.get_job(session, principal.tenant_id, job.id)


@router.post("/v1/jobs/{job_id}/cancel", summary="Start no more of the job's tasks")
async def cancel_job(job_id: uuid.UUID, session: SessionDep, principal: Manager) -> Any:
    return await job_service.cancel_job(session, principal.tenant_id, job_id)
