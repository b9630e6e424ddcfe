"""Fairness monitoring (GET /v1/metrics/fairness): selection rates per self-declared group,
among the people who consented, on a small history whose figures are worked out by hand."""

from __future__ import annotations

import datetime as dt
import typing

import pytest

from app.api.metrics import FairnessQuery
from app.schemas import SelfDeclared
from tests import payloads
from tests.cli_helpers import Sql
from tests.test_audit import entries
from tests.test_feedback import event, post

# people by the gender they declared (with consent)
WOMEN = [f"w{i}" for i in range(1, 13)]  # 12
MEN = [f"m{i}" for i in range(1, 16)]  # 15
NON_BINARY = ["n1", "n2"]  # 2: fewer than min_group, never shown
UNSAID = [f"p{i}" for i in range(1, 6)]  # 5 chose "prefer not to say": not a group
DECISIONS = [  # (key, event, person)
    *((f"s-{p}", "shortlisted", p) for p in WOMEN[:6]),  # w6's is retracted below
    *((f"s-{p}", "shortlisted", p) for p in MEN[:10]),
    *((f"s-{p}", "shortlisted", p) for p in ["n1", "x1", "y1", "z1", "p1"]),  # in no group
    ("i-w1", "interviewed", "w1"),  # one woman: held back
    *((f"i-{p}", "interviewed", p) for p in MEN[:5]),
]
MIN_GROUP = 5


def _stage(count: int, people: int) -> dict:
    """A stage as the report shows it (held back when it, or the rest, is 1-4 people)."""
    if any(0 < n < MIN_GROUP for n in (count, people - count)):
        return {"people": None, "rate": None, "held_back": True}
    return {"people": count, "rate": round(count / people, 4), "held_back": False}


