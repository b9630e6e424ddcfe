"""The application: ``create_app()`` wires settings, database, encoder, routers and middleware."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from app import __version__
from app.api import (
    audit,
    feedback,
    health,
    jobs,
    keys,
    matching,
    metrics,
    models,
    privacy,
    resources,
    taxonomy,
)
from app.api.middleware import BodyLimitMiddleware, Metrics, RequestContextMiddleware
from app.api.problems import register_problem_handlers
from app.config import Settings, get_settings
from app.db.engine import DatabaseUrls, create_engine, resolve_database, session_factory
from app.db.migrate import head_revisions, known_revisions
from app.db.vector_dimension import DimensionMismatch, check_dimension, other_model_rows
from app.logging import configure_logging, get_logger
from app.ml.encoder import Encoder
from app.services import deployment_keys, model_registry
from app.services import pool as pool_service
from app.services.health import database_problem
from app.services.keys import bootstrap_admin

log = get_logger("ponte")


async def _bootstrap(app: FastAPI, settings: Settings) -> None:
    if settings.bootstrap_admin_key is None:
        return
    try:
        async with app.state.sessionmaker() as session, session.begin():
            created = await bootstrap_admin(
                session, settings.bootstrap_admin_key.get_secret_value()
            )
    except Exception as exc:  # the schema may not exist yet; /readyz says so too
        log.warning("bootstrap_skipped", reason=database_problem(exc))
        return
    log.info("bootstrap", tenant_created=created)


async def _check_vector_size(app: FastAPI) -> None:
    """Refuses to start with a model whose vectors the stored ones do not fit, and warns of
    stored vectors another model of the same size made (they do not compare with this one's:
    ``ponte reembed``); a database that cannot be read yet (not migrated, down) is /readyz's
    to report."""
    encoder = app.state.encoder
    try:
        async with app.state.engine.connect() as conn:
            await check_dimension(conn, encoder.dimension, encoder.model_id)
            others = await other_model_rows(conn, encoder.model_id)
    except DimensionMismatch:
        raise
    except Exception as exc:
        log.warning("vector_size_unchecked", reason=database_problem(exc))
        return
    if any(others.values()):
        log.warning(
            "vectors_from_another_model",
            model=encoder.model_id,
            hint="run `ponte reembed` (docs/deploy.md)",
            **others,
        )


async def _check_keys(app: FastAPI) -> None:
    """Refuses to start with a deployment key other than the one the database was first used
    with; a database that cannot be read yet is /readyz's to report."""
    try:
        async with app.state.sessionmaker() as session, session.begin():
            await deployment_keys.check_against(session)
    except deployment_keys.DeploymentKeyError:
        raise
    except Exception as exc:
        log.warning("deployment_keys_unchecked", reason=database_problem(exc))


def create_app(
    settings: Settings | None = None,
    *,
    encoder: Encoder | None = None,
    database: DatabaseUrls | None = None,
) -> FastAPI:
    """Returns the ASGI app. Tests pass their own encoder and database; production passes none."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        urls = (
            database
            if database is not None
            else await asyncio.to_thread(resolve_database, settings)
        )
        engine = create_engine(urls.service, settings)
        model_registry.configure(settings.models_dir)
        deployment_keys.load(settings)  # an unreadable key fails the start, not a write
        app.state.engine = engine
        app.state.sessionmaker = session_factory(engine)
        try:
            await _check_keys(app)
        except deployment_keys.DeploymentKeyError:
            await engine.dispose()
            raise
        await _bootstrap(app, settings)
        if app.state.encoder is None:
            app.state.encoder = await asyncio.to_thread(Encoder.from_settings, settings)
            log.info(
                "model_loaded",
                model=app.state.encoder.model_id,
                backend=app.state.encoder.backend,
            )
        try:
            await _check_vector_size(app)
        except DimensionMismatch:
            await engine.dispose()
            raise
        # What start-up made (the model, the modules, the tables' metadata; not the pools,
        # loaded later) lives as long as the process: move it out of the collector's reach,
        # so a full collection walks only what requests allocate, not the model's hundreds of
        # thousands of objects (a full collection of those paused requests by up to a few
        # hundred ms).
        gc.collect()
        gc.freeze()
        # After the model: loading it loads a second OpenBLAS (scipy's), limited here too.
        # Restored when the app stops (tests start several apps in one process).
        limits = (
            threadpool_limits(settings.blas_threads, user_api="blas")
            if settings.blas_threads
            else None
        )
        warming = None
        if settings.warm_pools:
            warming = asyncio.create_task(_warm_pools(app, settings))
        try:
            yield
        finally:
            if warming is not None:
                warming.cancel()
            if limits is not None:
                limits.restore_original_limits()
            await engine.dispose()

    app = FastAPI(
        title="Ponte",
        version=__version__,
        summary="Employer–candidate matching for job-integration programmes",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.encoder = encoder
    app.state.migration_head = head_revisions()
    app.state.migration_known = known_revisions()
    app.state.metrics = Metrics()
    register_problem_handlers(app)
    for router in (
        health.router,
        keys.router,
        resources.employers,
        resources.vacancies,
        resources.candidates,
        resources.sensitive,
        matching.router,
        feedback.router,
        metrics.router,
        models.router,
        jobs.router,
        taxonomy.router,
        audit.router,
        privacy.router,
    ):
        app.include_router(router)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_bulk_bytes=settings.max_bulk_body_bytes,
    )
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    return app


async def _warm_pools(app: FastAPI, settings: Settings) -> None:
    started = time.perf_counter()
    try:
        loaded = await pool_service.warm(
            app.state.sessionmaker, app.state.encoder.dimension, settings.pool_max_candidates
        )
    except Exception:  # a failed warm-up only means the first request loads instead
        log.warning("pools_not_warmed", exc_info=True)
        return
    log.info("pools_warmed", tenants=loaded, seconds=round(time.perf_counter() - started, 1))


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory app.main:app_factory``."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)
