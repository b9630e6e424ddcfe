"""The candidate → vacancies direction on long texts: a multi-page CV against job-board
vacancies that share most of their words (company blurb, benefits, how to apply) and differ in
a short role section. The lexical signal separates them clearly; Ponte must too."""

from __future__ import annotations

import pytest

from app.ml.evaluation import BM25
from tests import payloads
from tests.long_texts import VACANCIES, WAREHOUSE_CV


@pytest.fixture
async def long_texts(client, make_key):
    admin = await make_key("alpha", "admin")
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    for ext, texts in VACANCIES.items():
        body = payloads.vacancy(required_skills=[], languages=[], **texts)
        assert (
            await client.put(f"/v1/vacancies/{ext}", json=body, headers=admin)
        ).status_code == 201
    cv = payloads.candidate(summary=WAREHOUSE_CV, skills=[], languages=[])
    assert (await client.put("/v1/candidates/cv-1", json=cv, headers=admin)).status_code == 201
    return admin


def test_plain_bm25_separates_the_vacancies():
    ids = list(VACANCIES)
    texts = [v["title"] + ". " + v["description"] for v in VACANCIES.values()]
    scores = BM25(texts).scores(WAREHOUSE_CV)
    order = [ids[i] for i in sorted(range(len(ids)), key=lambda i: -scores[i])]
    assert order[0] == "v-warehouse"
    assert scores[0] > 1.3 * sorted(scores)[-2]


async def test_matches_rank_the_vacancy_the_cv_is_about_first(client, long_texts):
    r = await client.get("/v1/candidates/cv-1/matches", headers=long_texts)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    ranked = [i["vacancy_external_id"] for i in items]
    assert ranked[0] == "v-warehouse"
    scores = [i["score"] for i in items]
    assert scores[0] - scores[1] > 0.03
    # The lexical feature keeps its signal for a long query: a CV has hundreds of terms, most
    # of which no vacancy holds, so a transform against all of the query's terms would leave
    # every vacancy near 0 (0.05 here) and the feature silent.
    lexical = [i["explanation"]["components"]["lexical"] for i in items]
    assert lexical[0] >= 0.5
    assert lexical[0] > 1.3 * max(lexical[1:])


async def test_matches_are_ranked_by_the_matches_ranker_where_full_text_leads(client, long_texts):
    """A CV's best window against a vacancy's mean vector is mostly boilerplate against
    boilerplate; the matches direction weighs the whole profile and full text instead
    (app/ml/ranker.MATCH_WEIGHTS), so for the CV's own vacancy full text adds the most."""
    from app.ml.ranker import MATCH_WEIGHTS, WeightedRanker

    r = await client.get("/v1/candidates/cv-1/matches", headers=long_texts)
    body = r.json()
    assert body["ranker_version"] == WeightedRanker(defaults=MATCH_WEIGHTS).version
    settings = (await client.get("/v1/tenant/settings", headers=long_texts)).json()
    assert settings["matches_ranker_version"] == body["ranker_version"]
    assert settings["ranker_version"] != body["ranker_version"]
    contributions = body["items"][0]["explanation"]["contributions"]
    assert "semantic_best" not in contributions  # weight 0: not read
    known = {name: value for name, value in contributions.items() if value is not None}
    assert known["lexical"] == max(known.values())
    # a tenant's own weights apply on top of the direction's defaults
    await client.patch(
        "/v1/tenant/settings", json={"weights": {"lexical": 0.1}}, headers=long_texts
    )
    again = (await client.get("/v1/candidates/cv-1/matches", headers=long_texts)).json()
    assert again["ranker_version"] == WeightedRanker({"lexical": 0.1}, MATCH_WEIGHTS).version