@pytest.fixture
async def programme(client, make_key, owner_engine):
    admin = await make_key("alpha", "admin")
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    await client.put("/v1/vacancies/vac-1", json=payloads.vacancy(), headers=admin)
    declared = {
        **{p: {"gender": "woman"} for p in [*WOMEN, "w13", "z1"]},
        **{p: {"gender": "man", "migrant_background": True} for p in MEN},
        **{p: {"gender": "non_binary"} for p in NON_BINARY},
        **{p: {"gender": "prefer_not_to_say"} for p in UNSAID},
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
    # a row whose consent is off but whose attributes stayed (the API cannot store one): the
    # report reads consent, not the attributes' presence
    await Sql(owner_engine).execute(
        "UPDATE candidate_sensitive SET fairness_consent = false WHERE candidate_id = "
        "(SELECT id FROM candidates WHERE external_id = 'z1')"
    )
    ranks: dict[str, int] = {}
    for _ in range(2):  # two shortlists: a person in both counts once
        made = await client.post(
            "/v1/vacancies/vac-1/shortlists", json={"limit": 50}, headers=admin
        )
        assert made.status_code == 201, made.text
        for item in made.json()["items"]:
            name = item["candidate_external_id"]
            ranks[name] = min(ranks.get(name, 99), item["rank"])
    assert set(ranks) == {*declared, "x1", "x2"}
    ids = {}
    for key, kind, person in DECISIONS:
        r = await post(client, admin, event(key, kind, person))
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    retract = event("r-w6", "retracted", "w6", retracts=ids["s-w6"])
    assert (await post(client, admin, retract)).status_code == 201
    # before the period: not counted
    old = event("old", "interviewed", "w7", occurred_at="2020-03-02T09:00:00Z")
    assert (await post(client, admin, old)).status_code == 201
    # an erased person's sensitive part goes with them: in no group afterwards
    assert (await client.delete("/v1/candidates/w13", headers=admin)).status_code == 204
    return admin, ranks


def _period() -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    return {
        "from": (now - dt.timedelta(days=1)).isoformat(),
        "to": (now + dt.timedelta(days=1)).isoformat(),
    }


async def test_selection_rates_per_declared_group_and_how_the_groups_compare(client, programme):
    admin, ranks = programme
    params = {"attribute": "gender", "top": 6, "min_group": MIN_GROUP, **_period()}
    r = await client.get("/v1/metrics/fairness", params=params, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    groups = {g["group"]: g for g in body["groups"]}
    # non_binary (2 people) is held back; "prefer not to say" is not a group
    assert list(groups) == ["man", "woman"]
    assert body["groups_not_shown"] == 1
    # 12 women (w13 erased, z1's consent off) and 15 men; x1, x2, y1 in no group
    assert body["people"] == 27
    women, men = groups["woman"], groups["man"]
    assert (women["people"], men["people"]) == (12, 15)
    # the recruiters' decisions: w6's retracted, w7's interview before the period
    assert women["shortlisted"] == {"people": 5, "rate": round(5 / 12, 4), "held_back": False}
    assert men["shortlisted"] == {"people": 10, "rate": round(10 / 15, 4), "held_back": False}
    assert women["interviewed"] == {"people": None, "rate": None, "held_back": True}  # one
    assert men["interviewed"] == {"people": 5, "rate": round(5 / 15, 4), "held_back": False}
    assert women["hired"] == {"people": 0, "rate": 0.0, "held_back": False}
    # the ranker: placed within the first 6 ranks of a shortlist of the period
    assert women["in_top"] == _stage(sum(ranks[p] <= 6 for p in WOMEN), 12)
    assert men["in_top"] == _stage(sum(ranks[p] <= 6 for p in MEN), 15)
    assert body["disparity"]["shortlisted"] == {
        "groups": 2,
        "ratio": round((5 / 12) / (10 / 15), 4),  # 0.625
        "difference": 0.25,
        "lowest": "woman",
        "highest": "man",
        "below_four_fifths": True,
    }
    # a comparison with a held-back count would reveal it: none with one group left
    assert body["disparity"]["interviewed"] is None
    hired = body["disparity"]["hired"]  # no one hired anywhere: nothing to divide by
    assert (hired["ratio"], hired["difference"], hired["below_four_fifths"]) == (None, 0.0, None)
    # every share is of the group's people
    for group in groups.values():
        for stage in ("in_top", "shortlisted", "interviewed", "internship_started", "hired"):
            if not group[stage]["held_back"]:
                assert group[stage]["rate"] == round(group[stage]["people"] / group["people"], 4)
    # everyone was in both shortlists' first 50 ranks: counted once each
    params["top"] = 50
    body = (await client.get("/v1/metrics/fairness", params=params, headers=admin)).json()
    assert [g["in_top"]["people"] for g in body["groups"]] == [15, 12]


async def test_small_groups_are_held_back_and_a_lone_group_is_compared_with_nothing(
    client, programme, owner_engine
):
    admin, _ = programme
    params = {"attribute": "gender", "min_group": 13, **_period()}
    body = (await client.get("/v1/metrics/fairness", params=params, headers=admin)).json()
    assert [g["group"] for g in body["groups"]] == ["man"]
    assert body["groups_not_shown"] == 2
    assert body["people"] == 15  # the women and the non-binary people are in no figure
    assert set(body["disparity"].values()) == {None}
    # another attribute: only those who declared it (the men declared a migrant background)
    params = {"attribute": "migrant_background", "min_group": MIN_GROUP, **_period()}
    body = (await client.get("/v1/metrics/fairness", params=params, headers=admin)).json()
    assert [(g["group"], g["people"]) for g in body["groups"]] == [("true", 15)]
    # a period that ended before anyone was on record: no one in any group
    params = {"attribute": "gender", "min_group": MIN_GROUP, "to": "2021-01-01T00:00:00Z"}
    body = (await client.get("/v1/metrics/fairness", params=params, headers=admin)).json()
    assert body["groups"] == []
    # on record since 2020: the groups are there in 2020, with what happened in 2020 only
    await Sql(owner_engine).execute("UPDATE candidates SET created_at = '2020-01-01T00:00:00Z'")
    params = {
        "attribute": "gender",
        "min_group": MIN_GROUP,
        "top": 50,
        "from": "2020-01-01T00:00:00Z",
        "to": "2021-01-01T00:00:00Z",
    }
    body = (await client.get("/v1/metrics/fairness", params=params, headers=admin)).json()
    groups = {g["group"]: g for g in body["groups"]}
    assert [(g, groups[g]["people"]) for g in groups] == [("man", 15), ("woman", 12)]
    for group in groups.values():
        assert (
            group["in_top"]
            == group["shortlisted"]
            == {"people": 0, "rate": 0.0, "held_back": False}
        )
    assert groups["woman"]["interviewed"]["held_back"]  # w7's, in 2020


async def test_reading_it_is_the_admins_and_is_recorded(client, make_key, programme):
    admin, _ = programme
    for role in ("integration", "scout"):
        headers = await make_key("alpha", role)
        r = await client.get(
            "/v1/metrics/fairness", params={"attribute": "gender"}, headers=headers
        )
        assert r.status_code == 403
    params = {"attribute": "gender", "min_group": MIN_GROUP, "from": "2026-01-01T00:00:00Z"}
    assert (await client.get("/v1/metrics/fairness", params=params, headers=admin)).is_success
    read = [e for e in await entries(client, admin) if e["action"] == "fairness.read"]
    assert len(read) == 1
    assert read[0]["detail"] == {  # what was asked, so that a series of narrow reads shows
        "attribute": "gender",
        "from": "2026-01-01T00:00:00+00:00",
        "top": 10,
        "min_group": MIN_GROUP,
        "groups": 2,
        "groups_not_shown": 1,
    }
    assert read[0]["objects"] == []  # figures about groups, not about anyone


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"attribute": "religion"},
        {"attribute": "gender", "min_group": 4},
        {"attribute": "gender", "top": 0},
        {"attribute": "gender", "from": "yesterday"},
        {"attribute": "gender", "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
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
