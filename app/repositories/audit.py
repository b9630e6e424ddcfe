"""The audit trail's rows: append under the tenant's chain lock, page through, walk a chain."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.audit_tables import AuditEntry

# The call that appends under the tenant's chain lock (migration 0017), as a statement of its
# own or inside a caller's last statement (a request's snapshot: one round trip fewer).
APPEND_CALL = (
    "ponte_audit_append(:audit_tenant, :audit_seq, :audit_hash, CAST(:audit_entries AS jsonb))"
)
_APPEND = text("SELECT appended, head_seq, head_hash FROM " + APPEND_CALL)  # noqa: S608 (constants)


def _as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row as ``jsonb_populate_recordset`` reads it: bytea in PostgreSQL's hex form, ids and
    times as text."""
    return {
        key: ("\\x" + value.hex())
        if isinstance(value, bytes)
        else str(value)
        if isinstance(value, uuid.UUID)
        else value.isoformat()
        if isinstance(value, dt.datetime)
        else value
        for key, value in row.items()
    }


def append_params(
    tenant_id: uuid.UUID, onto: tuple[int, bytes | None], rows: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The parameters of :data:`APPEND_CALL`: insert ``rows`` if the chain's last entry is
    ``onto`` (its number and hash)."""
    return {
        "audit_tenant": tenant_id,
        "audit_seq": onto[0],
        "audit_hash": onto[1],
        "audit_entries": orjson.dumps([_as_json(row) for row in rows]).decode(),
    }


def appended_result(
    appended: bool, head_seq: int, head_hash: bytes | None
) -> tuple[bool, int, bytes | None]:
    """What :data:`APPEND_CALL` answered: whether it appended, and the chain's last entry's
    number and hash as they were."""
    return bool(appended), int(head_seq), bytes(head_hash) if head_hash is not None else None


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(
        self,
        tenant_id: uuid.UUID,
        onto: tuple[int, bytes | None],
        rows: Sequence[dict[str, Any]],
    ) -> tuple[bool, int, bytes | None]:
        """Under the tenant's chain lock (held to the end of the transaction), inserts
        ``rows`` if the chain's last entry is ``onto`` (its number and hash: what they were
        chained onto); returns whether it did, and the last entry's number and hash (0 and None
        before the first) as they were."""
        found = (await self.session.execute(_APPEND, append_params(tenant_id, onto, rows))).one()
        return appended_result(found.appended, found.head_seq, found.head_hash)

    async def page(
        self,
        tenant_id: uuid.UUID,
        *,
        limit: int,
        after_seq: int | None = None,
        at_from: dt.datetime | None = None,
        at_to: dt.datetime | None = None,
        action: str | None = None,
        object_id: uuid.UUID | None = None,
    ) -> list[AuditEntry]:
        """Entries in chain order after ``after_seq``: from ``at_from`` (inclusive) to ``at_to``
        (exclusive); ``action`` a whole name or its first parts (``model`` takes
        ``model.train``); ``object_id`` among the entry's objects."""
        stmt = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
        if after_seq is not None:
            stmt = stmt.where(AuditEntry.seq > after_seq)
        if at_from is not None:
            stmt = stmt.where(AuditEntry.at >= at_from)
        if at_to is not None:
            stmt = stmt.where(AuditEntry.at < at_to)
        if action is not None:
            stmt = stmt.where(
                (AuditEntry.action == action)
                | AuditEntry.action.startswith(action + ".", autoescape=True)
            )
        if object_id is not None:
            stmt = stmt.where(AuditEntry.objects.contains([{"id": str(object_id)}]))
        stmt = stmt.order_by(AuditEntry.seq).limit(limit)
        return list(await self.session.scalars(stmt))

    async def chain(
        self, tenant_id: uuid.UUID, object_id: uuid.UUID | None = None, batch: int = 2000
    ) -> AsyncIterator[AuditEntry]:
        """Every entry of the tenant's chain (that names ``object_id``, if given), in order,
        read a batch at a time."""
        after = 0
        while True:
            rows = await self.page(tenant_id, limit=batch, after_seq=after, object_id=object_id)
            for row in rows:
                yield row
                self.session.expunge(row)
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def about(self, tenant_id: uuid.UUID, object_id: uuid.UUID) -> AsyncIterator[AuditEntry]:
        """The entries that name ``object_id``, in order."""
        return self.chain(tenant_id, object_id)

    async def discard_scratch_trail(self, tenant_id: uuid.UUID) -> None:
        """Deletes the trail of a scratch tenant (``ponte eval``'s, about no one) before the
        tenant goes: the owner's connection only — the service role may not, and no cascade
        takes a trail with its tenant."""
        await self.session.execute(delete(AuditEntry).where(AuditEntry.tenant_id == tenant_id))
