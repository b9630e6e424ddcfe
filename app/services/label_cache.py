"""Forgetting skill labels: what an erasure does to the shared skill-label cache.

``skill_embeddings`` is one cache for every tenant, keyed by the keyed hash of each label's
skill key (app/services/label_key.py). After a candidate is erased, a label only that person
held must not stay in it (nor in this process's memory), while one anybody else still uses
stays, so nothing is embedded twice. "Anybody" is any tenant's candidate skills, any tenant's
vacancy required skills and the ESCO labels. SQL finds the rows by their lower case, and a
label counts as used only if its skill key (Python's casefold) is the one asked about: where
the two forms differ the label is forgotten, which costs a new embedding later, never a leak.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.text import skill_key
from app.repositories.vectors import VectorRepository
from app.services.label_key import label_hash
from app.services.vectors import forget_skill_vectors


async def forget_unused_labels(session: AsyncSession, labels: Iterable[str]) -> int:
    """Deletes from the label cache (every model) and from this process's memory the vectors
    of those of ``labels`` that nothing remaining uses; returns how many skill keys that was.
    Call it in the erasing transaction (read committed, the default), after the candidate's
    row is deleted: it waits its turn behind other erasures doing the same until they
    commit."""
    keys = {skill_key(label) for label in labels}
    if not keys:
        return 0
    repo = VectorRepository(session)
    await repo.lock_label_cache()
    used = {skill_key(found) for found in await repo.labels_in_use(sorted(keys))}
    unused = keys - used
    await repo.delete_skill_vectors([label_hash(key) for key in unused])
    forget_skill_vectors(unused)
    return len(unused)
