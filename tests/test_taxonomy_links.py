"""Linking texts to the ESCO taxonomy (issue 15) and reading its concepts, over the API, on the
demo's subset (app/demo/esco/; "This service uses the ESCO classification of the European
Commission", ESCO © European Union)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ml import concept_links
from app.ml.concept_lexicon import ConceptLexicon
from app.repositories.taxonomy_links import TaxonomyLinkRepository
from app.services import taxonomy_import
from app.services.taxonomy_linking import forget_links
from tests import payloads
from tests.test_taxonomy_import import KITCHEN_PORTER, SUBSET

WASH_THE_DISHES = "http://data.europa.eu/esco/skill/c662be22-f17a-4ba0-894f-d720b20c44cf"
WAREHOUSE_WORKER = "http://data.europa.eu/esco/occupation/bea705fe-06ac-4147-b8e0-6e8ac1208d8f"
FORKLIFT_OPERATOR = "http://data.europa.eu/esco/occupation/eeac6251-1974-42f5-91ed-513c6c883755"
OPERATE_FORKLIFT = "http://data.europa.eu/esco/skill/28cb374e-6261-4133-8371-f9a5470145da"


@pytest.fixture
async def scout(make_key):
    return await make_key("alpha", "scout")


@pytest.fixture
async def imported(owner_engine, encoder, clean_db):
    sessions = async_sessionmaker(owner_engine, expire_on_commit=False)
    await taxonomy_import.import_esco(
        sessions, taxonomy_import.esco_files(SUBSET), "1.2.0", encoder
    )


async def link(client, headers, kind, texts, **extra):
    r = await client.post(
        f"/v1/taxonomy/{kind}:link", json={"texts": texts, **extra}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_titles_link_to_occupations_exactly_in_any_language_then_by_meaning(
    client, scout, imported
):
    items = await link(
        client,
        scout,
        "occupations",
        ["Kitchen  Porter", "magazziniere", "operatore di muletto", "person who washes pots"],
        limit=3,
    )
    assert [item["text"] for item in items] == [
        "Kitchen  Porter", "magazziniere", "operatore di muletto", "person who washes pots"
    ]  # fmt: skip
    first = [item["concepts"][0] for item in items]
    # case and spacing folded; an Italian preferred label; an Italian alternative label
    assert [c["uri"] for c in first[:3]] == [KITCHEN_PORTER, WAREHOUSE_WORKER, FORKLIFT_OPERATOR]
    assert [(c["score"], c["matched"]["how"]) for c in first[:3]] == [(1.0, "exact")] * 3
    assert first[1]["label"] == "warehouse worker"  # shown in English unless asked otherwise
    # no label says it: the nearest labels' meaning, scored below an exact match
    assert first[3]["matched"]["how"] == "vector"
    assert 0 < first[3]["score"] < 1
    assert KITCHEN_PORTER in [c["uri"] for c in items[3]["concepts"]]
    assert all(len(item["concepts"]) == 3 for item in items)
    scores = [c["score"] for c in items[3]["concepts"]]
    assert scores == sorted(scores, reverse=True)

    # a title holding a label among other words: the lexical stage, scored by what it covers
    advert = "Cercasi kitchen porter per ristorante giapponese zona Navigli, turni serali"
    (ad,) = await link(client, scout, "occupations", [advert], limit=1)
    assert ad["concepts"][0]["uri"] == KITCHEN_PORTER
    assert ad["concepts"][0]["matched"] == {"label": "kitchen porter", "how": "lexical"}
    assert ad["concepts"][0]["score"] == pytest.approx(0.6 + 0.4 * 2 / 10, abs=1e-4)  # 2 of 10

    italian = await link(client, scout, "occupations", ["kitchen porter"], limit=1, lang="it")
    assert italian[0]["concepts"][0]["label"] == "lavapiatti"


async def test_skill_phrases_link_to_skills(client, scout, imported):
    items = await link(client, scout, "skills", ["Operate forklift", "driving a forklift truck"])
    assert items[0]["concepts"][0]["uri"] == OPERATE_FORKLIFT
    assert items[0]["concepts"][0]["matched"]["how"] == "exact"
    assert OPERATE_FORKLIFT in [c["uri"] for c in items[1]["concepts"][:3]]
    assert len(items[0]["concepts"]) == 10  # the default limit
    # skills are not occupations: the skill endpoint never answers an occupation
    assert all("/skill/" in c["uri"] for item in items for c in item["concepts"])


async def test_each_part_of_a_coordinated_text_and_a_two_gender_title_link(client, scout, imported):
    skills = await link(client, scout, "skills", ["wash the dishes and operate forklift"])
    first_two = {c["uri"]: c for c in skills[0]["concepts"][:2]}
    assert set(first_two) == {WASH_THE_DISHES, OPERATE_FORKLIFT}
    assert {c["matched"]["how"] for c in first_two.values()} == {"lexical"}
    (title,) = await link(client, scout, "occupations", ["Magazziniere/a"])
    assert title["concepts"][0]["uri"] == WAREHOUSE_WORKER
    # "magazziniere" whole: half of the concept's preferred label "magazziniere/magazziniera"
    # (and an alternative label), covering all the text
    assert title["concepts"][0]["score"] == 1.0


READY_MADE_DISHES = "http://data.europa.eu/esco/skill/b72395ea-623b-4204-abef-a67592b0781a"
WELDER = "http://data.europa.eu/esco/occupation/7aedaa07-3884-4c5b-88f9-80997b2aa54b"
HEALTHCARE_ASSISTANT = "http://data.europa.eu/esco/occupation/d38c2107-98f2-47b7-8bb4-f69750d51082"


async def test_a_label_with_punctuation_is_found_inside_a_text_written_without(
    client, scout, imported
):
    # the skill "prepare ready-made dishes" spelt "ready made": its label, not a near one
    skills = await link(
        client, scout, "skills", ["Prepare ready made dishes", "Prepare ready made dishes; serve"]
    )
    first = skills[0]["concepts"][0]
    assert (first["uri"], first["matched"]["how"], first["score"]) == (
        READY_MADE_DISHES, "lexical", 1.0
    )  # fmt: skip
    # inside a longer text, covering the share of it its words do
    (found,) = [c for c in skills[1]["concepts"] if c["uri"] == READY_MADE_DISHES]
    assert found["score"] >= concept_links.LEXICAL_BASE + (1 - concept_links.LEXICAL_BASE) * 4 / 5
    # half of the label "operatore socio-sanitario/operatrice socio-sanitaria", the whole title
    (oss,) = await link(client, scout, "occupations", ["Operatore Socio-Sanitario"])
    first = oss["concepts"][0]
    assert (first["uri"], first["matched"]["how"], first["score"]) == (
        HEALTHCARE_ASSISTANT, "lexical", 1.0
    )  # fmt: skip
    # the whole title as words: "oxy-fuel welder", an alternative label of welder
    (title,) = await link(client, scout, "occupations", ["Oxy fuel welder"])
    first = title["concepts"][0]
    assert (first["uri"], first["matched"]["how"]) == (WELDER, "lexical")
    assert first["score"] == pytest.approx(1.0 - concept_links.ALTERNATIVE_DISCOUNT)


async def test_a_skills_nearest_label_score_is_lifted_by_its_lexical_share(
    client, scout, imported, owner_engine, monkeypatch
):
    """The link endpoint scores a skill found by its nearest label as that label's score or its
    weighted mean with the skill's labels' BM25 share of the phrase, whichever is higher
    (app/ml/concept_links.py)."""
    phrase = ["driving a forklift truck"]
    with monkeypatch.context() as off:
        off.setitem(concept_links.LEXICAL_WEIGHTS, "skill", 0.0)
        (plain,) = await link(client, scout, "skills", phrase)
    forget_links()
    (fused,) = await link(client, scout, "skills", phrase)
    async with owner_engine.connect() as conn:
        rows = await TaxonomyLinkRepository(AsyncSession(conn)).lexicon_rows("skill")
    before = {c["uri"]: c["score"] for c in plain["concepts"] if c["matched"]["how"] == "vector"}
    after = {c["uri"]: c["score"] for c in fused["concepts"] if c["matched"]["how"] == "vector"}
    shares = ConceptLexicon(rows).shares(phrase[0], list(before))
    weight = concept_links.LEXICAL_WEIGHTS["skill"]
    assert weight > 0
    both = set(before) & set(after)
    assert len(both) >= 5
    for uri in both:
        mean = (before[uri] + weight * shares[uri]) / (1 + weight)
        assert after[uri] == pytest.approx(max(before[uri], mean), abs=2e-4)
    # the words shared count: the forklift skill's labels share the phrase's, its score rises
    assert shares[OPERATE_FORKLIFT] > before[OPERATE_FORKLIFT]
    assert after[OPERATE_FORKLIFT] > before[OPERATE_FORKLIFT]
    assert fused["concepts"][0]["uri"] == OPERATE_FORKLIFT


async def test_a_concept_reads_with_its_labels_and_relations(client, scout, imported):
    by_id = await client.get(
        f"/v1/taxonomy/occupations/{FORKLIFT_OPERATOR.rsplit('/', 1)[1]}", headers=scout
    )
    assert by_id.status_code == 200, by_id.text
    occupation = by_id.json()
    assert occupation["uri"] == FORKLIFT_OPERATOR
    assert occupation["isco_group"] == "8344"
    assert occupation["labels"]["en"]["preferred"] == "forklift operator"
    assert "operatore di muletto" in occupation["labels"]["it"]["alternative"]
    essential = {r["other"] for r in occupation["related"] if r["relation"] == "essential"}
    assert OPERATE_FORKLIFT in essential
    assert any(r["relation"] == "broader" and r["way"] == "out" for r in occupation["related"])

    by_uri = await client.get(f"/v1/taxonomy/skills/{OPERATE_FORKLIFT}", headers=scout)
    assert by_uri.status_code == 200, by_uri.text
    skill = by_uri.json()
    needed_by = {(r["other"], r["way"]) for r in skill["related"]}
    assert (FORKLIFT_OPERATOR, "in") in needed_by
    assert skill["labels"]["en"]["description"]

    merged = await client.get(  # a proxy that merges slashes
        f"/v1/taxonomy/skills/{OPERATE_FORKLIFT.replace('http://', 'http:/')}", headers=scout
    )
    assert merged.status_code == 200
    assert merged.json()["uri"] == OPERATE_FORKLIFT
    assert skill["related_truncated"] is False
    for path in (
        f"/v1/taxonomy/skills/{FORKLIFT_OPERATOR}",  # an occupation is not a skill
        "/v1/taxonomy/occupations/no-such-thing",
        "/v1/taxonomy/occupations/a%00b",
    ):
        missing = await client.get(path, headers=scout)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_linking_says_so_when_no_taxonomy_is_imported_and_refuses_bad_input(
    client, scout, clean_db
):
    none = await client.post("/v1/taxonomy/skills:link", json={"texts": ["x"]}, headers=scout)
    assert none.status_code == 409
    assert "ponte taxonomy import" in none.json()["detail"]
    for body in (
        {"texts": []},
        {"texts": [""]},
        {"texts": ["a"] * 101},
        {"texts": ["a"], "limit": 0},
        {"texts": ["a"], "lang": "Italian"},
        {"text": "a"},
    ):
        bad = await client.post("/v1/taxonomy/skills:link", json=body, headers=scout)
        assert bad.status_code == 422, body
        assert bad.headers["content-type"] == "application/problem+json"


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def test_writes_link_skills_and_occupations_and_a_callers_link_wins(client, admin, imported):
    assert (
        await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    ).status_code == 201
    body = payloads.vacancy(
        title="Magazziniere",
        required_skills=[
            "Operate forklift",
            {"label": "muletto", "esco_uri": OPERATE_FORKLIFT},
            "qxzv wplk",
        ],
    )
    made = await client.put("/v1/vacancies/vac-1", json=body, headers=admin)
    assert made.status_code == 201, made.text
    esco = made.json()["esco"]
    assert esco["import"]
    assert [(s["label"], s["uri"], s["source"]) for s in esco["skills"]] == [
        ("Operate forklift", OPERATE_FORKLIFT, "auto"),
        ("muletto", OPERATE_FORKLIFT, "caller"),
    ]  # the nonsense label links to nothing (under the threshold)
    assert esco["occupations"][0] == {
        "text": "Magazziniere", "uri": WAREHOUSE_WORKER, "score": 1.0, "source": "auto"
    }  # fmt: skip
    # the stored skills keep only what the caller sent
    assert made.json()["required_skills"][0] == {
        "label": "Operate forklift", "must_have": True, "weight": 1.0
    }  # fmt: skip
    assert made.json()["required_skills"][1]["esco_uri"] == OPERATE_FORKLIFT

    # the caller names the occupation: theirs, and the title is not linked
    named = {**body, "occupation_uri": FORKLIFT_OPERATOR}
    again = (await client.put("/v1/vacancies/vac-1", json=named, headers=admin)).json()
    assert again["occupation_uri"] == FORKLIFT_OPERATOR
    assert again["esco"]["occupations"] == [
        {"uri": FORKLIFT_OPERATOR, "score": 1.0, "source": "caller"}
    ]
    read = (await client.get("/v1/vacancies/vac-1", headers=admin)).json()
    assert read["esco"] == again["esco"]
    # a URI the imported taxonomy does not have is refused, and nothing stored changes
    for unknown, where in (
        (
            {"occupation_uri": "http://data.europa.eu/esco/occupation/0000"},
            ["body", "occupation_uri"],
        ),
        (
            {
                "required_skills": [
                    {"label": "x", "esco_uri": "http://data.europa.eu/esco/skill/0000"}
                ]
            },
            ["body", "required_skills", 0, "esco_uri"],
        ),
    ):
        refused = await client.put("/v1/vacancies/vac-1", json={**body, **unknown}, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["loc"] == where
    assert (await client.get("/v1/vacancies/vac-1", headers=admin)).json()["esco"] == again["esco"]

    person = payloads.candidate(skills=["wash the dishes"], desired_occupations=["lavapiatti"])
    candidate = await client.put("/v1/candidates/cand-1", json=person, headers=admin)
    assert candidate.status_code == 201, candidate.text
    links = candidate.json()["esco"]
    assert [(s["uri"], s["source"]) for s in links["skills"]] == [(WASH_THE_DISHES, "auto")]
    assert links["occupations"][0]["uri"] == KITCHEN_PORTER
    assert links["occupations"][0]["text"] == "lavapiatti"
    assert len(links["occupations"]) <= 3

    # a desired occupation the caller links: theirs, that name not linked by Ponte, and the
    # read shows it as sent
    person["desired_occupations"] = [
        "lavapiatti",
        {"label": "muletto", "occupation_uri": FORKLIFT_OPERATOR},
    ]
    linked = await client.put("/v1/candidates/cand-1", json=person, headers=admin)
    assert linked.status_code == 200, linked.text
    assert linked.json()["desired_occupations"] == person["desired_occupations"]
    occupations = linked.json()["esco"]["occupations"]
    assert {"text": "muletto", "uri": FORKLIFT_OPERATOR, "score": 1.0, "source": "caller"} in (
        occupations
    )
    assert [o for o in occupations if o["text"] == "muletto"] == [
        {"text": "muletto", "uri": FORKLIFT_OPERATOR, "score": 1.0, "source": "caller"}
    ]
    unknown = {"label": "x", "occupation_uri": "http://data.europa.eu/esco/occupation/0000"}
    refused = await client.put(
        "/v1/candidates/cand-1",
        json={**person, "desired_occupations": ["cook", unknown]},
        headers=admin,
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == [
        "body", "desired_occupations", 1, "occupation_uri"
    ]  # fmt: skip


async def test_without_a_taxonomy_nothing_is_linked_and_a_bad_uri_is_refused(
    client, admin, clean_db
):
    forget_links()
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    made = await client.put("/v1/vacancies/vac-1", json=payloads.vacancy(), headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["esco"] is None
    for bad in (
        {"required_skills": [{"label": "x", "esco_uri": "http://example.org/skill/1"}]},
        {
            "occupation_uri": "http://data.europa.eu/esco/skill/28cb374e"
        },  # a skill, not an occupation
    ):
        refused = await client.put(
            "/v1/vacancies/vac-2", json=payloads.vacancy(**bad), headers=admin
        )
        assert refused.status_code == 422, bad


async def test_rows_stored_before_an_import_are_linked_by_the_link_command(
    client, admin, cli_env, owner_engine
):
    import asyncio
    import json

    from app.cli import cli

    forget_links()
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    body = payloads.vacancy(title="kitchen porter")
    assert (await client.put("/v1/vacancies/vac-1", json=body, headers=admin)).json()[
        "esco"
    ] is None
    person = payloads.candidate(skills=["operate forklift"])
    await client.put("/v1/candidates/cand-1", json=person, headers=admin)
    sessions = async_sessionmaker(owner_engine, expire_on_commit=False)
    await taxonomy_import.import_esco(sessions, taxonomy_import.esco_files(SUBSET), "1.2.0", None)
    # labels not embedded with the model: nothing can be linked yet
    unembedded = await asyncio.to_thread(cli_env.invoke, cli, ["taxonomy", "link"])
    assert json.loads(unembedded.stdout.strip().splitlines()[-1]) == {
        "candidates": 0,
        "vacancies": 0,
        "left": 0,
    }
    made = await asyncio.to_thread(cli_env.invoke, cli, ["taxonomy", "import", str(SUBSET)])
    assert made.exit_code == 0, made.output
    linked = await asyncio.to_thread(cli_env.invoke, cli, ["taxonomy", "link"])
    assert linked.exit_code == 0, linked.output
    assert json.loads(linked.stdout.strip().splitlines()[-1]) == {
        "candidates": 1,
        "vacancies": 1,
        "left": 0,
    }
    forget_links()
    vacancy = (await client.get("/v1/vacancies/vac-1", headers=admin)).json()
    assert vacancy["esco"]["occupations"][0]["uri"] == KITCHEN_PORTER
    candidate = (await client.get("/v1/candidates/cand-1", headers=admin)).json()
    assert candidate["esco"]["skills"][0]["uri"] == OPERATE_FORKLIFT
    again = await asyncio.to_thread(cli_env.invoke, cli, ["taxonomy", "link"])
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {
        "candidates": 0,
        "vacancies": 0,
        "left": 0,
    }
    # links made under another model are made again under this one
    assert vacancy["esco"]["model"]
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE vacancies SET esco = jsonb_set(esco, '{model}', '\"another-model\"')")
        )
    other = await asyncio.to_thread(cli_env.invoke, cli, ["taxonomy", "link"])
    assert json.loads(other.stdout.strip().splitlines()[-1]) == {
        "candidates": 0,
        "vacancies": 1,
        "left": 0,
    }
    # links made by an earlier version of linking are made again
    async with owner_engine.begin() as conn:
        await conn.execute(text("UPDATE candidates SET esco = jsonb_set(esco, '{version}', '1')"))
    older = await asyncio.to_thread(cli_env.invoke, cli, ["taxonomy", "link"])
    assert json.loads(older.stdout.strip().splitlines()[-1]) == {
        "candidates": 1,
        "vacancies": 0,
        "left": 0,
    }


def test_the_openapi_schema_shows_skill_items_with_their_esco_uri(app):
    schemas = app.openapi()["components"]["schemas"]
    items = [name for name in schemas if name.startswith(("CandidateSkill", "RequiredSkill"))]
    assert items
    for name in items:
        assert {"label", "esco_uri"} <= set(schemas[name].get("properties", {})), name


async def test_ponte_eval_scores_a_linking_set_against_the_imported_taxonomy(cli_env, tmp_path):
    import asyncio
    import json

    from app.cli import cli

    forget_links()
    (tmp_path / "queries.jsonl").write_text(
        "\n".join(
            json.dumps(q)
            for q in (
                {"id": "q1", "text": "Operate forklift"},
                {"id": "q2", "text": "washing the dishes"},
                {"id": "q3", "text": "fly a helicopter"},
            )
        )
    )
    (tmp_path / "qrels.json").write_text(
        json.dumps({"q1": [OPERATE_FORKLIFT], "q2": [WASH_THE_DISHES], "q3": ["x:none"]})
    )

    async def invoke(*args):
        return await asyncio.to_thread(cli_env.invoke, cli, list(args))

    none = await invoke("eval", "--set", str(tmp_path))
    assert none.exit_code == 1
    assert "no ESCO taxonomy is imported" in none.output
    assert (await invoke("taxonomy", "import", str(SUBSET))).exit_code == 0
    out = tmp_path / "metrics.json"
    made = await invoke("eval", "--set", str(tmp_path), "--json", str(out))
    assert made.exit_code == 0, made.output
    assert "| ponte | 3 |" in made.stdout
    ponte = json.loads(out.read_text())["ponte"]
    # the two answerable phrases first-right, the third not: 2/3
    assert (ponte["queries"], ponte["acc@1"], ponte["recall@5"]) == (3, 0.6667, 0.6667)
