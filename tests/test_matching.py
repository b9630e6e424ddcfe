"""Shortlists and matches on small hand-made data where the right order is obvious."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import insert, select, text

from app.db.tables import Candidate, Tenant
from app.ml.features import FEATURE_VERSION, FEATURES
from app.ml.ranker import DEFAULT_WEIGHTS, WeightedRanker
from app.schemas.matching import ShortlistOut
from app.services import ranking
from tests import payloads

MILANO = {"municipality": "Milano", "country": "IT", "lat": 45.4642, "lon": 9.19}
TORINO = {"municipality": "Torino", "country": "IT", "lat": 45.0703, "lon": 7.6869}


def cook_vacancy(**overrides):
    body = {
        "employer_external_id": "emp-1",
        "title": "Kitchen assistant / aiuto cuoco",
        "description": "Prepare vegetables and basic sauces, keep the kitchen clean, help the "
        "cook during lunch service.",
        "required_skills": [
            "food preparation",
            "kitchen hygiene",
            {"label": "knife skills", "must_have": False},
        ],
        "languages": [{"code": "it", "min_level": "A2"}],
        "location": MILANO,
        "contract": "internship",
        "start_date": "2027-01-11",
    }
    return {**body, **overrides}


def person(summary, skills, **overrides):
    body = {
        "summary": summary,
        "skills": skills,
        "languages": [{"code": "it", "level": "B1"}],
        "location": MILANO,
        "max_commute_km": 20,
        "available_from": "2026-12-01",
        "work_permit": "yes",
    }
    return {**body, **overrides}


PEOPLE = {
    "cook": person(
        "Five years as a cook in a restaurant in Lahore, one year in a canteen in Milan.",
        ["food preparation", "kitchen hygiene", "knife skills"],
        desired_occupations=["cook"],
    ),
    "warehouse": person(
        "Warehouse worker with a forklift licence; order picking with a scanner.",
        ["forklift operation", "order picking"],
    ),
    "cleaner": person(
        "Office and hospital cleaning with floor scrubbers.", ["industrial cleaning"]
    ),
    "electrician": person(
        "Apprentice electrician: wiring of civil installations.", ["electrical wiring"]
    ),
}


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


@pytest.fixture
async def kitchen(client, admin):
    assert (
        await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    ).status_code == 201
    r = await client.put("/v1/vacancies/cook", json=cook_vacancy(), headers=admin)
    assert r.status_code == 201, r.text
    for ext, body in PEOPLE.items():
        r = await client.put(f"/v1/candidates/{ext}", json=body, headers=admin)
        assert r.status_code == 201, r.text
    return admin


async def shortlist(client, headers, vacancy="cook", **body):
    r = await client.post(f"/v1/vacancies/{vacancy}/shortlists", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/json"
    # Rendered without the response model: it must still be exactly the documented shape.
    assert ShortlistOut.model_validate(r.json()).model_dump(mode="json") == r.json()
    return r.json()


async def test_the_cook_ranks_first_with_reasons(client, kitchen):
    result = await shortlist(client, kitchen, limit=10)
    ranked = [item["candidate_external_id"] for item in result["items"]]
    assert ranked[0] == "cook"
    assert set(ranked) == set(PEOPLE)
    assert [item["rank"] for item in result["items"]] == [1, 2, 3, 4]
    scores = [item["score"] for item in result["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert result["ranker_version"] == WeightedRanker().version
    assert result["feature_version"] == FEATURE_VERSION
    assert result["embedding_model"]
    assert result["vacancy_external_id"] == "cook"

    top = result["items"][0]["explanation"]
    assert top["missing_skills"] == []
    assert {m["required"]: (m["matched_by"], m["kind"]) for m in top["matched_skills"]} == {
        "food preparation": ("food preparation", "exact"),
        "kitchen hygiene": ("kitchen hygiene", "exact"),
        "knife skills": ("knife skills", "exact"),
    }
    assert top["gates"] == {
        "status": "pass",
        "not_placed": "pass",
        "availability": "pass",
        "language": "pass",
        "commute": "pass",
        "permit": "pass",
    }
    assert top["distance_km"] == pytest.approx(0.0, abs=0.01)
    assert set(top["components"]) == set(FEATURES)
    assert top["summary"].startswith("Meets 2 of 2 must-have skills")

    electrician = next(i for i in result["items"] if i["candidate_external_id"] == "electrician")
    assert electrician["explanation"]["missing_skills"] == ["food preparation", "kitchen hygiene"]
    assert "Missing: food preparation, kitchen hygiene." in electrician["explanation"]["summary"]


async def test_soft_skill_matches_through_label_embeddings(client, kitchen):
    body = person("Drove forklifts in a logistics hub.", ["forklift driving"])
    await client.put("/v1/candidates/soft", json=body, headers=kitchen)
    await client.put(
        "/v1/vacancies/forklift",
        json=cook_vacancy(
            title="Forklift operator",
            description="Move pallets.",
            required_skills=["operate forklift"],
        ),
        headers=kitchen,
    )
    result = await shortlist(client, kitchen, vacancy="forklift", limit=5)
    # Both forklift people lead; neither wrote the vacancy's words.
    top_two = {i["candidate_external_id"]: i for i in result["items"][:2]}
    assert set(top_two) == {"soft", "warehouse"}
    match = top_two["soft"]["explanation"]["matched_skills"][0]
    assert match["required"] == "operate forklift"
    assert match["matched_by"] == "forklift driving"
    assert match["kind"] == "soft"
    assert 0.6 < match["similarity"] < 1.0


GATE_CASES = {
    # name: (profile overrides, gate that removes it, or None when it stays as "unknown")
    "paused": ({"status": "paused"}, "status"),
    "placed": ({"status": "placed"}, "not_placed"),
    "late": ({"available_from": "2027-06-01"}, "availability"),
    "no-date": ({"available_from": None}, None),
    "weak-italian": ({"languages": [{"code": "it", "level": "A1"}]}, "language"),
    "only-english": ({"languages": [{"code": "en", "level": "C1"}]}, "language"),
    "no-languages": ({"languages": []}, None),
    "far": ({"location": TORINO}, "commute"),
    "no-coordinates": ({"location": {"municipality": "Milano"}}, None),
    "no-commute-limit": ({"max_commute_km": None, "location": TORINO}, None),
    "no-permit": ({"work_permit": "no"}, "permit"),
    "pending-permit": ({"work_permit": "pending"}, None),
}
UNKNOWN_GATE = {
    "no-date": "availability",
    "no-languages": "language",
    "no-coordinates": "commute",
    "no-commute-limit": "commute",
    "pending-permit": "permit",
}


async def test_each_gate_and_unknown_is_not_fail(client, admin):
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    await client.put("/v1/vacancies/cook", json=cook_vacancy(), headers=admin)
    await client.put("/v1/candidates/ok", json=PEOPLE["cook"], headers=admin)
    for name, (overrides, _) in GATE_CASES.items():
        r = await client.put(
            f"/v1/candidates/{name}", json={**PEOPLE["cook"], **overrides}, headers=admin
        )
        assert r.status_code == 201, r.text

    result = await shortlist(client, admin, limit=50)
    kept = {i["candidate_external_id"]: i for i in result["items"]}
    expected_kept = {"ok"} | {n for n, (_, gate) in GATE_CASES.items() if gate is None}
    assert set(kept) == expected_kept
    for name, gate in UNKNOWN_GATE.items():
        assert kept[name]["explanation"]["gates"][gate] == "unknown", name
    removed = {}
    for _, gate in GATE_CASES.values():
        if gate:
            removed[gate] = removed.get(gate, 0) + 1
    assert result["excluded_by_gate"] == {
        "status": removed["status"],
        "not_placed": removed["not_placed"],
        "availability": removed["availability"],
        "language": removed["language"],
        "commute": removed["commute"],
        "permit": removed["permit"],
    }
    assert result["considered"] == len(GATE_CASES) + 1

    # A gate switched off lets its candidates back in, and is not reported.
    result = await shortlist(client, admin, limit=50, gates={"language": False, "permit": False})
    kept = {i["candidate_external_id"] for i in result["items"]}
    assert {"weak-italian", "only-english", "no-permit"} <= kept
    assert "language" not in result["excluded_by_gate"]
    assert all("language" not in i["explanation"]["gates"] for i in result["items"])

    r = await client.post(
        "/v1/vacancies/cook/shortlists", json={"gates": {"astrology": False}}, headers=admin
    )
    assert r.status_code == 400


async def test_remote_vacancy_passes_commute(client, admin):
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    await client.put("/v1/vacancies/remote", json=cook_vacancy(remote=True), headers=admin)
    await client.put(
        "/v1/candidates/far", json={**PEOPLE["cook"], "location": TORINO}, headers=admin
    )
    result = await shortlist(client, admin, vacancy="remote")
    assert [i["candidate_external_id"] for i in result["items"]] == ["far"]
    assert result["items"][0]["explanation"]["gates"]["commute"] == "pass"


async def _synthetic_candidates(owner_engine, tenant_name: str, n: int, passing: int) -> None:
    """Writes ``n`` candidates straight into the table (vectors synthetic but clustered), of
    which only ``passing`` have a work permit."""
    rng = np.random.default_rng(7)
    centre = rng.normal(size=384)
    async with owner_engine.begin() as conn:
        tenant_id = await conn.scalar(select(Tenant.id).where(Tenant.name == tenant_name))
        rows = []
        for i in range(n):
            vector = centre + rng.normal(scale=1.5, size=384)
            vector = (vector / np.linalg.norm(vector)).astype(np.float32)
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "external_id": f"syn-{i:05d}",
                    "skills": [{"label": "food preparation"}],
                    "summary": "Kitchen help.",
                    "languages": [{"code": "it", "level": "B1"}],
                    "work_permit": "yes" if i % (n // passing) == 0 else "no",
                    "embedding": vector,
                    "embedding_model": "synthetic",
                    "search_text": "Kitchen help. Skills: food preparation.",
                }
            )
        await conn.execute(insert(Candidate), rows)
        await conn.execute(text("ANALYZE candidates"))


@pytest.mark.parametrize("exact_below", [ranking.EXACT_SCAN_BELOW, 0])
async def test_selective_gate_never_empties_the_shortlist(
    client, admin, owner_engine, monkeypatch, exact_below
):
    """Under 1% of 5,000 pass the permit gate: all who pass are returned, by either the exact
    scan or the HNSW index with iterative scanning."""
    monkeypatch.setattr(ranking, "EXACT_SCAN_BELOW", exact_below)
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    await client.put(
        "/v1/vacancies/cook", json=cook_vacancy(languages=[], location=None), headers=admin
    )
    await _synthetic_candidates(owner_engine, "alpha", 5000, 40)
    result = await shortlist(client, admin, limit=50)
    assert len(result["items"]) == 40
    assert result["excluded_by_gate"]["permit"] == 4960
    ids = [i["candidate_external_id"] for i in result["items"]]
    assert all(int(x.split("-")[1]) % 125 == 0 for x in ids)


async def test_shortlist_never_contains_another_tenants_candidates(client, make_key):
    alpha = await make_key("alpha", "admin")
    beta = await make_key("beta", "admin")
    for headers, prefix in ((alpha, "a"), (beta, "b")):
        await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=headers)
        await client.put("/v1/vacancies/cook", json=cook_vacancy(), headers=headers)
        for ext, body in PEOPLE.items():
            await client.put(f"/v1/candidates/{prefix}-{ext}", json=body, headers=headers)
    result = await shortlist(client, alpha, limit=50)
    assert {i["candidate_external_id"] for i in result["items"]} == {f"a-{p}" for p in PEOPLE}
    assert sum(result["excluded_by_gate"].values()) == 0
    assert result["considered"] == len(PEOPLE)

    # Beta can neither read alpha's snapshot nor list it.
    assert (await client.get(f"/v1/shortlists/{result['id']}", headers=beta)).status_code == 404
    r = await client.get("/v1/vacancies/cook/shortlists", headers=beta)
    assert r.json()["items"] == []
    matches = (await client.get("/v1/candidates/b-cook/matches", headers=beta)).json()
    assert [m["vacancy_external_id"] for m in matches["items"]] == ["cook"]


async def stored_items_text(conn) -> str:
    """Every stored item as the database holds it: JSON columns read as JSON text (a Python
    repr of a dict would quote with single quotes and hide a copied '"cook"')."""
    rows = await conn.execute(
        text(
            "SELECT concat_ws(' ', shortlist_id, rank, candidate_id, score, features::text, "
            "explanation::text) FROM shortlist_items"
        )
    )
    return " ".join(row[0] for row in rows)


async def test_snapshots_are_stored_and_keep_no_candidate_text(client, kitchen, owner_engine):
    created = await shortlist(client, kitchen, limit=3)
    r = await client.get(f"/v1/shortlists/{created['id']}", headers=kitchen)
    assert r.status_code == 200
    assert r.json() == created
    listed = (await client.get("/v1/vacancies/cook/shortlists", headers=kitchen)).json()["items"]
    assert [s["id"] for s in listed] == [created["id"]]

    async with owner_engine.connect() as conn:
        stored = await stored_items_text(conn)
        params = await conn.scalar(text("SELECT params FROM shortlists"))
        assert "Lahore" not in stored
        assert '"cook"' not in stored  # the candidate's external id is not copied
        assert params["limit"] == 3
        # The check can fail: an external id copied into an item is found.
        async with conn.begin_nested() as copied:
            await conn.execute(
                text(
                    "UPDATE shortlist_items SET explanation = explanation || "
                    """'{"candidate": "cook"}'::jsonb WHERE rank = 1"""
                )
            )
            assert '"cook"' in await stored_items_text(conn)
            await copied.rollback()

    # Erasing the candidate cuts the link and what was derived from their profile (the
    # explanation); the snapshot stays readable with the rank and score it gave.
    assert (await client.delete("/v1/candidates/cook", headers=kitchen)).status_code == 204
    after = (await client.get(f"/v1/shortlists/{created['id']}", headers=kitchen)).json()
    assert after["items"][0]["candidate_external_id"] is None
    assert after["items"][0]["explanation"] is None
    assert after["items"][0]["score"] == created["items"][0]["score"]


async def test_a_snapshot_stores_its_feature_values_once(client, kitchen, owner_engine):
    """An item's features are stored as its ``features``, not copied into its explanation
    again; reading the snapshot shows them as the explanation's components, as the answer did.
    A snapshot stored before keeps its own copy, and that copy is what is shown."""
    created = await shortlist(client, kitchen, limit=3)
    async with owner_engine.begin() as conn:
        rows = (
            await conn.execute(
                text("SELECT features, explanation FROM shortlist_items ORDER BY rank")
            )
        ).all()
        assert len(rows) == len(created["items"]) > 1
        for (features, explanation), item in zip(rows, created["items"], strict=True):
            assert "components" not in explanation
            assert item["explanation"]["components"] == {
                k: None if v is None else round(v, 4) for k, v in features.items()
            }
        await conn.execute(
            text(
                "UPDATE shortlist_items SET explanation = explanation || "
                """'{"components": {"lexical": 0.5}}'::jsonb WHERE rank = 1"""
            )
        )
    read = (await client.get(f"/v1/shortlists/{created['id']}", headers=kitchen)).json()
    assert read["items"][0]["explanation"]["components"] == {"lexical": 0.5}
    assert read["items"][1:] == created["items"][1:]


async def test_snapshot_items_belong_to_their_snapshots_tenant(client, kitchen, owner_engine):
    """Items carry no foreign key of their own to tenants: the one to (tenant, snapshot) keeps
    their tenant right and removes them with their tenant."""
    import sqlalchemy.exc

    created = await shortlist(client, kitchen, limit=3)
    async with owner_engine.connect() as conn:
        other = await conn.scalar(text("INSERT INTO tenants (name) VALUES ('x') RETURNING id"))
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            async with conn.begin_nested():
                await conn.execute(
                    text("UPDATE shortlist_items SET tenant_id = :t WHERE shortlist_id = :s"),
                    {"t": other, "s": created["id"]},
                )
        # a tenant's audit trail holds the tenant back (no cascade): the owner drops it first
        await conn.execute(
            text(
                "DELETE FROM audit_entries WHERE tenant_id = "
                "(SELECT id FROM tenants WHERE name = 'alpha')"
            )
        )
        await conn.execute(text("DELETE FROM tenants WHERE name = 'alpha'"))
        assert await conn.scalar(text("SELECT count(*) FROM shortlist_items")) == 0
        assert await conn.scalar(text("SELECT count(*) FROM shortlists")) == 0
        await conn.rollback()


async def test_service_role_cannot_rewrite_snapshots(database, client, kitchen):
    import asyncpg

    await shortlist(client, kitchen)
    dsn = database.service.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        for sql in ("UPDATE shortlist_items SET score = 1", "DELETE FROM shortlists"):
            with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_matches_rank_open_vacancies_for_a_candidate(client, kitchen):
    await client.put(
        "/v1/vacancies/warehouse",
        json=cook_vacancy(
            title="Magazziniere",
            description="Carico e scarico merci con carrello elevatore.",
            required_skills=["forklift operation", "order picking"],
        ),
        headers=kitchen,
    )
    await client.put(
        "/v1/vacancies/closed-kitchen", json=cook_vacancy(status="filled"), headers=kitchen
    )
    r = await client.get("/v1/candidates/cook/matches", params={"limit": 10}, headers=kitchen)
    assert r.status_code == 200, r.text
    ranked = [m["vacancy_external_id"] for m in r.json()["items"]]
    assert ranked == ["cook", "warehouse"]
    r = await client.get("/v1/candidates/warehouse/matches", headers=kitchen)
    assert r.json()["items"][0]["vacancy_external_id"] == "warehouse"
    assert (
        r.json()["items"][0]["explanation"]["matched_skills"][0]["matched_by"]
        == "forklift operation"
    )

    far = {**PEOPLE["cook"], "location": TORINO}
    await client.put("/v1/candidates/far-cook", json=far, headers=kitchen)
    r = await client.get("/v1/candidates/far-cook/matches", headers=kitchen)
    assert r.json()["items"] == []
    assert r.json()["excluded_by_gate"]["commute"] == 2
    r = await client.get(
        "/v1/candidates/far-cook/matches", params={"gates_off": "commute"}, headers=kitchen
    )
    assert r.json()["items"][0]["vacancy_external_id"] == "cook"
    assert (await client.get("/v1/candidates/nobody/matches", headers=kitchen)).status_code == 404


async def test_scout_can_shortlist_but_not_write(client, kitchen, make_key):
    scout = await make_key("alpha", "scout")
    result = await shortlist(client, scout, limit=2)
    assert len(result["items"]) == 2
    r = await client.put("/v1/candidates/x", json=PEOPLE["cook"], headers=scout)
    assert r.status_code == 403


async def test_tenant_weights_change_the_ranking(client, kitchen):
    r = await client.get("/v1/tenant/settings", headers=kitchen)
    assert r.json()["weights"] == DEFAULT_WEIGHTS
    only_distance = dict.fromkeys(FEATURES, 0.0) | {"distance": 1.0}
    r = await client.patch("/v1/tenant/settings", json={"weights": only_distance}, headers=kitchen)
    assert r.status_code == 200, r.text
    assert r.json()["weights"]["must_have"] == 0.0
    result = await shortlist(client, kitchen, limit=10)
    assert {i["score"] for i in result["items"]} == {1.0}  # everyone is 0 km away
    assert result["ranker_version"] == r.json()["ranker_version"] != WeightedRanker().version
    r = await client.patch(
        "/v1/tenant/settings", json={"weights": {"distance": 0.0}}, headers=kitchen
    )
    assert r.status_code == 422
    r = await client.patch("/v1/tenant/settings", json={"weights": {"luck": 1}}, headers=kitchen)
    assert r.status_code == 422


async def test_unchanged_text_is_not_embedded_again(client, kitchen, app, monkeypatch):
    calls: list[int] = []
    original = app.state.encoder.encode

    def counting(texts):
        calls.append(len(texts))
        return original(texts)

    monkeypatch.setattr(app.state.encoder, "encode", counting)
    r = await client.put("/v1/candidates/cook", json=PEOPLE["cook"], headers=kitchen)
    assert r.status_code == 200
    assert calls == []
    changed = {**PEOPLE["cook"], "max_commute_km": 5}  # not part of the text
    await client.put("/v1/candidates/cook", json=changed, headers=kitchen)
    assert calls == []
    await client.put(
        "/v1/candidates/cook", json={**changed, "summary": "Cook, six years now."}, headers=kitchen
    )
    assert calls == [2]  # one chunk and the desired occupations; skill labels were cached


async def test_long_cv_found_by_text_after_the_first_1500_tokens(client, admin, app):
    """A pasted multi-page CV with no structured skills: the only relevant experience is at the
    end, far past what the model reads at once."""
    filler_sentences = [
        "I enjoy reading novels and walking in the park with my children on Sundays.",
        "During my studies I followed courses in history, geography and literature.",
        "I volunteered at the parish library, organising books and greeting visitors.",
        "My hobbies include painting landscapes, gardening and learning new recipes online.",
        "I attended a language course at the municipal adult school for two semesters.",
    ]
    filler = " ".join(filler_sentences[i % 5] for i in range(120))
    tokenizer = app.state.encoder._model.tokenizer
    assert len(tokenizer(filler, add_special_tokens=False)["input_ids"]) > 1500
    cv = filler + (
        " Work experience: four years as a forklift operator in a logistics warehouse, "
        "loading and unloading trucks, moving pallets with a reach truck and a counterbalance "
        "forklift, order picking with a barcode scanner and stock counts."
    )
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    await client.put(
        "/v1/vacancies/forklift",
        json=cook_vacancy(
            title="Forklift operator",
            description="Load and unload trucks and move pallets with a forklift in our warehouse.",
            required_skills=[],
            languages=[],
        ),
        headers=admin,
    )
    await client.put("/v1/candidates/long-cv", json=person(cv, []), headers=admin)
    for i, sentence in enumerate(filler_sentences):
        await client.put(f"/v1/candidates/other-{i}", json=person(sentence * 3, []), headers=admin)
    for ext, body in PEOPLE.items():
        if ext != "warehouse":
            await client.put(f"/v1/candidates/{ext}", json=body, headers=admin)
    result = await shortlist(client, admin, vacancy="forklift", limit=5)
    assert result["items"][0]["candidate_external_id"] == "long-cv"


async def test_free_text_cv_evidences_required_skills(client, admin):
    """A person whose CV was pasted as text, with no skills list, still meets must-haves that
    the text evidences, as "text" matches with partial credit."""
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    await client.put(
        "/v1/vacancies/care",
        json=cook_vacancy(
            title="Care assistant in a nursing home",
            description="Support elderly residents in daily life.",
            required_skills=["personal care of elderly people", "electrical wiring"],
        ),
        headers=admin,
    )
    cv = (
        "For three years I looked after elderly people in a nursing home: washing and "
        "dressing residents, helping them eat and move around, and keeping them company."
    )
    await client.put("/v1/candidates/text-only", json=person(cv, []), headers=admin)
    result = await shortlist(client, admin, vacancy="care")
    explanation = result["items"][0]["explanation"]
    matched = {m["required"]: m for m in explanation["matched_skills"]}
    assert matched["personal care of elderly people"]["kind"] == "text"
    assert matched["personal care of elderly people"]["matched_by"] is None
    assert 0.5 <= matched["personal care of elderly people"]["similarity"] < 1.0
    assert explanation["missing_skills"] == ["electrical wiring"]
    assert "1 from the profile text" in explanation["summary"]
    assert 0 < explanation["components"]["must_have"] < 0.5


async def test_a_stored_snapshot_is_reproduced_by_the_ranker_that_made_it(
    client, kitchen, owner_engine
):
    """Features are stored per item with the ranker's version and weights: re-scoring them with
    the ranker rebuilt from the snapshot gives the stored scores, for default and tenant
    weights alike, and a weight change is a new ranker version."""
    from app.ml.features import as_column
    from app.services.rankers import ranker_of_snapshot

    first = await shortlist(client, kitchen, limit=10)
    weights = {"lexical": 0.4, "distance": 0.2}
    r = await client.patch("/v1/tenant/settings", json={"weights": weights}, headers=kitchen)
    assert r.status_code == 200
    second = await shortlist(client, kitchen, limit=10)
    assert first["ranker_version"] != second["ranker_version"]
    for made in (first, second):
        async with owner_engine.connect() as conn:
            snapshot = (
                await conn.execute(
                    text(
                        "SELECT ranker_version, feature_version, params FROM shortlists "
                        "WHERE id = :id"
                    ),
                    {"id": made["id"]},
                )
            ).one()
            items = (
                await conn.execute(
                    text(
                        "SELECT score, features FROM shortlist_items "
                        "WHERE shortlist_id = :id ORDER BY rank"
                    ),
                    {"id": made["id"]},
                )
            ).all()
        assert snapshot.feature_version == FEATURE_VERSION
        ranker = ranker_of_snapshot(snapshot.ranker_version, snapshot.params)
        assert ranker is not None
        columns = {n: as_column([features[n] for _, features in items]) for n in FEATURES}
        rescored = np.round(ranker.score(columns), 6)
        assert list(rescored) == [score for score, _ in items]
        # The explanation's contributions are the ranker's own and add up to the score.
        for item in made["items"]:
            credit = item["explanation"]["contributions"]
            assert sum(v for v in credit.values() if v is not None) == pytest.approx(
                item["score"], abs=1e-3
            )
    # A snapshot is rebuilt only by the ranker it names.
    assert ranker_of_snapshot("weighted-v1+0000000000", snapshot.params) is None
