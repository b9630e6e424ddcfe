"""The change feeds of candidates and vacancies: what in-process state reads to stay current.

Every candidate and vacancy write stamps the writing transaction's id (``changed_xid``) and
every deletion leaves a tombstone (migrations 0003 and 0005). A reader remembers
``pg_snapshot_xmin`` — the oldest transaction still running when it last looked — and next time
asks for everything stamped at or after it: a write that committed late is still caught, and
nothing needs a clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

Side = Literal["candidates", "vacancies"]
_TOMBSTONES: dict[Side, tuple[str, str]] = {
    "candidates": ("candidate_deletions", "candidate_id"),
    "vacancies": ("vacancy_deletions", "vacancy_id"),
}


def _changes(side: Side) -> str:
    tombstones, column = _TOMBSTONES[side]
    return (
        "SELECT 'h', NULL::uuid, pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
        f"UNION ALL SELECT 'c', id, changed_xid FROM {side} "
        "WHERE tenant_id = :tenant_id AND changed_xid >= :since "
        f"UNION ALL SELECT 'd', {column}, deleted_xid FROM {tombstones} "
        "WHERE tenant_id = :tenant_id AND deleted_xid >= :since"
    )


# Asked before every ranking, so built once.
_CHANGES = {side: text(_changes(side)) for side in _TOMBSTONES}
_PRUNE = {
    side: text(
        f"DELETE FROM {tombstones} WHERE tenant_id = :tenant_id "
        "AND deleted_at < now() - make_interval(days => :days)"
    )
    for side, (tombstones, _) in _TOMBSTONES.items()
}
_TEXTS = {
    side: text(
        f"SELECT id, changed_xid, coalesce(search_text, ''), text_language FROM {side} "
        "WHERE tenant_id = :tenant_id AND id = ANY(:ids)"
    )
    for side in _TOMBSTONES
}

Changes = tuple[int, list[tuple[uuid.UUID, int]], list[uuid.UUID]]


class ChangeFeedRepository:
    """The change feed of one side (candidates or vacancies) of one tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def changes(self, side: Side, tenant_id: uuid.UUID, since: int) -> Changes:
        """Returns, in one round trip: the new horizon, (id, changed_xid) of the tenant's rows
        written at or after ``since``, and the ids deleted at or after it.

        The horizon is read before the rows, so a write it does not cover is read again next
        time rather than missed."""
        rows = await self.session.execute(_CHANGES[side], {"tenant_id": tenant_id, "since": since})
        horizon, changed, deleted = 0, [], []
        for kind, row_id, xid in rows:
            if kind == "h":
                horizon = int(xid)
            elif kind == "c":
                changed.append((row_id, int(xid)))
            else:
                deleted.append(row_id)
        return horizon, changed, deleted

    async def texts(
        self, side: Side, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
    ) -> list[tuple[uuid.UUID, int, str, str | None]]:
        """(id, changed_xid, search text, its language) of these rows of the tenant."""
        if not ids:
            return []
        rows = await self.session.execute(_TEXTS[side], {"tenant_id": tenant_id, "ids": list(ids)})
        return [(row[0], int(row[1]), row[2], row[3]) for row in rows]

    async def prune(self, side: Side, tenant_id: uuid.UUID, older_than_days: int) -> int:
        """Forgets the tenant's tombstones older than ``older_than_days`` (readers that have not
        looked for that long reload in full); returns how many."""
        result = await self.session.execute(
            _PRUNE[side], {"tenant_id": tenant_id, "days": older_than_days}
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
