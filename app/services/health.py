"""Readiness: the database answers, its schema is at the migrations' head, the model is loaded."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.errors import sqlstate_of
from app.repositories.health import applied_revisions, ping, vector_size

MIGRATE_HINT = "run `ponte migrate`"


def migration_state(applied: set[str], head: set[str], known: set[str]) -> str:
    """Returns "ok" (at head), "ahead" (a newer release migrated), or what is wrong and what to
    run: never migrated, or behind."""
    if applied == head:
        return "ok"
    if not applied:
        return f"not migrated: {MIGRATE_HINT}"
    if not applied & known:
        # A newer release has migrated; migrations are expand-first, so this code still works.
        return "ahead"
    return f"behind: {MIGRATE_HINT}"


def schema_problem(exc: BaseException) -> str | None:
    """What to run when a database error says the database is not (or not fully) migrated,
    in words an operator can act on; None for any other error. A database never migrated has
    no service role yet (migrations create it), which the driver reports as a failed login."""
    cause = getattr(exc, "orig", None) or exc.__cause__ or exc
    state = sqlstate_of(exc)
    if state == "28000" and "does not exist" in str(cause):
        return f"not migrated (its service role does not exist yet): {MIGRATE_HINT}"
    if state == "3D000":
        return f"the database does not exist: create it, then {MIGRATE_HINT}"
    if state == "42P01":
        return f"not migrated (a table is missing): {MIGRATE_HINT}"
    if state == "42703":
        return f"behind the code (a column is missing): {MIGRATE_HINT}"
    return None


def database_problem(exc: BaseException) -> str:
    """Says why the database could not be used (:func:`schema_problem`, else unreachable)."""
    return schema_problem(exc) or f"unreachable ({type(exc).__name__})"


async def readiness(
    sessions: async_sessionmaker[AsyncSession] | None,
    head: set[str],
    known: set[str],
    model_dimension: int | None,
    timeout_s: float = 3.0,
) -> dict[str, Any]:
    """Returns each check as "ok" or a short reason, and ``ready`` if all pass; the model's
    is whether it is loaded (``model_dimension`` is its vectors' size, None while not) and
    its vectors fit the stored ones."""
    checks: dict[str, str] = {"model": "ok" if model_dimension else "not loaded"}
    if sessions is None:
        checks["database"] = "not configured"
        checks["migrations"] = "unknown"
    else:
        try:
            async with asyncio.timeout(timeout_s), sessions() as session:
                await ping(session)
                checks["database"] = "ok"
                applied = await applied_revisions(session)
                stored = await vector_size(session)
        except Exception as exc:  # any failure here means "not ready", never a 500
            checks["database"] = database_problem(exc)
            checks["migrations"] = "unknown"
        else:
            checks["migrations"] = migration_state(applied, head, known)
            if model_dimension and stored is not None and stored != model_dimension:
                checks["model"] = (
                    f"its vectors have {model_dimension} dimensions, the stored ones {stored}: "
                    "run `ponte reembed --all`"
                )
    ready = all(v == "ok" for k, v in checks.items() if k != "migrations") and checks[
        "migrations"
    ] in ("ok", "ahead")
    return {"ready": ready, "checks": checks}
