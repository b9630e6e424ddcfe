"""The feedback log's tables: recruiter decisions and placement outcomes, append-only, and
their erasable notes (issue 12; migration 0006), and the placements folded from it
(migration 0007)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import PrimaryKeyConstraint

from app.db.base import Base
from app.db.tables import _created, _in, _tenant_fk, _uuid_pk
from app.vocabulary import FEEDBACK_EVENTS, FEEDBACK_LINKS, FEEDBACK_REASONS, SPAN_KINDS


def _references_set_null(*columns: str) -> list[ForeignKeyConstraint]:
    """``(tenant_id, <row>_id)`` → its table, set to NULL by the database when the row goes
    (a log, and what is folded from it, keep their figures and lose the reference)."""
    constraints = []
    for column in columns:
        table = {"vacancy_id": "vacancies"}.get(column, column.removesuffix("_id") + "s")
        constraints.append(
            ForeignKeyConstraint(
                ["tenant_id", column],
                [f"{table}.tenant_id", f"{table}.id"],
                ondelete=f"SET NULL ({column})",
            )
        )
    return constraints


class FeedbackEvent(Base):
    """One recruiter decision or placement outcome, append-only (the service role may insert and
    read, never update or delete). It keeps what the ranker showed when it was recorded (the
    shortlist, rank, score and versions), so a later erasure or re-ranking cannot rewrite it.
    Free text lives apart, in ``feedback_notes``, which erasure can clear; an erased candidate's
    events keep their figures with ``candidate_id`` set to NULL by the database, and
    ``person_key`` / ``path_key`` still group them."""

    __tablename__ = "feedback_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "idempotency_key"),
        # A retraction retracts one event, once.
        UniqueConstraint("retracts"),
        *_references_set_null("vacancy_id", "candidate_id", "employer_id", "shortlist_id"),
        ForeignKeyConstraint(
            ["tenant_id", "retracts"], ["feedback_events.tenant_id", "feedback_events.id"]
        ),
        CheckConstraint(_in("event", FEEDBACK_EVENTS), name="event"),
        CheckConstraint(f"reason IS NULL OR {_in('reason', FEEDBACK_REASONS)}", name="reason"),
        CheckConstraint(_in("link", FEEDBACK_LINKS), name="link"),
        CheckConstraint("(event = 'retracted') = (retracts IS NOT NULL)", name="retracts"),
        Index("ix_feedback_events_tenant_id_occurred_at", "tenant_id", "occurred_at", "id"),
        Index("ix_feedback_events_tenant_id_vacancy_id", "tenant_id", "vacancy_id"),
        Index("ix_feedback_events_tenant_id_candidate_id", "tenant_id", "candidate_id"),
        Index("ix_feedback_events_shortlist_id", "shortlist_id"),
        # A path's events by kind and time (the first shortlisting of a placed person).
        Index(
            "ix_feedback_events_tenant_id_path_key_event",
            "tenant_id",
            "path_key",
            "event",
            "occurred_at",
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    vacancy_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The vacancy's own id and its employer and contract when the event was recorded: outcome
    # figures by employer and contract survive the vacancy's deletion (none is personal data).
    vacancy_external_id: Mapped[str] = mapped_column(Text, nullable=False)
    employer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    contract: Mapped[str | None] = mapped_column(Text)
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Keys that outlive the references above without pointing anywhere: one per person, one per
    # (vacancy, person) path (app/services/feedback.event_keys). After an erasure or a
    # vacancy's deletion the reports still tell one person, and one path, from another.
    person_key: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    path_key: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    event: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    # internship_started: the vacancy's duration; internship_extended: the months added.
    months: Mapped[int | None] = mapped_column(SmallInteger)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    recorded_at: Mapped[dt.datetime] = _created()
    key_id: Mapped[str | None] = mapped_column(Text)
    actor_ref: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text, nullable=False)
    # SHA-256 of the request as sent: a retry with the same key must carry the same body.
    body_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    link: Mapped[str] = mapped_column(Text, nullable=False)
    shortlist_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    rank: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Double)
    ranker_version: Mapped[str | None] = mapped_column(Text)
    feature_version: Mapped[str | None] = mapped_column(Text)
    retracts: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class FeedbackNote(Base):
    """The free-text note of a feedback event (may hold personal data): deleted with its
    candidate, and deletable on its own, while the event itself stays."""

    __tablename__ = "feedback_notes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "event_id"],
            ["feedback_events.tenant_id", "feedback_events.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="CASCADE",
        ),
        Index("ix_feedback_notes_candidate_id", "candidate_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)


class PlacementSpan(Base):
    """An internship or a contract of one (vacancy, person) path, folded from the path's
    effective placement events (app/services/stints.py). Derived: every event that can change a
    path rewrites its rows in the same transaction, under the locks that order such events, so
    the table always equals the fold of the log (``ponte feedback rebuild-spans`` rebuilds it).
    The references follow the events' rules: the vacancy's id, employer and contract as the
    path's latest placement event recorded them; NULL when the row they point to goes;
    ``person_key`` still tells one person from another after an erasure."""

    __tablename__ = "placement_spans"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "path_key", "seq"),
        *_references_set_null("vacancy_id", "candidate_id", "employer_id"),
        CheckConstraint(_in("kind", SPAN_KINDS), name="kind"),
        CheckConstraint("(kind = 'internship') = (planned_end IS NOT NULL)", name="planned_end"),
        Index("ix_placement_spans_tenant_id_candidate_id", "tenant_id", "candidate_id"),
        Index("ix_placement_spans_tenant_id_vacancy_id", "tenant_id", "vacancy_id"),
        Index("ix_placement_spans_tenant_id_planned_end", "tenant_id", "planned_end"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    path_key: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # The span's place among the path's spans: internships first, then contracts, in order.
    seq: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    vacancy_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    vacancy_external_id: Mapped[str] = mapped_column(Text, nullable=False)
    employer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    contract: Mapped[str | None] = mapped_column(Text)
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    person_key: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(Text)
    planned_end: Mapped[dt.date | None] = mapped_column(Date)
    extensions: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
