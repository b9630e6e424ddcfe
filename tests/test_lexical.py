"""The in-process BM25 index: scoring, accents, the lexical feature, and staying in step with
the database."""

from __future__ import annotations

import random

import numpy as np
import pytest

from app.ml.bm25 import KeyedBm25, lexical_share
from app.ml.evaluation import BM25
from app.ml.lexical_terms import lexical_tokens
from tests import payloads


def test_tokens_fold_case_and_accents():
    assert lexical_tokens("Mansióni: CUOCO, aiuto-cuoco") == ["mansioni", "cuoco", "aiuto", "cuoco"]


def test_scores_equal_the_reference_bm25():
    texts = ["cook cook kitchen", "forklift warehouse", "kitchen cleaning", ""]
    index = KeyedBm25()
    index.apply((row_id, text, None) for row_id, text in zip("abcd", texts, strict=True))
    reference = BM25(texts)
    for query in ("kitchen cook", "warehouse", "nothing here"):
        assert list(index.scores(query)[0]) == pytest.approx(list(reference.scores(query)))
    kitchen = index.scores("kitchen")[0]
    # "a" is longer than "c", so the same single "kitchen" weighs less there.
    assert kitchen[2] > kitchen[0] > 0
    expected = ["c", "a"]
    assert [i for i, _ in index.top("kitchen", 5)] == expected
    assert [i for i, _ in index.top("kitchen cook", 1)] == ["a"]
    found = index.answer("warehouse").of(["b", "zz"])
    assert found == {
        "b": (pytest.approx(index.scores("warehouse")[0][1]), pytest.approx(found["b"][1])),
        "zz": (0.0, 0.0),
    }
    assert 0 < found["b"][0] < found["b"][1]


def test_keyed_index_follows_row_by_row_updates_like_a_fresh_build():
    rng = random.Random(2)
    words = [f"w{i}" for i in range(30)]
    texts = {f"id{i}": " ".join(rng.choices(words, k=rng.randint(1, 20))) for i in range(400)}
    index = KeyedBm25()
    index.apply((row_id, text, None) for row_id, text in list(texts.items())[:300])
    for row_id in list(texts)[300:]:  # one by one: the delta grows, then a rebuild folds it
        index.apply([(row_id, texts[row_id], None)])
    index.apply([("id5", "w1 w1 w1", None)], deleted=["id7", "id8"])
    texts["id5"] = "w1 w1 w1"
    del texts["id7"], texts["id8"]
    assert len(index) == len(texts)
    reference = BM25(list(texts.values()))
    for query in ("w1 w2", "w29 w3 w4 w5"):
        got = index.answer(query).of(list(texts))
        # A delta is scored with the base's statistics, so allow for their drift.
        np.testing.assert_allclose([s for s, _ in got.values()], reference.scores(query), rtol=0.05)
        assert [i for i, _ in index.top(query, 5)] == [
            list(texts)[j] for j in np.argsort(-reference.scores(query), kind="stable")[:5]
        ]


def test_the_lexical_share_is_bounded_and_zero_without_matchable_terms():
    assert list(lexical_share(np.array([0.0, 1.0, 5.0]), 2.0)) == [0.0, 1.0, 1.0]
    assert lexical_share(np.array([3.0]), 0.0)[0] == 0.0


async def test_a_candidates_lexical_feature_does_not_depend_on_who_else_is_ranked(client, make_key):
    """The same pair gets the same stored lexical value whether or not the best lexical match
    is ranked beside it (features-v1 divided by the batch's best, so it rose when the best was
    gated out)."""
    admin = await make_key("alpha", "admin")
    await client.put("/v1/employers/e-1", json=payloads.employer(), headers=admin)
    vacancy = payloads.vacancy("e-1", title="Magazziniere carrellista", required_skills=[])
    await client.put("/v1/vacancies/v-1", json=vacancy, headers=admin)
    best = payloads.candidate(summary="Magazziniere carrellista, magazziniere.", work_permit="no")
    await client.put("/v1/candidates/best", json=best, headers=admin)
    other = payloads.candidate(summary="Magazziniere in un supermercato.")
    await client.put("/v1/candidates/other", json=other, headers=admin)

    async def lexical(gates):
        body = {"limit": 10, "gates": gates}
        r = await client.post("/v1/vacancies/v-1/shortlists", json=body, headers=admin)
        items = {i["candidate_external_id"]: i for i in r.json()["items"]}
        return {ext: i["explanation"]["components"]["lexical"] for ext, i in items.items()}

    together = await lexical({"permit": False})
    alone = await lexical({})  # the permit gate now leaves the best match out
    assert "best" in together
    assert "best" not in alone
    assert together["best"] > together["other"] > 0
    assert alone["other"] == together["other"]


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
    assert await lexical_of("c-2") > 0.1  # the new text is searchable at once
    await client.delete("/v1/candidates/c-2", headers=admin)
    assert await lexical_of("c-2") is None
