"""The API's data shapes (pydantic). Bodies reject unknown fields; every list and string is
bounded, so a bad request is a clear 422 rather than a slow or failing write.

This module holds the shared types, the resources (employers, vacancies, candidates), keys
and paging; the shapes of ranking — shortlists, matches, bulk writes, tenant weights — are in
``app.schemas.matching``."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"
ExternalId = Annotated[str, StringConstraints(pattern=EXTERNAL_ID_PATTERN)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# A caller's own link to the ESCO taxonomy: it wins over Ponte's (app/services/taxonomy_linking.py)
EscoSkillUri = Annotated[
    str, StringConstraints(pattern=r"^http://data\.europa\.eu/esco/skill/[A-Za-z0-9-]{1,64}$")
]
EscoOccupationUri = Annotated[
    str,
    StringConstraints(pattern=r"^http://data\.europa\.eu/esco/occupation/[A-Za-z0-9-]{1,64}$"),
]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


LanguageCode = Annotated[
    str, BeforeValidator(_lower), StringConstraints(pattern=r"^[a-z]{2}$")
]  # ISO 639-1
CountryCode = Annotated[
    str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{2}$")
]  # ISO 3166-1 alpha-2


class Cefr(StrEnum):
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


T = TypeVar("T")


def reject_nul(value: Any) -> Any:
    """Raises if any string in ``value`` holds a NUL character, which PostgreSQL cannot store."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text may not contain NUL (\\u0000) characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul(key)
            reject_nul(item)
    elif isinstance(value, list):
        for item in value:
            reject_nul(item)
    return value


