"""The in-process BM25 index: scoring, accents, and staying in step with the database."""

from __future__ import annotations

import pytest

from app.ml.evaluation import BM25
from app.ml.lexical import LexicalIndex, lexical_tokens
from tests import payloads


def test_tokens_fold_case_and_accents():
    assert lexical_tokens("Mansióni: CUOCO, aiuto-cuoco") == ["mansioni", "cuoco", "aiuto", "cuoco"]


def test_scores_equal_the_reference_bm25():
    texts = ["cook cook kitchen", "forklift warehouse", "kitchen cleaning", ""]
    index = LexicalIndex(["a", "b", "c", "d"], texts)
    reference = BM25(texts)
    for query in ("kitchen cook", "warehouse", "nothing here"):
        assert list(index.scores(query)) == pytest.approx(list(reference.scores(query)))
    kitchen = index.scores("kitchen")
    # "a" is longer than "c", so the same single "kitchen" weighs less there.
    assert kitchen[2] > kitchen[0] > 0
    expected = ["c", "a"]
    assert [i for i, _ in index.top("kitchen", 5)] == expected
    assert [i for i, _ in index.top("kitchen cook", 1)] == ["a"]
    assert index.score_of("warehouse", ["b", "zz"]) == {
        "b": pytest.approx(index.scores("warehouse")[1]),
        "zz": 0.0,
    }


async def test_index_follows_new_and_deleted_candidates(client, make_key):
    admin = await make_key("alpha", "admin")
    await client.put("/v1/employers/e-1", json=payloads.employer(), headers=admin)
    vacancy = payloads.vacancy("e-1", title="Magazziniere carrellista", required_skills=[])
    await client.put("/v1/vacancies/v-1", json=vacancy, headers=admin)
    await client.put("/v1/candidates/c-1", json=payloads.candidate(), headers=admin)

    async def lexical_of(ext):
        r = await client.post("/v1/vacancies/v-1/shortlists", json={"limit": 10}, headers=admin)
        items = {i["candidate_external_id"]: i for i in r.json()["items"]}
        return items[ext]["explanation"]["components"]["lexical"] if ext in items else None

    assert await lexical_of("c-1") == 0.0
    body = payloads.candidate(summary="Magazziniere e carrellista per sei anni.")
    await client.put("/v1/candidates/c-2", json=body, headers=admin)
    assert await lexical_of("c-2") == 1.0  # the new text is searchable at once
    await client.delete("/v1/candidates/c-2", headers=admin)
    assert await lexical_of("c-2") is None
