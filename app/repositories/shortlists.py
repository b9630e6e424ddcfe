"""Shortlist snapshots: written once, read back for audit, training and the scouts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, Shortlist, ShortlistItem, Vacancy
from app.repositories.audit import APPEND_CALL, append_params, appended_result


def _json(value: Any) -> str:
    # orjson: the snapshot's 50 explained items are the largest document a request writes.
    return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()


# The snapshot rows of the vacancies that still exist, and their items joined to the candidates
# that still exist (someone erased meanwhile is left out and the ranks close up). Both are
# locked as the foreign keys will lock them, but first: an erasure holds the person's row and
# then takes the audit chain's lock, so a statement that appended under that lock must not then
# wait for the row (a deadlock); it waits before, and finds the person gone.
_RANKED = (
    "x AS (SELECT x.* FROM jsonb_to_recordset(CAST(:snapshots AS jsonb)) AS x(id uuid, "
    "vacancy_id uuid, key_id text, ranker_version text, feature_version text, "
    "embedding_model text, params jsonb, excluded_by_gate jsonb, considered integer, "
    "origin text, job_id uuid) "
    "WHERE EXISTS (SELECT FROM vacancies v WHERE v.tenant_id = :tenant_id "
    "AND v.id = x.vacancy_id FOR KEY SHARE)), "
    "held AS (SELECT x.* FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS x(shortlist_id uuid, "
    "rank integer, candidate_id uuid, score double precision, features jsonb, "
    "explanation jsonb) "
    "JOIN candidates c ON c.tenant_id = :tenant_id AND c.id = x.candidate_id "
    "FOR KEY SHARE OF c), "
    "r AS (SELECT h.*, row_number() OVER (PARTITION BY h.shortlist_id ORDER BY h.rank) "
    "AS kept_rank FROM held h)"
)


def _stored(condition: str) -> str:
    """Inserting the snapshots of ``x`` (where ``condition`` holds) and their items of ``r``."""
    return (
        "s AS (INSERT INTO shortlists (id, tenant_id, vacancy_id, key_id, "  # noqa: S608 (constants)
        "ranker_version, feature_version, embedding_model, params, excluded_by_gate, "
        "considered, origin, job_id) "
        "SELECT x.id, :tenant_id, x.vacancy_id, x.key_id, x.ranker_version, x.feature_version, "
        "x.embedding_model, x.params, x.excluded_by_gate, x.considered, x.origin, x.job_id "
        f"FROM x WHERE {condition} RETURNING id, created_at), "
        "i AS (INSERT INTO shortlist_items (shortlist_id, rank, tenant_id, "
        "candidate_id, score, features, explanation) SELECT r.shortlist_id, r.kept_rank, "
        ":tenant_id, r.candidate_id, r.score, r.features, r.explanation FROM r "
        "JOIN s ON s.id = r.shortlist_id RETURNING shortlist_id, rank, candidate_id)"
    )


_KEPT = "(SELECT array_agg(i.candidate_id ORDER BY i.rank) FROM i WHERE i.shortlist_id = s.id)"
# One statement, built once, for any number of snapshots of one tenant (a request stores one, a
# batch task its block's): what was stored, per snapshot.
_INSERT_SNAPSHOTS = text(
    f"WITH {_RANKED}, {_stored('true')} SELECT s.id, s.created_at, {_KEPT} FROM s"  # noqa: S608
)
# The same, all or nothing with the audit entries of the snapshots (app/services/audit.py):
# under the tenant's chain lock, the entries are appended if everything is still there to be
# stored as they say (no vacancy deleted, no candidate erased meanwhile) and the chain's last
# entry is the one they were chained onto; the snapshots are stored only if they were. One
# row always comes back, with what appending answered (NULL: not tried, something was gone).
_INSERT_SNAPSHOTS_SEALED = text(
    f"WITH {_RANKED}, a AS (SELECT {APPEND_CALL} AS r "  # noqa: S608 (module constants only)
    "WHERE (SELECT count(*) FROM x) = :audit_snapshots "
    "AND (SELECT count(*) FROM r) = :audit_items), "
    f"{_stored('(SELECT (a.r).appended FROM a)')} "
    f"SELECT s.id, s.created_at, {_KEPT}, (SELECT a.r FROM a) "
    "FROM (VALUES (1)) AS one (n) LEFT JOIN s ON true"
)
# A snapshot as stored (with the candidate ids kept, in rank order), and what appending the
# audit entries answered (appended, the chain's head's number and hash as it was).
Stored = tuple[Shortlist, list[uuid.UUID]]
Sealed = tuple[bool, int, bytes | None]
# What a snapshot is stored from: its row's fields and its items' (rank order).
SnapshotRows = tuple[dict[str, Any], Sequence[dict[str, Any]]]

_SNAPSHOT_COLUMNS = (
    "vacancy_id", "key_id", "ranker_version", "feature_version", "embedding_model", "params",
    "excluded_by_gate", "considered", "origin", "job_id",
)  # fmt: skip


class ShortlistRepository:
    """Tenant-scoped snapshot storage."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create_many(
        self,
        tenant_id: uuid.UUID,
        snapshots: Sequence[SnapshotRows],
        audit: tuple[tuple[int, bytes | None], Sequence[dict[str, Any]]] | None = None,
    ) -> tuple[list[Stored | None], Sealed | None]:
        """Stores the tenant's snapshots with their ranked items in one statement; returns, in
        their order, each snapshot and the candidate ids stored with it, in rank order — None
        for one whose vacancy no longer exists (deleted while it was ranked: not stored).
        A snapshot's ``id`` may be given (else one is made).

        An item whose candidate no longer exists (erased while the ranking ran) is left out and
        the ranks close up, so a snapshot never names anyone who is gone.

        ``audit``: audit entries chained onto a head (its number and hash). The statement is
        then all or nothing: the entries are appended, and the snapshots stored, only if every
        snapshot and item is still there to be stored as the entries say and the chain's last
        entry is that head. Also returned: whether they were appended and the chain's head as
        it was (None: not tried, something was gone); when they were not, nothing was stored
        (every snapshot None)."""
        if not snapshots:
            return [], None
        made = [
            (
                {"origin": "request", "job_id": None, **shortlist},
                shortlist.get("id") or uuid.uuid4(),
                items,
            )
            for shortlist, items in snapshots
        ]
        params = {
            "tenant_id": tenant_id,
            "snapshots": _json(
                [
                    {"id": snapshot_id, **{k: shortlist[k] for k in _SNAPSHOT_COLUMNS}}
                    for shortlist, snapshot_id, _ in made
                ]
            ),
            "items": _json(
                [
                    {"shortlist_id": snapshot_id, **item}
                    for _, snapshot_id, items in made
                    for item in items
                ]
            ),
        }
        statement = _INSERT_SNAPSHOTS
        if audit is not None:
            statement = _INSERT_SNAPSHOTS_SEALED
            params |= append_params(tenant_id, *audit)
            params["audit_snapshots"] = len(made)
            params["audit_items"] = sum(len(items) for _, _, items in made)
        rows = (await self.session.execute(statement, params)).all()
        stored = {row[0]: (row[1], list(row[2] or [])) for row in rows if row[0] is not None}
        sealed = rows[0][3] if audit is not None else None
        out: list[Stored | None] = []
        for shortlist, snapshot_id, _ in made:
            if snapshot_id not in stored:
                out.append(None)
                continue
            created_at, kept = stored[snapshot_id]
            fields = {k: v for k, v in shortlist.items() if k != "id"}
            out.append((Shortlist(**fields, id=snapshot_id, created_at=created_at), kept))
        return out, None if sealed is None else appended_result(*sealed)

    async def get(self, tenant_id: uuid.UUID, shortlist_id: uuid.UUID) -> Shortlist | None:
        """Returns one snapshot of the tenant."""
        stmt = select(Shortlist).where(
            Shortlist.tenant_id == tenant_id, Shortlist.id == shortlist_id
        )
        return await self.session.scalar(stmt)

    async def items(
        self, tenant_id: uuid.UUID, shortlist_id: uuid.UUID
    ) -> list[tuple[ShortlistItem, str | None, list[Any] | None]]:
        """Returns the items in rank order with the candidate's current external id and skills
        (None for both once the candidate has been erased)."""
        stmt = (
            select(ShortlistItem, Candidate.external_id, Candidate.skills)
            .outerjoin(
                Candidate,
                (Candidate.id == ShortlistItem.candidate_id)
                & (Candidate.tenant_id == ShortlistItem.tenant_id),
            )
            .where(ShortlistItem.tenant_id == tenant_id, ShortlistItem.shortlist_id == shortlist_id)
            .order_by(ShortlistItem.rank)
        )
        return [(row[0], row[1], row[2]) for row in await self.session.execute(stmt)]

    async def list_for_vacancy(
        self, tenant_id: uuid.UUID, vacancy_id: uuid.UUID, limit: int
    ) -> Sequence[Shortlist]:
        """Returns the vacancy's snapshots, newest first."""
        stmt = (
            select(Shortlist)
            .where(Shortlist.tenant_id == tenant_id, Shortlist.vacancy_id == vacancy_id)
            .order_by(Shortlist.created_at.desc(), Shortlist.id)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    async def vacancy_external_id(
        self, tenant_id: uuid.UUID, vacancy_id: uuid.UUID | None
    ) -> str | None:
        """Returns the external id of a snapshot's vacancy (None if it was deleted)."""
        if vacancy_id is None:
            return None
        stmt = select(Vacancy.external_id).where(
            Vacancy.tenant_id == tenant_id, Vacancy.id == vacancy_id
        )
        return await self.session.scalar(stmt)