class Strict(BaseModel):
    """Base of every request body: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return reject_nul(data)


class Location(Strict):
    municipality: Annotated[str, StringConstraints(max_length=120)] | None = None
    postcode: Annotated[str, StringConstraints(max_length=16)] | None = None
    country: CountryCode | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_coordinates(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon come together: give both or neither")
        return self


def _dedupe_labels(items: list[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.label.casefold()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _skill_from_string(value: Any) -> Any:
    return {"label": value} if isinstance(value, str) else value


# ---------------------------------------------------------------- employers


class EmployerSize(StrEnum):
    micro = "micro"
    small = "small"
    medium = "medium"
    large = "large"


class Contact(Strict):
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    role: Annotated[str, StringConstraints(max_length=200)] | None = None
    email: (
        Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
        | None
    ) = None
    phone: (
        Annotated[str, StringConstraints(max_length=40, pattern=r"^[0-9+() .-]{3,40}$")] | None
    ) = None


NACE_PATTERN = r"^(?:[A-U]|[A-U]?\d{2}(?:\.\d{1,2})?)$"


class EmployerIn(Strict):
    name: ShortText
    size: EmployerSize | None = None
    sector: (
        Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=NACE_PATTERN)] | None
    ) = Field(
        default=None, description="NACE Rev. 2 code: section letter, division, group or class"
    )
    location: Location | None = None
    contact: Contact | None = None


class EmployerOut(EmployerIn):
    external_id: str
    created_at: dt.datetime
    updated_at: dt.datetime


# ---------------------------------------------------------------- vacancies


class RequiredSkill(Strict):
    label: Label
    must_have: bool = True
    weight: float = Field(default=1.0, gt=0, le=10)
    esco_uri: EscoSkillUri | None = Field(
        default=None,
        description="The ESCO skill this is (else Ponte links the label itself)",
        exclude_if=lambda value: value is None,  # an unlinked skill is stored as before
    )


class LanguageRequirement(Strict):
    code: LanguageCode
    min_level: Annotated[Cefr, BeforeValidator(_upper)]


class Contract(StrEnum):
    internship = "internship"
    apprenticeship = "apprenticeship"
    fixed_term = "fixed_term"
    permanent = "permanent"


class VacancyStatus(StrEnum):
    open = "open"
    filled = "filled"
    closed = "closed"


class Stipend(Strict):
    amount: float = Field(ge=0, le=1_000_000)
    currency: Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{3}$")] = (
        "EUR"
    )
    period: Literal["hour", "week", "month", "total"] = "month"


RequiredSkills = Annotated[
    list[Annotated[RequiredSkill, BeforeValidator(_skill_from_string)]],
    Field(max_length=100),
    AfterValidator(_dedupe_labels),
]


def _unique_codes(items: list[Any]) -> list[Any]:
    codes = [item.code for item in items]
    if len(codes) != len(set(codes)):
        raise ValueError("each language code may appear once")
    return items


class VacancyBody(Strict):
    """The fields of a vacancy other than its employer."""

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    occupation_uri: EscoOccupationUri | None = Field(
        default=None, description="The ESCO occupation this is (else Ponte links the title)"
    )
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    required_skills: RequiredSkills = Field(default_factory=list)
    languages: Annotated[
        list[LanguageRequirement], Field(max_length=20), AfterValidator(_unique_codes)
    ] = Field(default_factory=list)
    location: Location | None = None
    remote: bool = False
    contract: Contract | None = None
    duration_months: int | None = Field(default=None, ge=1, le=60)
    start_date: dt.date | None = None
    positions: int = Field(default=1, ge=1, le=1000)
    stipend: Stipend | None = None
    status: VacancyStatus | None = Field(
        default=None,
        description="Omitted: left as stored (a new vacancy is open); feedback sets filled",
    )

    @model_validator(mode="after")
    def _internship_duration(self) -> VacancyBody:
        # Programme internships last three months unless said otherwise (extendable by three).
        if self.contract == Contract.internship and self.duration_months is None:
            self.duration_months = 3
        return self


class VacancyIn(VacancyBody):
    employer_external_id: ExternalId


ESCO_LINKS = (
    "Links to the ESCO taxonomy, derived on write (read-only): per skill label its skill, and "
    "the occupations of the title (vacancy) or of each desired occupation (candidate), each "
    "with a score and its source (caller or auto); null when no taxonomy is imported"
)


class VacancyOut(VacancyIn):
    external_id: str
    esco: dict[str, Any] | None = Field(default=None, description=ESCO_LINKS)
    created_at: dt.datetime
    updated_at: dt.datetime


# ---------------------------------------------------------------- candidates


class CandidateSkill(Strict):
    label: Label
    level: int | None = Field(default=None, ge=1, le=5)
    years: float | None = Field(default=None, ge=0, le=60)
    esco_uri: EscoSkillUri | None = Field(
        default=None,
        description="The ESCO skill this is (else Ponte links the label itself)",
        exclude_if=lambda value: value is None,  # an unlinked skill is stored as before
    )


class DesiredOccupation(Strict):
    label: ShortText
    occupation_uri: EscoOccupationUri


LanguageLevel = Literal["A1", "A2", "B1", "B2", "C1", "C2", "native"]


def _language_level(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return "native" if value.lower() in ("native", "mother tongue", "l1") else value.upper()
    return value


class CandidateLanguage(Strict):
    code: LanguageCode
    level: Annotated[LanguageLevel, BeforeValidator(_language_level)]


class WorkPermit(StrEnum):
    yes = "yes"
    no = "no"
    pending = "pending"
    unknown = "unknown"


class CandidateStatus(StrEnum):
    active = "active"
    paused = "paused"
    placed = "placed"
    withdrawn = "withdrawn"


class CandidateIn(Strict):
    skills: Annotated[
        list[Annotated[CandidateSkill, BeforeValidator(_skill_from_string)]],
        Field(max_length=300),
        AfterValidator(_dedupe_labels),
    ] = Field(default_factory=list)
    summary: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    languages: Annotated[
        list[CandidateLanguage], Field(max_length=30), AfterValidator(_unique_codes)
    ] = Field(default_factory=list)
    location: Location | None = None
    max_commute_km: float | None = Field(default=None, ge=0, le=500)
    available_from: dt.date | None = None
    desired_occupations: Annotated[list[ShortText | DesiredOccupation], Field(max_length=20)] = (
        Field(
            default_factory=list,
            description="Occupation names; as {label, occupation_uri}, with the ESCO occupation "
            "the caller links it to (else Ponte links the name itself)",
        )
    )
    education_level: int | None = Field(default=None, ge=1, le=8, description="EQF level 1–8")
    work_permit: WorkPermit = WorkPermit.unknown
    status: CandidateStatus | None = Field(
        default=None,
        description="Omitted: left as stored (a new candidate is active); feedback sets placed",
    )
    entered_on: dt.date | None = Field(
        default=None,
        description="The day the person entered the programme (cohort reports); "
        "unset reads as the day the record was created",
    )

    @model_validator(mode="after")
    def _skills_or_summary(self) -> CandidateIn:
        if not self.skills and not (self.summary and self.summary.strip()):
            raise ValueError("a candidate needs skills or a summary (or both)")
        return self


class CandidateOut(CandidateIn):
    external_id: str
    esco: dict[str, Any] | None = Field(default=None, description=ESCO_LINKS)
    created_at: dt.datetime
    updated_at: dt.datetime


class SupportTrack(StrEnum):
    refugee_or_asylum_seeker = "refugee_or_asylum_seeker"
    long_term_unemployed = "long_term_unemployed"
    neet = "neet"
    woman_returning_to_work = "woman_returning_to_work"
    disability = "disability"
    addiction_recovery = "addiction_recovery"
    justice = "justice"


class SelfDeclared(Strict):
    """Group attributes the person chose to declare, kept only for fairness monitoring."""

    gender: Literal["woman", "man", "non_binary", "other", "prefer_not_to_say"] | None = None
    age_band: Literal["16-24", "25-29", "30-39", "40-49", "50-64", "65+"] | None = None
    migrant_background: bool | None = None
    disability: bool | None = None


class CandidateSensitiveIn(Strict):
    support_tracks: Annotated[list[SupportTrack], Field(max_length=7)] = Field(default_factory=list)
    fairness_consent: bool = False
    consent_recorded_on: dt.date | None = None
    self_declared: SelfDeclared | None = None

    @model_validator(mode="after")
    def _consent_before_attributes(self) -> CandidateSensitiveIn:
        if self.self_declared is not None and not self.fairness_consent:
            raise ValueError("self_declared attributes are stored only with fairness_consent true")
        self.support_tracks = list(dict.fromkeys(self.support_tracks))
        return self


class CandidateSensitiveOut(CandidateSensitiveIn):
    candidate_external_id: str
    created_at: dt.datetime
    updated_at: dt.datetime


# ---------------------------------------------------------------- keys and paging


class Role(StrEnum):
    admin = "admin"
    integration = "integration"
    scout = "scout"


class ApiKeyCreate(Strict):
    role: Role
    label: Annotated[str, StringConstraints(max_length=200)] | None = None
    expires_at: dt.datetime | None = None


class ApiKeyOut(BaseModel):
    id: str
    role: Role
    label: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret; shown once, never stored")


class Principal(BaseModel):
    """Who is calling: a tenant and a role, established from an API key."""

    model_config = ConfigDict(frozen=True)

    tenant_id: Any
    tenant_name: str
    role: Role
    key_id: str
    # "key": an API key's caller; "operator": a command run on the host (``ponte …``, key_id
    # names the command); "worker": a batch job acting for the tenant.
    kind: Literal["key", "operator", "worker"] = "key"
    key_label: str | None = None
    # The caller's own reference for the person at the keyboard (header X-Actor-Ref), kept in
    # the audit trail.
    actor_ref: str | None = None

    @classmethod
    def operator(
        cls,
        tenant_id: Any,
        tenant_name: str,
        command: str,
        kind: Literal["operator", "worker"] = "operator",
    ) -> Principal:
        """An operator acting on a tenant through the ``ponte`` command ``command`` (or, with
        ``kind`` "worker", a worker's job of that name), with an admin's rights and no key."""
        return cls(
            tenant_id=tenant_id,
            tenant_name=tenant_name,
            role=Role.admin,
            key_id=command,
            kind=kind,
        )


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


TENANT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
