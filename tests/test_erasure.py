"""Erasure and export (issue 16): after ``DELETE /v1/candidates/{id}`` a scan of every column
of every table finds nothing of the person — not the external id, not a phrase of the summary
or of a feedback note, not a label only they used, not their vectors — and neither does the
process's pool; outcome figures stay; training leaves them out. Before it, their export holds
all of that."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import text

from app.ml import text as ml_text
from app.services import pool as pool_service
from tests import payloads
from tests.cli_helpers import Sql, invoker
from tests.test_feedback import event, setup_kitchen

PERSON = "p-ahmad-0711"
SUMMARY = (
    "Ahmad Karimi, codice fiscale KRMHMD85T10Z224S, telefono 3331234567. Saldatore per "
    "sei anni a Herat, poi aiuto cuoco in una mensa di Milano."
)
ONLY_THEIRS = "saldatura a filo continuo herat"  # a skill label nobody else uses
NOTE = "Vive con la sorella in Via Padova 118, turni serali impossibili"
# What the scan looks for, word or phrase, in every text, jsonb, array and tsvector column.
NEEDLES = (PERSON, "Ahmad Karimi", "krmhmd85t10z224s", "3331234567", "via padova 118", "herat")


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def _columns(conn):
    rows = await conn.execute(
        text(
            "SELECT c.table_name, c.column_name, c.data_type, c.udt_name "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
            "AND c.table_name <> 'alembic_version' ORDER BY 1, 2"
        )
    )
    return rows.all()


async def scan(owner_engine, vectors, hashes=()):
    """Where, in the whole database, any needle, vector or label hash is: (table, column)."""
    found = set()
    async with owner_engine.connect() as conn:
        columns = await _columns(conn)
        assert len(columns) > 200  # every table, not a chosen few
        for table, column, data_type, udt in columns:
            where, params = [], {}
            if data_type in ("text", "character varying", "jsonb", "json", "ARRAY", "tsvector"):
                for n, needle in enumerate(NEEDLES):
                    where.append(f'"{column}"::text ILIKE :n{n}')
                    params[f"n{n}"] = f"%{needle}%"
            elif udt == "vector":
                for n, vector in enumerate(vectors):
                    where.append(f'"{column}" = CAST(:v{n} AS vector)')
                    params[f"v{n}"] = vector
            elif data_type == "bytea":
                for n, digest in enumerate(hashes):
                    where.append(f'"{column}" = :h{n}')
                    params[f"h{n}"] = digest
            if where:
                sql = f'SELECT count(*) FROM "{table}" WHERE {" OR ".join(where)}'
                if await conn.scalar(text(sql), params):
                    found.add((table, column))
    return found


async def person_vectors(owner_engine, person_id):
    """The person's vectors as PostgreSQL prints them (exact equality), and their label's
    cache key."""
    sql = Sql(owner_engine)
    vectors = []
    for query in (
        f"SELECT embedding::text FROM candidates WHERE id = '{person_id}'",
        f"SELECT occupation_embedding::text FROM candidates WHERE id = '{person_id}'",
    ):
        value = await sql.scalar(query)
        if value is not None:
            vectors.append(value)
    async with owner_engine.connect() as conn:
        chunks = await conn.scalars(
            text("SELECT embedding::text FROM candidate_chunks WHERE candidate_id = :c"),
            {"c": person_id},
        )
        vectors += list(chunks)
    return vectors


async def make_person(client, admin):
    await setup_kitchen(client, admin, people=("cand-1", "cand-2"))
    body = payloads.candidate(
        summary=SUMMARY,
        skills=["food preparation", ONLY_THEIRS],
        desired_occupations=["saldatore"],
    )
    assert (
        await client.put(f"/v1/candidates/{PERSON}", json=body, headers=admin)
    ).status_code == 201
    r = await client.put(
        f"/v1/candidates/{PERSON}/sensitive", json=payloads.sensitive(), headers=admin
    )
    assert r.status_code == 201
    made = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    assert PERSON in {i["candidate_external_id"] for i in made.json()["items"]}
    # callers often build their idempotency keys from their own ids
    for key, kind, note in (
        (f"{PERSON}:contacted", "contacted", NOTE),
        ("e2", "interviewed", None),
    ):
        body = event(key, kind, candidate=PERSON, **({"note": note} if note else {}))
        assert (await client.post("/v1/feedback", json=body, headers=admin)).status_code == 201
    # the other people get feedback too, so the figures have more than the person in them
    r = await client.post("/v1/feedback", json=event("e3", "contacted"), headers=admin)
    assert r.status_code == 201
    return made.json()


def pool_terms(tenant_id):
    state = pool_service._STATES.peek(tenant_id)
    assert state is not None
    assert state.pool is not None
    pool = state.pool
    return pool, set(pool.bm25.base.vocab) | set(pool.bm25.delta_df)


async def test_erasure_leaves_nothing_of_the_person_anywhere(
    client, admin, owner_engine, cli_env, app
):
    await make_person(client, admin)
    sql = Sql(owner_engine)
    person_id = await sql.scalar(f"SELECT id FROM candidates WHERE external_id = '{PERSON}'")
    tenant_id = await sql.scalar("SELECT id FROM tenants WHERE name = 'alpha'")
    vectors = await person_vectors(owner_engine, person_id)
    assert len(vectors) >= 3  # profile, desired occupation, at least one text window
    hashes = [bytes(h) for h in (await _label_hashes(owner_engine, app))]
    assert hashes, "the person's own label is in the shared cache before"
    # before: the scan finds them (it is a scan that can fail), and so does the pool
    before = await scan(owner_engine, vectors, hashes)
    assert {("candidates", "external_id"), ("feedback_notes", "note")} <= before
    assert ("skill_embeddings", "label_hash") in before
    pool, terms = pool_terms(tenant_id)
    assert {"3331234567", "krmhmd85t10z224s"} <= terms
    assert PERSON in pool.external_ids
    assert ONLY_THEIRS in ml_text._KEYS  # the memory of label keys holds their words
    outcomes = (await client.get("/v1/metrics/outcomes", headers=admin)).json()
    invoke = invoker(cli_env)
    trained = json.loads((await invoke("train", "--tenant", "alpha", "--dry-run")).stdout)

    gone = await client.delete(f"/v1/candidates/{PERSON}", headers=admin)
    assert gone.status_code == 204

    assert await scan(owner_engine, vectors, hashes) == set()
    # the snapshot keeps the rank and score it gave, and nothing derived from the profile
    async with owner_engine.connect() as conn:
        items = (
            await conn.execute(
                text(
                    "SELECT rank, score, features, explanation FROM shortlist_items "
                    "WHERE candidate_id IS NULL"
                )
            )
        ).all()
    assert len(items) == 1
    assert items[0].features == {}
    assert items[0].explanation == {}
    # the events stay, anonymous, and the figures do not move
    assert await sql.scalar("SELECT count(*) FROM feedback_events") == 3
    assert (await client.get("/v1/metrics/outcomes", headers=admin)).json() == outcomes
    # the next request's pool no longer holds them, nor the words only they used
    assert (
        await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    ).status_code == 201
    pool, terms = pool_terms(tenant_id)
    assert PERSON not in pool.external_ids
    assert ONLY_THEIRS not in ml_text._KEYS
    assert {"3331234567", "krmhmd85t10z224s", "karimi"}.isdisjoint(terms)
    # and training learns without them
    after = json.loads((await invoke("train", "--tenant", "alpha", "--dry-run")).stdout)
    assert after["counts"]["examples"] < trained["counts"]["examples"]
    # an erasure is an entry of the audit trail, by surrogate id, with what it reached
    erased = await sql.scalar("SELECT detail FROM audit_entries WHERE action = 'candidate.erase'")
    assert erased["feedback_notes"] == 1
    assert erased["shortlist_items"] == 1
    # whether a label stayed is not said: it would tell that another tenant holds it
    assert "labels_forgotten" not in erased
    assert (await invoke("audit", "verify", "--tenant", "alpha")).exit_code == 0


async def _label_hashes(owner_engine, app):
    from app.services.label_key import label_hash

    return [label_hash(ONLY_THEIRS)]


async def test_the_export_holds_everything_the_erasure_removes(client, admin, owner_engine):
    shortlist = await make_person(client, admin)
    sql = Sql(owner_engine)
    person_id = await sql.scalar(f"SELECT id FROM candidates WHERE external_id = '{PERSON}'")
    vectors = await person_vectors(owner_engine, person_id)
    r = await client.get(f"/v1/candidates/{PERSON}/export", headers=admin)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    document = r.json()
    as_text = json.dumps(document).lower()
    for needle in NEEDLES:
        assert needle.lower() in as_text, needle
    assert ONLY_THEIRS in as_text
    assert document["candidate"]["id"] == str(person_id)
    # every column of the profile is there (those shown elsewhere, or copies, apart), as stored
    stored_row = await sql.scalar(f"SELECT to_jsonb(c) FROM candidates c WHERE id = '{person_id}'")
    elsewhere = {"tenant_id", "esco", "search_text", "text_language", "embedding",
                 "occupation_embedding", "embedding_model", "lat", "lon", "search_tsv",
                 "content_hash", "changed_xid"}  # fmt: skip
    assert set(stored_row) - elsewhere <= set(document["candidate"])
    for name in ("summary", "skills", "desired_occupations", "location", "languages"):
        assert document["candidate"][name] == stored_row[name], name
    assert document["sensitive"]["support_tracks"] == ["refugee_or_asylum_seeker"]
    assert (
        document["taxonomy_links"]
        == (await client.get(f"/v1/candidates/{PERSON}", headers=admin)).json()["esco"]
    )
    derived = document["derived"]
    exported = [derived["embedding"], derived["occupation_embedding"]]
    exported += [chunk["embedding"] for chunk in derived["chunks"]]
    stored = [json.loads(v) for v in vectors]
    assert len(exported) == len(stored)
    for mine, theirs in zip(exported, stored, strict=True):
        assert np.allclose(mine, theirs, atol=0, rtol=1e-6)
    (shown,) = document["shortlists"]
    item = next(i for i in shortlist["items"] if i["candidate_external_id"] == PERSON)
    assert shown["shortlist_id"] == shortlist["id"]
    assert (shown["rank"], shown["score"]) == (item["rank"], item["score"])
    assert shown["explanation"] == item["explanation"]
    assert shown["ranker_version"] == shortlist["ranker_version"]
    assert set(shown["features"]) == set(item["explanation"]["components"])
    assert [e["event"] for e in document["feedback"]] == ["contacted", "interviewed"]
    assert document["feedback"][0]["note"] == NOTE
    actions = [e["action"] for e in document["audit"]]
    assert actions[:2] == ["shortlist.create", "feedback.create"]
    # the export itself is on the record
    trail = await client.get("/v1/audit", params={"action": "candidate.export"}, headers=admin)
    assert [e["objects"] for e in trail.json()["items"]] == [
        [{"type": "candidate", "id": str(person_id)}]
    ]


async def test_export_is_for_admin_and_integration_keys_of_the_tenant(client, admin, make_key):
    await setup_kitchen(client, admin, people=("cand-1",))
    for role, status in (("scout", 403), ("integration", 200)):
        headers = await make_key("alpha", role)
        r = await client.get("/v1/candidates/cand-1/export", headers=headers)
        assert r.status_code == status, (role, r.text)
    other = await make_key("beta", "admin")
    missing = await client.get("/v1/candidates/cand-1/export", headers=other)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_a_shortlist_read_after_an_erasure_shows_the_gap(client, admin):
    shortlist = await make_person(client, admin)
    assert (await client.delete(f"/v1/candidates/{PERSON}", headers=admin)).status_code == 204
    r = await client.get(f"/v1/shortlists/{shortlist['id']}", headers=admin)
    assert r.status_code == 200, r.text
    erased = [i for i in r.json()["items"] if i["candidate_external_id"] is None]
    assert len(erased) == 1
    assert erased[0]["explanation"] is None
    kept = [i for i in r.json()["items"] if i["candidate_external_id"] is not None]
    assert all(i["explanation"]["summary"] for i in kept)


async def test_callers_may_not_send_the_keys_erasure_gives_events(client, admin):
    """An erased person's events are re-keyed "erased:<event id>"; a caller who could send such
    a key first would make that erasure fail on the key's uniqueness for ever."""
    await setup_kitchen(client, admin, people=("cand-1",))
    taken = event("erased:0b8e2a8c-5d1e-4a0a-9d5e-1f2f3a4b5c6d")
    r = await client.post("/v1/feedback", json=taken, headers=admin)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
