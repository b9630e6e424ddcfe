"""Batch jobs: queue a tenant's re-rank, and show jobs as the API and the CLI report them.

A ``rerank`` job names the tenant's open vacancies when it is queued, split into tasks of
``block`` vacancies (app/db/job_tables.py); workers run them (app/services/worker.py). It is
queued in the caller's transaction: a job asked for by an activation exists if and only if the
activation committed.

Automatic triggers coalesce: an activation, rollback or re-embedding that finds the tenant's
whole-tenant re-rank still waiting (queued, no worker has started it) joins that job instead
of queueing another — the job will rank with what the trigger committed — and the job gains
tasks for vacancies opened since; the job's ``params.coalesced`` lists who joined. Requests by a
person (the API, the CLI) and schedules (which find their last fire time in their own jobs)
always queue a job of their own, which later automatic triggers may join while it waits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.job_tables import Job
from app.errors import NotFound
from app.repositories.jobs import JobRepository, Progress
from app.services import webhooks
from app.services.rerank import DEFAULT_BLOCK, DEFAULT_LIMIT

COALESCING_TRIGGERS = frozenset({"activate", "rollback", "reembed"})


async def queue_rerank(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    trigger: str,
    *,
    limit: int = DEFAULT_LIMIT,
    vacancies: Sequence[str] | None = None,
    block: int = DEFAULT_BLOCK,
    created_by: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Job:
    """Queues a re-rank of the tenant's open vacancies (of ``vacancies`` when named: a name
    the tenant has no vacancy of is an error; a closed or filled one is skipped), or joins a
    waiting one (see the module docstring)."""
    repo = JobRepository(session)
    ids, unknown = await repo.open_vacancies(tenant_id, vacancies)
    if unknown:
        raise NotFound(f"no vacancy {', '.join(repr(u) for u in unknown)}")
    if vacancies is None and trigger in COALESCING_TRIGGERS:
        waiting = await repo.waiting_rerank(tenant_id, limit, block)
        if waiting is not None:
            at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            note = {"trigger": trigger, "created_by": created_by, "at": at, **(extra or {})}
            return await repo.extend(waiting, ids, block, note)
    blocks = [ids[start : start + block] for start in range(0, len(ids), block)]
    params: dict[str, Any] = {"limit": limit, "block": block, "vacancies": len(ids)}
    if vacancies is not None:
        params["asked"] = list(vacancies)
    params |= extra or {}
    return await repo.create(tenant_id, "rerank", trigger, params, blocks, created_by)


def job_view(job: Job, progress: Progress) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "trigger": job.trigger,
        "params": job.params,
        "total": job.total,
        "done": progress.done,
        "failed": progress.failed,
        "vacancies": progress.vacancies,
        "skipped": progress.skipped,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "errors": job.errors,
    }


async def get_job(
    session: AsyncSession, tenant_id: uuid.UUID | None, job_id: uuid.UUID
) -> dict[str, Any]:
    repo = JobRepository(session)
    job = await repo.get(tenant_id, job_id)
    if job is None:
        raise NotFound(f"no job '{job_id}'")
    progress = await repo.progress([job.id])
    view = job_view(job, progress.get(job.id, Progress()))
    return view | await webhooks.deliveries_view(session, job.tenant_id, job.id)


async def list_jobs(
    session: AsyncSession, tenant_id: uuid.UUID, limit: int
) -> list[dict[str, Any]]:
    repo = JobRepository(session)
    jobs = await repo.list(tenant_id, limit)
    progress = await repo.progress([job.id for job in jobs])
    return [job_view(job, progress.get(job.id, Progress())) for job in jobs]


async def cancel_job(
    session: AsyncSession, tenant_id: uuid.UUID, job_id: uuid.UUID
) -> dict[str, Any]:
    repo = JobRepository(session)
    job = await repo.get(tenant_id, job_id)
    if job is None:
        raise NotFound(f"no job '{job_id}'")
    await repo.cancel(job.id)
    return await get_job(session, tenant_id, job_id)
