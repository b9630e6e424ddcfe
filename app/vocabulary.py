"""The closed vocabularies of the domain, defined once.

Schemas, tables, the in-process pool and the matching SQL all derive theirs from here; where SQL
has to spell a value out (a CHECK constraint in a migration, the ``ponte_cefr_rank`` function),
tests/test_vocabulary.py holds it equal to these. A leaf: it imports nothing from Ponte.
"""

from __future__ import annotations

# Language levels of the Common European Framework, lowest first; "native" ranks above C2.
CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
LANGUAGE_LEVELS = (*CEFR_LEVELS, "native")
# A1 = 1 … C2 = 6, native = 7; keyed by the upper-cased level (what SQL compares).
CEFR_RANK: dict[str, int] = {level.upper(): rank for rank, level in enumerate(LANGUAGE_LEVELS, 1)}

CANDIDATE_STATUSES = ("active", "paused", "placed", "withdrawn")
# Statuses a vacancy may put forward at all ("placed" is then its own gate, not_placed).
PROPOSABLE_STATUSES = ("active", "placed")
WORK_PERMITS = ("yes", "no", "pending", "unknown")

VACANCY_STATUSES = ("open", "filled", "closed")
VACANCY_CONTRACTS = ("internship", "apprenticeship", "fixed_term", "permanent")

# Recruiter feedback on a proposed person (issue 12), roughly in pipeline order.
FEEDBACK_EVENTS = (
    "viewed",
    "shortlisted",
    "contacted",
    "interviewed",
    "offered",
    "internship_started",
    "internship_extended",
    "internship_completed",
    "hired",
    "rejected",
    "candidate_declined",
    "dropped_out",
    "retracted",
)
FEEDBACK_REASONS = (
    "skills",
    "language",
    "distance",
    "availability",
    "permit",
    "documents",
    "employer_declined",
    "candidate_declined",
    "no_show",
    "other",
)
# How a feedback event is tied to what the ranker showed: the shortlist the caller named, the
# vacancy's latest shortlist that showed the person, or none (an organic candidate).
FEEDBACK_LINKS = ("given", "latest_shortlist", "none")
# Who set a candidate's or vacancy's status last: its caller, or feedback (placed / filled).
STATUS_SOURCES = ("caller", "feedback")
# Learned rankers: their model families (app/ml/learning.py) and what switched a tenant's.
MODEL_FAMILIES = ("pairwise", "pointwise")
MODEL_ACTIONS = ("train", "activate", "rollback")
# What a placement span is (app/services/stints.Span).
SPAN_KINDS = ("internship", "contract")
# The events that move a person into a position or out of it (app/services/stints.py).
PLACEMENT_EVENTS = (
    "internship_started",
    "internship_extended",
    "internship_completed",
    "hired",
    "dropped_out",
)
# Events that must say why.
REASON_REQUIRED = ("rejected", "candidate_declined", "dropped_out")
# Events that show the ranker proposed someone worth pursuing (online ranking quality).
POSITIVE_EVENTS = (
    "shortlisted",
    "contacted",
    "interviewed",
    "offered",
    "internship_started",
    "hired",
)

# The hard gates, in the order they are applied and reported.
GATES = ("status", "not_placed", "availability", "language", "commute", "permit")


def cefr_rank(level: object) -> int:
    """A1 = 1 … C2 = 6, native = 7, anything else (or nothing) 0 — as SQL ``ponte_cefr_rank``."""
    return CEFR_RANK.get(str(level).upper(), 0) if level is not None else 0


# Jobs (issue 14): what kind, where a job is, what queued it; a task of a job (a block of
# vacancies) is queued until a worker commits it done or gives up on it.
JOB_KINDS = ("rerank",)
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
JOB_TRIGGERS = ("cli", "api", "activate", "rollback", "reembed", "schedule")
TASK_STATES = ("queued", "done", "failed")
# A webhook delivery of a changed shortlist: queued (and retried) until delivered or given up.
DELIVERY_STATES = ("queued", "delivered", "failed")
# Where a shortlist snapshot came from: a caller's request, or a batch job's run.
SHORTLIST_ORIGINS = ("request", "batch")

# The ESCO taxonomy (issue 15): what a concept is, how a label names it, how concepts relate,
# and where an import stands.
CONCEPT_KINDS = ("occupation", "skill", "isco_group")
LABEL_KINDS = ("preferred", "alternative", "hidden")
RELATIONS = ("essential", "optional", "broader")
IMPORT_STATES = ("running", "done")

# The audit trail (issue 16): every accountable act, by a dotted name whose first part is what
# it acts on (GET /v1/audit?action=model takes all of model.*), and how it ended.
AUDIT_ACTIONS = (
    "shortlist.create",
    "shortlist.read",
    "shortlist.list",
    "matches.read",
    "candidate.read",
    "candidate.list",
    "sensitive.read",
    "candidate.export",
    "candidate.erase",
    "vacancy.delete",
    "employer.delete",
    "feedback.create",
    "feedback.read",
    "pipeline.read",
    "internships.read",
    "feedback.note_erase",
    "model.train",
    "model.activate",
    "model.rollback",
    "purge",
    "key.create",
    "key.revoke",
    "key.refused",
    "settings.update",
    "taxonomy.import",
    "audit.read",
    "fairness.read",
)
AUDIT_OUTCOMES = ("ok", "refused")
