"""Readiness: the database answers, its schema is at the migrations' head, the model is loaded."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.repositories.health import applied_revisions, ping


async def readiness(
    sessions: async_sessionmaker[AsyncSession] | None,
    head: set[str],
    model_loaded: bool,
    timeout_s: float = 3.0,
) -> dict[str, Any]:
    """Returns each check as "ok" or a short reason, and ``ready`` if all pass."""
    checks: dict[str, str] = {"model": "ok" if model_loaded else "not loaded"}
    if sessions is None:
        checks["database"] = "not configured"
        checks["migrations"] = "unknown"
    else:
        try:
            async with asyncio.timeout(timeout_s), sessions() as session:
                await ping(session)
                checks["database"] = "ok"
                applied = await applied_revisions(session)
        except Exception as exc:  # any failure here means "not ready", never a 500
            checks["database"] = f"unreachable ({type(exc).__name__})"
            checks["migrations"] = "unknown"
        else:
            checks["migrations"] = "ok" if applied == head else "behind"
    return {"ready": all(v == "ok" for v in checks.values()), "checks": checks}
