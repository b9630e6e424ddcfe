"""The audit trail, read by the tenant's admins: entries in chain order, filtered, in pages."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.db.audit_tables import ACTION_PATTERN
from app.deps import SessionDep, require
from app.schemas import Principal
from app.services import audit
from app.services.authz import Permission

router = APIRouter(tags=["audit"])
Auditor = Annotated[Principal, require(Permission.audit_read)]


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    at_from: AwareDatetime | None = Field(default=None, alias="from")
    at_to: AwareDatetime | None = Field(default=None, alias="to")
    action: str | None = Field(
        default=None,
        max_length=60,
        pattern=ACTION_PATTERN,
        description="A whole action name (shortlist.create) or its first part (shortlist)",
    )
    object: uuid.UUID | None = Field(
        default=None, description="The surrogate id of an object the entry concerns"
    )
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=100)


@router.get("/v1/audit", summary="The tenant's audit trail in the order it was written")
async def list_audit(
    query: Annotated[AuditQuery, Query()], session: SessionDep, principal: Auditor
) -> Any:
    return await audit.list_entries(
        session,
        principal,
        limit=query.limit,
        cursor=query.cursor,
        at_from=query.at_from,
        at_to=query.at_to,
        action=query.action,
        object_id=query.object,
    )
