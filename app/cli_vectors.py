"""``ponte reembed``: every stored vector brought to the configured model — rows whose vectors
are missing or from another model, every row with ``--all``, and, for a model of another size,
the vector columns themselves (app/db/vector_dimension.py; docs/deploy.md)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from app import cli_support
from app.config import Settings
from app.db import vector_dimension
from app.db.engine import DatabaseUrls, create_engine, resolve_database, session_factory
from app.errors import sqlstate_of
from app.ml.encoder import Encoder
from app.services import jobs as job_service
from app.services import taxonomy_linking, vector_jobs


def reembed(
    all_rows: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Re-embed every row, not only stale ones; with a model of another size, "
            "resize the vector columns first (every stored vector is dropped and made again)",
        ),
    ] = False,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Rows per transaction")] = 64,
) -> None:
    """Embed candidates and vacancies whose vectors are missing or from another model, embed
    the taxonomy's labels for a new model and relink, and detect the language of texts stored
    before Ponte detected it. Stop the service before moving to a model of another size.

    Each batch is committed on its own, so an interrupted run resumes where it stopped.
    """
    settings = cli_support.settings()
    urls = resolve_database(settings)
    cli_support.check_keys_at(urls, settings)
    encoder = Encoder.from_settings(settings)

    async def run() -> dict[str, int]:
        engine = create_engine(urls.owner, settings, pool_size=1)
        sessions = session_factory(engine)
        try:
            async with engine.begin() as conn:
                if await vector_dimension.stored_dimension(conn) is None:
                    raise cli_support.fail("the database is not migrated: run `ponte migrate`")
                resized = await vector_dimension.fit(
                    conn, encoder.dimension, encoder.model_id, drop=all_rows
                )
            if resized is not None:
                typer.echo(
                    f"vector columns resized from {resized[0]} to {encoder.dimension} "
                    f"dimensions ({resized[1]} rows' vectors dropped, to be made again)",
                    err=True,
                )
            if all_rows:
                async with sessions() as session, session.begin():
                    await vector_jobs.mark_all_stale(session)
            done = {"candidates": 0, "vacancies": 0}
            touched: set[uuid.UUID] = set()
            for kind in done:
                while True:
                    async with sessions() as session, session.begin():
                        tenants = await vector_jobs.reembed_batch(session, encoder, kind, batch)
                    if not tenants:
                        break
                    done[kind] += len(tenants)
                    touched.update(tenants)
                    typer.echo(f"{kind}: {done[kind]} re-embedded", err=True)
                detected = 0  # texts stored before their language was detected (migration 0015)
                while True:
                    async with sessions() as session, session.begin():
                        tenants = await vector_jobs.detect_batch(session, kind, 10 * batch)
                    if not tenants:
                        break
                    detected += len(tenants)
                    touched.update(tenants)
                    typer.echo(f"{kind}: {detected} texts' language detected", err=True)
            labels = await vector_jobs.embed_taxonomy_labels(
                sessions,
                encoder,
                lambda: typer.echo("taxonomy: waiting for the running import to end", err=True),
            )
            if labels is not None:
                if labels:
                    typer.echo(f"taxonomy: {labels} labels embedded", err=True)
                linked = await taxonomy_linking.relink(sessions, encoder)
                if linked["candidates"] or linked["vacancies"]:
                    typer.echo(f"taxonomy: relinked {linked}", err=True)
            # new vectors, new rankings: each tenant touched gets a re-rank queued (issue 14)
            async with sessions() as session, session.begin():
                for tenant_id in sorted(touched):
                    job = await job_service.queue_rerank(
                        session, tenant_id, "reembed", created_by="cli"
                    )
                    typer.echo(f"re-rank queued: job {job.id}", err=True)
            return done
        finally:
            await engine.dispose()

    try:
        done = asyncio.run(run())
    except vector_dimension.DimensionMismatch as exc:
        raise cli_support.fail(str(exc)) from exc
    except DBAPIError as exc:
        raise _in_use(exc) from exc
    typer.echo(
        f"re-embedded {done['candidates']} candidates and {done['vacancies']} vacancies "
        f"with {encoder.model_id}",
        err=True,
    )


def fit_model(urls: DatabaseUrls, settings: Settings, encoder: Encoder) -> None:
    """Gives the vector columns the model's size while no vector is stored (a new database,
    set up by ``ponte demo``); with vectors of another size stored, fails naming the command
    that moves them."""

    async def run() -> None:
        engine = create_engine(urls.owner, settings, pool_size=1)
        try:
            async with engine.begin() as conn:
                await vector_dimension.fit(conn, encoder.dimension, encoder.model_id, drop=False)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except vector_dimension.DimensionMismatch as exc:
        raise cli_support.fail(str(exc)) from exc
    except DBAPIError as exc:
        raise _in_use(exc) from exc


def _in_use(exc: DBAPIError) -> BaseException:
    """The resize's lock timeout as what to do; any other database error as it is."""
    if sqlstate_of(exc) == "55P03":  # lock_not_available
        return cli_support.fail(
            "the vector tables are in use: stop the service and workers, then run this again "
            "(nothing was changed)"
        )
    return exc
