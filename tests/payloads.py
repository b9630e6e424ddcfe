"""Small valid bodies shaped like the programmes' data, for tests to start from."""

from __future__ import annotations

from typing import Any


def employer(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Trattoria sul Naviglio",
        "size": "small",
        "sector": "I56.10",
        "location": {"municipality": "Milano", "country": "IT", "lat": 45.45, "lon": 9.17},
        "contact": {"name": "Giulia Ferri", "email": "cucina@example.org"},
    }
    return {**body, **overrides}


def vacancy(employer_external_id: str = "emp-1", **overrides: Any) -> dict[str, Any]:
    body = {
        "employer_external_id": employer_external_id,
        "title": "Aiuto cuoco",
        "description": "Preparazione verdure e basi, pulizia postazione.",
        "required_skills": ["food preparation", {"label": "knife skills", "must_have": False}],
        "languages": [{"code": "it", "min_level": "A2"}],
        "location": {"municipality": "Milano", "country": "IT", "lat": 45.45, "lon": 9.17},
        "contract": "internship",
        "start_date": "2027-01-11",
    }
    return {**body, **overrides}


def candidate(**overrides: Any) -> dict[str, Any]:
    body = {
        "skills": ["food preparation", {"label": "knife skills", "level": 4, "years": 5}],
        "summary": "Cuoco per 5 anni a Lahore, 1 anno in mensa a Milano.",
        "languages": [{"code": "it", "level": "A2"}, {"code": "ur", "level": "native"}],
        "location": {"municipality": "Milano", "country": "IT", "lat": 45.44, "lon": 9.18},
        "max_commute_km": 15,
        "available_from": "2026-12-01",
        "work_permit": "yes",
    }
    return {**body, **overrides}


def sensitive(**overrides: Any) -> dict[str, Any]:
    body = {
        "support_tracks": ["refugee_or_asylum_seeker"],
        "fairness_consent": True,
        "consent_recorded_on": "2026-10-02",
        "self_declared": {"gender": "man", "age_band": "30-39", "migrant_background": True},
    }
    return {**body, **overrides}
