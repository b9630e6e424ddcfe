"""The role matrix, generated from the app's routes: every route × every role → its status.

A route that this table does not mention fails the test, so a new endpoint must be given its
expected access here before it can ship.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests import payloads

PUBLIC = "public"
ANY_KEY = frozenset({"admin", "integration", "scout"})
WRITERS = frozenset({"admin", "integration"})
ADMIN = frozenset({"admin"})

EXPECTED: dict[tuple[str, str], str | frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/v1/me"): ANY_KEY,
    ("GET", "/v1/api-keys"): ADMIN,
    ("POST", "/v1/api-keys"): ADMIN,
    ("DELETE", "/v1/api-keys/{key_id}"): ADMIN,
    ("PUT", "/v1/candidates/{external_id}/sensitive"): WRITERS,
    ("GET", "/v1/candidates/{external_id}/sensitive"): WRITERS,
    ("DELETE", "/v1/candidates/{external_id}/sensitive"): WRITERS,
    ("POST", "/v1/vacancies/{external_id}/shortlists"): ANY_KEY,
    ("GET", "/v1/vacancies/{external_id}/shortlists"): ANY_KEY,
    ("GET", "/v1/shortlists/{shortlist_id}"): ANY_KEY,
    ("GET", "/v1/vacancies/{external_id}/shortlists/changes"): ANY_KEY,
    ("GET", "/v1/candidates/{external_id}/matches"): ANY_KEY,
    ("POST", "/v1/candidates:bulk"): WRITERS,
    ("POST", "/v1/vacancies:bulk"): WRITERS,
    ("GET", "/v1/tenant/settings"): ADMIN,
    ("PATCH", "/v1/tenant/settings"): ADMIN,
    ("POST", "/v1/feedback"): ANY_KEY,
    ("POST", "/v1/feedback:bulk"): ANY_KEY,
    ("GET", "/v1/feedback"): ANY_KEY,
    ("GET", "/v1/feedback/{event_id}"): ANY_KEY,
    ("DELETE", "/v1/feedback/{event_id}/note"): ANY_KEY,
    ("GET", "/v1/vacancies/{external_id}/pipeline"): ANY_KEY,
    ("GET", "/v1/internships"): ANY_KEY,
    ("GET", "/v1/metrics/outcomes"): WRITERS,
    ("GET", "/v1/metrics/cohorts"): WRITERS,
    ("GET", "/v1/metrics/ranking"): ADMIN,
    ("GET", "/v1/metrics/fairness"): ADMIN,
    ("GET", "/v1/models"): ADMIN,
    ("GET", "/v1/models/{version}"): ADMIN,
    ("POST", "/v1/models/{version}/activate"): ADMIN,
    ("POST", "/v1/models/rollback"): ADMIN,
    ("GET", "/v1/jobs"): ADMIN,
    ("GET", "/v1/jobs/{job_id}"): ADMIN,
    ("POST", "/v1/jobs/rerank"): ADMIN,
    ("POST", "/v1/jobs/{job_id}/cancel"): ADMIN,
    ("POST", "/v1/taxonomy/skills:link"): ANY_KEY,
    ("POST", "/v1/taxonomy/occupations:link"): ANY_KEY,
    ("GET", "/v1/taxonomy/skills/{uri}"): ANY_KEY,
    ("GET", "/v1/taxonomy/occupations/{uri}"): ANY_KEY,
    ("GET", "/v1/candidates/{external_id}/export"): WRITERS,
    ("GET", "/v1/audit"): ADMIN,
}
for plural in ("employers", "vacancies", "candidates"):
    EXPECTED[("GET", f"/v1/{plural}")] = ANY_KEY
    EXPECTED[("GET", f"/v1/{plural}/{{external_id}}")] = ANY_KEY
    for method in ("PUT", "PATCH", "DELETE"):
        EXPECTED[(method, f"/v1/{plural}/{{external_id}}")] = WRITERS

BODIES = {
    "/v1/employers/{external_id}": payloads.employer(),
    "/v1/vacancies/{external_id}": payloads.vacancy("e-1"),
    "/v1/candidates/{external_id}": payloads.candidate(),
    "/v1/candidates/{external_id}/sensitive": payloads.sensitive(),
    "/v1/api-keys": {"role": "scout"},
    "/v1/vacancies/{external_id}/shortlists": {"limit": 5},
    "/v1/candidates:bulk": {"items": [{"external_id": "c-1", **payloads.candidate()}]},
    "/v1/vacancies:bulk": {"items": [{"external_id": "v-1", **payloads.vacancy("e-1")}]},
    "/v1/tenant/settings": {"weights": {"lexical": 0.2}},
    "/v1/feedback": {
        "vacancy_external_id": "x-1",
        "candidate_external_id": "x-1",
        "event": "viewed",
        "idempotency_key": "k-1",
    },
    "/v1/feedback:bulk": {"items": [{"event": "viewed"}]},
    "/v1/taxonomy/skills:link": {"texts": ["forklift"]},
    "/v1/taxonomy/occupations:link": {"texts": ["magazziniere"]},
}


def _routes(app) -> list[tuple[str, str]]:
    routes = []
    for path, operations in app.openapi()["paths"].items():
        routes += [(method.upper(), path) for method in operations]
    return sorted(routes)


def test_every_route_has_an_expectation(app):
    missing = [route for route in _routes(app) if route not in EXPECTED]
    assert not missing, f"routes without an expected role matrix entry: {missing}"
    stale = [route for route in EXPECTED if route not in _routes(app)]
    assert not stale, f"expectations for routes that do not exist: {stale}"


@pytest.mark.parametrize("role", ["admin", "integration", "scout", None])
async def test_role_matrix(app, client, make_key, role):
    headers = await make_key("alpha", role) if role else {}
    for method, path in _routes(app):
        expected = EXPECTED[(method, path)]
        url = re.sub(r"\{[a-z_]+\}", "x-1", path)
        url = url.replace("/shortlists/x-1", f"/shortlists/{uuid.uuid4()}")
        url = url.replace("/feedback/x-1", f"/feedback/{uuid.uuid4()}")
        body = BODIES.get(path) if method in ("PUT", "POST", "PATCH") else None
        if method == "PATCH" and path != "/v1/tenant/settings":
            body = {}
        r = await client.request(method, url, json=body, headers=headers)
        assert r.status_code < 500, (method, path, role, r.text)
        if expected == PUBLIC:
            assert r.status_code == 200, (method, path, role, r.status_code)
        elif role is None:
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"].startswith("Bearer")
        elif role in expected:
            assert r.status_code not in (401, 403), (method, path, role, r.status_code, r.text)
        else:
            assert r.status_code == 403, (method, path, role, r.status_code)
            assert r.headers["content-type"] == "application/problem+json"


async def test_metrics_are_public_and_count_requests(client):
    await client.get("/healthz")
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert 'ponte_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text
