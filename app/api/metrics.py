"""Reports read from the feedback log: outcomes, cohorts, online ranking quality and fairness."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.deps import SessionDep, require
from app.schemas import Principal
from app.services.authz import Permission
from app.services.fairness import fairness_metrics
from app.services.outcomes import cohort_metrics, outcome_metrics
from app.services.ranking_quality import ranking_metrics

router = APIRouter(tags=["metrics"])
Reader = Annotated[Principal, require(Permission.metrics_read)]
RankingReader = Annotated[Principal, require(Permission.metrics_ranking)]
FairnessReader = Annotated[Principal, require(Permission.metrics_fairness)]


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: AwareDatetime | None = Field(default=None, alias="from", description="Inclusive")
    end: AwareDatetime | None = Field(default=None, alias="to", description="Exclusive")

    @model_validator(mode="after")
    def _a_period(self) -> Period:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("'from' must come before 'to'")
        return self


class OutcomeQuery(Period):
    group_by: Literal["month", "quarter", "employer", "contract"] = "month"


class FairnessQuery(Period):
    # the fields of SelfDeclared (app/schemas), the attributes people may declare for this
    attribute: Literal["gender", "age_band", "migrant_background", "disability"]
    top: int = Field(default=10, ge=1, le=200, description="The ranks that count as placed")
    min_group: int = Field(
        default=10, ge=5, le=1000, description="Groups of fewer people are not shown"
    )


class CohortQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Literal["month", "quarter"] = "month"


@router.get(
    "/v1/metrics/outcomes",
    summary="Pipeline counts, internship-to-contract conversion and medians, per group",
)
async def outcomes(
    query: Annotated[OutcomeQuery, Query()], session: SessionDep, principal: Reader
) -> Any:
    return await outcome_metrics(session, principal, query.group_by, query.start, query.end)


@router.get(
    "/v1/metrics/cohorts",
    summary="Candidates by when they entered; the share in work within 30/90/180/365 days",
)
async def cohorts(
    query: Annotated[CohortQuery, Query()], session: SessionDep, principal: Reader
) -> Any:
    return await cohort_metrics(session, principal, query.by)


@router.get(
    "/v1/metrics/ranking",
    summary="Online ranking quality per ranker version, from feedback linked to shortlists",
)
async def ranking(
    query: Annotated[Period, Query()], session: SessionDep, principal: RankingReader
) -> Any:
    return await ranking_metrics(session, principal, query.start, query.end)


@router.get(
    "/v1/metrics/fairness",
    summary="Per self-declared group (consented people): selection rates through the ranking "
    "and the decisions, and how the groups compare",
)
async def fairness(
    query: Annotated[FairnessQuery, Query()], session: SessionDep, principal: FairnessReader
) -> Any:
    return await fairness_metrics(
        session,
        principal,
        query.attribute,
        query.start,
        query.end,
        query.top,
        query.min_group,
    )
