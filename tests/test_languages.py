"""Languages in lexical matching: each text's language is detected, and BM25 stems a pair's
two texts alike, in the indexed row's language."""

from __future__ import annotations

import random

import pytest
import Stemmer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate
from app.ml import bm25
from app.ml.bm25 import Bm25Index, KeyedBm25
from app.ml.languages import STEMMERS, UNDETERMINED, detect_language
from app.ml.lexical_terms import LANGUAGE_CODES, language_code, lexical_tokens, query_terms
from app.ml.pool import CandidatePool
from app.repositories.vectors import VectorRepository
from tests import payloads
from tests.test_pool import pool_row


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Cerchiamo un aiuto cuoco per il nostro ristorante in centro, con esperienza.", "it"),
        ("Wij zoeken een magazijnmedewerker met rijbewijs en ervaring met de heftruck.", "nl"),
        ("Experienced forklift operator, five years in a logistics warehouse.", "en"),
        ("Nous cherchons une aide-soignante pour une maison de retraite à Lyon.", "fr"),
        ("Wir suchen eine Verkäuferin für unsere Bäckerei in der Innenstadt.", "de"),
        ("Buscamos camarero con experiencia para un restaurante en el centro.", "es"),
        ("Шукаю роботу кухаря, маю досвід роботи в ресторані п'ять років.", "uk"),
        ("Kam punuar si kuzhinier në një restorant për pesë vjet.", "sq"),
        ("Radio sam kao kuhar u restoranu pet godina, tražim posao.", "hr"),
        ("", UNDETERMINED),
        ("1234 - 5678", UNDETERMINED),
    ],
)
def test_a_texts_language_is_detected(text, language):
    assert detect_language(text) == language


def test_tokens_are_stemmed_in_their_language_then_folded():
    assert lexical_tokens("Cerchiamo cuochi", "it") == lexical_tokens("cerca cuoco", "it")
    assert lexical_tokens("warehouses operating", "en") == ["warehous", "oper"]
    # folded after stemming: an accent the writer left out changes nothing
    assert lexical_tokens("Città, mansióni", "it") == lexical_tokens("citta mansioni", "it")
    # undetermined (and a language Ponte cannot stem): lower case and folded, not stemmed
    assert lexical_tokens("Cuochi, MANSIÓNI", UNDETERMINED) == ["cuochi", "mansioni"]
    assert lexical_tokens("Cuochi", "xx") == ["cuochi"]
    # a mark with no composed letter goes, rather than splitting the word ("İ" lowers to i + dot)
    assert lexical_tokens("İstanbul İŞÇİ", "tr") == ["istanbul", "isci"]


@pytest.mark.parametrize(("language", "algorithm"), sorted(STEMMERS.items()))
def test_every_language_named_has_its_stemmer(language, algorithm):
    assert algorithm in Stemmer.algorithms()
    assert language_code(language) > 0
    assert LANGUAGE_CODES[language_code(language)] in STEMMERS


def test_languages_that_share_a_stemmer_share_one_analysis():
    # Croatian, Bosnian and Serbian: one grammar, the Serbian stemmer, one code (one pass)
    assert language_code("hr") == language_code("bs") == language_code("sr") > 0
    assert language_code("hr") != language_code("en")
    assert lexical_tokens("kuhara u restoranu", "hr") == lexical_tokens("kuharu u restorana", "sr")
    assert lexical_tokens("кувара", "sr") == lexical_tokens("kuvar", "sr")  # Cyrillic as Latin
    index = Bm25Index()
    index.stage([0, 1], ["kuhar u restoranu", "kuvar u restoranu"], ["hr", "sr"])
    index = index.rebuild([0, 1])
    assert len(index.present) == 1
    scores, _ = index.query("Tražimo kuhara", 2)
    assert scores[0] > 0  # "kuhara" meets "kuhar"
    assert scores[1] == 0


def test_each_row_is_matched_with_the_query_analysed_in_its_language():
    index = KeyedBm25()
    index.apply(
        [
            ("it", "Ho lavorato come cuoco e pizzaiolo", "it"),
            ("en", "Worked as a cook in a canteen", "en"),
            ("und", "cuoco", None),  # stored before detection: analysed as before
        ]
    )
    scores = index.answer("Cerchiamo cuochi").of(["it", "en", "und"])
    assert scores["it"][0] > 0  # "cuochi" meets "cuoco" in Italian
    assert scores["en"][0] == 0
    assert scores["und"][0] == 0  # unstemmed, "cuochi" is not "cuoco"
    # the ceiling is of the query as each row's language reads it
    assert scores["it"][1] != scores["und"][1]
    words = index.answer("cooks canteen").of(["en"])
    assert words["en"][0] > 0
    # a rebuild keeps every row's language
    rebuilt = index.rebuilt()
    again = rebuilt.answer("Cerchiamo cuochi").of(["it", "und"])
    assert again["it"][0] > 0
    assert again["und"][0] == 0


def test_one_language_scores_in_one_pass_and_mixed_languages_by_row():
    single = Bm25Index()
    single.stage([0, 1], ["cuoco pizzaiolo", "cameriere"], ["it", "it"])
    single = single.rebuild([0, 1])
    assert single.present == {single.languages[0]}
    scores, ceilings = single.query("cuochi", 2)
    assert scores[0] > 0
    assert scores[1] == 0
    assert ceilings[0] == pytest.approx(single.ceiling(query_terms("cuochi", "it")))
    assert ceilings[0] > 0
    mixed = Bm25Index()
    mixed.stage([0, 1], ["cuoco cuochi", "cooks cook"], ["it", "en"])
    mixed = mixed.rebuild([0, 1])
    scores, ceilings = mixed.query("cuochi cooking", 2)
    assert scores[0] > 0
    assert scores[1] > 0
    assert len(mixed.present) == 2


