"""Create, read, replace, merge-patch, delete and list employers, vacancies and candidates."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, Employer, Vacancy
from app.errors import (
    AppError,
    Conflict,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from app.ml.encoder import Encoder
from app.repositories.resources import (
    CandidateRepository,
    EmployerRepository,
    ResourceRepository,
    SensitiveRepository,
    VacancyRepository,
)
from app.schemas import (
    EXTERNAL_ID_PATTERN,
    CandidateIn,
    CandidateSensitiveIn,
    EmployerIn,
    Principal,
    VacancyIn,
)
from app.services import audit
from app.services.concurrency import Preconditions, entity_tag
from app.services.cursors import decode_cursor, encode_cursor
from app.services.erasure import erase_candidates
from app.services.taxonomy_linking import TaxonomyLinker
from app.services.vectors import VectorService

M = TypeVar("M", Employer, Vacancy, Candidate)
In = TypeVar("In", bound=BaseModel)


def merge_patch(target: Any, patch: Any) -> Any:
    """Applies an RFC 7396 JSON merge patch to ``target`` and returns the result."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)


def first_error(errors: list[dict[str, Any]]) -> str:
    """The first of a problem's ``errors`` as one line: where, what, and how many more."""
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Returns pydantic's errors in the problem+json ``errors`` shape."""
    return [
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=False)
    ]


class Written(BaseModel):
    """A resource's representation with its entity tag, as a read or write returns it."""

    body: dict[str, Any]
    etag: str
    created: bool = False


