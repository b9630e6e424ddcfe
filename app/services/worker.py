"""The worker loop: claim a task, do it, commit it done — in one transaction.

A task's row lock (``FOR UPDATE SKIP LOCKED``, app/repositories/jobs.py) is taken in the
transaction that stores the task's snapshots and marks it done, so:
- two workers never hold one task (the second skips it), on one machine or several;
- a worker killed mid-task (SIGKILL, a lost machine) loses its connection; PostgreSQL rolls its
  snapshots back and frees the lock, and the next worker takes the task whole: nothing skipped,
  nothing doubled (and a unique index on (job_id, vacancy_id) of shortlists would refuse a
  second snapshot of one vacancy in one run);
- an exception rolls the task back and is recorded on the job; the task is tried again, up to
  ``MAX_ATTEMPTS`` times, then failed (the job ends ``failed``, its errors say why);
- every taking of a task is counted apart (``jobs.claims``, committed at once), so a task whose
  work kills its worker — nothing is recorded then — is given up on after ``MAX_CLAIMS``
  takings instead of taken for ever.
The job's own row is written only in short transactions beside the task's (started, an error,
the end), so workers of one job never wait on each other. Between tasks a worker sends the
webhook deliveries that are due (app/services/webhooks.py), claimed the same way, and, once
an hour, erases whoever a tenant's retention period has run out for (app/services/retention.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import get_settings
from app.ml.encoder import Encoder
from app.repositories.jobs import JobRepository
from app.services import retention, schedule, webhooks
from app.services.rerank import DEFAULT_LIMIT, BlockResult, rerank_block

log = logging.getLogger("ponte.worker")
MAX_ATTEMPTS = 3
# A task taken more often than this was neither finished nor failed each time but once or twice:
# its worker died doing it (an exception would have been counted as an attempt).
MAX_CLAIMS = MAX_ATTEMPTS + 2
IDLE_POLL_S = 2.0
# A standing worker erases, this often, whoever a tenant's retention period has run out for.
PURGE_EVERY_S = 3600.0


# Between two tasks, at most this many webhook deliveries: a slow receiver cannot hold up jobs.
DELIVERIES_PER_TASK = 20


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class TaskOutcome:
    job_id: uuid.UUID
    seq: int
    result: BlockResult | None  # None: it failed
    job_state: str | None  # the state the job ended in, if this task ended it


async def run_one(
    sessions: async_sessionmaker[AsyncSession],
    encoder: Encoder,
    job_id: uuid.UUID | None = None,
    name: str | None = None,
) -> TaskOutcome | None:
    """Claims and does one task (of ``job_id`` when given); None when no task is free."""
    name = name or worker_name()
    async with sessions() as session:
        transaction = await session.begin()
        repo = JobRepository(session)
        task = await repo.claim(job_id)
        if task is None:
            await transaction.rollback()
            # nothing free: end what has nothing left (a worker killed after its last commit
            # could not)
            async with sessions() as side, side.begin():
                await JobRepository(side).finish_if_complete(job_id)
            return None
        job, seq, tenant_id = task.job_id, task.seq, task.tenant_id
        async with sessions() as side, side.begin():
            side_repo = JobRepository(side)
            await side_repo.start(job)
            taken = await side_repo.count_claim(job, seq)
            found = await side_repo.get(None, job)
            limit = int(found.params.get("limit", DEFAULT_LIMIT)) if found else DEFAULT_LIMIT
        result: BlockResult | None
        if taken > MAX_CLAIMS:
            # taken this often, and never finished nor failed: its work kills the worker
            error = f"given up: taken {taken - 1} times, and each time the worker died doing it"
            await repo.task_failed(job, seq, error, name, max_attempts=0)
            await transaction.commit()
            log.error("task given up", extra={"job_id": str(job), "task": seq, "taken": taken})
            async with sessions() as side, side.begin():
                state = await JobRepository(side).finish_if_complete(job)
            return TaskOutcome(job, seq, None, state)
        try:
            result = await rerank_block(
                session, encoder, tenant_id, list(task.vacancy_ids), limit, job
            )
            await repo.task_done(task, result.reranked, result.skipped, name)
            await transaction.commit()
            log.info(
                "task done",
                extra={"job_id": str(job), "task": seq, "reranked": result.reranked},
            )
        except Exception as exc:  # any failure of a task is recorded, not raised
            await transaction.rollback()
            result = None
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("task failed", extra={"job_id": str(job), "task": seq, "error": error})
            async with sessions() as side, side.begin():
                await JobRepository(side).task_failed(job, seq, error, name, MAX_ATTEMPTS)
    async with sessions() as side, side.begin():
        state = await JobRepository(side).finish_if_complete(job)
    return TaskOutcome(job, seq, result, state)


async def run_until(
    sessions: async_sessionmaker[AsyncSession],
    encoder: Encoder,
    stop: asyncio.Event,
    *,
    job_id: uuid.UUID | None = None,
    until_idle: bool = False,
    on_task: Callable[[TaskOutcome], None] | None = None,
    poll_s: float = IDLE_POLL_S,
) -> int:
    """Does tasks until ``stop`` is set (the task in progress is finished first) or, with
    ``until_idle``, until none is free; sends the webhook deliveries that are due between
    tasks and (not ``until_idle``: a standing worker) queues the scheduled re-ranks that are
    due. Returns how many tasks it did."""
    done = 0
    name = worker_name()
    retry_base_s = get_settings().webhook_retry_base_s
    looked = -schedule.CHECK_EVERY_S
    purged = -PURGE_EVERY_S
    async with httpx.AsyncClient() as client:
        while not stop.is_set():
            if not until_idle and time.monotonic() - looked >= schedule.CHECK_EVERY_S:
                looked = time.monotonic()
                await _queue_scheduled(sessions)
            if not until_idle and time.monotonic() - purged >= PURGE_EVERY_S:
                purged = time.monotonic()
                await _purge(sessions)
            for _ in range(DELIVERIES_PER_TASK):
                if stop.is_set() or not await _deliver(sessions, client, retry_base_s):
                    break
            if stop.is_set():
                break
            outcome = await run_one(sessions, encoder, job_id, name)
            if outcome is not None:
                done += 1
                if on_task is not None:
                    on_task(outcome)
                continue
            if until_idle:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_s)
    return done


async def _deliver(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, retry_base_s: float
) -> bool:
    """One due delivery; a failure of the database or of this code is logged, not raised (the
    delivery stays due and is tried again later)."""
    try:
        return await webhooks.deliver_one(sessions, client, retry_base_s)
    except Exception as exc:  # a worker keeps running whatever one delivery does
        log.warning("webhook delivery failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        return False


async def _purge(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Erases whoever a retention period has run out for (app/services/retention.py)."""
    try:
        for report in await retention.purge_all(sessions):
            if report.erased:
                log.info("retention purge", extra=report.summary())
    except Exception as exc:  # the next hour tries again
        log.warning("retention purge failed", extra={"error": f"{type(exc).__name__}: {exc}"})


async def _queue_scheduled(sessions: async_sessionmaker[AsyncSession]) -> None:
    try:
        async with sessions() as session, session.begin():
            for job in await schedule.queue_due(session):
                log.info("scheduled re-rank queued", extra={"job_id": str(job.id)})
    except Exception as exc:  # the next look, CHECK_EVERY_S later, tries again
        log.warning("scheduling failed", extra={"error": f"{type(exc).__name__}: {exc}"})
