"""Keeps ``placement_spans`` equal to the fold of the feedback log (app/services/stints.py).

A path's spans are rewritten from its events whenever an event that can change them is
recorded (a placement event, or a retraction), in the same transaction and under the locks
that order such events (the vacancy's row, then the candidate's), so two writers on one path
never fold each other's half-written state. ``rebuild`` refolds a whole tenant: what the
migration that made the table did once, and what ``ponte feedback rebuild-spans`` does after a
change to the fold itself.
"""

from __future__ import annotations

import itertools
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.placement_spans import PlacementSpanRepository
from app.services.stints import span_rows


async def project_path(session: AsyncSession, tenant_id: uuid.UUID, path_key: uuid.UUID) -> None:
    """Rewrites one path's spans from its effective placement events."""
    repo = PlacementSpanRepository(session)
    events = await repo.path_events(tenant_id, path_key)
    await repo.replace(tenant_id, path_key, span_rows(tenant_id, path_key, events))


async def rebuild(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Refolds every path of the tenant; returns how many spans it holds now. Writers on the
    tenant's paths wait until the caller's transaction ends; the events are read after the
    lock, so none recorded meanwhile is missed."""
    repo = PlacementSpanRepository(session)
    await repo.lock()
    rows = []
    for path_key, events in itertools.groupby(
        await repo.path_events(tenant_id), key=lambda e: e.path_key
    ):
        rows.extend(span_rows(tenant_id, path_key, list(events)))
    await repo.replace_all(tenant_id, rows)
    return len(rows)
