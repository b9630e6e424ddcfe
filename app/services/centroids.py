"""Each tenant's centroids (the mean vector of its candidates, and of its vacancies), read
from the database and kept for a minute per process: a corpus statistic that moves slowly, as
BM25's idf does, for the centred similarities of app/ml/centring.py."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.centroids import CentroidRepository
from app.repositories.vectors import vector_from_send
from app.services.lru import Lru

KEEP_S = 60.0
# A centroid of few texts is mostly those texts themselves: it is shrunk toward zero by
# n / (n + PRIOR_TEXTS), so one vacancy is not centred away into nothing.
PRIOR_TEXTS = 10
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Centroids:
    candidates: F32 | None
    vacancies: F32 | None


_CACHE: Lru[tuple[uuid.UUID, bool], tuple[float, Centroids]] = Lru(256)


def _shrunk(raw: bytes | None, count: int) -> F32 | None:
    mean = vector_from_send(raw)
    if mean is None:
        return None
    shrunk: F32 = (mean * (count / (count + PRIOR_TEXTS))).astype(np.float32)
    return shrunk


async def centroids(
    session: AsyncSession, tenant_id: uuid.UUID, *, candidates: bool = True
) -> Centroids:
    """The tenant's centroids, at most ``KEEP_S`` old. Without ``candidates`` only the
    vacancies' is read (a shortlist takes the candidates' from its pool)."""
    now = time.monotonic()
    held = _CACHE.get((tenant_id, candidates))
    if held is not None and now - held[0] < KEEP_S:
        return held[1]
    repo = CentroidRepository(session)
    found = Centroids(
        _shrunk(*await repo.centroid("candidates", tenant_id)) if candidates else None,
        _shrunk(*await repo.centroid("vacancies", tenant_id)),
    )
    _CACHE.put((tenant_id, candidates), (now, found))
    return found
