"""CRUD round trips for employers, vacancies, candidates and the sensitive part, over HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests import payloads


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def test_employer_round_trip(client, admin):
    r = await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/v1/employers/emp-1"
    first_tag = r.headers["etag"]
    assert r.json()["external_id"] == "emp-1"
    assert r.json()["sector"] == "I56.10"

    r = await client.get("/v1/employers/emp-1", headers=admin)
    assert r.status_code == 200
    assert r.headers["etag"] == first_tag
    assert r.json()["location"]["municipality"] == "Milano"

    # PUT replaces the whole object: an omitted field is gone.
    body = payloads.employer(name="Trattoria Nuova")
    del body["contact"]
    r = await client.put("/v1/employers/emp-1", json=body, headers=admin)
    assert r.status_code == 200
    assert r.headers["etag"] != first_tag
    assert r.json()["name"] == "Trattoria Nuova"
    assert r.json()["contact"] is None

    r = await client.patch(
        "/v1/employers/emp-1",
        content=b'{"size": "medium", "location": {"lat": null, "lon": null}}',
        headers={**admin, "Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["size"] == "medium"
    assert r.json()["location"] == {
        "municipality": "Milano",
        "country": "IT",
        "postcode": None,
        "lat": None,
        "lon": None,
    }
    assert r.json()["name"] == "Trattoria Nuova"

    r = await client.delete("/v1/employers/emp-1", headers=admin)
    assert r.status_code == 204
    assert (await client.get("/v1/employers/emp-1", headers=admin)).status_code == 404


async def test_vacancy_round_trip_and_employer_reference(client, admin):
    r = await client.put("/v1/vacancies/vac-1", json=payloads.vacancy("emp-1"), headers=admin)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "employer_external_id"]

    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    r = await client.put("/v1/vacancies/vac-1", json=payloads.vacancy("emp-1"), headers=admin)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["employer_external_id"] == "emp-1"
    assert body["duration_months"] == 3  # internships default to three months
    assert body["status"] == "open"
    assert body["positions"] == 1
    assert body["required_skills"] == [
        {"label": "food preparation", "must_have": True, "weight": 1.0},
        {"label": "knife skills", "must_have": False, "weight": 1.0},
    ]

    # Moving the vacancy to another employer by merge patch.
    await client.put("/v1/employers/emp-2", json=payloads.employer(name="Mensa"), headers=admin)
    r = await client.patch(
        "/v1/vacancies/vac-1",
        json={"employer_external_id": "emp-2", "status": "filled"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["employer_external_id"] == "emp-2"
    assert r.json()["status"] == "filled"

    # An employer with vacancies cannot be deleted.
    r = await client.delete("/v1/employers/emp-2", headers=admin)
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"

    assert (await client.delete("/v1/vacancies/vac-1", headers=admin)).status_code == 204
    assert (await client.delete("/v1/employers/emp-2", headers=admin)).status_code == 204


async def test_candidate_round_trip(client, admin):
    r = await client.put("/v1/candidates/cand-1", json=payloads.candidate(), headers=admin)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["skills"][0] == {"label": "food preparation", "level": None, "years": None}
    assert body["languages"] == [{"code": "it", "level": "A2"}, {"code": "ur", "level": "native"}]
    assert body["status"] == "active"
    assert body["available_from"] == "2026-12-01"

    r = await client.patch("/v1/candidates/cand-1", json={"summary": None}, headers=admin)
    assert r.status_code == 200
    assert r.json()["summary"] is None

    # Removing the skills too would leave neither skills nor summary.
    r = await client.patch("/v1/candidates/cand-1", json={"skills": []}, headers=admin)
    assert r.status_code == 422
    assert (await client.get("/v1/candidates/cand-1", headers=admin)).json()["skills"]

    # A CV pasted as free text, no structured skills.
    cv = "Esperienza: " + "magazziniere, carrellista, picking. " * 400
    r = await client.put(
        "/v1/candidates/cand-2", json={"summary": cv, "languages": []}, headers=admin
    )
    assert r.status_code == 201
    assert r.json()["summary"] == cv.strip()

    assert (await client.delete("/v1/candidates/cand-1", headers=admin)).status_code == 204
    assert (await client.get("/v1/candidates/cand-1", headers=admin)).status_code == 404


async def test_sensitive_part_is_stored_apart(client, admin, owner_engine):
    await client.put("/v1/candidates/cand-1", json=payloads.candidate(), headers=admin)
    url = "/v1/candidates/cand-1/sensitive"
    assert (await client.get(url, headers=admin)).status_code == 404

    r = await client.put(url, json=payloads.sensitive(), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["support_tracks"] == ["refugee_or_asylum_seeker"]
    assert r.json()["candidate_external_id"] == "cand-1"

    # The profile never carries the sensitive fields, and a profile PUT leaves them alone.
    profile = (await client.get("/v1/candidates/cand-1", headers=admin)).json()
    assert "support_tracks" not in profile
    assert "self_declared" not in profile
    r = await client.put(
        "/v1/candidates/cand-1", json=payloads.candidate(summary="Nuovo"), headers=admin
    )
    assert r.status_code == 200
    r = await client.get(url, headers=admin)
    assert r.status_code == 200
    assert r.json()["self_declared"]["age_band"] == "30-39"

    # Attributes without consent are refused.
    r = await client.put(url, json=payloads.sensitive(fairness_consent=False), headers=admin)
    assert r.status_code == 422

    assert (await client.delete(url, headers=admin)).status_code == 204
    assert (await client.get(url, headers=admin)).status_code == 404

    # Deleting the candidate deletes its sensitive record too.
    await client.put(url, json=payloads.sensitive(), headers=admin)
    await client.delete("/v1/candidates/cand-1", headers=admin)
    async with owner_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM candidate_sensitive")) == 0


async def test_sensitive_needs_an_existing_candidate(client, admin):
    r = await client.put(
        "/v1/candidates/nobody/sensitive", json=payloads.sensitive(), headers=admin
    )
    assert r.status_code == 404


async def test_lists_paginate_and_filter(client, admin):
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    for i in range(7):
        status = "paused" if i % 3 == 0 else "active"
        r = await client.put(
            f"/v1/candidates/c-{i}", json=payloads.candidate(status=status), headers=admin
        )
        assert r.status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/candidates", params=params, headers=admin)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [item["external_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"c-{i}" for i in range(7)]

    r = await client.get("/v1/candidates", params={"status": "paused"}, headers=admin)
    assert [c["external_id"] for c in r.json()["items"]] == ["c-0", "c-3", "c-6"]

    r = await client.get("/v1/candidates", params={"municipality": "Torino"}, headers=admin)
    assert r.json() == {"items": [], "next_cursor": None}

    await client.put("/v1/vacancies/v-1", json=payloads.vacancy("emp-1"), headers=admin)
    r = await client.get(
        "/v1/vacancies", params={"employer_external_id": "emp-1", "status": "open"}, headers=admin
    )
    assert [v["external_id"] for v in r.json()["items"]] == ["v-1"]
    r = await client.get("/v1/vacancies", params={"employer_external_id": "nope"}, headers=admin)
    assert r.json()["items"] == []
    r = await client.get("/v1/employers", params={"size": "small"}, headers=admin)
    assert [e["external_id"] for e in r.json()["items"]] == ["emp-1"]


async def test_skills_as_strings_or_objects_and_deduplicated(client, admin):
    body = payloads.candidate(
        skills=["Forklift operation", "forklift operation ", {"label": "order picking", "level": 3}]
    )
    r = await client.put("/v1/candidates/c-1", json=body, headers=admin)
    assert r.status_code == 201
    assert [s["label"] for s in r.json()["skills"]] == ["Forklift operation", "order picking"]