async def test_written_rows_store_their_texts_language(client, make_key, owner_engine):
    headers = await make_key("alpha", "admin")
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=headers)
    italian = payloads.vacancy(
        title="Aiuto cuoco",
        description="Cerchiamo un aiuto cuoco per la cucina del nostro ristorante in centro.",
    )
    r = await client.put("/v1/vacancies/v-it", json=italian, headers=headers)
    assert r.status_code in (200, 201), r.text
    english = payloads.candidate(summary="I worked as a cook for five years in a busy canteen.")
    r = await client.put("/v1/candidates/c-en", json=english, headers=headers)
    assert r.status_code in (200, 201), r.text
    async with owner_engine.connect() as conn:
        found = dict(
            (await conn.execute(text("SELECT external_id, text_language FROM vacancies"))).all()
        )
        found |= dict(
            (await conn.execute(text("SELECT external_id, text_language FROM candidates"))).all()
        )
    assert found == {"v-it": "it", "c-en": "en"}


@pytest.mark.parametrize("bulk", [True, False])
def test_the_pool_analyses_each_candidate_in_its_language(bulk):
    rows = [pool_row("Ho lavorato come cuoco"), pool_row("Worked as a cook")]
    rows[0].text_language, rows[1].text_language = "it", "en"
    pool = CandidatePool(4)
    pool.apply(rows, bulk=bulk)
    pool = pool.compacted()
    scores, _ = pool.lexical_scores("cuochi cooks")
    assert scores[pool.pos[rows[0].id]] > 0
    assert scores[pool.pos[rows[1].id]] > 0


@pytest.mark.parametrize("row_by_row", [0, 10**6])  # every other language by a pass; by rows
def test_mixed_languages_score_as_each_row_alone_would_with_a_delta_and_dead_rows(
    row_by_row, monkeypatch
):
    monkeypatch.setattr(bm25, "_ROW_BY_ROW", row_by_row)
    words = {
        # "cook", a loan word in Italian: the English analysis of "cooking" must not reach it
        "it": ["cuoco", "cuochi", "cucina", "cucinare", "magazzinieri", "turni", "cook"],
        "en": ["cook", "cooks", "cooking", "kitchen", "warehouse", "warehouses", "shifts"],
        "und": ["cuochi", "cooks", "turni"],
    }
    rng = random.Random(3)
    rows = []
    for i in range(300):
        language = rng.choice(["it", "en", "und"])
        text_ = " ".join(rng.choices(words[language], k=rng.randint(1, 8)))
        rows.append((f"r{i}", text_, None if language == "und" else language))
    index = KeyedBm25()
    index.apply(rows[:200])
    index = index.rebuilt()
    index.apply(rows[200:], deleted=["r3", "r7", "r250"], compact=False)  # a delta, dead slots
    query = "cuochi cooks cooking cucina warehouses turni"
    scores, ceilings = index.scores(query)
    for slot, row_id in enumerate(index.ids):
        if row_id is None:
            assert scores[slot] == 0
            continue
        code = int(index.index.languages[slot])
        terms = query_terms(query, LANGUAGE_CODES[code])
        alone = index.index.scores(terms, len(index.ids))[slot]  # the row scored in its language
        assert scores[slot] == pytest.approx(alone, rel=1e-12), row_id  # the same sum
        assert ceilings[slot] == pytest.approx(index.index.ceiling(terms)), row_id
    assert len({round(c, 6) for c in ceilings}) == 3  # three analyses of the query, three ceilings


async def test_a_shortlist_meets_an_inflected_italian_word(client, make_key):
    """An Italian vacancy and an Italian profile that share no word as spelt, only stems:
    the lexical feature sees them through stemming (it was 0 before)."""
    headers = await make_key("alpha", "admin")
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=headers)
    vacancy = payloads.vacancy(
        title="Cuochi",
        description="Cerchiamo cuochi esperti per la nostra mensa aziendale a Milano.",
        required_skills=[],
    )
    r = await client.put("/v1/vacancies/v-cuochi", json=vacancy, headers=headers)
    assert r.status_code == 201, r.text
    person = payloads.candidate(
        summary="Ho lavorato come cuoco esperto, sei anni in una trattoria del centro.",
        skills=["preparazione pasti"],
    )
    r = await client.put("/v1/candidates/c-cuoco", json=person, headers=headers)
    assert r.status_code == 201, r.text
    r = await client.post("/v1/vacancies/v-cuochi/shortlists", json={"limit": 5}, headers=headers)
    assert r.status_code == 201, r.text
    (item,) = r.json()["items"]
    assert item["explanation"]["components"]["lexical"] > 0


async def test_detecting_older_texts_never_overwrites_a_language_a_write_stored(
    client, make_key, owner_engine
):
    headers = await make_key("alpha", "admin")
    for ext in ("c-old", "c-new"):
        r = await client.put(f"/v1/candidates/{ext}", json=payloads.candidate(), headers=headers)
        assert r.status_code == 201, r.text
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE candidates SET text_language = NULL WHERE external_id = 'c-old'")
        )
        ids = dict((await conn.execute(text("SELECT external_id, id FROM candidates"))).all())
    async with AsyncSession(owner_engine) as session, session.begin():
        # detected from the text read before; meanwhile c-new's write stored its own
        await VectorRepository(session).set_languages(
            Candidate, {ids["c-old"]: "nl", ids["c-new"]: "nl"}
        )
    async with owner_engine.connect() as conn:
        found = dict(
            (await conn.execute(text("SELECT external_id, text_language FROM candidates"))).all()
        )
    assert found == {"c-old": "nl", "c-new": "it"}
