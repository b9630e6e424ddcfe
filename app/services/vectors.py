"""Keeping vectors current: embed on write, in batches, off the event loop, never twice.

A PUT returns only after its vectors are stored (read-your-writes for matching). Unchanged text
is not embedded again (content hash per model); each distinct skill label is embedded once per
model and cached by its keyed hash (app/services/label_key.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate
from app.ml.encoder import Encoder
from app.ml.languages import detect_language
from app.ml.text import (
    candidate_text,
    content_hash,
    occupation_text,
    skill_key,
    skill_labels,
    vacancy_text,
)
from app.repositories.vectors import VectorRepository
from app.services.label_key import label_hash
from app.services.lru import Lru

# Skill labels repeat across thousands of profiles: keep their vectors in memory too, by (model
# id, skill key), so a warm request hashes nothing; at about 1.5 kB a vector, the bound keeps
# this under ~75 MB; the least recently used labels go first.
_SKILL_CACHE: Lru[tuple[str, str], npt.NDArray[np.float32]] = Lru(50_000)


def _labels_by_key(labels: Iterable[str]) -> dict[str, str]:
    """The first label seen for each skill key."""
    by_key: dict[str, str] = {}
    for label in labels:
        by_key.setdefault(skill_key(label), label)
    return by_key


def _remember(model_id: str, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
    for key, vector in vectors.items():
        _SKILL_CACHE.put((model_id, key), vector)


def forget_skill_vectors(keys: Iterable[str]) -> int:
    """Drops these skill keys' vectors, of every model, from this process's memory; returns
    how many entries went."""
    doomed = set(keys)
    return _SKILL_CACHE.discard_where(lambda entry: entry[1] in doomed) if doomed else 0


def _analyse(encoder: Encoder, text: str) -> tuple[list[tuple[int, int]], str]:
    """A search text's chunk spans and its language (off the event loop: both read it all)."""
    return encoder.chunk_spans(text) or [(0, len(text))], detect_language(text)


def _mean_unit(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    unit: npt.NDArray[np.float32] = (mean / norm if norm > 0 else mean).astype(np.float32)
    return unit


class VacancyTexts(Protocol):
    """What deciding whether a vacancy's vectors are current reads (an ORM row or a ranking
    read both have it)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def required_skills(self) -> Any: ...
    @property
    def content_hash(self) -> bytes | None: ...
    @property
    def embedding_model(self) -> str | None: ...


class VectorService:
    """Embeds candidates, vacancies and skill labels with one encoder."""

    def __init__(self, session: AsyncSession, encoder: Encoder) -> None:
        self.encoder = encoder
        self.repo = VectorRepository(session)

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encoder.encode, texts)

    async def skill_vectors(self, labels: Iterable[str]) -> dict[str, np.ndarray]:
        """Returns a vector per skill key, from the cache or embedded now (and cached)."""
        by_key = _labels_by_key(labels)
        out: dict[str, npt.NDArray[np.float32]] = {}
        for key in by_key:
            hit = _SKILL_CACHE.get((self.model_id, key))
            if hit is not None:
                out[key] = hit
        if len(out) == len(by_key):
            return out
        hashes = {label_hash(k): k for k in by_key if k not in out}
        stored = await self.repo.skill_vectors(self.model_id, list(hashes))
        found = {hashes[h]: np.asarray(v, dtype=np.float32) for h, v in stored.items()}
        _remember(self.model_id, found)
        out.update(found)
        out.update(await self._embed_labels({k: by_key[k] for k in by_key if k not in out}))
        return out

    async def store_skill_vectors(self, labels: Iterable[str]) -> int:
        """Makes sure the database's label cache holds a vector for each label (whatever this
        process remembers: what another process reads is the database); returns how many
        were embedded now."""
        by_key = _labels_by_key(labels)
        hashes = {label_hash(key): key for key in by_key}
        stored = await self.repo.stored_hashes(self.model_id, list(hashes))
        missing = {key: by_key[key] for digest, key in hashes.items() if digest not in stored}
        return len(await self._embed_labels(missing))

    async def _embed_labels(self, labels: dict[str, str]) -> dict[str, np.ndarray]:
        """Embeds these labels (by skill key), adds them to the database's cache and this
        process's; returns their vectors by key."""
        if not labels:
            return {}
        keys = list(labels)
        fresh = await self._encode([labels[k] for k in keys])
        await self.repo.add_skill_vectors(
            self.model_id, {label_hash(k): v for k, v in zip(keys, fresh, strict=True)}
        )
        new = dict(zip(keys, fresh, strict=True))
        _remember(self.model_id, new)
        return new

    async def refresh_candidates(self, rows: Sequence[Candidate], *, force: bool = False) -> int:
        """Embeds the candidates whose text changed (or all, with ``force``); returns how many."""
        work = []
        for row in rows:
            text = candidate_text(row.summary, row.skills, row.desired_occupations)
            occupations = occupation_text(row.desired_occupations)
            digest = content_hash(self.model_id, text, occupations)
            if force or row.content_hash != digest or row.embedding_model != self.model_id:
                spans, language = await asyncio.to_thread(_analyse, self.encoder, text)
                work.append((row, text, occupations, digest, spans, language))
        if not work:
            return 0
        texts: list[str] = []
        for _, text, occupations, _, spans, _ in work:
            texts += [text[start:end] for start, end in spans]
            if occupations:
                texts.append(occupations)
        vectors = await self._encode(texts)
        await self.skill_vectors(label for row, *_ in work for label in skill_labels(row.skills))
        at = 0
        for row, text, occupations, digest, spans, language in work:
            chunk_vectors = vectors[at : at + len(spans)]
            at += len(spans)
            occupation_vector = None
            if occupations:
                occupation_vector = vectors[at]
                at += 1
            await self.repo.set_candidate_vectors(
                row.tenant_id,
                row.id,
                model_id=self.model_id,
                content_hash=digest,
                search_text=text,
                text_language=language,
                embedding=_mean_unit(chunk_vectors),
                occupation_embedding=occupation_vector,
                chunks=[
                    (start, end, vec)
                    for (start, end), vec in zip(spans, chunk_vectors, strict=True)
                ],
            )
        return len(work)

    async def refresh_vacancies(self, rows: Sequence[VacancyTexts], *, force: bool = False) -> int:
        """Embeds the vacancies whose text changed (or all, with ``force``); returns how many."""
        work = []
        for row in rows:
            text = vacancy_text(row.title, row.description, row.required_skills)
            digest = content_hash(self.model_id, text, row.title)
            if force or row.content_hash != digest or row.embedding_model != self.model_id:
                spans, language = await asyncio.to_thread(_analyse, self.encoder, text)
                work.append((row, text, digest, spans, language))
        if not work:
            return 0
        texts: list[str] = []
        for row, text, _, spans, _ in work:
            texts += [text[start:end] for start, end in spans]
            texts.append(row.title)
        vectors = await self._encode(texts)
        await self.skill_vectors(
            label for row, *_ in work for label in skill_labels(row.required_skills)
        )
        at = 0
        for row, text, digest, spans, language in work:
            chunk_vectors = vectors[at : at + len(spans)]
            title_vector = vectors[at + len(spans)]
            at += len(spans) + 1
            await self.repo.set_vacancy_vectors(
                row.tenant_id,
                row.id,
                model_id=self.model_id,
                content_hash=digest,
                search_text=text,
                text_language=language,
                embedding=_mean_unit(chunk_vectors),
                title_embedding=title_vector,
            )
        return len(work)
