"""What an in-process candidate pool holds of each candidate, read in batches.

Which candidates to read comes from the change feed (app/repositories/change_feed.py).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.pool import PoolRow
from app.ml.taxonomy_match import interned
from app.ml.text import skill_labels
from app.repositories.vectors import vector_from_send

_BATCH = 5000
_ROWS = text(
    "SELECT id, changed_xid, status, work_permit, available_from, lat, lon, max_commute_km, "
    "languages, coalesce(search_text, ''), vector_send(embedding), external_id, skills, "
    "vector_send(occupation_embedding), "
    # of the ESCO links only what matching reads: the skills' URIs, the occupations' URIs and
    # scores (decoding every row's whole links document doubled a pool's load time)
    "jsonb_path_query_array(esco, '$.skills[*].uri'), esco->'occupations', text_language "
    "FROM candidates "
    "WHERE tenant_id = :tenant_id AND id = ANY(:ids)"
)


class PoolRepository:
    """Reads candidates as pool rows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows(self, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[PoolRow]:
        """Returns what the pool holds of these candidates (chunks only where there are several)."""
        out: list[PoolRow] = []
        for start in range(0, len(ids), _BATCH):
            batch = list(ids[start : start + _BATCH])
            chunks: dict[uuid.UUID, list[np.ndarray]] = {}
            chunk_rows = await self.session.execute(
                text(
                    "SELECT ch.candidate_id, vector_send(ch.embedding) FROM candidate_chunks ch "
                    "WHERE ch.tenant_id = :tenant_id AND ch.candidate_id = ANY(:ids) "
                    "AND EXISTS (SELECT FROM candidate_chunks more WHERE "
                    "more.candidate_id = ch.candidate_id AND more.chunk_no = 1) "
                    "ORDER BY ch.candidate_id, ch.chunk_no"
                ),
                {"tenant_id": tenant_id, "ids": batch},
            )
            for candidate_id, raw in chunk_rows:
                vector = vector_from_send(raw)
                if vector is not None:
                    chunks.setdefault(candidate_id, []).append(vector)
            result = await self.session.execute(_ROWS, {"tenant_id": tenant_id, "ids": batch})
            for row in result:
                stacked = chunks.get(row[0])
                out.append(
                    PoolRow(
                        id=row[0],
                        xid=int(row[1]),
                        external_id=row[11],
                        # Interned: the same labels recur across thousands of profiles.
                        labels=[sys.intern(label) for label in skill_labels(row[12] or [])],
                        status=row[2],
                        work_permit=row[3],
                        available_from=row[4],
                        lat=row[5],
                        lon=row[6],
                        max_commute_km=row[7],
                        languages=[(i.get("code", ""), i.get("level")) for i in row[8] or []],
                        search_text=row[9],
                        embedding=vector_from_send(row[10]),
                        chunks=np.stack(stacked) if stacked else None,
                        occupation=vector_from_send(row[13]),
                        linked=interned(row[14], row[15]),
                        text_language=row[16],
                    )
                )
        return out
