"""What feedback does to state: placed and filled and their undoing, caller's status settings,
internships with their planned end, and the vacancy pipeline (issue 12)."""

from __future__ import annotations

import pytest

from tests.test_feedback import event, post, setup_kitchen


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def status_of(client, headers, kind, name):
    r = await client.get(f"/v1/{kind}/{name}", headers=headers)
    return r.json()["status"], r.headers["etag"]


async def test_started_internship_places_and_fills_dropout_undoes(client, admin):
    await setup_kitchen(client, admin, positions=2)
    _, tag = await status_of(client, admin, "candidates", "cand-1")
    await post(client, admin, event("s1", "internship_started", "cand-1"))
    status, new_tag = await status_of(client, admin, "candidates", "cand-1")
    assert status == "placed"
    assert new_tag != tag
    assert (await status_of(client, admin, "vacancies", "vac-1"))[0] == "open"  # 1 of 2 taken
    await post(client, admin, event("s2", "hired", "cand-2"))
    assert (await status_of(client, admin, "vacancies", "vac-1"))[0] == "filled"
    # a placed person is kept out of other shortlists by the not_placed gate
    listed = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    assert "cand-1" not in [i["candidate_external_id"] for i in listed.json()["items"]]
    await post(client, admin, event("s3", "dropped_out", "cand-1", reason="other"))
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "active"
    assert (await status_of(client, admin, "vacancies", "vac-1"))[0] == "open"
    pipeline = (await client.get("/v1/vacancies/vac-1/pipeline", headers=admin)).json()
    assert pipeline["positions_taken"] == 1


async def test_retraction_undoes_the_placement(client, admin):
    await setup_kitchen(client, admin)
    hired = (await post(client, admin, event("h1", "hired"))).json()
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "placed"
    assert (await status_of(client, admin, "vacancies", "vac-1"))[0] == "filled"
    await post(client, admin, event("r1", "retracted", retracts=hired["id"]))
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "active"
    assert (await status_of(client, admin, "vacancies", "vac-1"))[0] == "open"


async def test_completed_without_hire_frees_the_position_with_hire_keeps_it(client, admin):
    await setup_kitchen(client, admin)
    await post(client, admin, event("a1", "internship_started", "cand-1"))
    await post(client, admin, event("a2", "internship_completed", "cand-1"))
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "active"
    await post(client, admin, event("b1", "internship_started", "cand-2"))
    await post(client, admin, event("b2", "hired", "cand-2"))
    await post(client, admin, event("b3", "internship_completed", "cand-2"))
    assert (await status_of(client, admin, "candidates", "cand-2"))[0] == "placed"
    assert (await status_of(client, admin, "vacancies", "vac-1"))[0] == "filled"


async def test_a_callers_newer_status_wins_an_older_event_does_not_override_it(client, admin):
    await setup_kitchen(client, admin)
    from tests import payloads

    # the caller pauses the person now; history back-filled from last year must not undo that
    paused = payloads.candidate(status="paused")
    await client.put("/v1/candidates/cand-1", json=paused, headers=admin)
    await post(client, admin, event("old", "hired", occurred_at="2025-06-01T09:00:00Z"))
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "paused"
    # a newer event does move it
    await post(client, admin, event("new", "internship_started", "cand-1", vacancy="vac-1"))
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "placed"
    # a caller's own "placed" is not undone by feedback
    await client.put(
        "/v1/candidates/cand-2", json=payloads.candidate(status="placed"), headers=admin
    )
    await post(client, admin, event("c1", "internship_started", "cand-2"))
    await post(client, admin, event("c2", "dropped_out", "cand-2", reason="no_show"))
    assert (await status_of(client, admin, "candidates", "cand-2"))[0] == "placed"


async def test_backfilled_history_places_a_person_created_today(client, admin):
    await setup_kitchen(client, admin)
    await post(client, admin, event("h", "internship_started", occurred_at="2025-01-10T09:00:00Z"))
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "placed"


