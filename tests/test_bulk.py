"""Bulk writes: each item reports its own outcome, in input order; the rest are stored."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests import payloads


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def test_bulk_candidates_with_good_bad_and_repeated_items(client, admin, owner_engine):
    await client.put("/v1/candidates/c-2", json=payloads.candidate(), headers=admin)
    items = [
        {"external_id": "c-1", **payloads.candidate()},
        {"external_id": "c-2", **payloads.candidate(summary="Updated by bulk")},
        {"external_id": "c-3", "skills": [], "summary": ""},
        {"external_id": "c-1", **payloads.candidate(summary="Second time")},
        {"external_id": "bad id", **payloads.candidate()},
        {**payloads.candidate()},
        {"external_id": "c-4", **payloads.candidate(colour="blue")},
        "not an object",
        {"external_id": "c-5", "summary": "Carrellista, 6 anni in un magazzino alimentare."},
    ]
    r = await client.post("/v1/candidates:bulk", json={"items": items}, headers=admin)
    assert r.status_code == 200, r.text
    results = r.json()["items"]
    assert [(x["external_id"], x["status"]) for x in results] == [
        ("c-1", "created"),
        ("c-2", "updated"),
        ("c-3", "error"),
        ("c-1", "error"),
        ("bad id", "error"),
        (None, "error"),
        ("c-4", "error"),
        (None, "error"),
        ("c-5", "created"),
    ]
    assert "repeated" in results[3]["error"]
    assert "skills or a summary" in results[2]["error"]
    assert "colour" in results[6]["error"]
    assert all("error" not in x or x["error"] is None for x in results if x["status"] != "error")

    assert (await client.get("/v1/candidates/c-2", headers=admin)).json()["summary"] == (
        "Updated by bulk"
    )
    assert (await client.get("/v1/candidates/c-1", headers=admin)).json()["summary"] != (
        "Second time"
    )
    assert (await client.get("/v1/candidates/c-3", headers=admin)).status_code == 404
    async with owner_engine.connect() as conn:
        missing = await conn.scalar(text("SELECT count(*) FROM candidates WHERE embedding IS NULL"))
    assert missing == 0  # every stored item has its vectors before the response


async def test_bulk_vacancies_report_unknown_employers(client, admin):
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    items = [
        {"external_id": "v-1", **payloads.vacancy("emp-1")},
        {"external_id": "v-2", **payloads.vacancy("emp-404")},
        {"external_id": "v-3", **payloads.vacancy("emp-1", title="Lavapiatti")},
    ]
    r = await client.post("/v1/vacancies:bulk", json={"items": items}, headers=admin)
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["items"]] == ["created", "error", "created"]
    assert "emp-404" in r.json()["items"][1]["error"]
    r = await client.get("/v1/vacancies", headers=admin)
    assert [v["external_id"] for v in r.json()["items"]] == ["v-1", "v-3"]


async def test_bulk_limits(client, admin):
    r = await client.post("/v1/candidates:bulk", json={"items": []}, headers=admin)
    assert r.status_code == 422
    r = await client.post(
        "/v1/candidates:bulk", json={"items": [{"external_id": "x"}] * 1001}, headers=admin
    )
    assert r.status_code == 422
    r = await client.post("/v1/candidates:bulk", json={"things": []}, headers=admin)
    assert r.status_code == 422
    big = {"items": [{"external_id": f"c-{i}", "summary": "x" * 15_000} for i in range(800)]}
    r = await client.post("/v1/candidates:bulk", json=big, headers=admin)
    assert r.status_code == 413
