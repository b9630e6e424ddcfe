"""Recording recruiter feedback: each decision exactly once, linked to what the ranker showed.

An event is validated against the tenant's data (the vacancy, the candidate, the shortlist
named, the event retracted), linked to the shortlist item that showed the person (the one
named, else the vacancy's latest that showed them, else none: an organic candidate), appended
to the log and then allowed its effects on state (app/services/placements.py), all in the
request's transaction. The idempotency key makes retries safe: the unique constraint admits one
row per key, a retry with the same body gets the original back, one with another body a 409.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError, BadRequest, Conflict, NotFound, ValidationFailed
from app.repositories.feedback import (
    CandidateRef,
    FeedbackRepository,
    Shown,
    VacancyRef,
)
from app.schemas import Principal
from app.schemas.feedback import FeedbackEventType, FeedbackIn
from app.services import audit
from app.services.cursors import decode_cursor, encode_cursor
from app.services.placements import apply_effects
from app.services.resources import validation_errors
from app.services.stints import DEFAULT_MONTHS
from app.vocabulary import PLACEMENT_EVENTS

_PUBLIC = (
    "id",
    "vacancy_external_id",
    "candidate_external_id",
    "event",
    "reason",
    "note",
    "months",
    "occurred_at",
    "recorded_at",
    "key_id",
    "actor_ref",
    "link",
    "shortlist_id",
    "rank",
    "ranker_version",
    "idempotency_key",
    "retracts",
)


def represent(row: dict[str, Any]) -> dict[str, Any]:
    """An event as the API shows it."""
    return {name: row[name] for name in _PUBLIC}


def body_hash(body: FeedbackIn) -> bytes:
    """SHA-256 of the request as the caller sent it (defaults left out, so a retry that again
    leaves ``occurred_at`` to the server is the same request)."""
    sent = body.model_dump(mode="json", exclude_unset=True)
    return hashlib.sha256(orjson.dumps(sent, option=orjson.OPT_SORT_KEYS)).digest()


def event_keys(
    tenant_id: uuid.UUID, vacancy_id: uuid.UUID, candidate_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """The event's ``person_key`` and ``path_key``: name-based UUIDs (SHA-1) of the person's and
    the (vacancy, person) pair's internal ids. They group a person's events, and a path's, after
    erasure has set the references to NULL, and lead nowhere then: the ids they hash are gone."""
    person = uuid.uuid5(tenant_id, f"person:{candidate_id}")
    path = uuid.uuid5(tenant_id, f"path:{vacancy_id}:{candidate_id}")
    return person, path


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed.of_field(field, message)


def event_cursor(at: dt.datetime, event_id: uuid.UUID) -> str:
    """An opaque cursor resuming after this event (the resources' cursor, holding its place)."""
    return encode_cursor(f"{at.isoformat()}|{event_id}")


def event_position(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """Where an :func:`event_cursor` resumes; BadRequest if it is not one."""
    try:
        at, event_id = decode_cursor(cursor).split("|")
        return dt.datetime.fromisoformat(at), uuid.UUID(event_id)
    except ValueError as exc:
        raise BadRequest("invalid cursor") from exc


class FeedbackService:
    """Feedback events of the caller's tenant."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.repo = FeedbackRepository(session)

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.principal.tenant_id  # type: ignore[no-any-return]

    async def _replay(self, key: str, digest: bytes) -> dict[str, Any] | None:
        """The event already recorded under ``key`` (409 if its body differs), or None."""
        found = await self.repo.by_key(self.tenant_id, key)
        if found is None:
            return None
        if found["body_hash"] != digest:
            raise Conflict(f"idempotency_key '{key}' was used for a different event")
        return represent(found)

    async def record(self, body: FeedbackIn) -> tuple[dict[str, Any], bool]:
        """Records one event; returns its representation and whether it is new."""
        event, act = await self._record(body)
        if act is not None:
            await audit.record(self.session, self.principal, act)
        return event, act is not None

    async def _record(self, body: FeedbackIn) -> tuple[dict[str, Any], audit.Act | None]:
        """Records one event; returns its representation and, when it is new, the act for the
        audit trail (the caller records it last in the transaction)."""
        digest = body_hash(body)
        replay = await self._replay(body.idempotency_key, digest)
        if replay is not None:
            return replay, None
        # An event that may change state (a placement, or a retraction that may undo one)
        # locks the vacancy and then the candidate, as every such writer does, so their effects
        # are computed one at a time; the others need no lock (the key's unique constraint
        # alone keeps retries to one row).
        affects = body.event.value in PLACEMENT_EVENTS or body.retracts is not None
        vacancy, candidate = await self.repo.subjects(
            self.tenant_id, body.vacancy_external_id, body.candidate_external_id, lock=affects
        )
        if vacancy is None:
            raise _invalid("vacancy_external_id", f"no vacancy '{body.vacancy_external_id}'")
        if candidate is None:
            raise _invalid("candidate_external_id", f"no candidate '{body.candidate_external_id}'")
        link, shown = await self._link(body, vacancy, candidate)
        if body.retracts is not None:
            await self._check_retraction(body.retracts, vacancy, candidate)
        at = (body.occurred_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        months = body.months
        if body.event == FeedbackEventType.internship_started:
            months = vacancy.duration_months or DEFAULT_MONTHS
        person_key, path_key = event_keys(self.tenant_id, vacancy.id, candidate.id)
        values: dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "vacancy_id": vacancy.id,
            "vacancy_external_id": vacancy.external_id,
            "employer_id": vacancy.employer_id,
            "contract": vacancy.contract,
            "candidate_id": candidate.id,
            "person_key": person_key,
            "path_key": path_key,
            "event": body.event.value,
            "reason": body.reason.value if body.reason else None,
            "months": months,
            "occurred_at": at,
            "key_id": self.principal.key_id,
            "actor_ref": body.actor_ref,
            "idempotency_key": body.idempotency_key,
            "body_hash": digest,
            "link": link,
            "shortlist_id": shown.shortlist_id if shown else None,
            "rank": shown.rank if shown else None,
            "score": shown.score if shown else None,
            "ranker_version": shown.ranker_version if shown else None,
            "feature_version": shown.feature_version if shown else None,
            "retracts": body.retracts,
        }
        inserted = await self.repo.insert(values)
        if inserted is None:  # a concurrent retry won the key
            replay = await self._replay(body.idempotency_key, digest)
            if replay is None:  # pragma: no cover - the conflicting row is committed
                raise Conflict("idempotency_key is being recorded; retry")
            return replay, None
        event_id, recorded_at = inserted
        if body.note:
            await self.repo.add_note(self.tenant_id, event_id, candidate.id, body.note)
        if affects:
            await apply_effects(self.session, vacancy, candidate, path_key, at)
        stored = {
            **values,
            "id": event_id,
            "recorded_at": recorded_at,
            "candidate_external_id": candidate.external_id,
            "note": body.note or None,
        }
        act = audit.Act(
            "feedback.create",
            [
                audit.ref("feedback_event", event_id),
                audit.ref("vacancy", vacancy.id),
                audit.ref("candidate", candidate.id),
                *audit.refs("shortlist", [values["shortlist_id"]]),
            ],
            ranker_version=values["ranker_version"],
            detail={"event": values["event"], "link": link},
            actor_ref=body.actor_ref,
        )
        return represent(stored), act

    async def _link(
        self, body: FeedbackIn, vacancy: VacancyRef, candidate: CandidateRef
    ) -> tuple[str, Shown | None]:
        if body.shortlist_id is not None:
            exists, shown = await self.repo.shown_in(
                self.tenant_id, body.shortlist_id, vacancy.id, candidate.id
            )
            if not exists:
                raise _invalid(
                    "shortlist_id",
                    f"no shortlist {body.shortlist_id} of vacancy '{vacancy.external_id}'",
                )
            if shown is None:
                raise _invalid(
                    "shortlist_id",
                    f"shortlist {body.shortlist_id} did not show '{candidate.external_id}'",
                )
            return "given", shown
        shown = await self.repo.latest_shown(self.tenant_id, vacancy.id, candidate.id)
        return ("latest_shortlist", shown) if shown is not None else ("none", None)

    async def _check_retraction(
        self, target_id: uuid.UUID, vacancy: VacancyRef, candidate: CandidateRef
    ) -> None:
        target = await self.repo.by_id(self.tenant_id, target_id)
        if target is None:
            raise _invalid("retracts", f"no event {target_id}")
        if target["vacancy_id"] != vacancy.id or target["candidate_id"] != candidate.id:
            raise _invalid("retracts", "the event retracted is about another vacancy or candidate")
        if target["event"] == "retracted":
            raise _invalid("retracts", "a retraction cannot be retracted; record the event again")
        if await self.repo.retraction_of(self.tenant_id, target_id) is not None:
            raise Conflict(f"event {target_id} is already retracted")

    async def record_many(self, items: Sequence[Any]) -> dict[str, Any]:
        """Records up to 1,000 events; each is answered on its own (created, duplicate, or a
        problem), and one bad item does not sink the others."""
        results: list[dict[str, Any]] = []
        acts: list[audit.Act] = []
        counts = {"created": 0, "duplicate": 0, "refused": 0}
        for index, raw in enumerate(items):
            key = raw.get("idempotency_key") if isinstance(raw, dict) else None
            result: dict[str, Any] = {"index": index, "idempotency_key": key}
            try:
                body = FeedbackIn.model_validate(raw)
                async with self.session.begin_nested():
                    event, act = await self._record(body)
            except ValidationError as exc:
                errors = validation_errors(exc)
                problem = ValidationFailed(errors=errors)
                result |= {"status": "error", "problem": problem.problem()}
                counts["refused"] += 1
            except AppError as exc:
                result |= {"status": "error", "problem": exc.problem()}
                counts["refused"] += 1
            except IntegrityError:  # a concurrent retraction of the same event
                conflict = Conflict("the event conflicts with one recorded meanwhile")
                result |= {"status": "error", "problem": conflict.problem()}
                counts["refused"] += 1
            else:
                status = "created" if act is not None else "duplicate"
                result |= {"status": status, "event": event}
                counts[status] += 1
                if act is not None:
                    acts.append(act)
            results.append(result)
        # last: the chain lock, taken earlier, would wait on the vacancies locked after it
        await audit.record(self.session, self.principal, *acts)
        return {**counts, "items": results}

    async def list(
        self,
        *,
        limit: int,
        cursor: str | None,
        vacancy_external_id: str | None,
        candidate_external_id: str | None,
        event: str | None,
        occurred_from: dt.datetime | None,
        occurred_to: dt.datetime | None,
    ) -> dict[str, Any]:
        """A page of the tenant's events in the order they happened."""
        rows = await self.repo.page(
            self.tenant_id,
            limit=limit + 1,
            after=event_position(cursor) if cursor else None,
            vacancy_external_id=vacancy_external_id,
            candidate_external_id=candidate_external_id,
            event=event,
            occurred_from=occurred_from,
            occurred_to=occurred_to,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = event_cursor(rows[-1]["occurred_at"], rows[-1]["id"]) if more else None
        await self._record_read(rows)
        return {"items": [represent(r) for r in rows], "next_cursor": next_cursor}

    async def _record_read(self, rows: Sequence[dict[str, Any]]) -> None:
        """Reading events (their notes, who they were about) is an act of the audit trail."""
        objects = [
            *audit.refs("feedback_event", (r["id"] for r in rows)),
            *audit.refs("candidate", (r["candidate_id"] for r in rows)),
        ]
        await audit.record(self.session, self.principal, audit.Act("feedback.read", objects))

    async def erase_note(self, event_id: uuid.UUID) -> dict[str, Any]:
        """Erases the free-text note of an event (it may hold personal data that should not
        have been written); the event and its figures stay."""
        await self.repo.delete_note(self.tenant_id, event_id)
        event = represent(await self._found(event_id))  # NotFound if there is no such event
        act = audit.Act("feedback.note_erase", [audit.ref("feedback_event", event_id)])
        await audit.record(self.session, self.principal, act)
        return event

    async def get(self, event_id: uuid.UUID) -> dict[str, Any]:
        found = await self._found(event_id)
        await self._record_read([found])
        return represent(found)

    async def _found(self, event_id: uuid.UUID) -> dict[str, Any]:
        found = await self.repo.by_id(self.tenant_id, event_id)
        if found is None:
            raise NotFound(f"no feedback event {event_id}")
        return found
