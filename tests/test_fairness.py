"""Fairness monitoring (GET /v1/metrics/fairness): selection rates per self-declared group,
among the people who consented, on a small history whose figures are worked out by hand."""

from __future__ import annotations

import datetime as dt
import typing

import pytest

from app.api.metrics import FairnessQuery
from app.schemas import SelfDeclared
from tests import payloads
from tests.test_audit import entries
from tests.test_feedback import event, post

# people by the gender they declared (with consent); None: no sensitive part
WOMEN = [f"w{i}" for i in range(1, 7)]  # 6
MEN = [f"m{i}" for i in range(1, 6)]  # 5
NON_BINARY = ["n1", "n2"]  # 2: fewer than min_group, never shown
DECISIONS = [  # (key, event, person)
    ("s1", "shortlisted", "w1"),
    ("s2", "shortlisted", "w2"),
    ("s3", "shortlisted", "w3"),
    ("s4", "shortlisted", "m1"),
    ("s5", "shortlisted", "m2"),
    ("s6", "shortlisted", "m3"),
    ("s7", "shortlisted", "m4"),
    ("s8", "shortlisted", "n1"),
    ("s9", "shortlisted", "x1"),  # no consent: in no group
    ("s10", "shortlisted", "y1"),  # consented, did not declare a gender
    ("s11", "shortlisted", "w4"),  # retracted below
    ("i1", "interviewed", "w1"),
    ("i2", "interviewed", "m1"),
    ("i3", "interviewed", "m2"),
    ("p1", "internship_started", "w1"),
    ("p2", "internship_started", "m1"),
    ("h1", "hired", "m1"),
]


@pytest.fixture
async def programme(client, make_key):
    admin = await make_key("alpha", "admin")
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    await client.put("/v1/vacancies/vac-1", json=payloads.vacancy(), headers=admin)
    declared = {
        **{p: {"gender": "woman"} for p in [*WOMEN, "w7"]},
        **{p: {"gender": "man", "migrant_background": True} for p in MEN},
        **{p: {"gender": "non_binary"} for p in NON_BINARY},
        "y1": {"age_band": "25-29"},
    }
    for person in [*declared, "x1", "x2"]:
        r = await client.put(f"/v1/candidates/{person}", json=payloads.candidate(), headers=admin)
        assert r.status_code == 201, r.text
        if person == "x2":  # a sensitive part without consent, so without attributes
            body = payloads.sensitive(fairness_consent=False, self_declared=None)
        elif person in declared:
            body = payloads.sensitive(self_declared=declared[person])
        else:
            continue
        r = await client.put(f"/v1/candidates/{person}/sensitive", json=body, headers=admin)
        assert r.status_code == 201, r.text
    made = await client.post("/v1/vacancies/vac-1/shortlists", json={"limit": 50}, headers=admin)
    assert made.status_code == 201, made.text
    ranks = {i["candidate_external_id"]: i["rank"] for i in made.json()["items"]}
    assert set(ranks) == {*declared, "x1", "x2"}
    ids = {}
    for key, kind, person in DECISIONS:
        r = await post(client, admin, event(key, kind, person))
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    retract = event("s11r", "retracted", "w4", retracts=ids["s11"])
    assert (await post(client, admin, retract)).status_code == 201
    # before the period: not counted
    old = event("old", "interviewed", "w5", occurred_at="2020-03-02T09:00:00Z")
    assert (await post(client, admin, old)).status_code == 201
    # an erased person's sensitive part goes with them: in no group afterwards
    assert (await client.delete("/v1/candidates/w7", headers=admin)).status_code == 204
    return admin, ranks


def _period() -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    return {
        "from": (now - dt.timedelta(days=1)).isoformat(),
        "to": (now + dt.timedelta(days=1)).isoformat(),
    }


