"""``ponte rerank`` and ``ponte worker``: batch re-ranking from the command line.

Both connect as the service's own role, not the owner: they run for long and POST to URLs the
tenants chose. ``rerank`` queues a job per tenant (or continues one, ``--resume``) and works
on it until no task of it is free; any ``ponte worker`` running against the same database
helps. ``worker``
runs queued jobs' tasks until SIGTERM or SIGINT, finishing the task in progress first.
Progress: a bar on a terminal, a log line per task otherwise; each job's final state is printed
as one JSON line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from typing import Annotated, Any

import typer
from rich.progress import MofNCompleteColumn, Progress
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import cli_support
from app.db.engine import create_engine, resolve_database, session_factory
from app.errors import AppError
from app.ml.encoder import Encoder
from app.services import jobs as job_service
from app.services import keys as key_service
from app.services import model_registry
from app.services.rerank import DEFAULT_BLOCK, DEFAULT_LIMIT
from app.services.worker import TaskOutcome, run_until, worker_name


def _stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop``: the task in progress is finished, no other started.
    (Only a main thread can take signals; a command run from another one — tests — cannot.)"""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (RuntimeError, ValueError):
            return


async def _queue(
    sessions: async_sessionmaker[AsyncSession],
    tenant: str | None,
    vacancies: list[str] | None,
    limit: int,
    block: int,
) -> list[dict[str, Any]]:
    async with sessions() as session, session.begin():
        if tenant is not None:
            tenants = [await key_service.get_tenant(session, tenant)]
        else:
            tenants = list(await key_service.list_tenants(session))
        queued = []
        for found in tenants:
            job = await job_service.queue_rerank(
                session,
                found.id,
                "cli",
                limit=limit,
                vacancies=vacancies,
                block=block,
                created_by="cli",
            )
            queued.append({"id": job.id, "tenant": found.name, "total": job.total})
        return queued


async def _work_on(
    sessions: async_sessionmaker[AsyncSession],
    encoder: Encoder,
    jobs: list[dict[str, Any]],
    stop: asyncio.Event,
) -> list[dict[str, Any]]:
    finished = []
    for job in jobs:
        async with sessions() as session:
            view = await job_service.get_job(session, None, job["id"])
        label = f"{job.get('tenant', '')} {job['id']}".strip()
        with Progress(
            *Progress.get_default_columns(), MofNCompleteColumn(), disable=not sys.stderr.isatty()
        ) as bar:
            shown = bar.add_task(f"rerank {label}", total=view["total"], completed=view["done"])

            def advance(outcome: TaskOutcome, shown: Any = shown, bar: Progress = bar) -> None:
                bar.advance(shown, 1)

            await run_until(
                sessions, encoder, stop, job_id=job["id"], until_idle=True, on_task=advance
            )
        async with sessions() as session:
            view = await job_service.get_job(session, None, job["id"])
        finished.append(view)
        if stop.is_set():
            break
    return finished


def _print(view: dict[str, Any]) -> None:
    typer.echo(json.dumps(view, default=str))


def rerank(
    tenant: Annotated[str | None, typer.Option(help="Tenant name (default: every tenant)")] = None,
    vacancy: Annotated[
        list[str] | None, typer.Option(help="A vacancy's external id (repeatable)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Shortlist length")] = DEFAULT_LIMIT,
    block: Annotated[int, typer.Option(min=1, max=1000, help="Vacancies per task")] = DEFAULT_BLOCK,
    resume: Annotated[str | None, typer.Option(help="Continue this job's run")] = None,
) -> None:
    """Re-rank the open vacancies' shortlists with current vectors and each tenant's active
    ranker, storing batch snapshots. Prints each job's final state as a JSON line."""
    settings = cli_support.settings()
    urls = resolve_database(settings)
    encoder = cli_support.encoder_for(urls, settings)
    model_registry.configure(settings.models_dir)
    if resume is not None:
        try:
            resumed = uuid.UUID(resume)
        except ValueError as exc:
            raise cli_support.fail(f"--resume takes a job id, not {resume!r}") from exc
        if tenant or vacancy:
            raise cli_support.fail("--resume continues a job as queued: no --tenant or --vacancy")

    async def run() -> list[dict[str, Any]]:
        engine = create_engine(urls.service, settings, pool_size=2)
        sessions = session_factory(engine)
        stop = asyncio.Event()
        _stop_on_signals(stop)
        try:
            if resume is not None:
                async with sessions() as session:
                    await job_service.get_job(session, None, resumed)  # 404 if unknown
                jobs = [{"id": resumed}]
            else:
                jobs = await _queue(sessions, tenant, vacancy, limit, block)
            return await _work_on(sessions, encoder, jobs, stop)
        finally:
            await engine.dispose()

    try:
        views = asyncio.run(run())
    except AppError as exc:
        raise cli_support.fail(exc.detail) from exc
    for view in views:
        _print(view)


def worker(
    poll: Annotated[float, typer.Option(min=0.1, help="Seconds between looks when idle")] = 2.0,
) -> None:
    """Run queued jobs' tasks until stopped (SIGTERM or SIGINT finish the current task)."""
    settings = cli_support.settings()
    urls = resolve_database(settings)
    encoder = cli_support.encoder_for(urls, settings)
    model_registry.configure(settings.models_dir)

    async def run() -> int:
        engine = create_engine(urls.service, settings, pool_size=2)
        stop = asyncio.Event()
        _stop_on_signals(stop)
        typer.echo(f"worker {worker_name()} ready", err=True)
        try:
            return await run_until(session_factory(engine), encoder, stop, poll_s=poll)
        finally:
            await engine.dispose()

    done = asyncio.run(run())
    typer.echo(f"worker stopped after {done} tasks", err=True)
