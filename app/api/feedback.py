"""Recruiter feedback, the vacancy pipeline and internships."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.api.resources import ExternalIdPath
from app.deps import JSON_BODY, SessionDep, require
from app.schemas import EXTERNAL_ID_PATTERN, Page, Principal
from app.schemas.feedback import (
    FeedbackBulkOut,
    FeedbackBulkRequest,
    FeedbackEventType,
    FeedbackIn,
    FeedbackOut,
    InternshipOut,
    PipelineOut,
)
from app.services.authz import Permission
from app.services.feedback import FeedbackService
from app.services.internships import list_internships
from app.services.pipeline import vacancy_pipeline

router = APIRouter(tags=["feedback"])
Writer = Annotated[Principal, require(Permission.feedback_write)]
Reader = Annotated[Principal, require(Permission.feedback_read)]


class FeedbackQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    vacancy_external_id: str | None = Field(default=None, pattern=EXTERNAL_ID_PATTERN)
    candidate_external_id: str | None = Field(default=None, pattern=EXTERNAL_ID_PATTERN)
    event: FeedbackEventType | None = None
    occurred_from: AwareDatetime | None = Field(default=None, alias="from")
    occurred_to: AwareDatetime | None = Field(default=None, alias="to")
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=400)


class InternshipQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "ended"] | None = None
    ending_before: dt.date | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class InternshipPage(BaseModel):
    items: list[InternshipOut]
    total: int


@router.post(
    "/v1/feedback",
    response_model=FeedbackOut,
    status_code=201,
    summary="Record a decision or outcome on a proposed person (idempotent by key)",
    responses={200: {"model": FeedbackOut, "description": "Already recorded under this key"}},
    dependencies=JSON_BODY,
)
async def post_feedback(body: FeedbackIn, session: SessionDep, principal: Writer) -> Any:
    event, created = await FeedbackService(session, principal).record(body)
    return JSONResponse(jsonable_encoder(event), status_code=201 if created else 200)


@router.post(
    "/v1/feedback:bulk",
    response_model=FeedbackBulkOut,
    summary="Record up to 1,000 events; each item reports its own outcome",
    dependencies=JSON_BODY,
)
async def post_feedback_bulk(
    body: FeedbackBulkRequest, session: SessionDep, principal: Writer
) -> Any:
    return await FeedbackService(session, principal).record_many(body.items)


@router.get(
    "/v1/feedback",
    response_model=Page[FeedbackOut],
    summary="The tenant's feedback events in the order they happened",
)
async def list_feedback(
    query: Annotated[FeedbackQuery, Query()], session: SessionDep, principal: Reader
) -> Any:
    return await FeedbackService(session, principal).list(
        limit=query.limit,
        cursor=query.cursor,
        vacancy_external_id=query.vacancy_external_id,
        candidate_external_id=query.candidate_external_id,
        event=query.event.value if query.event else None,
        occurred_from=query.occurred_from,
        occurred_to=query.occurred_to,
    )


@router.get("/v1/feedback/{event_id}", response_model=FeedbackOut, summary="One feedback event")
async def get_feedback(
    event_id: Annotated[uuid.UUID, Path()], session: SessionDep, principal: Reader
) -> Any:
    return await FeedbackService(session, principal).get(event_id)


@router.delete(
    "/v1/feedback/{event_id}/note",
    response_model=FeedbackOut,
    summary="Erase an event's note (the event stays)",
)
async def erase_note(
    event_id: Annotated[uuid.UUID, Path()], session: SessionDep, principal: Writer
) -> Any:
    return await FeedbackService(session, principal).erase_note(event_id)


@router.get(
    "/v1/vacancies/{external_id}/pipeline",
    response_model=PipelineOut,
    summary="Where each person proposed for the vacancy stands now",
)
async def get_pipeline(external_id: ExternalIdPath, session: SessionDep, principal: Reader) -> Any:
    return await vacancy_pipeline(session, principal, external_id)


@router.get(
    "/v1/internships",
    response_model=InternshipPage,
    summary="Internships to follow up: running ones by planned end, ended ones by outcome",
)
async def get_internships(
    query: Annotated[InternshipQuery, Query()], session: SessionDep, principal: Reader
) -> Any:
    return await list_internships(
        session,
        principal,
        status=query.status,
        ending_before=query.ending_before,
        limit=query.limit,
    )
