"""Stored vectors: candidates' and vacancies' embeddings, candidate chunks, the skill cache."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, CandidateChunk, SkillEmbedding, Vacancy


def vector_from_send(raw: bytes | None) -> np.ndarray | None:
    """Decodes pgvector's binary form (``vector_send``: int16 dimensions, int16 unused, then
    big-endian float4s) into float32; None stays None. Cheaper than parsing the text form."""
    if raw is None:
        return None
    return np.frombuffer(raw, dtype=">f4", offset=4).astype(np.float32)


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
