"""A candidate's export (GDPR Art. 15 access, Art. 20 portability): everything Ponte holds
about the person, in one JSON document — what erasure removes, and what the logs say of them.

The document is built from the rows themselves, not from what the API usually shows: the
profile as stored, the vectors and text windows derived from it, the taxonomy links, the
sensitive part, every snapshot that ranked them (rank, score, features, explanation, the
versions that made it), every feedback event with its note, the placements folded from those,
and the audit trail's entries that name them. Making it is itself an entry of that trail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, CandidateSensitive
from app.errors import NotFound
from app.ml.text import skill_labels
from app.repositories.audit import AuditRepository
from app.repositories.export import ExportRepository
from app.repositories.resources import CandidateRepository, SensitiveRepository
from app.schemas import Principal
from app.services import audit
from app.services.explanations import public_explanation
from app.services.feedback import represent as represent_event

EXPORT_FORMAT = "ponte.candidate-export/1"
# Every column of the profile and of the sensitive part is exported, so a column added later is
# too; these are shown elsewhere in the document or are copies of what it shows.
_NOT_PROFILE = frozenset(
    {
        "id",  # as the surrogate id, beside external_id
        "tenant_id",
        "external_id",
        "esco",  # as taxonomy_links
        # under "derived": the search text, its language, the vectors and their model
        "search_text",
        "text_language",
        "embedding",
        "occupation_embedding",
        "embedding_model",
        # copies of what is shown: lat/lon of location, the lexemes and hash of search_text,
        # and the change feed's transaction id
        "lat",
        "lon",
        "search_tsv",
        "content_hash",
        "changed_xid",
    }
)
_PROFILE = tuple(c.name for c in Candidate.__table__.columns if c.name not in _NOT_PROFILE)
_SENSITIVE = tuple(
    c.name
    for c in CandidateSensitive.__table__.columns
    if c.name not in {"candidate_id", "tenant_id"}
)


def _vector(value: Any) -> list[float] | None:
    return None if value is None else np.asarray(value, dtype=np.float64).tolist()


async def export_candidate(
    session: AsyncSession, principal: Principal, external_id: str
) -> dict[str, Any]:
    """The export document of the caller's tenant's candidate ``external_id``."""
    tenant_id = principal.tenant_id
    row = await CandidateRepository(session).get(tenant_id, external_id)
    if row is None:
        raise NotFound(f"no candidate '{external_id}'")
    repo = ExportRepository(session)
    sensitive = await SensitiveRepository(session).get(tenant_id, row.id)
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": dt.datetime.now(dt.UTC),
        "candidate": {
            "external_id": row.external_id,
            "id": row.id,  # the surrogate id the logs below name them by
            **{name: getattr(row, name) for name in _PROFILE},
        },
        "sensitive": None
        if sensitive is None
        else {name: getattr(sensitive, name) for name in _SENSITIVE},
        "taxonomy_links": row.esco,
        "derived": await _derived(repo, row),
        "shortlists": await _shortlists(repo, row),
        "feedback": [represent_event(e) for e in await repo.feedback(tenant_id, row.id)],
        "placements": await repo.placements(tenant_id, row.id),
    }
    entries = AuditRepository(session).about(tenant_id, row.id)
    document["audit"] = [audit.represent(entry) async for entry in entries]
    act = audit.Act("candidate.export", [audit.ref("candidate", row.id)])
    await audit.record(session, principal, act)
    return document


async def _derived(repo: ExportRepository, row: Candidate) -> dict[str, Any]:
    """What Ponte computed from the profile: its search text and language, its vectors."""
    chunks = await repo.chunks(row.tenant_id, row.id)
    return {
        "search_text": row.search_text,
        "text_language": row.text_language,
        "embedding_model": row.embedding_model,
        "embedding": _vector(row.embedding),
        "occupation_embedding": _vector(row.occupation_embedding),
        "chunks": [
            {
                "chunk_no": c["chunk_no"],
                "char_start": c["char_start"],
                "char_end": c["char_end"],
                "embedding": _vector(c["embedding"]),
            }
            for c in chunks
        ],
    }


async def _shortlists(repo: ExportRepository, row: Candidate) -> list[dict[str, Any]]:
    labels = skill_labels(row.skills or [])
    return [
        {
            **{k: v for k, v in item.items() if k != "explanation"},
            "explanation": public_explanation(item["explanation"], labels, item["features"])
            if item["explanation"]
            else None,
        }
        for item in await repo.shown_in(row.tenant_id, row.id)
    ]
