"""In-process candidate pools, one per tenant, kept in step with the database.

The first shortlist of a tenant in a process loads its candidates (built off the event loop, then
published); every later request first applies what the change feed reports since the last look
(usually nothing: two index range scans). When the applied changes have grown the BM25 delta or
the dead slots past their share, the tenant's pool is compacted off the event loop into a new
pool, published when complete: requests that already hold the old one go on reading it
unchanged, and the tenant's next requests wait for the new one (other tenants do not).

Pools are per process and bounded per process (least recently used first out); several workers
each keep their own, and each stays correct on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ml.pool import CandidatePool
from app.repositories.change_feed import ChangeFeedRepository
from app.repositories.pool import PoolRepository
from app.repositories.tenants import TenantRepository
from app.services.lru import Lru
from app.services.tombstones import RELOAD_AFTER_S, prune_if_due

MAX_TENANTS = 64
_LOAD_BATCH = 5000


@dataclass
class _State:
    pool: CandidatePool | None = None
    horizon: int = -1
    synced_at: float = 0.0
    too_big_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loop: asyncio.AbstractEventLoop | None = None


_STATES: Lru[uuid.UUID, _State] = Lru(MAX_TENANTS)


def _state(tenant_id: uuid.UUID) -> _State:
    loop = asyncio.get_running_loop()
    state = _STATES.get(tenant_id)
    if state is None or state.loop is not loop:
        state = _State(loop=loop)
        _STATES.put(tenant_id, state)
    return state


_gc_pauses = 0


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Holds Python's cycle collector off while a pool loads. A load allocates millions of
    small objects, and each full collection then walks every object of the process (0.7 s a
    time at 50,000 candidates, several times a load); nothing a load makes is cyclic garbage.
    Nested loads share one pause; the collector runs again when the last one ends."""
    global _gc_pauses
    if _gc_pauses == 0 and not gc.isenabled():  # someone else switched it off: leave it so
        yield
        return
    _gc_pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0:
            gc.enable()


async def _load(
    repo: PoolRepository, tenant_id: uuid.UUID, dim: int, ids: list[uuid.UUID]
) -> CandidatePool:
    """Builds a new pool off the event loop, in batches (nobody reads it until it is returned):
    while a worker thread applies one batch, the next is read from the database."""
    pool = CandidatePool(dim, capacity=len(ids) + max(256, len(ids) // 20))
    with _gc_paused():
        applying: asyncio.Future[None] | None = None
        for start in range(0, len(ids), _LOAD_BATCH):
            rows = await repo.rows(tenant_id, ids[start : start + _LOAD_BATCH])
            if applying is not None:
                await applying
            applying = asyncio.ensure_future(asyncio.to_thread(pool.apply, rows, (), bulk=True))
        if applying is not None:
            await applying
        return await asyncio.to_thread(pool.compacted)


async def candidate_pool(
    session: AsyncSession, tenant_id: uuid.UUID, dim: int, max_rows: int
) -> CandidatePool | None:
    """Returns the tenant's pool, current as of now; None when the tenant has more than
    ``max_rows`` candidates (the caller then ranks in the database)."""
    state = _state(tenant_id)
    repo = PoolRepository(session)
    feed = ChangeFeedRepository(session)
    await prune_if_due(session, tenant_id, "candidates")
    async with state.lock:
        now = time.monotonic()
        if now < state.too_big_until:
            return None
        horizon, changed, deleted = await feed.changes(
            "candidates", tenant_id, state.horizon if state.pool is not None else -1
        )
        stale = state.pool is None or horizon < state.horizon
        if not stale and now - state.synced_at > RELOAD_AFTER_S:
            stale = True
        if stale:
            if state.pool is not None:
                horizon, changed, _ = await feed.changes("candidates", tenant_id, -1)
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
            # A deletion is an erasure: the words only that person's texts used leave the BM25
            # vocabulary now, not at some later compaction.
            if pool.wants_compaction or deleted:
                state.pool = await asyncio.to_thread(pool.compacted)
        state.horizon, state.synced_at = horizon, now
        return state.pool


def pooled_centroid(tenant_id: uuid.UUID, prior: int) -> npt.NDArray[np.float32] | None:
    """The candidates' centroid of the tenant's pool in this process (None when none is held:
    the caller then reads it from the database)."""
    state = _STATES.peek(tenant_id)
    if state is None or state.pool is None or state.loop is not asyncio.get_running_loop():
        return None
    return state.pool.centroid(prior)


async def forget_candidates(tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]) -> None:
    """Drops rows the database no longer has from the tenant's pool (found missing when a
    snapshot was stored: a deletion the change feed did not report)."""
    state = _STATES.peek(tenant_id)
    if state is None or state.loop is not asyncio.get_running_loop():
        return
    async with state.lock:
        if state.pool is not None:
            state.pool.forget(ids)


async def warm(sessions: async_sessionmaker[AsyncSession], dim: int, max_rows: int) -> int:
    """Loads the pools of the first tenants (by age) so their first shortlist is fast; returns
    how many were loaded. Run in the background at start-up; requests meanwhile still work."""
    async with sessions() as session:
        tenants = sorted(await TenantRepository(session).list(), key=lambda t: t.created_at)
    tenant_ids = [tenant.id for tenant in tenants[: MAX_TENANTS // 2]]
    loaded = 0
    for tenant_id in tenant_ids:
        async with sessions() as session, session.begin():
            if await candidate_pool(session, tenant_id, dim, max_rows) is not None:
                loaded += 1
    return loaded
