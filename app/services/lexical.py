"""In-process BM25 indexes of a tenant's vacancies (and, for tenants too big for a pool, its
candidates), kept current by the change feed and updated row by row.

The vacancy index serves the candidate → vacancies direction; the candidate index serves the
database path of shortlists. Each remembers the feed's horizon and the version (``changed_xid``)
of every row it holds, so a request reads only what was written since — a write that committed
late included — and a rebuild happens only when the index's own delta grows past its share.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.bm25 import KeyedBm25
from app.repositories.change_feed import ChangeFeedRepository, Side
from app.services.lru import Lru

MAX_INDEXES = 64


@dataclass
class _State:
    index: KeyedBm25 = field(default_factory=KeyedBm25)
    horizon: int = -1
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
    async with state.lock:
        horizon, changed, deleted = await feed.changes(side, tenant_id, state.horizon)
        if horizon < state.horizon:  # the server's transaction ids went back: start again
            state.index, state.versions = KeyedBm25(), {}
            horizon, changed, deleted = await feed.changes(side, tenant_id, -1)
        wanted = [row_id for row_id, xid in changed if state.versions.get(row_id) != xid]
        rows = await feed.texts(side, tenant_id, wanted)
        gone = [row_id for row_id in deleted if row_id in state.versions]
        if rows or gone:
            for row_id in gone:
                del state.versions[row_id]
            for row_id, xid, _ in rows:
                state.versions[row_id] = xid
            updates = [(row_id, text) for row_id, _, text in rows]
            if not len(state.index) and len(updates) > 1000:
                # A first build: tokenised off the event loop into an index nobody holds yet.
                index = KeyedBm25()
                await asyncio.to_thread(index.apply, updates, gone)
                state.index = index
            else:
                state.index.apply(updates, gone)
        state.horizon = horizon
        return state.index