class ResourceService(Generic[M, In]):
    """The use cases every caller-addressed resource shares."""

    kind: ClassVar[str]
    repository_class: ClassVar[type[ResourceRepository[Any]]]
    schema: ClassVar[type[BaseModel]]
    # The audit trail's names for reading one, listing, and deleting (None: not recorded).
    read_action: ClassVar[str | None] = None
    list_action: ClassVar[str | None] = None
    delete_action: ClassVar[str]

    def __init__(
        self, session: AsyncSession, principal: Principal, encoder: Encoder | None = None
    ) -> None:
        self.session = session
        self.principal = principal
        self.encoder = encoder
        self.repo: ResourceRepository[M] = self.repository_class(session)

    async def _after_write(self, rows: Sequence[M]) -> None:
        """Brings derived data (vectors) up to date before the write is acknowledged."""

    @property
    def tenant_id(self) -> Any:
        return self.principal.tenant_id

    async def _values(self, body: In) -> dict[str, Any]:
        """Returns the column values for ``body``. A status left out keeps the stored one: it is
        partly the system's (feedback sets placed and filled), so a re-sync of a profile that
        does not send it must not undo a placement."""
        values = body.model_dump()
        if "status" in values and values["status"] is None:
            del values["status"]
        return values

    async def _represent(self, rows: Sequence[M]) -> list[dict[str, Any]]:
        """Returns the API representation of each row."""
        fields = self.schema.model_fields
        return [
            {
                "external_id": row.external_id,
                **{name: getattr(row, name) for name in fields},
                "created_at": row.created_at,
                "updated_at": row.updated_at,
            }
            for row in rows
        ]

    async def _written(self, row: M, created: bool = False) -> Written:
        body = (await self._represent([row]))[0]
        return Written(body=body, etag=entity_tag(row.id, row.version), created=created)

    async def _require(self, external_id: str, *, for_update: bool = False) -> M:
        row = await self.repo.get(self.tenant_id, external_id, for_update=for_update)
        if row is None:
            raise NotFound(f"no {self.kind} '{external_id}'")
        return row

    async def get(self, external_id: str) -> Written:
        """Returns one resource of the caller's tenant."""
        row = await self._require(external_id)
        written = await self._written(row)
        if self.read_action:
            act = audit.Act(self.read_action, [audit.ref(self.kind, row.id)])
            await audit.record(self.session, self.principal, act)
        return written

    async def put(self, external_id: str, body: In, pre: Preconditions) -> Written:
        """Creates or replaces a resource (idempotent)."""
        current = await self.repo.get(self.tenant_id, external_id, for_update=True)
        pre.check(entity_tag(current.id, current.version) if current else None)
        row, created = await self.repo.upsert(self.tenant_id, external_id, await self._values(body))
        await self._after_write([row])
        return await self._written(row, created)

    async def patch(self, external_id: str, patch: dict[str, Any], pre: Preconditions) -> Written:
        """Applies a JSON merge patch to the stored resource and validates the result."""
        current = await self._require(external_id, for_update=True)
        pre.check(entity_tag(current.id, current.version))
        represented = (await self._represent([current]))[0]
        document = {k: v for k, v in represented.items() if k in self.schema.model_fields}
        document = json.loads(json.dumps(document, default=str))
        try:
            body = self.schema.model_validate(merge_patch(document, patch))
        except ValidationError as exc:
            raise ValidationFailed(errors=validation_errors(exc)) from exc
        row, _ = await self.repo.upsert(
            self.tenant_id,
            external_id,
            await self._values(body),  # type: ignore[arg-type]
        )
        await self._after_write([row])
        return await self._written(row)

    async def delete(self, external_id: str, pre: Preconditions) -> None:
        """Deletes a resource."""
        current = await self._require(external_id, for_update=True)
        pre.check(entity_tag(current.id, current.version))
        await self._before_delete(current)
        await audit.record(self.session, self.principal, await self._delete(current))

    async def _delete(self, row: M) -> audit.Act:
        """Deletes ``row``; returns the act to record."""
        await self.repo.delete(row)
        return audit.Act(self.delete_action, [audit.ref(self.kind, row.id)])

    async def bulk_upsert(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Creates or replaces many resources; a bad or repeated item is reported, the rest
        stored. Results keep the input order; vectors are computed in one batch at the end."""
        results: list[dict[str, Any]] = []
        seen: set[str] = set()
        stored: list[M] = []
        for raw in items:
            external_id = raw.get("external_id") if isinstance(raw, dict) else None
            result: dict[str, Any] = {"external_id": external_id}
            results.append(result)
            if not isinstance(external_id, str) or not EXTERNAL_ID.match(external_id):
                result.update(status="error", error="external_id missing or not a valid id")
                continue
            if external_id in seen:
                result.update(status="error", error="external_id repeated in this request")
                continue
            seen.add(external_id)
            try:
                body = self.schema.model_validate(
                    {k: v for k, v in raw.items() if k != "external_id"}
                )
                async with self.session.begin_nested():
                    values = await self._values(body)  # type: ignore[arg-type]
                    row, created = await self.repo.upsert(self.tenant_id, external_id, values)
            except ValidationError as exc:
                result.update(status="error", error=first_error(validation_errors(exc)))
                continue
            except AppError as exc:
                result.update(status="error", error=exc.detail)
                continue
            stored.append(row)
            result["status"] = "created" if created else "updated"
        await self._after_write(stored)
        return results

    async def _before_delete(self, row: M) -> None:
        """Raises if ``row`` may not be deleted."""

    async def list(
        self,
        *,
        limit: int,
        cursor: str | None,
        filters: dict[str, Any],
        updated_since: dt.datetime | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Returns a page of the tenant's resources and the cursor of the next page."""
        after = decode_cursor(cursor) if cursor else None
        resolved = await self._filters(filters)
        if resolved is None:
            return [], None
        rows = await self.repo.list(
            self.tenant_id,
            limit=limit + 1,
            after=after,
            filters=resolved,
            updated_since=updated_since,
        )
        page = list(rows[:limit])
        next_cursor = encode_cursor(page[-1].external_id) if len(rows) > limit else None
        shown = await self._represent(page)
        if self.list_action:
            act = audit.Act(self.list_action, audit.refs(self.kind, (row.id for row in page)))
            await audit.record(self.session, self.principal, act)
        return shown, next_cursor

    async def _filters(self, filters: dict[str, Any]) -> dict[str, Any] | None:
        """Returns repository filters, or None when they can match nothing."""
        return filters


class EmployerService(ResourceService[Employer, EmployerIn]):
    kind = "employer"
    repository_class = EmployerRepository
    schema = EmployerIn
    delete_action = "employer.delete"

    async def _before_delete(self, row: Employer) -> None:
        repo = EmployerRepository(self.session)
        count = await repo.count_vacancies(self.tenant_id, row.id)
        if count:
            raise Conflict(
                f"employer '{row.external_id}' still has {count} vacancies; delete them first"
            )


class VacancyService(ResourceService[Vacancy, VacancyIn]):
    kind = "vacancy"
    repository_class = VacancyRepository
    schema = VacancyIn
    delete_action = "vacancy.delete"

    async def _employer_id(self, external_id: str, loc: list[str]) -> Any:
        employer = await EmployerRepository(self.session).get(self.tenant_id, external_id)
        if employer is None:
            raise ValidationFailed(
                f"no employer '{external_id}'",
                errors=[{"loc": loc, "msg": "unknown employer", "type": "reference"}],
            )
        return employer.id

    async def _values(self, body: VacancyIn) -> dict[str, Any]:
        values = await super()._values(body)
        employer_external_id = values.pop("employer_external_id")
        values["employer_id"] = await self._employer_id(
            employer_external_id, ["body", "employer_external_id"]
        )
        if self.encoder is not None:
            await _linker(self).check_given(
                "required_skills", values["required_skills"], values.get("occupation_uri")
            )
        return values

    async def _represent(self, rows: Sequence[Vacancy]) -> list[dict[str, Any]]:
        names = await EmployerRepository(self.session).external_ids(
            self.tenant_id, [row.employer_id for row in rows]
        )
        fields = [f for f in self.schema.model_fields if f != "employer_external_id"]
        return [
            {
                "external_id": row.external_id,
                "employer_external_id": names[row.employer_id],
                **{name: getattr(row, name) for name in fields},
                # the title's fifty nearest occupations are ranking's working data, not a link
                "esco": {k: v for k, v in row.esco.items() if k != "title_occupations"}
                if row.esco
                else row.esco,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
            }
            for row in rows
        ]

    async def _after_write(self, rows: Sequence[Vacancy]) -> None:
        await _vectors(self).refresh_vacancies(rows)
        await _linker(self).link_rows(rows)

    async def _filters(self, filters: dict[str, Any]) -> dict[str, Any] | None:
        filters = dict(filters)
        employer = filters.pop("employer_external_id", None)
        if employer is not None:
            found = await EmployerRepository(self.session).get(self.tenant_id, employer)
            if found is None:
                return None
            filters["employer_id"] = found.id
        return filters


def _vectors(service: ResourceService[Any, Any]) -> VectorService:
    if service.encoder is None:
        raise ServiceUnavailable("the model is not loaded yet")
    return VectorService(service.session, service.encoder)


def _linker(service: ResourceService[Any, Any]) -> TaxonomyLinker:
    assert service.encoder is not None  # _vectors has refused already
    return TaxonomyLinker(service.session, service.encoder)


class CandidateService(ResourceService[Candidate, CandidateIn]):
    kind = "candidate"
    repository_class = CandidateRepository
    schema = CandidateIn
    read_action = "candidate.read"
    list_action = "candidate.list"
    delete_action = "candidate.erase"

    async def _delete(self, row: Candidate) -> audit.Act:
        (act,) = await erase_candidates(self.session, [row], reason="request")
        return act

    async def _values(self, body: CandidateIn) -> dict[str, Any]:
        values = await super()._values(body)
        # stored as names, with the caller's ESCO links beside them by name
        wanted = values["desired_occupations"]
        values["desired_occupations"] = [o if isinstance(o, str) else o["label"] for o in wanted]
        linked = {o["label"]: o["occupation_uri"] for o in wanted if isinstance(o, dict)}
        values["desired_occupation_uris"] = linked or None
        if self.encoder is not None:
            linker = _linker(self)
            await linker.check_given("skills", values["skills"])
            for n, item in enumerate(wanted):
                if isinstance(item, dict):
                    await linker.check_given(
                        "desired_occupations", [], item["occupation_uri"], at=n
                    )
        return values

    async def _represent(self, rows: Sequence[Candidate]) -> list[dict[str, Any]]:
        shown = await super()._represent(rows)
        for item, row in zip(shown, rows, strict=True):
            linked = row.desired_occupation_uris or {}
            item["desired_occupations"] = [
                {"label": o, "occupation_uri": linked[o]} if o in linked else o
                for o in row.desired_occupations or []
            ]
            item["esco"] = row.esco
        return shown

    async def _after_write(self, rows: Sequence[Candidate]) -> None:
        await _vectors(self).refresh_candidates(rows)
        await _linker(self).link_rows(rows)


class SensitiveService:
    """The sensitive part of a candidate: stored apart, never a scoring feature."""

    fields = tuple(CandidateSensitiveIn.model_fields)

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.candidates = CandidateRepository(session)
        self.repo = SensitiveRepository(session)

    async def _candidate(self, external_id: str) -> Candidate:
        row = await self.candidates.get(self.principal.tenant_id, external_id)
        if row is None:
            raise NotFound(f"no candidate '{external_id}'")
        return row

    def _written(self, external_id: str, row: Any, created: bool = False) -> Written:
        body = {
            "candidate_external_id": external_id,
            **{name: getattr(row, name) for name in self.fields},
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
        return Written(body=body, etag=entity_tag(row.candidate_id, row.version), created=created)

    async def get(self, external_id: str) -> Written:
        """Returns the sensitive record of a candidate."""
        candidate = await self._candidate(external_id)
        row = await self.repo.get(self.principal.tenant_id, candidate.id)
        if row is None:
            raise NotFound(f"candidate '{external_id}' has no sensitive record")
        act = audit.Act("sensitive.read", [audit.ref("candidate", candidate.id)])
        await audit.record(self.session, self.principal, act)
        return self._written(external_id, row)

    async def put(
        self, external_id: str, body: CandidateSensitiveIn, pre: Preconditions
    ) -> Written:
        """Creates or replaces the sensitive record of a candidate."""
        candidate = await self._candidate(external_id)
        current = await self.repo.get(self.principal.tenant_id, candidate.id, for_update=True)
        pre.check(entity_tag(current.candidate_id, current.version) if current else None)
        values = body.model_dump(mode="json")
        values["consent_recorded_on"] = body.consent_recorded_on
        row, created = await self.repo.upsert(self.principal.tenant_id, candidate.id, values)
        return self._written(external_id, row, created)

    async def delete(self, external_id: str, pre: Preconditions) -> None:
        """Deletes the sensitive record of a candidate."""
        candidate = await self._candidate(external_id)
        row = await self.repo.get(self.principal.tenant_id, candidate.id, for_update=True)
        if row is None:
            raise NotFound(f"candidate '{external_id}' has no sensitive record")
        pre.check(entity_tag(row.candidate_id, row.version))
        await self.repo.delete(row)
