"""Alembic environment: async engine, owner connection, the app's metadata for autogenerate."""

from __future__ import annotations

import asyncio

from alembic import context
from pgvector.sqlalchemy import Vector
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

# registers the tables on the metadata
from app.db import (  # noqa: F401
    audit_tables,
    feedback_tables,
    job_tables,
    ranker_tables,
    tables,
    taxonomy_tables,
)
from app.db.base import Base

config = context.config
target_metadata = Base.metadata


def _owner_url() -> object:
    url = config.attributes.get("owner_url")
    if url is None:
        from app.config import get_settings
        from app.db.engine import resolve_database

        settings = get_settings()
        url = resolve_database(settings).owner
        config.attributes.setdefault("app_role", settings.db_app_role)
    return url


def _compare_type(
    context: object,
    inspected: object,
    metadata: object,
    inspected_type: object,
    metadata_type: object,
) -> bool | None:
    """Alembic's type comparison, except for vector columns: their size is the model's, set by
    `ponte reembed --all` (app/db/vector_dimension.py), so a resized column is not a change."""
    if isinstance(metadata_type, Vector):
        return False
    return None  # the default comparison


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=_compare_type,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_owner_url(), poolclass=pool.NullPool)  # type: ignore[arg-type]
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline SQL generation is not supported; run `ponte migrate`.")
asyncio.run(_run_async())
