"""In-process candidate pools, one per tenant, kept in step with the database.

The first shortlist of a tenant in a process loads its candidates (built off the event loop, then
published); every later request first applies what the change feed reports since the last look
(usually nothing: two index range scans). Pools are per process: several workers each keep
their own, and each stays correct on its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ml.pool import CandidatePool
from app.repositories.pool import PoolRepository
from app.repositories.tenants import TenantRepository

# Tombstones live this long; a pool that has not looked for most of it reloads in full.
TOMBSTONE_DAYS = 7
RELOAD_AFTER_S = 6 * 86400
_PRUNE_EVERY_S = 3600.0
_MAX_TENANTS = 64
_LOAD_BATCH = 5000


@dataclass
class _State:
    pool: CandidatePool | None = None
    horizon: int = -1
    synced_at: float = 0.0
    too_big_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loop: asyncio.AbstractEventLoop | None = None


_STATES: dict[uuid.UUID, _State] = {}
_last_prune = 0.0


def _state(tenant_id: uuid.UUID) -> _State:
    loop = asyncio.get_running_loop()
    state = _STATES.get(tenant_id)
    if state is None or state.loop is not loop:
        if len(_STATES) >= _MAX_TENANTS:
            _STATES.clear()
        state = _STATES[tenant_id] = _State(loop=loop)
    return state


async def _load(
    repo: PoolRepository, tenant_id: uuid.UUID, dim: int, ids: list[uuid.UUID]
) -> CandidatePool:
    """Builds a new pool off the event loop, in batches (nobody reads it until it is returned)."""
    pool = CandidatePool(dim, capacity=len(ids) + max(256, len(ids) // 20))
    for start in range(0, len(ids), _LOAD_BATCH):
        rows = await repo.rows(tenant_id, ids[start : start + _LOAD_BATCH])
        await asyncio.to_thread(pool.apply, rows, (), bulk=True)
    await asyncio.to_thread(pool.compact)
    return pool


async def candidate_pool(
    session: AsyncSession, tenant_id: uuid.UUID, dim: int, max_rows: int
) -> CandidatePool | None:
    """Returns the tenant's pool, current as of now; None when the tenant has more than
    ``max_rows`` candidates (the caller then ranks in the database)."""
    global _last_prune
    state = _state(tenant_id)
    repo = PoolRepository(session)
    async with state.lock:
        now = time.monotonic()
        if now < state.too_big_until:
            return None
        horizon, changed, deleted = await repo.changes(
            tenant_id, state.horizon if state.pool is not None else -1
        )
        stale = state.pool is None or horizon < state.horizon
        if not stale and now - state.synced_at > RELOAD_AFTER_S:
            stale = True
        if stale:
            if state.pool is not None:
                horizon, changed, _ = await repo.changes(tenant_id, -1)
            if len(changed) > max_rows:
                state.pool, state.too_big_until = None, now + 600
                return None
            state.pool = None
            state.pool = await _load(repo, tenant_id, dim, [row_id for row_id, _ in changed])
        else:
            pool = state.pool
            assert pool is not None
            wanted = [row_id for row_id, xid in changed if pool.xid_of(row_id) != xid]
            rows = await repo.rows(tenant_id, wanted) if wanted else []
            if len(pool) + len(rows) > max_rows:
                state.pool, state.too_big_until = None, now + 600
                return None
            if rows or deleted:
                pool.apply(rows, deleted)
        state.horizon, state.synced_at = horizon, now
        if now - _last_prune > _PRUNE_EVERY_S:
            _last_prune = now
            await repo.prune_deletions(TOMBSTONE_DAYS)
        return state.pool


def forget_candidates(tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]) -> None:
    """Drops rows the database no longer has from the tenant's pool (found missing when a
    snapshot was stored: a deletion the change feed did not report)."""
    state = _STATES.get(tenant_id)
    if state is not None and state.pool is not None:
        state.pool.apply([], ids)


async def warm(sessions: async_sessionmaker[AsyncSession], dim: int, max_rows: int) -> int:
    """Loads the pools of the first tenants (by age) so their first shortlist is fast; returns
    how many were loaded. Run in the background at start-up; requests meanwhile still work."""
    async with sessions() as session:
        tenants = sorted(await TenantRepository(session).list(), key=lambda t: t.created_at)
    tenant_ids = [tenant.id for tenant in tenants[: _MAX_TENANTS // 2]]
    loaded = 0
    for tenant_id in tenant_ids:
        async with sessions() as session, session.begin():
            if await candidate_pool(session, tenant_id, dim, max_rows) is not None:
                loaded += 1
    return loaded
