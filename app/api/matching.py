"""Shortlists, matches, bulk writes and the tenant's scorer settings."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Response

from app.api.resources import ExternalIdPath
from app.deps import JSON_BODY, EncoderDep, SessionDep, require
from app.schemas import Principal
from app.schemas.matching import (
    BulkRequest,
    BulkResponse,
    MatchesOut,
    ShortlistListOut,
    ShortlistOut,
    ShortlistRequest,
    TenantSettingsPatch,
)
from app.services import matches, tenant_settings
from app.services.authz import Permission
from app.services.resources import CandidateService, VacancyService
from app.services.shortlists import ShortlistService

router = APIRouter(tags=["matching"])
Shortlister = Annotated[Principal, require(Permission.shortlists_write)]
ShortlistReader = Annotated[Principal, require(Permission.shortlists_read)]
MatchReader = Annotated[Principal, require(Permission.matches_read)]
BulkWriter = Annotated[Principal, require(Permission.bulk_write)]
Admin = Annotated[Principal, require(Permission.tenant_settings)]


@router.post(
    "/v1/vacancies/{external_id}/shortlists",
    status_code=201,
    response_model=ShortlistOut,
    summary="Rank the tenant's candidates for a vacancy; the result is stored as a snapshot",
    dependencies=JSON_BODY,
)
async def create_shortlist(
    external_id: ExternalIdPath,
    body: ShortlistRequest,
    session: SessionDep,
    principal: Shortlister,
    encoder: EncoderDep,
) -> Any:
    service = ShortlistService(session, principal, encoder)
    snapshot = await service.create_shortlist(external_id, body.limit, body.gates)
    # Rendered straight to JSON: the busiest answer skips the response model's second
    # validation (ShortlistOut still documents it, and tests hold the answer to it).
    return Response(
        orjson.dumps(snapshot, option=orjson.OPT_UTC_Z),
        status_code=201,
        media_type="application/json",
    )


@router.get(
    "/v1/vacancies/{external_id}/shortlists",
    response_model=ShortlistListOut,
    summary="The vacancy's shortlists, newest first",
)
async def list_shortlists(
    external_id: ExternalIdPath,
    session: SessionDep,
    principal: ShortlistReader,
    encoder: EncoderDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    items = await ShortlistService(session, principal, encoder).list_shortlists(external_id, limit)
    return {"items": items}


@router.get(
    "/v1/vacancies/{external_id}/shortlists/changes",
    summary="What changed between the vacancy's two latest shortlists",
)
async def shortlist_changes(
    external_id: ExternalIdPath,
    session: SessionDep,
    principal: ShortlistReader,
    encoder: EncoderDep,
    top: Annotated[
        int | None, Query(ge=1, le=200, description="Compare only the top ranks")
    ] = None,
) -> Any:
    return await ShortlistService(session, principal, encoder).changes(external_id, top)


@router.get(
    "/v1/shortlists/{shortlist_id}",
    response_model=ShortlistOut,
    summary="A stored shortlist with its items",
)
async def get_shortlist(
    shortlist_id: Annotated[uuid.UUID, Path()],
    session: SessionDep,
    principal: ShortlistReader,
    encoder: EncoderDep,
) -> Any:
    return await ShortlistService(session, principal, encoder).read_shortlist(shortlist_id)


@router.get(
    "/v1/candidates/{external_id}/matches",
    response_model=MatchesOut,
    summary="Rank the tenant's open vacancies for a candidate",
)
async def candidate_matches(
    external_id: ExternalIdPath,
    session: SessionDep,
    principal: MatchReader,
    encoder: EncoderDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    gates_off: Annotated[
        list[str] | None, Query(max_length=6, description="Gates to switch off")
    ] = None,
) -> Any:
    switches = dict.fromkeys(gates_off or [], False)
    return await matches.matches_for_candidate(
        session, principal, encoder, external_id, limit, switches
    )


@router.post(
    "/v1/candidates:bulk",
    response_model=BulkResponse,
    summary="Create or replace up to 1,000 candidates; each item reports its own outcome",
    dependencies=JSON_BODY,
)
async def bulk_candidates(
    body: BulkRequest, session: SessionDep, principal: BulkWriter, encoder: EncoderDep
) -> Any:
    return {"items": await CandidateService(session, principal, encoder).bulk_upsert(body.items)}


@router.post(
    "/v1/vacancies:bulk",
    response_model=BulkResponse,
    summary="Create or replace up to 1,000 vacancies; each item reports its own outcome",
    dependencies=JSON_BODY,
)
async def bulk_vacancies(
    body: BulkRequest, session: SessionDep, principal: BulkWriter, encoder: EncoderDep
) -> Any:
    return {"items": await VacancyService(session, principal, encoder).bulk_upsert(body.items)}


@router.get("/v1/tenant/settings", summary="The tenant's scorer weights")
async def get_settings(session: SessionDep, principal: Admin) -> Any:
    return await tenant_settings.read_settings(session, principal)


@router.patch(
    "/v1/tenant/settings", summary="Change the tenant's scorer weights", dependencies=JSON_BODY
)
async def patch_settings(body: TenantSettingsPatch, session: SessionDep, principal: Admin) -> Any:
    return await tenant_settings.update_settings(session, principal, body)
