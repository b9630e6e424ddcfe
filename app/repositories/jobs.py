"""Jobs and their tasks: queueing, claiming (``FOR UPDATE SKIP LOCKED``), progress, the end.

A task is claimed inside the transaction that does its work; nothing here writes the job's row
from that transaction, so workers of one job never wait on each other: the job's row is
written in short transactions of their own (start, failures, the end).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.job_tables import Job, JobTask
from app.db.tables import Tenant, Vacancy

# Claims the first queued task of an unfinished job (of one job, when named), skipping the tasks
# other workers hold; the lock is held until the claiming transaction ends.
_CLAIM = text(
    "SELECT t.job_id, t.seq FROM job_tasks t JOIN jobs j ON j.id = t.job_id "
    "WHERE t.state = 'queued' AND j.state IN ('queued', 'running') "
    "AND (CAST(:job_id AS uuid) IS NULL OR t.job_id = CAST(:job_id AS uuid)) "
    "ORDER BY j.created_at, t.job_id, t.seq "
    "FOR UPDATE OF t SKIP LOCKED LIMIT 1"
)


@dataclass(frozen=True)
class Progress:
    done: int = 0
    failed: int = 0
    vacancies: int = 0
    skipped: int = 0


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_vacancies(
        self, tenant_id: uuid.UUID, external_ids: Sequence[str] | None
    ) -> tuple[list[uuid.UUID], list[str]]:
        """The tenant's open vacancies (of ``external_ids`` when given), oldest first, and the
        external ids asked for that the tenant has no vacancy of."""
        stmt = select(Vacancy.id, Vacancy.external_id, Vacancy.status).where(
            Vacancy.tenant_id == tenant_id
        )
        if external_ids is not None:
            stmt = stmt.where(Vacancy.external_id.in_(list(external_ids)))
        rows = (await self.session.execute(stmt.order_by(Vacancy.created_at, Vacancy.id))).all()
        found = {row.external_id for row in rows}
        unknown = sorted(set(external_ids or ()) - found)
        return [row.id for row in rows if row.status == "open"], unknown

    async def still_open(
        self, tenant_id: uuid.UUID, vacancy_ids: Sequence[uuid.UUID]
    ) -> list[tuple[uuid.UUID, str]]:
        """(id, external id) of those of ``vacancy_ids`` still open, oldest first."""
        rows = await self.session.execute(
            select(Vacancy.id, Vacancy.external_id)
            .where(
                Vacancy.tenant_id == tenant_id,
                Vacancy.id.in_(list(vacancy_ids)),
                Vacancy.status == "open",
            )
            .order_by(Vacancy.created_at, Vacancy.id)
        )
        return [(row[0], row[1]) for row in rows]

    async def create(
        self,
        tenant_id: uuid.UUID,
        kind: str,
        trigger: str,
        params: dict[str, Any],
        blocks: Sequence[Sequence[uuid.UUID]],
        created_by: str | None,
    ) -> Job:
        job = Job(
            tenant_id=tenant_id,
            kind=kind,
            trigger=trigger,
            params=params,
            total=len(blocks),
            created_by=created_by,
            state="queued" if blocks else "done",
        )
        self.session.add(job)
        await self.session.flush()
        if not blocks:  # nothing open: done at once
            job.started_at = job.finished_at = await self.session.scalar(select(func.now()))
        self.session.add_all(
            JobTask(job_id=job.id, seq=seq, tenant_id=tenant_id, vacancy_ids=list(block))
            for seq, block in enumerate(blocks)
        )
        await self.session.flush()
        await self.session.refresh(job)
        return job

    async def waiting_rerank(self, tenant_id: uuid.UUID, limit: int, block: int) -> Job | None:
        """The tenant's newest whole-tenant re-rank with these parameters that no worker has
        started, locked (``FOR NO KEY UPDATE``): a worker's start (a short transaction of its
        own, before the task's work) waits for this transaction, so whatever it commits is what
        the job ranks. If that job starts while this waits for its lock, none is returned (an
        older waiting one is not looked for): a new job is queued, which costs a run, not a
        ranking."""
        stmt = (
            select(Job)
            .where(
                Job.tenant_id == tenant_id,
                Job.kind == "rerank",
                Job.state == "queued",
                Job.params["asked"].is_(None),
                Job.params["limit"].as_integer() == limit,
                Job.params["block"].as_integer() == block,
            )
            .order_by(Job.created_at.desc(), Job.id)
            .limit(1)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(stmt)

    async def extend(
        self,
        job: Job,
        vacancy_ids: Sequence[uuid.UUID],
        block: int,
        coalesced: dict[str, Any],
    ) -> Job:
        """Adds to a waiting job the vacancies of ``vacancy_ids`` its tasks lack (as new
        tasks) and notes what was coalesced into it."""
        held = set(
            await self.session.scalars(
                select(func.unnest(JobTask.vacancy_ids)).where(JobTask.job_id == job.id)
            )
        )
        new = [i for i in vacancy_ids if i not in held]
        blocks = [new[start : start + block] for start in range(0, len(new), block)]
        self.session.add_all(
            JobTask(job_id=job.id, seq=job.total + n, tenant_id=job.tenant_id, vacancy_ids=b)
            for n, b in enumerate(blocks)
        )
        job.total += len(blocks)
        job.params = {
            **job.params,
            "vacancies": int(job.params.get("vacancies", 0)) + len(new),
            "coalesced": [*job.params.get("coalesced", []), coalesced],
        }
        await self.session.flush()
        await self.session.refresh(job)
        return job

    async def get(self, tenant_id: uuid.UUID | None, job_id: uuid.UUID) -> Job | None:
        stmt = select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
        if tenant_id is not None:
            stmt = stmt.where(Job.tenant_id == tenant_id)
        return await self.session.scalar(stmt)

    async def list(self, tenant_id: uuid.UUID, limit: int) -> Sequence[Job]:
        stmt = (
            select(Job)
            .where(Job.tenant_id == tenant_id)
            .order_by(Job.created_at.desc(), Job.id)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    async def progress(self, job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Progress]:
        """Per job: tasks done and failed, vacancies re-ranked and skipped so far."""
        if not job_ids:
            return {}
        stmt = (
            select(
                JobTask.job_id,
                func.count().filter(JobTask.state == "done"),
                func.count().filter(JobTask.state == "failed"),
                func.coalesce(func.sum(JobTask.vacancies), 0),
                func.coalesce(func.sum(JobTask.skipped), 0),
            )
            .where(JobTask.job_id.in_(list(job_ids)))
            .group_by(JobTask.job_id)
        )
        return {
            row[0]: Progress(int(row[1]), int(row[2]), int(row[3]), int(row[4]))
            for row in await self.session.execute(stmt)
        }

    # -- schedules ----------------------------------------------------------------------------

    async def scheduled_tenants(self, setting: str) -> Sequence[Tenant]:
        """The tenants whose settings name a schedule under ``setting``."""
        rows = await self.session.scalars(
            select(Tenant).where(Tenant.settings[setting].astext != "")
        )
        return rows.all()

    async def last_scheduled(self, tenant_id: uuid.UUID) -> str | None:
        """The latest fire time (ISO, UTC) a scheduled job of the tenant was queued for."""
        stamp: str | None = await self.session.scalar(
            select(func.max(Job.params["scheduled_for"].astext)).where(
                Job.tenant_id == tenant_id, Job.trigger == "schedule"
            )
        )
        return stamp

    async def try_lock(self, space: int, key: int) -> bool:
        """A transaction-level advisory lock, or False at once if another holds it."""
        got = await self.session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:space, :key)"), {"space": space, "key": key}
        )
        return bool(got)

    # -- the worker's side ---------------------------------------------------------------------

    async def claim(self, job_id: uuid.UUID | None) -> JobTask | None:
        """Locks and returns the next queued task nobody holds (None: none is free)."""
        row = (await self.session.execute(_CLAIM, {"job_id": job_id})).first()
        if row is None:
            return None
        return await self.session.get(JobTask, (row.job_id, row.seq), populate_existing=True)

    async def start(self, job_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "queued")
            .values(state="running", started_at=func.now())
        )

    async def count_claim(self, job_id: uuid.UUID, seq: int) -> int:
        """Counts a worker's taking of the task; returns how many times it has been taken."""
        taken = await self.session.scalar(
            text(
                "UPDATE jobs SET claims = jsonb_set(claims, ARRAY[CAST(:seq AS text)], "
                "to_jsonb(coalesce(CAST(claims ->> CAST(:seq AS text) AS integer), 0) + 1)) "
                "WHERE id = :id RETURNING CAST(claims ->> CAST(:seq AS text) AS integer)"
            ),
            {"seq": str(seq), "id": job_id},
        )
        return int(taken or 0)

    async def task_done(self, task: JobTask, vacancies: int, skipped: int, worker: str) -> None:
        task.state = "done"
        task.vacancies = vacancies
        task.skipped = skipped
        task.worker = worker
        task.finished_at = func.now()
        await self.session.flush()

    async def task_failed(
        self, job_id: uuid.UUID, seq: int, error: str, worker: str, max_attempts: int
    ) -> bool:
        """Counts a failed attempt, and records its error on the job; the task is queued again
        until it has failed ``max_attempts`` times. True when it is given up on."""
        task = await self.session.get(JobTask, (job_id, seq), with_for_update=True)
        if task is None or task.state != "queued":
            return False
        task.attempts += 1
        task.error = error
        task.worker = worker
        given_up = task.attempts >= max_attempts
        if given_up:
            task.state = "failed"
            task.finished_at = func.now()
        entry = {"task": seq, "attempt": task.attempts, "error": error, "worker": worker}
        await self.session.flush()
        await self.session.execute(
            text(
                "UPDATE jobs SET errors = errors || jsonb_build_array("
                "CAST(:entry AS jsonb) || jsonb_build_object('at', now())) WHERE id = :id"
            ),
            {"entry": json.dumps(entry), "id": job_id},
        )
        return given_up

    async def finish_if_complete(self, job_id: uuid.UUID | None) -> str | None:
        """Ends the job (every unfinished job, for None) once no task of it is queued: done, or
        failed if a task was given up on. Returns the state the named job ended in (None: not
        ended, or ended before). Any worker may end any job: one killed between committing
        its task and ending the job leaves the job to the next worker that finds nothing to do.
        """
        stmt = text(
            "UPDATE jobs j SET finished_at = now(), state = CASE WHEN EXISTS (SELECT FROM "
            "job_tasks t WHERE t.job_id = j.id AND t.state = 'failed') THEN 'failed' "
            "ELSE 'done' END WHERE j.state IN ('queued', 'running') "
            "AND (CAST(:id AS uuid) IS NULL OR j.id = CAST(:id AS uuid)) "
            "AND NOT EXISTS (SELECT FROM job_tasks t WHERE t.job_id = j.id "
            "AND t.state = 'queued') RETURNING j.state"
        )
        states = (await self.session.scalars(stmt, {"id": job_id})).all()
        return states[0] if job_id is not None and states else None

    async def cancel(self, job_id: uuid.UUID) -> None:
        """Cancels a job not yet ended (one that ended meanwhile stays as it ended): tasks in
        progress finish, no other one starts."""
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_(("queued", "running")))
            .values(state="cancelled", finished_at=func.now())
        )
