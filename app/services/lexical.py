"""In-process BM25 indexes of a tenant's vacancies (and, for tenants too big for a pool, its
candidates), kept current by the change feed and updated row by row.

The vacancy index serves the candidate → vacancies direction; the candidate index serves the
database path of shortlists. Each remembers the feed's horizon and the version (``changed_xid``)
of every row it holds, so a request reads only what was written since — a write that committed
late included. Small changes apply on the event loop; a first build, and the rebuild a growing
delta asks for, are made in a worker thread into a new index that is swapped in whole, so a
request holding the old one keeps a consistent index.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.bm25 import KeyedBm25
from app.repositories.change_feed import ChangeFeedRepository, Side
from app.services.lru import Lru
from app.services.tombstones import RELOAD_AFTER_S, prune_if_due

MAX_INDEXES = 64
_FIRST_BUILD_OFF_LOOP = 1000  # rows


@dataclass
class _State:
    index: KeyedBm25 = field(default_factory=KeyedBm25)
    horizon: int = -1
    synced_at: float = 0.0
    versions: dict[uuid.UUID, int] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loop: asyncio.AbstractEventLoop | None = None


_STATES: Lru[tuple[uuid.UUID, Side], _State] = Lru(MAX_INDEXES)


async def lexical_index(session: AsyncSession, tenant_id: uuid.UUID, side: Side) -> KeyedBm25:
    """The tenant's BM25 index of ``side``, current as of now."""
    loop = asyncio.get_running_loop()
    key = (tenant_id, side)
    state = _STATES.get(key)
    if state is None or state.loop is not loop:
        state = _State(loop=loop)
        _STATES.put(key, state)
    feed = ChangeFeedRepository(session)
    await prune_if_due(session, tenant_id, side)
    async with state.lock:
        now = time.monotonic()
        horizon, changed, deleted = await feed.changes(side, tenant_id, state.horizon)
        # The server's transaction ids went back (a restore), or this index has not looked for
        # longer than tombstones are kept: start again from every row.
        if horizon < state.horizon or (state.versions and now - state.synced_at > RELOAD_AFTER_S):
            state.index, state.versions, state.horizon = KeyedBm25(), {}, -1
            horizon, changed, deleted = await feed.changes(side, tenant_id, -1)
        wanted = [row_id for row_id, xid in changed if state.versions.get(row_id) != xid]
        rows = await feed.texts(side, tenant_id, wanted)
        gone = [row_id for row_id in deleted if row_id in state.versions]
        if rows or gone:
            updates = [(row_id, text, language) for row_id, _, text, language in rows]
            index = state.index
            if not len(index) and len(updates) > _FIRST_BUILD_OFF_LOOP:
                index = KeyedBm25()  # nobody holds it yet
                await asyncio.to_thread(index.apply, updates, gone)
            else:
                index.apply(updates, gone, compact=False)
                if index.wants_rebuild:
                    index = await asyncio.to_thread(index.rebuilt)
            # Only now that the index holds them: a build that failed or was cancelled leaves
            # the versions as they were, and the next request reads the rows again.
            state.index = index
            for row_id in gone:
                del state.versions[row_id]
            for row_id, xid, *_ in rows:
                state.versions[row_id] = xid
        state.horizon, state.synced_at = horizon, now
        return state.index
