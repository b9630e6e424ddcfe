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
