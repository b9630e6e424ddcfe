"""Readiness: the database answers, its schema is at the migrations' head, the model is loaded."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.repositories.health import applied_revisions, ping


def migration_state(applied: set[str], head: set[str], known: set[str]) -> str:
    """Returns "ok" (at head), "ahead" (a newer release migrated) or "behind"."""
    if applied == head:
        return "ok"
    if applied and not applied & known:
        # A newer release has migrated; migrations are expand-first, so this code still works.
        return "ahead"
    return "behind"


async def readiness(
    sessions: async_sessionmaker[AsyncSession] | None,
    head: set[str],
    known: set[str],
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
            checks["migrations"] = migration_state(applied, head, known)
    ready = all(v == "ok" for k, v in checks.items() if k != "migrations") and checks[
        "migrations"
    ] in ("ok", "ahead")
    return {"ready": ready, "checks": checks}
