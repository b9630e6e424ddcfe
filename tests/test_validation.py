"""Bad input gets a clear 4xx problem+json, never a 500, and never loses stored data."""

from __future__ import annotations

import pytest

from tests import payloads

PROBLEM = "application/problem+json"


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


def assert_problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    return body


BAD_CANDIDATES = [
    ({"summary": ""}, "skills or a summary"),
    ({"skills": [], "summary": None}, "skills or a summary"),
    (payloads.candidate(unknown_field=1), "extra_forbidden"),
    (payloads.candidate(languages=[{"code": "italian", "level": "B1"}]), "languages"),
    (payloads.candidate(languages=[{"code": "it", "level": "B7"}]), "languages"),
    (
        payloads.candidate(
            languages=[{"code": "it", "level": "B1"}, {"code": "IT", "level": "A1"}]
        ),
        "once",
    ),
    (payloads.candidate(skills=[{"label": "x", "level": 9}]), "skills"),
    (payloads.candidate(skills=[""]), "skills"),
    (payloads.candidate(skills=["s"] * 301), "skills"),
    (payloads.candidate(summary="x" * 20_001), "summary"),
    (payloads.candidate(max_commute_km=-3), "max_commute_km"),
    (payloads.candidate(education_level=9), "education_level"),
    (payloads.candidate(work_permit="maybe"), "work_permit"),
    (payloads.candidate(available_from="next week"), "available_from"),
    (payloads.candidate(location={"lat": 95, "lon": 9}), "location"),
    (payloads.candidate(location={"lat": 45}), "lat and lon"),
    (payloads.candidate(location={"country": "Italy"}), "country"),
    (payloads.candidate(skills="cook"), "skills"),
    ([1, 2, 3], "body"),
    (payloads.candidate(summary="CV\u0000 pasted from a PDF"), "NUL"),
    (payloads.candidate(skills=["cook\u0000"]), "NUL"),
    (payloads.candidate(location={"municipality": "Mi\u0000lano"}), "NUL"),
]


@pytest.mark.parametrize(("body", "hint"), BAD_CANDIDATES)
async def test_bad_candidate_bodies_are_422(client, admin, body, hint):
    problem = assert_problem(await client.put("/v1/candidates/c-1", json=body, headers=admin), 422)
    assert problem["errors"], problem
    assert hint in str(problem["errors"])


BAD_VACANCIES = [
    payloads.vacancy(title=""),
    payloads.vacancy(required_skills=[{"label": "x", "weight": 0}]),
    payloads.vacancy(languages=[{"code": "it", "min_level": "native"}]),
    payloads.vacancy(contract="gig"),
    payloads.vacancy(status="archived"),
    payloads.vacancy(positions=0),
    payloads.vacancy(duration_months=0),
    payloads.vacancy(stipend={"amount": -1}),
    payloads.vacancy(stipend={"amount": 500, "currency": "euro"}),
    {k: v for k, v in payloads.vacancy().items() if k != "title"},
    payloads.vacancy(employer_external_id="has space"),
]


@pytest.mark.parametrize("body", BAD_VACANCIES)
async def test_bad_vacancy_bodies_are_422(client, admin, body):
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    assert_problem(await client.put("/v1/vacancies/v-1", json=body, headers=admin), 422)


@pytest.mark.parametrize(
    "body",
    [
        payloads.employer(name=""),
        payloads.employer(size="huge"),
        payloads.employer(sector="restaurants"),
        payloads.employer(contact={"email": "not-an-address"}),
        {"size": "small"},
    ],
)
async def test_bad_employer_bodies_are_422(client, admin, body):
    assert_problem(await client.put("/v1/employers/e-1", json=body, headers=admin), 422)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_non_json_body_is_415(client, admin, content_type):
    headers = {**admin, **({"Content-Type": content_type} if content_type else {})}
    r = await client.put("/v1/candidates/c-1", content=b'{"summary": "x"}', headers=headers)
    assert_problem(r, 415)
    r = await client.patch("/v1/candidates/c-1", content=b'{"summary": "x"}', headers=headers)
    assert_problem(r, 415)
    r = await client.put(
        "/v1/candidates/c-1",
        content=b'{"summary": "x"}',
        headers={**admin, "Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201


async def test_malformed_json_is_400(client, admin):
    r = await client.put(
        "/v1/employers/e-1",
        content=b'{"name": "x",',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert_problem(r, 400)


async def test_bad_path_and_query_are_4xx(client, admin):
    assert_problem(await client.put("/v1/employers/bad id", json={}, headers=admin), 422)
    assert_problem(await client.get("/v1/employers/" + "x" * 129, headers=admin), 422)
    assert_problem(await client.get("/v1/employers", params={"limit": 0}, headers=admin), 422)
    assert_problem(await client.get("/v1/employers", params={"limit": 1000}, headers=admin), 422)
    assert_problem(await client.get("/v1/employers", params={"colour": "red"}, headers=admin), 422)
    assert_problem(
        await client.get("/v1/employers", params={"cursor": "garbage!"}, headers=admin), 400
    )
    assert_problem(
        await client.get("/v1/candidates", params={"status": "happy"}, headers=admin), 422
    )
    r = await client.get("/v1/candidates", params={"municipality": "Mi\x00lano"}, headers=admin)
    assert_problem(r, 422)
    nul_cursor = "eyJhZnRlciI6ImFcdTAwMDAifQ"  # {"after":"a\u0000"}
    assert_problem(
        await client.get("/v1/employers", params={"cursor": nul_cursor}, headers=admin), 400
    )
    assert_problem(await client.get("/v1/nothing-here", headers=admin), 404)
    assert_problem(await client.post("/v1/employers/e-1", json={}, headers=admin), 405)


async def test_oversized_body_is_413(client, admin):
    big = payloads.candidate(summary="x" * 2_000_000)
    assert_problem(await client.put("/v1/candidates/c-1", json=big, headers=admin), 413)

    async def chunks():
        for _ in range(40):
            yield b" " * 65_536

    r = await client.put(
        "/v1/candidates/c-1",
        content=chunks(),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert_problem(r, 413)


async def test_failed_writes_leave_stored_data_intact(client, admin):
    r = await client.put("/v1/candidates/c-1", json=payloads.candidate(), headers=admin)
    stored = r.json()
    for body in ({"skills": "x"}, payloads.candidate(education_level=12), {"summary": ""}):
        assert (await client.put("/v1/candidates/c-1", json=body, headers=admin)).status_code == 422
    for patch in ({"skills": [], "summary": None}, {"languages": [{"code": "xx1"}]}, {"id": 3}):
        r = await client.patch("/v1/candidates/c-1", json=patch, headers=admin)
        assert r.status_code == 422, r.text
    r = await client.patch(
        "/v1/candidates/c-1", content=b"[1,", headers={**admin, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert (await client.get("/v1/candidates/c-1", headers=admin)).json() == stored


async def test_patch_body_must_be_an_object(client, admin):
    await client.put("/v1/candidates/c-1", json=payloads.candidate(), headers=admin)
    r = await client.patch("/v1/candidates/c-1", json=["summary"], headers=admin)
    assert_problem(r, 422)
