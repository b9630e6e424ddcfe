"""A person's rights over their data: the export of everything held about a candidate (their
erasure is ``DELETE /v1/candidates/{external_id}``, app/api/resources.py)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Response

from app.api.resources import ExternalIdPath
from app.deps import SessionDep, require
from app.schemas import Principal
from app.services.authz import Permission
from app.services.export import export_candidate

router = APIRouter(tags=["candidates"])
Exporter = Annotated[Principal, require(Permission.candidates_export)]


@router.get(
    "/v1/candidates/{external_id}/export",
    summary="Everything held about a candidate, in one JSON document (GDPR Art. 15 and 20)",
)
async def export(external_id: ExternalIdPath, session: SessionDep, principal: Exporter) -> Any:
    document = await export_candidate(session, principal, external_id)
    return Response(
        orjson.dumps(document, default=str, option=orjson.OPT_UTC_Z),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="candidate-{external_id}.json"',
            "Cache-Control": "no-store",
        },
    )
