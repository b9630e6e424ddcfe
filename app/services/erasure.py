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

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate
from app.ml.text import forget_labels, skill_labels
from app.repositories.erasure import ErasureRepository
from app.repositories.resources import CandidateRepository
from app.services import audit
from app.services.label_cache import forget_unused_labels
from app.services.taxonomy_linking import forget_texts

log = logging.getLogger("ponte.erasure")


async def erase_candidates(
    session: AsyncSession, rows: Sequence[Candidate], *, reason: str
) -> list[audit.Act]:
    """Erases the candidates ``rows`` (read, and locked, by the caller); returns their acts
    for the caller to record last in its transaction. ``reason``: "request" (DELETE) or
    "retention" (``ponte purge``). The labels they alone used are looked for once for all of
    them (it reads every tenant's skills)."""
    acts, labels, texts = [], [], []
    reach, candidates = ErasureRepository(session), CandidateRepository(session)
    tenants: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows:
        tenants.setdefault(row.tenant_id, []).append(row.id)
    counted: dict[uuid.UUID, dict[str, int]] = {}
    for tenant_id, ids in tenants.items():
        counted |= await reach.reached(tenant_id, ids)
    for row in rows:
        labels += skill_labels(row.skills or [])
        texts += row.desired_occupations or []
        reached = counted[row.id]
        await candidates.delete(row)
        acts.append(
            audit.Act(
                "candidate.erase",
                [audit.ref("candidate", row.id)],
                detail={"reason": reason, **reached},
            )
        )
    # How many went is not in the tenant's entries: whether a label stayed would tell the
    # tenant that another one's people or vacancies hold it.
    forgotten = await forget_unused_labels(session, labels)
    # this process's other memories of their words (other processes': as they age out)
    forget_texts([*labels, *texts])
    forget_labels([*labels, *texts])
    log.info("erased", extra={"candidates": len(rows), "labels_forgotten": forgotten})
    return acts
