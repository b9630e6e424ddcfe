"""Shortlists matched through the ESCO taxonomy (issue 15), over the API, on the demo's subset
(app/demo/esco/; "This service uses the ESCO classification of the European Commission",
ESCO © European Union): a bare Italian title ranks the people whose skills are its occupation's,
through that occupation's essential skills as soft requirements, and the tenant setting
``taxonomy`` switches all of it off."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.services import taxonomy_import
from app.services.taxonomy_linking import forget_links
from tests import payloads
from tests.test_pool import rank_in_process
from tests.test_taxonomy_import import KITCHEN_PORTER, SUBSET

DISHWASHING = "http://data.europa.eu/esco/skill/f20aedf0-6543-498d-b88e-0a32e604acbb"
PEOPLE = {
    # a kitchen porter's essential skills, one of them named in Dutch and linked by the caller
    "porter": [
        "handle glassware",
        {"label": "vaatwasmachine bedienen", "esco_uri": DISHWASHING},
        "clean kitchen equipment",
        "handle chemical cleaning agents",
        "report on possible equipment hazards",
    ],
    # a kitchen assistant: the same ISCO group
    "assistant": [
        "use food preparation techniques",
        "comply with standard portion sizes",
        "receive kitchen supplies",
        "work according to recipe",
        "use food cutting tools",
    ],
    "forklift": ["operate forklift", "stack goods", "transfer stock", "monitor goods movement"],
}


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


@pytest.fixture
async def kitchen(client, admin, owner_engine, encoder):
    sessions = async_sessionmaker(owner_engine, expire_on_commit=False)
    await taxonomy_import.import_esco(
        sessions, taxonomy_import.esco_files(SUBSET), "1.2.0", encoder
    )
    forget_links()
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    for name, skills in PEOPLE.items():
        body = payloads.candidate(skills=skills, summary="Cerco lavoro.")
        r = await client.put(f"/v1/candidates/{name}", json=body, headers=admin)
        assert r.status_code == 201, r.text
    vacancy = payloads.vacancy(title="lavapiatti", description=None, required_skills=[])
    r = await client.put("/v1/vacancies/vac-1", json=vacancy, headers=admin)
    assert r.status_code == 201, r.text
    return admin


async def shortlist(client, headers):
    r = await client.post("/v1/vacancies/vac-1/shortlists", json={"limit": 10}, headers=headers)
    assert r.status_code == 201, r.text
    return {item["candidate_external_id"]: item for item in r.json()["items"]}, r.json()


async def test_a_bare_italian_title_ranks_its_occupations_people_through_soft_requirements(
    client, kitchen
):
    candidate = (await client.get("/v1/candidates/porter", headers=kitchen)).json()
    shown = [o for o in candidate["esco"]["occupations"] if o["source"] == "skills"]
    assert shown[0]["uri"] == KITCHEN_PORTER  # the occupation the skills show
    items, _ = await shortlist(client, kitchen)
    assert next(iter(items)) == "porter"
    porter = items["porter"]
    features = porter["explanation"]["components"]
    assert features["occupation"] == 1.0
    # the Italian title names, exactly, the occupation the porter's skills show
    assert features["title_occupation"] == 1.0
    assert features["esco_skills"] > items["assistant"]["explanation"]["components"]["esco_skills"]
    # the same ISCO group counts, less than the same occupation; another group not at all
    assert 0 < items["assistant"]["explanation"]["components"]["occupation"] < 1
    assert items["forklift"]["explanation"]["components"]["occupation"] == 0
    esco = porter["explanation"]["esco"]
    assert esco["occupation"]["agreement"] == "same occupation"
    assert esco["occupation"]["vacancy"] == {"uri": KITCHEN_PORTER, "label": "kitchen porter"}
    shared = {s["uri"]: s for s in esco["skills"]}
    assert DISHWASHING in shared  # named in Dutch, linked by the caller
    assert shared[DISHWASHING]["label"] == "operate dishwashing machine"
    assert all(s["soft"] for s in esco["skills"])
    summary = porter["explanation"]["summary"]
    assert "essential skills of ESCO occupation 'kitchen porter' (soft requirements)" in summary
    # soft requirements are never must-haves: nothing is missing, no must-have coverage
    assert porter["explanation"]["missing_skills"] == []
    assert features["must_have"] is None


async def test_a_titles_nearest_occupations_are_stored_on_write_not_shown(
    client, kitchen, owner_engine
):
    vacancy = (await client.get("/v1/vacancies/vac-1", headers=kitchen)).json()
    assert "title_occupations" not in vacancy["esco"]
    async with owner_engine.connect() as conn:
        stored = await conn.scalar(
            text("SELECT esco->'title_occupations' FROM vacancies WHERE external_id = 'vac-1'")
        )
    assert stored[KITCHEN_PORTER] == 1.0  # "lavapiatti" is its Italian preferred label
    assert 3 < len(stored) <= 50
    # the caller's occupation wins: the title then names it alone
    body = payloads.vacancy(title="Tuttofare", occupation_uri=KITCHEN_PORTER, required_skills=[])
    await client.put("/v1/vacancies/vac-2", json=body, headers=kitchen)
    async with owner_engine.connect() as conn:
        given = await conn.scalar(
            text("SELECT esco->'title_occupations' FROM vacancies WHERE external_id = 'vac-2'")
        )
    assert given == {KITCHEN_PORTER: 1.0}


async def test_listed_skills_are_matched_through_their_esco_skill(client, kitchen):
    # the required skill in Italian words is not linked; the English label is, exactly
    body = payloads.vacancy(
        title="lavapiatti", description=None, required_skills=["Operate dishwashing machine"]
    )
    await client.put("/v1/vacancies/vac-1", json=body, headers=kitchen)
    vacancy = (await client.get("/v1/vacancies/vac-1", headers=kitchen)).json()
    assert [s["uri"] for s in vacancy["esco"]["skills"]] == [DISHWASHING]
    items, _ = await shortlist(client, kitchen)
    # the porter named it in Dutch, linked by the caller: the match goes through ESCO
    explanation = items["porter"]["explanation"]
    assert "matched through ESCO skill 'operate dishwashing machine'" in explanation["summary"]
    listed = [s for s in explanation["esco"]["skills"] if not s["soft"]]
    assert [s["uri"] for s in listed] == [DISHWASHING]
    # one listed skill is fewer than three: the occupation's essentials stand in beside it
    assert any(s["soft"] for s in explanation["esco"]["skills"])


async def test_the_tenant_setting_switches_matching_through_the_taxonomy_off(client, kitchen):
    settings = (await client.get("/v1/tenant/settings", headers=kitchen)).json()
    assert settings["taxonomy"] is True
    r = await client.patch("/v1/tenant/settings", json={"taxonomy": False}, headers=kitchen)
    assert r.status_code == 200, r.text
    assert r.json()["taxonomy"] is False
    items, made = await shortlist(client, kitchen)
    for item in items.values():
        assert item["explanation"]["esco"] is None
        assert item["explanation"]["components"]["esco_skills"] is None
        assert item["explanation"]["components"]["occupation"] is None
        assert item["explanation"]["components"]["title_occupation"] is None
        assert "ESCO" not in item["explanation"]["summary"]
    assert made["params"]["taxonomy"] is None
    await client.patch("/v1/tenant/settings", json={"taxonomy": True}, headers=kitchen)
    items, made = await shortlist(client, kitchen)
    assert items["porter"]["explanation"]["esco"] is not None
    assert made["params"]["taxonomy"]


async def test_pool_and_database_paths_match_through_the_taxonomy_alike(
    app, client, encoder, kitchen
):
    pooled, _ = await shortlist(client, kitchen)
    items, _, _ = await rank_in_process(app, encoder, "vac-1", pool_max_rows=0)
    assert [i["candidate_external_id"] for i in items] == list(pooled)
    for item in items:
        shown = pooled[item["candidate_external_id"]]["explanation"]
        for name in ("esco_skills", "occupation", "title_occupation"):
            assert item["features"][name] == pytest.approx(shown["components"][name], abs=1e-4)
        assert item["explanation"]["esco"] == shown["esco"]


async def test_a_candidate_is_matched_to_vacancies_through_the_taxonomy(client, kitchen):
    r = await client.get("/v1/candidates/porter/matches", headers=kitchen)
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["explanation"]["components"]["occupation"] == 1.0
    assert item["explanation"]["esco"]["occupation"]["agreement"] == "same occupation"


async def test_a_vacancy_title_is_searched_once_on_write(client, kitchen, monkeypatch):
    from app.repositories.taxonomy_links import TaxonomyLinkRepository

    searched: list[str] = []
    original = TaxonomyLinkRepository.nearest

    async def counting(self, concept_kind, model_id, vectors, k):
        searched.append(concept_kind)
        return await original(self, concept_kind, model_id, vectors, k)

    monkeypatch.setattr(TaxonomyLinkRepository, "nearest", counting)
    body = payloads.vacancy(title="Addetto al lavaggio stoviglie", required_skills=[])
    assert (await client.put("/v1/vacancies/vac-3", json=body, headers=kitchen)).status_code == 201
    # its stored links and its nearest occupations for ranking come from one search
    assert searched == ["occupation"]


async def test_a_vacancy_title_is_encoded_once_on_write(client, kitchen, monkeypatch, encoder):
    title = "Addetto al lavaggio stoviglie"
    encoded: list[str] = []
    original = type(encoder).encode

    def counting(self, texts):
        encoded.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(type(encoder), "encode", counting)
    body = payloads.vacancy(title=title, required_skills=[])
    assert (await client.put("/v1/vacancies/vac-3", json=body, headers=kitchen)).status_code == 201
    # its vector (title_embedding) also serves the search for its nearest occupations
    assert encoded.count(title) == 1
