"""The domain's closed vocabularies are defined once (app/vocabulary.py); every place that has
to spell them out again — schemas, SQL functions, CHECK constraints, gate SQL — agrees."""

from __future__ import annotations

import typing

import pytest
from sqlalchemy import text

from app import schemas, vocabulary
from app.ml import gates
from app.ml.features import FEATURES
from app.ml.pool import CandidatePool
from app.ml.ranker import DEFAULT_WEIGHTS
from app.repositories.matching import GATE_SQL
from app.schemas.feedback import FeedbackEventType, FeedbackReason, Link
from app.schemas.matching import Weights


def test_schemas_spell_the_vocabulary_as_defined():
    assert tuple(schemas.Cefr) == vocabulary.CEFR_LEVELS
    assert typing.get_args(schemas.LanguageLevel) == vocabulary.LANGUAGE_LEVELS
    assert tuple(schemas.CandidateStatus) == vocabulary.CANDIDATE_STATUSES
    assert tuple(schemas.WorkPermit) == vocabulary.WORK_PERMITS
    assert tuple(schemas.VacancyStatus) == vocabulary.VACANCY_STATUSES
    assert tuple(schemas.Contract) == vocabulary.VACANCY_CONTRACTS
    assert tuple(Weights.model_fields) == FEATURES == tuple(DEFAULT_WEIGHTS)
    assert tuple(FeedbackEventType) == vocabulary.FEEDBACK_EVENTS
    assert tuple(FeedbackReason) == vocabulary.FEEDBACK_REASONS
    assert typing.get_args(Link) == vocabulary.FEEDBACK_LINKS


def test_gate_sql_and_pool_gates_cover_the_same_gates():
    assert tuple(GATE_SQL) == vocabulary.GATES
    assert tuple(gates._GATES) == vocabulary.GATES  # one rule per gate, in the same order
    pool = CandidatePool(4)
    view = gates.VacancyView(None, remote=False, lat=None, lon=None, languages=[])
    assert all(len(states) == 0 for states in gates.gate_states(pool, view).values())


async def test_sql_cefr_rank_agrees(owner_engine):
    async with owner_engine.connect() as conn:
        for level in [*vocabulary.LANGUAGE_LEVELS, "b2", "Native", "X9", ""]:
            ranked = await conn.scalar(text("SELECT ponte_cefr_rank(:l)"), {"l": level})
            assert ranked == vocabulary.cefr_rank(level), level


@pytest.mark.parametrize(
    ("table", "column", "values"),
    [
        ("candidates", "status", vocabulary.CANDIDATE_STATUSES),
        ("candidates", "work_permit", vocabulary.WORK_PERMITS),
        ("vacancies", "status", vocabulary.VACANCY_STATUSES),
        ("vacancies", "contract", vocabulary.VACANCY_CONTRACTS),
        ("candidates", "status_source", vocabulary.STATUS_SOURCES),
        ("vacancies", "status_source", vocabulary.STATUS_SOURCES),
        ("feedback_events", "event", vocabulary.FEEDBACK_EVENTS),
        ("feedback_events", "reason", vocabulary.FEEDBACK_REASONS),
        ("feedback_events", "link", vocabulary.FEEDBACK_LINKS),
        ("placement_spans", "kind", vocabulary.SPAN_KINDS),
        ("ranker_models", "family", vocabulary.MODEL_FAMILIES),
        ("ranker_activations", "action", vocabulary.MODEL_ACTIONS),
        ("jobs", "kind", vocabulary.JOB_KINDS),
        ("jobs", "state", vocabulary.JOB_STATES),
        ("jobs", "trigger", vocabulary.JOB_TRIGGERS),
        ("job_tasks", "state", vocabulary.TASK_STATES),
        ("webhook_deliveries", "state", vocabulary.DELIVERY_STATES),
        ("shortlists", "origin", vocabulary.SHORTLIST_ORIGINS),
        ("esco_concepts", "kind", vocabulary.CONCEPT_KINDS),
        ("esco_labels", "kind", vocabulary.LABEL_KINDS),
        ("esco_relations", "relation", vocabulary.RELATIONS),
        ("taxonomy_imports", "state", vocabulary.IMPORT_STATES),
    ],
)
async def test_check_constraints_allow_exactly_the_vocabulary(owner_engine, table, column, values):
    async with owner_engine.connect() as conn:
        definition = await conn.scalar(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass) AND conname = :n"
            ),
            {"t": table, "n": f"ck_{table}_{column}"},
        )
    allowed = tuple(part.split("'")[1] for part in definition.split("::text")[:-1] if "'" in part)
    assert allowed == values, definition