async def test_selection_rates_per_declared_group_and_how_the_groups_compare(client, programme):
    admin, ranks = programme
    params = {"attribute": "gender", "top": 6, "min_group": 5, **_period()}
    r = await client.get("/v1/metrics/fairness", params=params, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    groups = {g["group"]: g for g in body["groups"]}
    assert list(groups) == ["man", "woman"]  # non_binary (2 people) is held back
    assert body["groups_not_shown"] == 1
    assert body["people"] == 11  # 6 women (w7 erased) and 5 men; x1, x2, y1 in no group
    women, men = groups["woman"], groups["man"]
    assert (women["people"], men["people"]) == (6, 5)
    # the recruiters' decisions: w4's retracted, w5's interview before the period
    assert (women["shortlisted"], men["shortlisted"]) == (
        {"people": 3, "rate": 0.5},
        {"people": 4, "rate": 0.8},
    )
    assert (women["interviewed"]["people"], men["interviewed"]["people"]) == (1, 2)
    assert women["interviewed"]["rate"] == round(1 / 6, 4)
    assert (women["internship_started"]["people"], men["internship_started"]["people"]) == (1, 1)
    assert (women["hired"], men["hired"]) == (
        {"people": 0, "rate": 0.0},
        {"people": 1, "rate": 0.2},
    )
    # the ranker: placed within the first 6 ranks of the period's shortlist
    in_top = {
        "woman": sum(ranks[p] <= 6 for p in WOMEN),
        "man": sum(ranks[p] <= 6 for p in MEN),
    }
    assert women["in_top"]["people"] == in_top["woman"]
    assert men["in_top"]["people"] == in_top["man"]
    shortlisted = body["disparity"]["shortlisted"]
    assert shortlisted == {
        "ratio": round(0.5 / 0.8, 4),
        "difference": 0.3,
        "lowest": "woman",
        "highest": "man",
        "below_four_fifths": True,
    }
    internships = body["disparity"]["internship_started"]
    assert internships["ratio"] == round((1 / 6) / (1 / 5), 4)  # 0.8333: not flagged
    assert internships["below_four_fifths"] is False
    assert body["disparity"]["hired"]["ratio"] == 0.0
    # every share is of the group's people, as the report says
    for group in groups.values():
        for stage in ("in_top", "shortlisted", "interviewed", "internship_started", "hired"):
            assert group[stage]["rate"] == round(group[stage]["people"] / group["people"], 4)


async def test_small_groups_are_held_back_and_a_lone_group_is_compared_with_nothing(
    client, programme
):
    admin, _ = programme
    params = {"attribute": "gender", "min_group": 6, **_period()}
    body = (await client.get("/v1/metrics/fairness", params=params, headers=admin)).json()
    assert [g["group"] for g in body["groups"]] == ["woman"]
    assert body["groups_not_shown"] == 2
    assert body["people"] == 6  # the men and the non-binary people are in no figure
    assert set(body["disparity"].values()) == {None}
    # another attribute: only those who declared it (the men declared a migrant background)
    params = {"attribute": "migrant_background", "min_group": 5, **_period()}
    body = (await client.get("/v1/metrics/fairness", params=params, headers=admin)).json()
    assert [(g["group"], g["people"]) for g in body["groups"]] == [("true", 5)]
    # a period after everything happened: the groups are there, with no one selected
    now = dt.datetime.now(dt.UTC)
    later = {
        "from": (now + dt.timedelta(days=1)).isoformat(),
        "to": (now + dt.timedelta(days=2)).isoformat(),
    }
    params = {"attribute": "gender", "min_group": 5, **later}
    body = (await client.get("/v1/metrics/fairness", params=params, headers=admin)).json()
    assert [(g["group"], g["people"]) for g in body["groups"]] == [("man", 5), ("woman", 6)]
    for group in body["groups"]:
        assert {group[s]["people"] for s in ("in_top", "shortlisted", "hired")} == {0}
    # a period that ended before anyone was on record: no one in any group
    params = {"attribute": "gender", "min_group": 5, "to": "2021-01-01T00:00:00Z"}
    body = (await client.get("/v1/metrics/fairness", params=params, headers=admin)).json()
    assert body["groups"] == []


async def test_reading_it_is_the_admins_and_is_recorded(client, make_key, programme):
    admin, _ = programme
    for role in ("integration", "scout"):
        headers = await make_key("alpha", role)
        r = await client.get(
            "/v1/metrics/fairness", params={"attribute": "gender"}, headers=headers
        )
        assert r.status_code == 403
    params = {"attribute": "gender", "min_group": 5}
    assert (await client.get("/v1/metrics/fairness", params=params, headers=admin)).is_success
    read = [e for e in await entries(client, admin) if e["action"] == "fairness.read"]
    assert len(read) == 1
    assert read[0]["detail"] == {"attribute": "gender", "groups": 2, "groups_not_shown": 1}
    assert read[0]["objects"] == []  # figures about groups, not about anyone


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"attribute": "religion"},
        {"attribute": "gender", "min_group": 4},
        {"attribute": "gender", "top": 0},
        {"attribute": "gender", "from": "yesterday"},
    ],
)
async def test_a_bad_query_is_a_problem(client, make_key, params):
    admin = await make_key("alpha", "admin")
    r = await client.get("/v1/metrics/fairness", params=params, headers=admin)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_attributes_asked_about_are_those_people_may_declare():
    asked = typing.get_args(FairnessQuery.model_fields["attribute"].annotation)
    assert set(asked) == set(SelfDeclared.model_fields)
