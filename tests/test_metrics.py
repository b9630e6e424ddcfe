"""Outcome, cohort and ranking-quality metrics on a small history whose figures are worked out
by hand below (issue 12)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests import payloads
from tests.test_feedback import event, post

PEOPLE = {"c1": "2024-01-01", "c2": "2024-01-03", "c3": "2024-02-01", "c4": "2024-02-01"}
# (key, vacancy, candidate, event, day in 2024, extra)
HISTORY = [
    ("a1", "vac-1", "c1", "shortlisted", "01-05", {}),
    ("a2", "vac-1", "c1", "contacted", "01-06", {}),
    ("a3", "vac-1", "c1", "interviewed", "01-10", {}),
    ("a4", "vac-1", "c1", "internship_started", "01-20", {}),
    ("a5", "vac-1", "c1", "hired", "04-20", {}),
    ("b1", "vac-1", "c2", "shortlisted", "01-07", {}),
    ("b2", "vac-1", "c2", "internship_started", "02-01", {}),
    ("b3", "vac-1", "c2", "dropped_out", "02-15", {"reason": "other"}),
    ("c1", "vac-1", "c3", "shortlisted", "01-08", {}),
    ("c2", "vac-1", "c3", "contacted", "01-09", {}),
    ("c3", "vac-1", "c3", "rejected", "01-12", {"reason": "skills"}),
    ("d1", "vac-2", "c4", "shortlisted", "02-02", {}),
    ("d2", "vac-2", "c4", "internship_started", "02-10", {}),
    ("d3", "vac-2", "c4", "internship_completed", "05-10", {}),
    ("e1", "vac-2", "c3", "contacted", "02-03", {}),  # retracted below
]


def at(day: str) -> str:
    return f"2024-{day}T09:00:00Z"


@pytest.fixture
async def history(client, make_key):
    admin = await make_key("alpha", "admin")
    for emp in ("emp-1", "emp-2"):
        await client.put(f"/v1/employers/{emp}", json=payloads.employer(), headers=admin)
    await client.put("/v1/vacancies/vac-1", json=payloads.vacancy(positions=3), headers=admin)
    vac2 = payloads.vacancy("emp-2", contract="fixed_term", title="Addetto magazzino")
    await client.put("/v1/vacancies/vac-2", json=vac2, headers=admin)
    for name, entered in PEOPLE.items():
        body = payloads.candidate(entered_on=entered)
        assert (
            await client.put(f"/v1/candidates/{name}", json=body, headers=admin)
        ).status_code == 201
    shown = {}
    for vac in ("vac-1", "vac-2"):
        made = (await client.post(f"/v1/vacancies/{vac}/shortlists", json={}, headers=admin)).json()
        shown[vac] = {i["candidate_external_id"]: i["rank"] for i in made["items"]}
    ids = {}
    for key, vac, cand, kind, day, extra in HISTORY:
        r = await post(client, admin, event(key, kind, cand, vac, occurred_at=at(day), **extra))
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    r = await post(
        client,
        admin,
        event("e2", "retracted", "c3", "vac-2", retracts=ids["e1"], occurred_at=at("02-04")),
    )
    assert r.status_code == 201
    return admin, shown


PERIOD = {"from": "2024-01-01T00:00:00Z", "to": "2024-07-01T00:00:00Z"}


async def test_outcomes_by_month(client, history):
    admin, _ = history
    r = await client.get(
        "/v1/metrics/outcomes", params={**PERIOD, "group_by": "month"}, headers=admin
    )
    assert r.status_code == 200, r.text
    body = r.json()
    groups = {g["group"]: g for g in body["groups"]}
    assert list(groups) == ["2024-01", "2024-02", "2024-04", "2024-05"]
    jan, feb, apr, may = (groups[k] for k in groups)
    # January: c1, c2, c3 shortlisted; c1 and c3 contacted; c1 interviewed and started
    assert (jan["candidates_shortlisted"], jan["contacted"], jan["interviews"]) == (3, 2, 1)
    assert jan["internships_started"] == 1
    assert jan["median_days_shortlist_to_internship"] == 15.0  # c1: 5 → 20 January
    assert jan["conversion_rate"] is None  # no internship ended in January
    # February: c4 shortlisted; c3's contact was retracted; c2 and c4 started, c2 dropped out
    assert (feb["candidates_shortlisted"], feb["contacted"]) == (1, 0)
    assert (feb["internships_started"], feb["dropouts"]) == (2, 1)
    assert feb["median_days_shortlist_to_internship"] == 16.5  # c2 25 days, c4 8 days
    assert feb["conversion_rate"] == 0.0  # c2's internship ended without a contract
    # April: c1 hired after 91 days of internship (20 Jan → 20 Apr 2024, a leap year)
    assert apr["contracts"] == 1
    assert apr["conversion_rate"] == 1.0
    assert apr["median_days_internship_to_contract"] == 91.0
    # May: c4 completed without a hire
    assert (may["internships_completed"], may["conversion_rate"]) == (1, 0.0)
    totals = body["totals"]
    assert totals["candidates_shortlisted"] == 4
    assert totals["contacted"] == 2
    assert totals["internships_started"] == 3
    assert (totals["contracts"], totals["dropouts"], totals["internships_completed"]) == (1, 1, 1)
    assert totals["internships_ended"] == 3
    assert totals["conversion_rate"] == round(1 / 3, 4)
    assert totals["median_days_shortlist_to_internship"] == 15.0  # of 15, 25, 8
    assert totals["median_days_internship_to_contract"] == 91.0
    assert "estimate" not in body


async def test_outcomes_by_employer_and_contract_and_period(client, history):
    admin, _ = history
    r = await client.get(
        "/v1/metrics/outcomes", params={**PERIOD, "group_by": "employer"}, headers=admin
    )
    groups = {g["group"]: g for g in r.json()["groups"]}
    assert groups["emp-1"]["candidates_shortlisted"] == 3
    assert groups["emp-1"]["conversion_rate"] == 0.5  # c2 dropped out, c1 hired
    assert groups["emp-2"]["conversion_rate"] == 0.0
    r = await client.get(
        "/v1/metrics/outcomes", params={**PERIOD, "group_by": "contract"}, headers=admin
    )
    assert {g["group"] for g in r.json()["groups"]} == {"internship", "fixed_term"}
    # only March–April: the hire, and no internship started
    spring = {"from": "2024-03-01T00:00:00Z", "to": "2024-05-01T00:00:00Z"}
    totals = (await client.get("/v1/metrics/outcomes", params=spring, headers=admin)).json()[
        "totals"
    ]
    assert (totals["contracts"], totals["internships_started"], totals["conversion_rate"]) == (
        1,
        0,
        1.0,
    )


async def test_savings_estimate_when_the_tenant_sets_a_cost(client, history):
    admin, _ = history
    r = await client.patch(
        "/v1/tenant/settings", json={"monthly_support_cost_eur": 500}, headers=admin
    )
    assert r.status_code == 200
    assert r.json()["monthly_support_cost_eur"] == 500
    body = (await client.get("/v1/metrics/outcomes", params=PERIOD, headers=admin)).json()
    t = dt.datetime.fromisoformat
    # c1 in work from 20 January to the period's end; c2 1–15 February; c4 10 February–10 May
    days = (
        (t("2024-07-01T00:00:00+00:00") - t("2024-01-20T09:00:00+00:00"))
        + (t("2024-02-15T09:00:00+00:00") - t("2024-02-01T09:00:00+00:00"))
        + (t("2024-05-10T09:00:00+00:00") - t("2024-02-10T09:00:00+00:00"))
    ).total_seconds() / 86400
    months = days / (365.25 / 12)
    estimate = body["estimate"]
    assert estimate["support_months_avoided"] == round(months, 1)
    assert estimate["savings_eur"] == round(months * 500, 2)
    assert estimate["label"].startswith("estimate")


async def test_cohorts_by_entry_month(client, history):
    admin, _ = history
    r = await client.get("/v1/metrics/cohorts", params={"by": "month"}, headers=admin)
    assert r.status_code == 200
    cohorts = {c["cohort"]: c for c in r.json()["cohorts"]}
    jan, feb = cohorts["2024-01"], cohorts["2024-02"]
    # January: c1 started 19 days after entering, c2 29 days after
    assert jan["size"] == 2
    assert jan["within_30_days"] == {"eligible": 2, "in_work": 2, "share": 1.0}
    # February: c4 after 9 days, c3 never
    assert feb["size"] == 2
    for window in ("within_30_days", "within_90_days", "within_365_days"):
        assert feb[window] == {"eligible": 2, "in_work": 1, "share": 0.5}
    quarters = (
        await client.get("/v1/metrics/cohorts", params={"by": "quarter"}, headers=admin)
    ).json()
    assert [(c["cohort"], c["size"]) for c in quarters["cohorts"]] == [("2024-Q1", 4)]
    # work before entering the programme is not the programme's outcome: c4 entered in March,
    # after the internship of February
    await client.put(
        "/v1/candidates/c4", json=payloads.candidate(entered_on="2024-03-01"), headers=admin
    )
    r = await client.get("/v1/metrics/cohorts", headers=admin)
    march = {c["cohort"]: c for c in r.json()["cohorts"]}["2024-03"]
    assert march["within_365_days"] == {"eligible": 1, "in_work": 0, "share": 0.0}


async def test_ranking_quality_per_version(client, history):
    admin, shown = history
    r = await client.get("/v1/metrics/ranking", headers=admin)
    assert r.status_code == 200
    [version] = r.json()["versions"]
    assert version["shortlists"] == 2
    # every effective event above is linked to the shortlist made before it (the retracted
    # contact and the retraction do not count)
    assert version["events_linked"] == 14
    # positive: shortlisted, contacted, interviewed, internship_started, hired (vac-1: 9,
    # vac-2: 2); rejected, dropped_out and internship_completed are not
    assert version["positive_events"] == 11
    assert version["positive_share_by_rank"]["1-5"] == 1.0
    first_vac1 = min(shown["vac-1"][c] for c in ("c1", "c2", "c3"))
    expected = (1 / first_vac1 + 1 / shown["vac-2"]["c4"]) / 2
    assert version["mrr_first_positive"] == round(expected, 4)
    assert version["shortlists_with_feedback"] == 2


async def test_metrics_are_for_admin_and_integration(client, make_key):
    scout = await make_key("alpha", "scout")
    integration = await make_key("alpha", "integration")
    assert (await client.get("/v1/metrics/outcomes", headers=scout)).status_code == 403
    assert (await client.get("/v1/metrics/outcomes", headers=integration)).status_code == 200
    assert (await client.get("/v1/metrics/ranking", headers=integration)).status_code == 403


async def test_erasing_a_person_keeps_the_programmes_figures(client, history):
    admin, _ = history
    before = (await client.get("/v1/metrics/outcomes", params=PERIOD, headers=admin)).json()
    taken = (await client.get("/v1/vacancies/vac-1/pipeline", headers=admin)).json()
    assert taken["positions_taken"] == 1  # c1, hired
    assert (await client.delete("/v1/candidates/c1", headers=admin)).status_code == 204
    after = (await client.get("/v1/metrics/outcomes", params=PERIOD, headers=admin)).json()
    assert after["totals"] == before["totals"]
    assert after["groups"] == before["groups"]
    pipeline = (await client.get("/v1/vacancies/vac-1/pipeline", headers=admin)).json()
    assert "c1" not in [i["candidate_external_id"] for i in pipeline["items"]]
    assert pipeline["positions_taken"] == 1  # the erased person still holds the position
