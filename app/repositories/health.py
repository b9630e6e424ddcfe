"""The few statements readiness needs."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.vector_dimension import stored_dimension


async def ping(session: AsyncSession) -> None:
    """Round-trips one trivial statement."""
    await session.execute(text("SELECT 1"))


async def applied_revisions(session: AsyncSession) -> set[str]:
    """Returns the Alembic revisions the database is at (empty if never migrated)."""
    exists = await session.scalar(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))
    if not exists:
        return set()
    rows = await session.execute(text("SELECT version_num FROM alembic_version"))
    return {row[0] for row in rows}


async def vector_size(session: AsyncSession) -> int | None:
    """The declared size of the stored vectors (None before the tables exist)."""
    return await stored_dimension(await session.connection())
