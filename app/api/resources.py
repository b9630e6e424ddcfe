"""Routes for employers, vacancies and candidates: one factory, the same HTTP rules for each.

(No ``from __future__ import annotations`` here: FastAPI must see the concrete body types that
the factory closes over.)
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.deps import JSON_BODY, EncoderDep, SessionDep, require
from app.schemas import (
    EXTERNAL_ID_PATTERN,
    CandidateIn,
    CandidateOut,
    CandidateSensitiveIn,
    CandidateSensitiveOut,
    CandidateStatus,
    Contract,
    EmployerIn,
    EmployerOut,
    EmployerSize,
    Page,
    Principal,
    VacancyIn,
    VacancyOut,
    VacancyStatus,
    WorkPermit,
    reject_nul,
)
from app.services.authz import Permission
from app.services.concurrency import Preconditions
from app.services.resources import (
    CandidateService,
    EmployerService,
    ResourceService,
    SensitiveService,
    VacancyService,
    Written,
)

ExternalIdPath = Annotated[
    str, Path(pattern=EXTERNAL_ID_PATTERN, description="The caller's own id for the object")
]
IfMatch = Annotated[str | None, Header(description="Entity tag(s) the write requires")]
IfNoneMatch = Annotated[str | None, Header(description="'*' on PUT: create only")]
MERGE_PATCH = "application/merge-patch+json"


class ListQuery(BaseModel):
    """Paging parameters every list accepts; unknown query parameters are an error."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=400)
    updated_since: dt.datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return reject_nul(data)

    def filters(self) -> dict[str, Any]:
        """Returns the resource-specific filters that were given."""
        paging = {"limit", "cursor", "updated_since"}
        return {k: v for k, v in self.model_dump().items() if k not in paging and v is not None}


class EmployerQuery(ListQuery):
    size: EmployerSize | None = None
    sector: str | None = Field(default=None, max_length=8)
    municipality: str | None = Field(default=None, max_length=120)


class VacancyQuery(ListQuery):
    status: VacancyStatus | None = None
    contract: Contract | None = None
    remote: bool | None = None
    employer_external_id: str | None = Field(default=None, pattern=EXTERNAL_ID_PATTERN)
    municipality: str | None = Field(default=None, max_length=120)


class CandidateQuery(ListQuery):
    status: CandidateStatus | None = None
    work_permit: WorkPermit | None = None
    municipality: str | None = Field(default=None, max_length=120)


def _json(written: Written, status: int = 200, location: str | None = None) -> JSONResponse:
    headers = {"ETag": written.etag}
    if location:
        headers["Location"] = location
    return JSONResponse(jsonable_encoder(written.body), status_code=status, headers=headers)


