"""Erasing a person (GDPR Art. 17) so that nothing of them is left, while the programme's
figures stay as they were.

Deleting the candidate's row does most of it, in the database, in one transaction: the
sensitive part, the text chunks and their vectors, and the notes go with it (ON DELETE
CASCADE); a trigger empties the features and explanation of the snapshot items that ranked
them (migration 0018); snapshot items, feedback events and placements keep rank, score,
outcome and the keys that tell one person from another, with the reference set to NULL; a
tombstone (ids only) tells every process to drop them from its pool, BM25 words included, at
its next request. This module adds what the database cannot know: the skill labels only they
used leave the shared label cache. Every erasure is an entry of the audit trail.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate
from app.ml.text import skill_labels
from app.repositories.erasure import ErasureRepository
from app.schemas import Principal
from app.services import audit
from app.services.label_cache import forget_unused_labels


async def erase_candidate(
    session: AsyncSession, principal: Principal, row: Candidate, *, reason: str
) -> audit.Act:
    """Erases the candidate ``row`` (read, and locked, by the caller); returns the act for the
    caller to record last in its transaction. ``reason``: "request" (DELETE) or "retention"
    (``ponte purge``)."""
    labels = skill_labels(row.skills or [])
    reached = await ErasureRepository(session).reached(row.tenant_id, row.id)
    await session.delete(row)
    await session.flush()
    reached["labels_forgotten"] = await forget_unused_labels(session, labels)
    return audit.Act(
        "candidate.erase",
        [audit.ref("candidate", row.id)],
        detail={"reason": reason, **reached},
    )