async def test_internship_planned_end_with_an_extension(client, admin):
    await setup_kitchen(client, admin, duration_months=3)
    await post(client, admin, event("i1", "internship_started", occurred_at="2026-08-31T08:00:00Z"))
    await post(
        client,
        admin,
        event("i2", "internship_extended", months=2, occurred_at="2026-11-20T08:00:00Z"),
    )
    await post(
        client,
        admin,
        event("j1", "internship_started", "cand-2", occurred_at="2026-09-01T08:00:00Z"),
    )
    await post(
        client,
        admin,
        event("j2", "dropped_out", "cand-2", reason="no_show", occurred_at="2026-09-15T08:00:00Z"),
    )
    r = await client.get("/v1/internships", headers=admin)
    items = {i["candidate_external_id"]: i for i in r.json()["items"]}
    one = items["cand-1"]
    # 31 August + 3 months = 30 November (clamped), + 2 months extension = 31 January
    assert (one["started_on"], one["planned_end"], one["extensions"]) == (
        "2026-08-31",
        "2027-01-31",
        1,
    )
    assert (one["status"], one["outcome"]) == ("active", None)
    two = items["cand-2"]
    assert (two["status"], two["outcome"], two["ended_on"]) == (
        "ended",
        "dropped_out",
        "2026-09-15",
    )
    assert two["planned_end"] == "2026-12-01"
    active = await client.get(
        "/v1/internships", params={"status": "active", "ending_before": "2027-02-01"}, headers=admin
    )
    assert [i["candidate_external_id"] for i in active.json()["items"]] == ["cand-1"]
    soon = await client.get(
        "/v1/internships", params={"ending_before": "2027-01-31"}, headers=admin
    )
    assert [i["candidate_external_id"] for i in soon.json()["items"]] == ["cand-2"]


async def test_pipeline_shows_each_persons_current_stage_and_shown_rank(client, admin):
    await setup_kitchen(client, admin)
    shortlist = (await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)).json()
    ranks = {i["candidate_external_id"]: i["rank"] for i in shortlist["items"]}
    await post(
        client, admin, event("p1", "contacted", "cand-1", occurred_at="2026-11-01T09:00:00Z")
    )
    await post(
        client, admin, event("p2", "interviewed", "cand-1", occurred_at="2026-11-03T09:00:00Z")
    )
    late = (
        await post(
            client, admin, event("p3", "offered", "cand-1", occurred_at="2026-11-05T09:00:00Z")
        )
    ).json()
    await post(client, admin, event("p4", "retracted", "cand-1", retracts=late["id"]))
    await post(
        client,
        admin,
        event("p5", "rejected", "cand-2", reason="skills", occurred_at="2026-11-02T09:00:00Z"),
    )
    r = await client.get("/v1/vacancies/vac-1/pipeline", headers=admin)
    assert r.status_code == 200
    items = {i["candidate_external_id"]: i for i in r.json()["items"]}
    assert items["cand-1"]["stage"] == "interviewed"  # the offer was retracted
    assert items["cand-1"]["events"] == 2
    assert items["cand-1"]["shown_rank"] == ranks["cand-1"]
    assert items["cand-2"]["stage"] == "rejected"
    assert "cand-3" not in items
    assert (await client.get("/v1/vacancies/nope/pipeline", headers=admin)).status_code == 404


async def test_an_event_arriving_late_still_adds_up(client, admin):
    """Feedback's own status follows the log whatever order events arrive in: a placement
    dated before an already recorded dropout elsewhere still places the person."""
    await setup_kitchen(client, admin)
    from tests import payloads

    await client.put("/v1/vacancies/vac-2", json=payloads.vacancy(), headers=admin)
    await post(client, admin, event("l1", "hired", occurred_at="2026-03-01T09:00:00Z"))
    await post(
        client,
        admin,
        event("l2", "dropped_out", reason="other", occurred_at="2026-03-10T09:00:00Z"),
    )
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "active"
    late = event("l3", "internship_started", vacancy="vac-2", occurred_at="2026-03-05T09:00:00Z")
    await post(client, admin, late)
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "placed"


async def test_a_profile_resync_without_status_keeps_the_placement(client, admin):
    from tests import payloads

    await setup_kitchen(client, admin)
    await post(client, admin, event("h1", "hired"))
    body = payloads.candidate(summary="Cuoco, aggiornato il CV.")
    assert "status" not in body
    assert (await client.put("/v1/candidates/cand-1", json=body, headers=admin)).status_code == 200
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "placed"
    assert (await status_of(client, admin, "vacancies", "vac-1"))[0] == "filled"
    vac = payloads.vacancy(description="Nuovo testo.")
    assert (await client.put("/v1/vacancies/vac-1", json=vac, headers=admin)).status_code == 200
    assert (await status_of(client, admin, "vacancies", "vac-1"))[0] == "filled"
    # a new one starts active, and a status sent is the caller's
    r = await client.put("/v1/candidates/cand-9", json=payloads.candidate(), headers=admin)
    assert r.json()["status"] == "active"
    await client.put("/v1/candidates/cand-1", json={**body, "status": "active"}, headers=admin)
    assert (await status_of(client, admin, "candidates", "cand-1"))[0] == "active"
