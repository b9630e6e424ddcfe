"""Roles and what they may do. One table, read by the API's guards and by the docs."""

from __future__ import annotations

from enum import StrEnum

from app.errors import Forbidden
from app.schemas import Principal, Role


class Permission(StrEnum):
    employers_read = "employers:read"
    employers_write = "employers:write"
    vacancies_read = "vacancies:read"
    vacancies_write = "vacancies:write"
    candidates_read = "candidates:read"
    candidates_write = "candidates:write"
    candidates_sensitive = "candidates:sensitive"
    shortlists_write = "shortlists:create"
    shortlists_read = "shortlists:read"
    matches_read = "matches:read"
    bulk_write = "bulk:write"
    feedback_write = "feedback:write"
    feedback_read = "feedback:read"
    metrics_read = "metrics:read"
    metrics_ranking = "metrics:ranking"
    metrics_fairness = "metrics:fairness"
    models_read = "models:read"
    models_manage = "models:manage"
    jobs_read = "jobs:read"
    jobs_manage = "jobs:manage"
    taxonomy_read = "taxonomy:read"
    keys_manage = "keys:manage"
    tenant_settings = "tenant:settings"
    audit_read = "audit:read"
    candidates_export = "candidates:export"


_SCOUT = frozenset(
    {
        Permission.employers_read,
        Permission.vacancies_read,
        Permission.candidates_read,
        Permission.shortlists_write,
        Permission.shortlists_read,
        Permission.matches_read,
        Permission.feedback_write,
        Permission.feedback_read,
        Permission.taxonomy_read,
    }
)
_INTEGRATION = _SCOUT | {
    Permission.employers_write,
    Permission.vacancies_write,
    Permission.candidates_write,
    Permission.candidates_sensitive,
    Permission.bulk_write,
    Permission.metrics_read,
    Permission.candidates_export,
}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.integration: frozenset(_INTEGRATION),
    Role.scout: _SCOUT,
}


def authorize(principal: Principal, permission: Permission) -> None:
    """Raises Forbidden unless the principal's role grants ``permission``."""
    if permission not in ROLE_PERMISSIONS[principal.role]:
        raise Forbidden(f"role '{principal.role}' may not {permission.value}")