def resource_router(
    *,
    plural: str,
    service_class: type[ResourceService[Any, Any]],
    body_model: type[BaseModel],
    out_model: type[BaseModel],
    query_model: type[ListQuery],
    read: Permission,
    write: Permission,
) -> APIRouter:
    """Returns the PUT/GET/PATCH/DELETE/list routes of one resource kind."""
    router = APIRouter(tags=[plural])
    base = f"/v1/{plural}"
    kind = service_class.kind
    Reader = Annotated[Principal, require(read)]
    Writer = Annotated[Principal, require(write)]

    @router.put(
        base + "/{external_id}",
        response_model=out_model,
        status_code=200,
        responses={201: {"model": out_model, "description": "Created"}},
        summary=f"Create or replace a {kind}",
        dependencies=JSON_BODY,
    )
    async def put(
        request: Request,
        external_id: ExternalIdPath,
        body: body_model,  # type: ignore[valid-type]
        session: SessionDep,
        principal: Writer,
        encoder: EncoderDep,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        written = await service_class(session, principal, encoder).put(
            external_id, body, Preconditions(if_match, if_none_match)
        )
        if written.created:
            return _json(written, 201, location=str(request.url.path))
        return _json(written)

    @router.get(base + "/{external_id}", response_model=out_model, summary=f"Read a {kind}")
    async def get(
        external_id: ExternalIdPath,
        session: SessionDep,
        principal: Reader,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        written = await service_class(session, principal).get(external_id)
        if if_none_match and written.etag in [t.strip() for t in if_none_match.split(",")]:
            return Response(status_code=304, headers={"ETag": written.etag})
        return _json(written)

    @router.patch(
        base + "/{external_id}",
        response_model=out_model,
        summary=f"Change a {kind} with a JSON merge patch (RFC 7396)",
        dependencies=JSON_BODY,
    )
    async def patch(
        external_id: ExternalIdPath,
        body: Annotated[dict[str, Any], Body(media_type=MERGE_PATCH)],
        session: SessionDep,
        principal: Writer,
        encoder: EncoderDep,
        if_match: IfMatch = None,
    ) -> Response:
        written = await service_class(session, principal, encoder).patch(
            external_id, body, Preconditions(if_match)
        )
        return _json(written)

    @router.delete(base + "/{external_id}", status_code=204, summary=f"Delete a {kind}")
    async def delete(
        external_id: ExternalIdPath,
        session: SessionDep,
        principal: Writer,
        if_match: IfMatch = None,
    ) -> Response:
        await service_class(session, principal).delete(external_id, Preconditions(if_match))
        return Response(status_code=204)

    @router.get(base, response_model=Page[out_model], summary=f"List {plural}")  # type: ignore[valid-type]
    async def list_(
        query: Annotated[query_model, Query()],  # type: ignore[valid-type]
        session: SessionDep,
        principal: Reader,
    ) -> Any:
        params: ListQuery = query
        items, next_cursor = await service_class(session, principal).list(
            limit=params.limit,
            cursor=params.cursor,
            filters=params.filters(),
            updated_since=params.updated_since,
        )
        return {"items": items, "next_cursor": next_cursor}

    return router


employers = resource_router(
    plural="employers",
    service_class=EmployerService,
    body_model=EmployerIn,
    out_model=EmployerOut,
    query_model=EmployerQuery,
    read=Permission.employers_read,
    write=Permission.employers_write,
)
vacancies = resource_router(
    plural="vacancies",
    service_class=VacancyService,
    body_model=VacancyIn,
    out_model=VacancyOut,
    query_model=VacancyQuery,
    read=Permission.vacancies_read,
    write=Permission.vacancies_write,
)
candidates = resource_router(
    plural="candidates",
    service_class=CandidateService,
    body_model=CandidateIn,
    out_model=CandidateOut,
    query_model=CandidateQuery,
    read=Permission.candidates_read,
    write=Permission.candidates_write,
)

sensitive = APIRouter(tags=["candidates"])
Sensitive = Annotated[Principal, require(Permission.candidates_sensitive)]


@sensitive.put(
    "/v1/candidates/{external_id}/sensitive",
    response_model=CandidateSensitiveOut,
    summary="Create or replace a candidate's sensitive record (never used for scoring)",
    dependencies=JSON_BODY,
)
async def put_sensitive(
    external_id: ExternalIdPath,
    body: CandidateSensitiveIn,
    session: SessionDep,
    principal: Sensitive,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    written = await SensitiveService(session, principal).put(
        external_id, body, Preconditions(if_match, if_none_match)
    )
    return _json(written, 201 if written.created else 200)


@sensitive.get(
    "/v1/candidates/{external_id}/sensitive",
    response_model=CandidateSensitiveOut,
    summary="Read a candidate's sensitive record",
)
async def get_sensitive(
    external_id: ExternalIdPath, session: SessionDep, principal: Sensitive
) -> Response:
    return _json(await SensitiveService(session, principal).get(external_id))


@sensitive.delete(
    "/v1/candidates/{external_id}/sensitive",
    status_code=204,
    summary="Delete a candidate's sensitive record",
)
async def delete_sensitive(
    external_id: ExternalIdPath,
    session: SessionDep,
    principal: Sensitive,
    if_match: IfMatch = None,
) -> Response:
    await SensitiveService(session, principal).delete(external_id, Preconditions(if_match))
    return Response(status_code=204)
