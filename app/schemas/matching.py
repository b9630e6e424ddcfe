"""The shapes of ranking: shortlist requests and answers, matches, explanations, bulk writes
and the tenant's scorer weights."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field, HttpUrl

from app.schemas import Strict
from app.vocabulary import GATES


class ShortlistRequest(Strict):
    limit: int = Field(default=20, ge=1, le=200)
    gates: dict[str, bool] = Field(
        default_factory=dict,
        description="Switch a gate off with false: " + ", ".join(GATES),
    )


class MatchedSkillOut(BaseModel):
    required: str
    matched_by: str | None = Field(
        description="The candidate's skill that met it (null for text evidence or after erasure)"
    )
    kind: Literal["exact", "soft", "text"]
    similarity: float


class EscoConceptOut(BaseModel):
    uri: str
    label: str


class EscoSkillOut(EscoConceptOut):
    soft: bool = Field(
        description="An essential skill of the vacancy's ESCO occupation (a soft requirement), "
        "not one the vacancy listed"
    )


class EscoNamedOut(EscoConceptOut):
    score: float


class EscoOccupationOut(BaseModel):
    vacancy: EscoConceptOut
    candidate: EscoConceptOut
    agreement: Literal["same occupation", "same ISCO group", "same ISCO minor group"]


class EscoEvidenceOut(BaseModel):
    skills: list[EscoSkillOut] = Field(description="The vacancy's ESCO skills the candidate holds")
    occupation: EscoOccupationOut | None = Field(
        description="The two sides' occupations that agree best"
    )
    title_names: EscoNamedOut | None = Field(
        default=None,
        description="The candidate's ESCO occupation the vacancy title names (link score 0.7 "
        "or more)",
    )


class ExplanationOut(BaseModel):
    summary: str
    components: dict[str, float | None] = Field(description="Feature values in [0, 1]")
    contributions: dict[str, float | None] | None = Field(
        description="What the ranker credited each feature with (they add up to the score); "
        "null in snapshots made before rankers reported it"
    )
    matched_skills: list[MatchedSkillOut]
    missing_skills: list[str]
    gates: dict[str, Literal["pass", "unknown", "fail"]]
    distance_km: float | None
    esco: EscoEvidenceOut | None = Field(
        default=None,
        description="What the pair shares through the ESCO taxonomy (null: nothing, or matching "
        "through the taxonomy off)",
    )


class ShortlistItemOut(BaseModel):
    rank: int
    candidate_external_id: str | None = Field(description="null once the candidate was erased")
    score: float
    explanation: ExplanationOut | None = Field(
        description="null once the candidate was erased: what was derived from their profile "
        "went with them (rank and score stay)"
    )


class ShortlistSummaryOut(BaseModel):
    id: uuid.UUID
    vacancy_external_id: str | None
    created_at: dt.datetime
    ranker_version: str = Field(description="Changes whenever what the ranker computes does")
    feature_version: str = Field(description="What the stored features mean")
    embedding_model: str
    considered: int = Field(description="Candidates of the tenant looked at")
    excluded_by_gate: dict[str, int] = Field(
        description="Per gate, candidates it failed (one candidate may fail several)"
    )
    origin: Literal["request", "batch"] = Field(
        description="Asked for over HTTP, or made by a batch re-rank"
    )
    job_id: uuid.UUID | None = Field(description="The batch job's run that made it")


class ShortlistOut(ShortlistSummaryOut):
    params: dict[str, Any]
    items: list[ShortlistItemOut]


class ShortlistListOut(BaseModel):
    items: list[ShortlistSummaryOut]


class MatchItemOut(BaseModel):
    rank: int
    vacancy_external_id: str
    score: float
    explanation: ExplanationOut


class MatchesOut(BaseModel):
    candidate_external_id: str
    ranker_version: str
    feature_version: str
    embedding_model: str
    considered: int
    excluded_by_gate: dict[str, int]
    items: list[MatchItemOut]


class BulkRequest(Strict):
    items: list[Any] = Field(min_length=1, max_length=1000)


class BulkItemResult(BaseModel):
    external_id: str | None
    status: Literal["created", "updated", "error"]
    error: str | None = None


class BulkResponse(BaseModel):
    items: list[BulkItemResult]


class Weights(Strict):
    """Scorer weights per feature (each 0–10); features left out keep their current weight."""

    semantic_best: float | None = Field(default=None, ge=0, le=10)
    semantic_profile: float | None = Field(default=None, ge=0, le=10)
    must_have: float | None = Field(default=None, ge=0, le=10)
    nice_to_have: float | None = Field(default=None, ge=0, le=10)
    lexical: float | None = Field(default=None, ge=0, le=10)
    title: float | None = Field(default=None, ge=0, le=10)
    title_profile: float | None = Field(default=None, ge=0, le=10)
    language: float | None = Field(default=None, ge=0, le=10)
    distance: float | None = Field(default=None, ge=0, le=10)
    availability: float | None = Field(default=None, ge=0, le=10)
    esco_skills: float | None = Field(default=None, ge=0, le=10)
    occupation: float | None = Field(default=None, ge=0, le=10)
    title_occupation: float | None = Field(default=None, ge=0, le=10)


class TenantSettingsPatch(Strict):
    weights: Weights | None = None
    taxonomy: bool | None = Field(
        default=None,
        description="Match through the ESCO taxonomy (its retriever, the esco_skills and "
        "occupation features, soft requirements); on by default once one is imported",
    )
    webhook_url: HttpUrl | Literal[""] | None = Field(
        default=None,
        description="Where a changed top 10 of a vacancy's shortlist is POSTed after a batch "
        'run ("" switches it off)',
    )
    rerank_schedule: str | None = Field(
        default=None,
        max_length=100,
        description='When to re-rank every open vacancy: cron, five fields, UTC (e.g. "0 2 * * *" '
        'nightly at 02:00); "" switches it off',
    )
    webhook_secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="The key of the payload's HMAC-SHA256 signature (write-only)",
    )
    retention_days: int | None = Field(
        default=None,
        ge=0,
        le=3650,
        description="Erase a candidate after this many days without activity (no write, no "
        "feedback, in no shortlist): `ponte purge` and the workers' daily purge do it; 0 "
        "switches it off; at least 30 otherwise",
    )
    monthly_support_cost_eur: float | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="What a month of support costs the programme per person (0 switches the "
        "savings estimate of /v1/metrics/outcomes off)",
    )
