"""Statements that are their own transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import SessionTransactionOrigin


@asynccontextmanager
async def each_statement_commits(session: AsyncSession) -> AsyncIterator[None]:
    """Commits what ``session`` did so far, then runs the statements the block executes through
    it each as a transaction of its own, committed by the database as the statement ends
    (autocommit). A lock such a statement takes is released there and then, not when this
    process next gets round to sending COMMIT — which, on an event loop busy ranking other
    requests, can be tens of milliseconds later. Each statement is atomic; the block is not.
    After the block the session runs transactions as usual. The session must not be inside a
    ``session.begin()`` block, which cannot go on once its transaction was committed (the
    request's session, app/deps.py, is not)."""
    begun = session.sync_session.get_transaction()
    if begun is not None and begun.origin is not SessionTransactionOrigin.AUTOBEGIN:
        # refused before committing anything: the caller's block is left as it was
        raise RuntimeError("each_statement_commits needs a session outside session.begin()")
    await session.commit()
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    try:
        yield
    except BaseException:
        await session.rollback()
        raise
    await session.commit()  # hands the connection back; the pool resets its isolation level
