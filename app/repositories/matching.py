"""Matching SQL for the database path: gates, vector and chunk retrieval, pair features.

Both directions share one pair expression set over ``candidates c JOIN vacancies v`` in the
same tenant. Each gate is an SQL expression worth 1 (pass), 0 (unknown) or -1 (fail), so
filtering, the per-gate counts and the explanations all read the same definition.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

GATE_SQL: dict[str, str] = {
    # Paused or withdrawn people are not put forward; 'placed' is its own gate below.
    "status": "CASE WHEN c.status IN ('active', 'placed') THEN 1 ELSE -1 END",
    "not_placed": "CASE WHEN c.status = 'placed' THEN -1 ELSE 1 END",
    "availability": (
        "CASE WHEN c.available_from IS NULL OR v.start_date IS NULL THEN 0 "
        "WHEN c.available_from <= v.start_date THEN 1 ELSE -1 END"
    ),
    "language": "ponte_language_gate(v.languages, c.languages)",
    "commute": (
        "CASE WHEN v.remote THEN 1 "
        "WHEN c.lat IS NULL OR v.lat IS NULL OR c.max_commute_km IS NULL THEN 0 "
        "WHEN ponte_haversine_km(c.lat, c.lon, v.lat, v.lon) <= c.max_commute_km THEN 1 "
        "ELSE -1 END"
    ),
    "permit": "CASE c.work_permit WHEN 'no' THEN -1 WHEN 'yes' THEN 1 ELSE 0 END",
}

Direction = Literal["shortlist", "matches"]


@dataclass(frozen=True)
class Scope:
    """One side fixed, the other ranked: a vacancy's candidates, or a candidate's vacancies."""

    direction: Direction
    tenant_id: uuid.UUID
    anchor_id: uuid.UUID
    gates: tuple[str, ...]

    @property
    def ranked(self) -> str:
        return "c" if self.direction == "shortlist" else "v"

    @property
    def anchor(self) -> str:
        return "v" if self.direction == "shortlist" else "c"

    def where(self) -> str:
        """Returns the pair filter: same tenant, anchor fixed, open vacancies for matches."""
        clause = (
            "c.tenant_id = :tenant_id AND v.tenant_id = :tenant_id "
            f"AND {self.anchor}.id = :anchor_id"
        )
        if self.direction == "matches":
            clause += " AND v.status = 'open'"
        return clause

    def passing(self) -> str:
        """Returns the condition that no enabled gate fails."""
        return " AND ".join(f"({GATE_SQL[g]}) <> -1" for g in self.gates) or "TRUE"

    def params(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "anchor_id": self.anchor_id}


_FROM = "FROM candidates c JOIN vacancies v ON v.tenant_id = c.tenant_id"
# The ranked side's documents a pair's features and explanations read (pair_features); the
# anchor's come from the caller, which has read them already.
_CANDIDATE_DOCS = "c.skills, c.esco AS candidate_esco"
_VACANCY_DOCS = "v.required_skills, v.esco AS vacancy_esco, v.title AS vacancy_title"
# Of no declared size: the stored vectors' size is the model's (app/db/vector_dimension.py).
_QVEC = bindparam("qvec", type_=Vector())
_MU_C = bindparam("mu_c", type_=Vector())
_MU_V = bindparam("mu_v", type_=Vector())


class MatchRepository:
    """Runs the matching statements for one scope."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tune_vector_search(self, rows: int) -> None:
        """Lets HNSW return at least ``rows`` rows, scanning on past filtered-out ones."""
        # pgvector caps ef_search at 1,000; iterative scanning goes on past it when needed.
        ef = min(1000, max(40, rows))
        await self.session.execute(
            text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": str(ef)}
        )
        await self.session.execute(
            text("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        )

    async def gate_counts(self, scope: Scope) -> dict[str, int]:
        """Returns how many ranked rows each gate fails, how many there are and how many pass."""
        fails = ", ".join(
            f"count(*) FILTER (WHERE ({GATE_SQL[g]}) = -1) AS {g}" for g in scope.gates
        )
        sql = (
            f"SELECT count(*) AS total, count(*) FILTER (WHERE {scope.passing()}) AS passing"
            f"{', ' + fails if fails else ''} {_FROM} WHERE {scope.where()}"
        )
        row = (await self.session.execute(text(sql), scope.params())).mappings().one()
        return {k: int(v) for k, v in row.items()}

    async def nearest(
        self, scope: Scope, query_vector: Any, k: int, *, exact: bool
    ) -> list[uuid.UUID]:
        """Returns the ids of the ``k`` passing rows whose embedding is nearest the query.

        ``exact`` scans the (small) passing set instead of the HNSW index, so a selective gate
        never starves the result.
        """
        r = scope.ranked
        order = f"({r}.embedding <=> :qvec)" + (" + 0" if exact else "")
        sql = (
            f"SELECT {r}.id {_FROM} WHERE {scope.where()} AND {scope.passing()} "
            f"AND {r}.embedding IS NOT NULL ORDER BY {order} LIMIT :k"
        )
        stmt = text(sql).bindparams(_QVEC)
        rows = await self.session.execute(stmt, {**scope.params(), "qvec": query_vector, "k": k})
        return [row[0] for row in rows]

    async def nearest_chunks(
        self, scope: Scope, query_vector: Any, k: int, *, exact: bool
    ) -> list[uuid.UUID]:
        """Returns candidates (shortlist direction) owning the chunks nearest the query."""
        order = "(ch.embedding <=> :qvec)" + (" + 0" if exact else "")
        sql = (
            "SELECT ch.candidate_id FROM candidate_chunks ch "
            "JOIN candidates c ON c.id = ch.candidate_id AND c.tenant_id = ch.tenant_id "
            "JOIN vacancies v ON v.tenant_id = c.tenant_id "
            f"WHERE ch.tenant_id = :tenant_id AND {scope.where()} AND {scope.passing()} "
            f"ORDER BY {order} LIMIT :k"
        )
        stmt = text(sql).bindparams(_QVEC)
        rows = await self.session.execute(
            stmt, {**scope.params(), "qvec": query_vector, "k": 3 * k}
        )
        return list(dict.fromkeys(row[0] for row in rows))[:k]

    async def lexical(self, scope: Scope, k: int) -> list[uuid.UUID]:
        """Returns the passing rows ranked highest by PostgreSQL full-text search of the
        anchor's text (``ts_rank_cd``): kept for bench/lexical_compare.py, which measures it
        against the BM25 that ranking uses (app/ml/bm25.py)."""
        r, a = scope.ranked, scope.anchor
        sql = (
            f"SELECT {r}.id {_FROM} CROSS JOIN LATERAL "
            f"(SELECT ponte_or_tsquery(coalesce({a}.search_text, '')) AS q) lq "
            f"WHERE {scope.where()} AND {scope.passing()} AND {r}.search_tsv @@ lq.q "
            f"ORDER BY ts_rank_cd({r}.search_tsv, lq.q, 32) DESC, {r}.id LIMIT :k"
        )
        rows = await self.session.execute(text(sql), {**scope.params(), "k": k})
        return [row[0] for row in rows]

    async def chunk_vectors(
        self, tenant_id: uuid.UUID, candidate_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[Any]]:
        """Returns the chunk vectors of these candidates."""
        if not candidate_ids:
            return {}
        rows = await self.session.execute(
            text(
                "SELECT candidate_id, embedding FROM candidate_chunks "
                "WHERE tenant_id = :tenant_id AND candidate_id = ANY(:ids) "
                "ORDER BY candidate_id, chunk_no"
            ).columns(embedding=Vector()),
            {"tenant_id": tenant_id, "ids": list(candidate_ids)},
        )
        out: dict[uuid.UUID, list[Any]] = {}
        for candidate_id, vector in rows:
            out.setdefault(candidate_id, []).append(vector)
        return out

    async def pair_features(
        self,
        scope: Scope,
        ids: Sequence[uuid.UUID],
        anchor: Mapping[str, Any],
        candidate_centroid: Any,
        vacancy_centroid: Any,
        dimension: int,
    ) -> list[dict[str, Any]]:
        """Returns, for these ranked rows, every database-side feature, gate and field the
        scorer and the explanations need. The semantic similarities are centred: each side's
        vectors less its centroid (app/ml/centring.py), as the pool computes them.
        ``anchor``: the anchor's documents as the caller has read them (a vacancy's
        ``required_skills``, ``vacancy_esco`` and ``vacancy_title``; a candidate's ``skills``
        and ``candidate_esco``), shared by every row rather than sent and decoded per row."""
        if not ids:
            return []
        r = scope.ranked
        ranked_docs = _CANDIDATE_DOCS if r == "c" else _VACANCY_DOCS
        gates = ", ".join(f"({sql}) AS gate_{name}" for name, sql in GATE_SQL.items())
        sql = f"""
            SELECT c.id AS candidate_id, c.external_id AS candidate_external_id,
                   v.id AS vacancy_id, v.external_id AS vacancy_external_id,
                   1 - ((c.embedding - :mu_c) <=> (v.embedding - :mu_v)) AS semantic_profile,
                   (SELECT max(1 - ((ch.embedding - :mu_c) <=> (v.embedding - :mu_v)))
                      FROM candidate_chunks ch
                     WHERE ch.candidate_id = c.id AND ch.tenant_id = c.tenant_id) AS semantic_chunk,
                   1 - (c.occupation_embedding <=> v.title_embedding) AS title,
                   (SELECT max(1 - (ch.embedding <=> v.title_embedding)) FROM candidate_chunks ch
                     WHERE ch.candidate_id = c.id AND ch.tenant_id = c.tenant_id) AS title_profile,
                   ponte_language_fit(v.languages, c.languages) AS language,
                   CASE WHEN c.lat IS NOT NULL AND v.lat IS NOT NULL
                        THEN ponte_haversine_km(c.lat, c.lon, v.lat, v.lon) END AS distance_km,
                   c.max_commute_km, v.remote, {ranked_docs}, {gates}
            {_FROM} WHERE {scope.where()} AND {scope.passing()} AND {r}.id = ANY(:ids)
        """
        stmt = text(sql).bindparams(_MU_C, _MU_V)
        zero = np.zeros(dimension, dtype=np.float32)
        rows = await self.session.execute(
            stmt,
            {
                **scope.params(),
                "ids": list(ids),
                "mu_c": zero if candidate_centroid is None else candidate_centroid,
                "mu_v": zero if vacancy_centroid is None else vacancy_centroid,
            },
        )
        return [{**row, **anchor} for row in rows.mappings()]
