"""Pruning the change feeds' tombstones, per tenant and side, at most hourly.

Tombstones (ids of deleted candidates and vacancies) live ``TOMBSTONE_DAYS``; an in-process
reader that has not looked for most of that reloads in full (``RELOAD_AFTER_S``), so it never
misses a deletion whose tombstone is gone. Each tenant's requests prune that tenant's own
tombstones, whichever ranking path they take.
"""

from __future__ import annotations

import math
import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.change_feed import ChangeFeedRepository, Side
from app.services.lru import Lru

TOMBSTONE_DAYS = 7
RELOAD_AFTER_S = 6 * 86400
PRUNE_EVERY_S = 3600.0

_PRUNED: Lru[tuple[uuid.UUID, Side], float] = Lru(4096)


async def prune_if_due(session: AsyncSession, tenant_id: uuid.UUID, side: Side) -> None:
    """Forgets the tenant's old tombstones of ``side`` if this process has not lately."""
    now = time.monotonic()
    last = _PRUNED.get((tenant_id, side))
    if now - (last if last is not None else -math.inf) <= PRUNE_EVERY_S:
        return
    _PRUNED.put((tenant_id, side), now)
    await ChangeFeedRepository(session).prune(side, tenant_id, TOMBSTONE_DAYS)
