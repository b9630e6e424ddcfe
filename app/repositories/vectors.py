"""Stored vectors: candidates' and vacancies' embeddings, candidate chunks, the skill cache."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import Table, bindparam, delete, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, CandidateChunk, SkillEmbedding, Vacancy


def vector_from_send(raw: bytes | None) -> np.ndarray | None:
    """Decodes pgvector's binary form (``vector_send``: int16 dimensions, int16 unused, then
    big-endian float4s) into float32; None stays None. Cheaper than parsing the text form."""
    if raw is None:
        return None
    return np.frombuffer(raw, dtype=">f4", offset=4).astype(np.float32)


_LABEL_LOCK_SPACE = 0x4C41424C  # "LABL": apart from the schedule's advisory locks ("PONT")
# Every tenant's candidate and vacancy skill labels, and the ESCO label keys, that are one of
# :keys in lower case. Stored skills are {"label": ...} items (plain strings read too).
_LABELS_IN_USE = text(
    "SELECT s.label FROM candidates c CROSS JOIN LATERAL ("
    "SELECT CASE jsonb_typeof(j.item) WHEN 'string' THEN j.item #>> '{}' "
    "ELSE j.item ->> 'label' END AS label FROM jsonb_array_elements(c.skills) AS j(item)) s "
    "WHERE lower(s.label) = ANY(CAST(:keys AS text[])) "
    "UNION SELECT s.label FROM vacancies v CROSS JOIN LATERAL ("
    "SELECT CASE jsonb_typeof(j.item) WHEN 'string' THEN j.item #>> '{}' "
    "ELSE j.item ->> 'label' END AS label FROM jsonb_array_elements(v.required_skills) "
    "AS j(item)) s WHERE lower(s.label) = ANY(CAST(:keys AS text[])) "
    "UNION SELECT l.key FROM esco_labels l WHERE l.key = ANY(CAST(:keys AS text[]))"
)


class VectorRepository:
    """Writes and reads vectors; every method on tenant rows takes the tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def skill_vectors(self, model_id: str, hashes: Sequence[bytes]) -> dict[bytes, Any]:
        """Returns the cached vectors of these label hashes under ``model_id``."""
        if not hashes:
            return {}
        stmt = select(SkillEmbedding.label_hash, SkillEmbedding.embedding).where(
            SkillEmbedding.model_id == model_id, SkillEmbedding.label_hash.in_(set(hashes))
        )
        return {bytes(row[0]): row[1] for row in await self.session.execute(stmt)}

    async def stored_hashes(self, model_id: str, hashes: Sequence[bytes]) -> set[bytes]:
        """Those of these label hashes the cache holds a vector for under ``model_id``."""
        if not hashes:
            return set()
        stmt = select(SkillEmbedding.label_hash).where(
            SkillEmbedding.model_id == model_id, SkillEmbedding.label_hash.in_(set(hashes))
        )
        return {bytes(row) for row in await self.session.scalars(stmt)}

    async def add_skill_vectors(self, model_id: str, vectors: dict[bytes, Any]) -> None:
        """Adds vectors to the cache (a concurrent writer may have added them first)."""
        if not vectors:
            return
        stmt = insert(SkillEmbedding).on_conflict_do_nothing()
        await self.session.execute(
            stmt,
            [{"model_id": model_id, "label_hash": h, "embedding": v} for h, v in vectors.items()],
        )

    async def lock_label_cache(self) -> None:
        """Waits for, then holds to the end of the transaction, the lock that takes turns at
        forgetting labels: two erasures of the last two holders of a label each see the
        other's holder until it commits, so without turns both would keep its vector."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(:space, 0)"), {"space": _LABEL_LOCK_SPACE}
        )

    async def labels_in_use(self, keys: Sequence[str]) -> set[str]:
        """Of every tenant's candidate skills and vacancy required skills, and the ESCO labels'
        keys, those whose lower case is one of ``keys`` (the label cache is shared, so every
        tenant's rows count). One statement that reads every row's skills: about 0.3 s for
        100,000 candidates of ten skills each."""
        if not keys:
            return set()
        rows = await self.session.scalars(_LABELS_IN_USE, {"keys": list(keys)})
        return set(rows)

    async def delete_skill_vectors(self, hashes: Sequence[bytes]) -> int:
        """Deletes the cached vectors of these label hashes under every model; returns how
        many rows went."""
        if not hashes:
            return 0
        result: Any = await self.session.execute(
            delete(SkillEmbedding).where(SkillEmbedding.label_hash.in_(set(hashes)))
        )
        return int(result.rowcount or 0)

    async def set_candidate_vectors(
        self,
        tenant_id: uuid.UUID,
        candidate_id: uuid.UUID,
        *,
        model_id: str,
        content_hash: bytes,
        search_text: str,
        text_language: str,
        embedding: Any,
        occupation_embedding: Any | None,
        chunks: Sequence[tuple[int, int, Any]],
    ) -> None:
        """Stores a candidate's vectors and replaces its chunks."""
        await self.session.execute(
            update(Candidate)
            .where(Candidate.tenant_id == tenant_id, Candidate.id == candidate_id)
            .values(
                embedding=embedding,
                occupation_embedding=occupation_embedding,
                embedding_model=model_id,
                content_hash=content_hash,
                search_text=search_text,
                text_language=text_language,
            )
        )
        await self.session.execute(
            delete(CandidateChunk).where(
                CandidateChunk.tenant_id == tenant_id, CandidateChunk.candidate_id == candidate_id
            )
        )
        if chunks:
            await self.session.execute(
                insert(CandidateChunk),
                [
                    {
                        "tenant_id": tenant_id,
                        "candidate_id": candidate_id,
                        "chunk_no": n,
                        "char_start": start,
                        "char_end": end,
                        "embedding": vector,
                    }
                    for n, (start, end, vector) in enumerate(chunks)
                ],
            )

    async def set_vacancy_vectors(
        self,
        tenant_id: uuid.UUID,
        vacancy_id: uuid.UUID,
        *,
        model_id: str,
        content_hash: bytes,
        search_text: str,
        text_language: str,
        embedding: Any,
        title_embedding: Any,
    ) -> None:
        """Stores a vacancy's vectors."""
        await self.session.execute(
            update(Vacancy)
            .where(Vacancy.tenant_id == tenant_id, Vacancy.id == vacancy_id)
            .values(
                embedding=embedding,
                title_embedding=title_embedding,
                embedding_model=model_id,
                content_hash=content_hash,
                search_text=search_text,
                text_language=text_language,
            )
        )

    async def stale(
        self, model: type[Candidate] | type[Vacancy], model_id: str, limit: int
    ) -> Sequence[Any]:
        """Returns up to ``limit`` rows (any tenant) whose vectors are missing or from another
        model — the batch job's work list; it shrinks as work is committed, so it resumes."""
        stmt = (
            select(model)
            .where(
                or_(
                    model.embedding.is_(None),
                    model.embedding_model.is_distinct_from(model_id),
                    model.content_hash.is_(None),
                )
            )
            .order_by(model.id)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    async def undetected(
        self, model: type[Candidate] | type[Vacancy], limit: int
    ) -> Sequence[tuple[uuid.UUID, uuid.UUID, str]]:
        """Up to ``limit`` rows (any tenant) whose search text was stored before its language
        was detected: (id, tenant, search text)."""
        stmt = (
            select(model.id, model.tenant_id, model.search_text)
            .where(model.text_language.is_(None), model.search_text.is_not(None))
            .order_by(model.id)
            .limit(limit)
        )
        return [(row[0], row[1], row[2] or "") for row in await self.session.execute(stmt)]

    async def set_languages(
        self, model: type[Candidate] | type[Vacancy], languages: dict[uuid.UUID, str]
    ) -> None:
        """Stores each row's detected text language, unless a write stored one meanwhile (for
        its new text); the write marks the row changed, so the in-process indexes read it
        again."""
        if languages:
            table = cast(Table, model.__table__)
            statement = (
                update(table)
                .where(table.c.id == bindparam("row_id"), table.c.text_language.is_(None))
                .values(text_language=bindparam("language"))
            )
            await (await self.session.connection()).execute(
                statement, [{"row_id": k, "language": v} for k, v in languages.items()]
            )

    async def stale_in_tenant(
        self, model: type[Candidate] | type[Vacancy], tenant_id: uuid.UUID, model_id: str
    ) -> Sequence[Any]:
        """Returns the tenant's rows without vectors of ``model_id``."""
        stmt = select(model).where(
            model.tenant_id == tenant_id,
            or_(model.embedding.is_(None), model.embedding_model.is_distinct_from(model_id)),
        )
        return (await self.session.scalars(stmt)).all()

    async def forget_hashes(self, model: type[Candidate] | type[Vacancy]) -> int:
        """Marks every row's vectors stale (``reembed --all``)."""
        result: Any = await self.session.execute(update(model).values(content_hash=None))
        return int(result.rowcount or 0)


def as_vector(values: Any) -> Any:
    """Returns a float32 numpy vector (what pgvector's type binds)."""
    array = np.asarray(values, dtype=np.float32)
    assert array.ndim == 1, array.shape
    return array


VECTOR_PARAM = bindparam("qvec", type_=Vector())  # of the stored vectors' size
