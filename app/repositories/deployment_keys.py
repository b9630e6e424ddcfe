"""The fingerprints of the deployment's secrets, as the database keeps them."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.audit_tables import DeploymentKeyFingerprint


async def fingerprints_kept(session: AsyncSession) -> bool:
    """Whether the database has the fingerprints' table (it is migrated to 0019 or later)."""
    return bool(await session.scalar(text("SELECT to_regclass('deployment_keys') IS NOT NULL")))


async def recorded_fingerprint(session: AsyncSession, name: str) -> bytes | None:
    """The fingerprint recorded for the key ``name``, if any."""
    stmt = select(DeploymentKeyFingerprint.fingerprint).where(DeploymentKeyFingerprint.name == name)
    found = await session.scalar(stmt)
    return bytes(found) if found is not None else None


async def record_fingerprint(session: AsyncSession, name: str, mine: bytes) -> bytes:
    """Records ``mine`` for the key ``name`` unless one is (another process, first): returns
    the one recorded."""
    await session.execute(
        insert(DeploymentKeyFingerprint)
        .values(name=name, fingerprint=mine)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return await recorded_fingerprint(session, name) or mine
