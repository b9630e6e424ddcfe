"""The shapes of recruiter feedback: events, the vacancy pipeline, internships and the outcome
and ranking metrics read from them."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.schemas import ExternalId, ShortText, Strict
from app.vocabulary import REASON_REQUIRED

# How far ahead of the server's clock an event may claim to have happened (clock skew).
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
# An erased person's events get keys of this form (migration 0018): no caller's may have it.
ERASED_KEY_PREFIX = "erased:"
BULK_MAX = 1000


class FeedbackEventType(StrEnum):
    viewed = "viewed"
    shortlisted = "shortlisted"
    contacted = "contacted"
    interviewed = "interviewed"
    offered = "offered"
    internship_started = "internship_started"
    internship_extended = "internship_extended"
    internship_completed = "internship_completed"
    hired = "hired"
    rejected = "rejected"
    candidate_declined = "candidate_declined"
    dropped_out = "dropped_out"
    retracted = "retracted"


class FeedbackReason(StrEnum):
    skills = "skills"
    language = "language"
    distance = "distance"
    availability = "availability"
    permit = "permit"
    documents = "documents"
    employer_declined = "employer_declined"
    candidate_declined = "candidate_declined"
    no_show = "no_show"
    other = "other"


class FeedbackIn(Strict):
    vacancy_external_id: ExternalId
    candidate_external_id: ExternalId
    event: FeedbackEventType
    reason: FeedbackReason | None = Field(
        default=None, description="Required for rejected, candidate_declined and dropped_out"
    )
    note: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="Free text; may hold personal data and is erased with it"
    )
    shortlist_id: uuid.UUID | None = None
    occurred_at: AwareDatetime | None = Field(
        default=None, description="When it happened (default: now); at most 5 minutes ahead"
    )
    idempotency_key: ShortText
    actor_ref: ShortText | None = Field(default=None, description="The caller's own user reference")
    months: int | None = Field(
        default=None, ge=1, le=24, description="internship_extended only: months added (3)"
    )
    retracts: uuid.UUID | None = Field(
        default=None, description="retracted only: the id of the event it withdraws"
    )

    @field_validator("idempotency_key")
    @classmethod
    def _not_reserved(cls, key: str) -> str:
        if key.startswith(ERASED_KEY_PREFIX):
            raise ValueError(f"keys beginning '{ERASED_KEY_PREFIX}' are Ponte's (erased events)")
        return key

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackIn:
        if self.event.value in REASON_REQUIRED and self.reason is None:
            raise ValueError(f"'{self.event.value}' needs a reason")
        if (self.event == FeedbackEventType.retracted) != (self.retracts is not None):
            raise ValueError("'retracts' is given with event 'retracted', and only then")
        if self.months is not None and self.event != FeedbackEventType.internship_extended:
            raise ValueError("'months' is given with event 'internship_extended' only")
        if self.occurred_at is not None:
            ahead = self.occurred_at - dt.datetime.now(dt.UTC)
            if ahead > FUTURE_TOLERANCE:
                raise ValueError("occurred_at is more than 5 minutes in the future")
        return self


Link = Literal["given", "latest_shortlist", "none"]


class FeedbackOut(BaseModel):
    id: uuid.UUID
    vacancy_external_id: str
    candidate_external_id: str | None = Field(description="null once the person is erased")
    event: FeedbackEventType
    reason: FeedbackReason | None
    note: str | None
    months: int | None
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    key_id: str | None
    actor_ref: str | None
    link: Link
    shortlist_id: uuid.UUID | None
    rank: int | None
    ranker_version: str | None
    idempotency_key: str
    retracts: uuid.UUID | None


class FeedbackBulkRequest(Strict):
    items: Annotated[list[Any], Field(min_length=1, max_length=BULK_MAX)]


class FeedbackBulkItem(BaseModel):
    index: int
    idempotency_key: str | None
    status: Literal["created", "duplicate", "error"]
    event: FeedbackOut | None = None
    problem: dict[str, Any] | None = None


class FeedbackBulkOut(BaseModel):
    created: int
    duplicate: int
    refused: int
    items: list[FeedbackBulkItem]


class PipelineEntry(BaseModel):
    candidate_external_id: str
    stage: FeedbackEventType = Field(description="The latest event that was not retracted")
    stage_at: dt.datetime
    shown_rank: int | None = Field(description="Rank in the latest linked shortlist")
    shown_at: dt.datetime | None = Field(description="When that shortlist was made")
    events: int


class PipelineOut(BaseModel):
    vacancy_external_id: str
    positions: int
    positions_taken: int
    items: list[PipelineEntry]


class InternshipOut(BaseModel):
    vacancy_external_id: str
    employer_external_id: str | None
    candidate_external_id: str
    started_on: dt.date
    planned_end: dt.date
    extensions: int
    status: Literal["active", "ended"]
    outcome: Literal["hired", "completed", "dropped_out"] | None
    ended_on: dt.date | None
