"""Who am I, and the admin's management of its own tenant's API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from app.deps import JSON_BODY, PrincipalDep, SessionDep, require
from app.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, Principal
from app.services import keys
from app.services.authz import ROLE_PERMISSIONS, Permission

router = APIRouter(tags=["access"])
Admin = Annotated[Principal, require(Permission.keys_manage)]


@router.get("/v1/me", summary="The calling key's tenant, role and permissions")
async def me(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "tenant": principal.tenant_name,
        "role": principal.role,
        "key_id": principal.key_id,
        "permissions": sorted(p.value for p in ROLE_PERMISSIONS[principal.role]),
    }


@router.get("/v1/api-keys", response_model=list[ApiKeyOut], summary="List this tenant's API keys")
async def list_keys(session: SessionDep, principal: Admin) -> Any:
    return await keys.list_keys(session, principal.tenant_id)


@router.post(
    "/v1/api-keys",
    response_model=ApiKeyCreated,
    status_code=201,
    summary="Create an API key in this tenant (the secret is shown once)",
    dependencies=JSON_BODY,
)
async def create_key(body: ApiKeyCreate, session: SessionDep, principal: Admin) -> Any:
    record, secret = await keys.create_key(
        session,
        principal.tenant_id,
        body.role,
        label=body.label,
        expires_at=body.expires_at,
        actor=principal,
    )
    return {**ApiKeyOut.model_validate(record, from_attributes=True).model_dump(), "key": secret}


@router.delete("/v1/api-keys/{key_id}", response_model=ApiKeyOut, summary="Revoke an API key")
async def revoke_key(
    key_id: Annotated[str, Path(max_length=64)], session: SessionDep, principal: Admin
) -> Any:
    return await keys.revoke_key(session, key_id, principal.tenant_id, principal)
