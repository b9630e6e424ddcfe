"""Nightly (or any cron) re-ranks per tenant: ``rerank_schedule`` in its settings, off by default.

The schedule is a five-field cron expression in UTC, parsed with cronsim. Workers look every
``CHECK_EVERY_S`` (app/services/worker.py): a tenant whose latest fire time since its last
scheduled run (or since the schedule was set) has passed gets one re-rank queued, stamped with
that fire time. Fires missed while no worker ran are not made up one by one: the latest one is.
A transaction-level advisory lock per tenant, and the stamp checked under it, keep two workers
from queueing the same fire twice.
"""

from __future__ import annotations

import datetime as dt
import zlib

from cronsim import CronSim, CronSimError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.job_tables import Job
from app.errors import ValidationFailed
from app.repositories.jobs import JobRepository
from app.services.jobs import queue_rerank

CHECK_EVERY_S = 30.0
SETTING = "rerank_schedule"
SINCE = "rerank_schedule_since"  # when the schedule was set: fires before it are not owed
_LOCK_SPACE = 0x504F4E54  # "PONT": the advisory locks of this module, apart from any other


def validate(expression: str) -> str:
    """The expression as stored; a 422 naming the field when cron cannot read it (five fields:
    cronsim would also take a sixth, of seconds)."""
    if len(expression.split()) != 5:
        raise ValidationFailed.of_field(
            SETTING, "a cron expression has five fields: minute hour day month weekday"
        )
    try:
        CronSim(expression, dt.datetime.now(dt.UTC))
    except CronSimError as exc:
        raise ValidationFailed.of_field(SETTING, f"not a cron expression: {exc}") from exc
    return expression


def latest_fire(expression: str, after: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The last fire time in (after, now], or None."""
    found = None
    for fire in CronSim(expression, after):
        if fire > now:
            break
        found = fire
    return found


async def queue_due(session: AsyncSession, now: dt.datetime | None = None) -> list[Job]:
    """Queues the re-ranks whose time has come, one per tenant at most; returns them."""
    now = now or dt.datetime.now(dt.UTC)
    repo = JobRepository(session)
    queued = []
    for tenant in await repo.scheduled_tenants(SETTING):
        settings = tenant.settings or {}
        expression = settings.get(SETTING)
        if not expression:
            continue
        if not await repo.try_lock(_LOCK_SPACE, zlib.crc32(tenant.id.bytes) - (1 << 31)):
            continue  # another worker is deciding for this tenant right now
        since = settings.get(SINCE)
        owed_from = dt.datetime.fromisoformat(since) if since else tenant.created_at
        stamp = await repo.last_scheduled(tenant.id)
        last = dt.datetime.fromisoformat(stamp) if stamp else None
        start = max(last, owed_from) if last is not None else owed_from
        try:
            fire = latest_fire(expression, start, now)
        except CronSimError:
            continue  # stored before validation existed: nothing to fire
        if fire is None:
            continue
        queued.append(
            await queue_rerank(
                session,
                tenant.id,
                "schedule",
                created_by="schedule",
                extra={"scheduled_for": fire.isoformat()},
            )
        )
    return queued
