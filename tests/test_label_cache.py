"""The skill-label cache shared by every tenant: keyed by the deployment's secret, found again
under it, and forgetting the labels only an erased person held."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import stat

import pytest
from sqlalchemy import text

from app.ml import text as ml_text
from app.services import label_key as label_keys
from app.services import vectors
from app.services.label_cache import forget_unused_labels
from app.services.vectors import VectorService, forget_skill_vectors
from tests import payloads
from tests.conftest import make_settings

OTHER_KEY = "another deployment's key, 32 chars or more"
PASTRY = "http://data.europa.eu/esco/skill/pastry-lamination"


async def cached_hashes(owner_engine, model_id: str) -> set[bytes]:
    async with owner_engine.connect() as conn:
        rows = await conn.scalars(
            text("SELECT label_hash FROM skill_embeddings WHERE model_id = :m"), {"m": model_id}
        )
        return {bytes(h) for h in rows}


def test_the_key_file_is_made_once_private_and_kept(tmp_path):
    settings = make_settings(tmp_path / "data")
    key = label_keys.read_label_key(settings)
    path = tmp_path / "data" / label_keys.KEY_FILE
    assert len(key) == label_keys.KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert label_keys.read_label_key(settings) == key
    assert label_keys.read_label_key(make_settings(tmp_path / "elsewhere")) != key
    assert list(path.parent.iterdir()) == [path]  # no draft left behind
    # the setting wins over the file; a short one is refused without being repeated
    assert label_keys.read_label_key(make_settings(tmp_path, label_key=OTHER_KEY)) == (
        OTHER_KEY.encode()
    )
    with pytest.raises(label_keys.LabelKeyError) as refused:
        label_keys.read_label_key(make_settings(tmp_path, label_key="hunter2"))
    assert "hunter2" not in str(refused.value)


async def test_labels_are_cached_under_a_keyed_hash(
    client, make_key, owner_engine, encoder, settings, label_key
):
    admin = await make_key("alpha")
    # an earlier test may have left the label's vector in this process's memory (the tables
    # are emptied between tests, the process is not): then nothing would be written
    forget_skill_vectors([ml_text.skill_key("Forklift Driving")])
    body = payloads.candidate(skills=["Forklift Driving"])
    assert (await client.put("/v1/candidates/c1", json=body, headers=admin)).status_code == 201
    stored = await cached_hashes(owner_engine, encoder.model_id)
    assert hashlib.sha256(b"forklift driving").digest() not in stored
    assert hmac.digest(label_key, b"forklift driving", "sha256") in stored
    # another deployment's key, another hash
    label_keys.configure(make_settings(settings.data_dir, label_key=OTHER_KEY))
    assert label_keys.label_hash("Forklift Driving") not in stored


async def test_a_cached_label_is_found_again_and_not_embedded_twice(
    app, encoder, settings, clean_db, monkeypatch
):
    calls: list[int] = []
    original = encoder.encode

    def counting(texts):
        calls.append(len(texts))
        return original(texts)

    monkeypatch.setattr(encoder, "encode", counting)

    async def look_up(label: str) -> None:
        forget_skill_vectors([ml_text.skill_key(label)])  # as another process would: no memory
        async with app.state.sessionmaker() as session, session.begin():
            found = await VectorService(session, encoder).skill_vectors([label])
        assert list(found) == ["pallet wrapping"]

    await look_up("Pallet Wrapping")
    assert calls == [1]
    await look_up("pallet  WRAPPING")
    assert calls == [1]  # read back from the database's cache under the same key
    label_keys.configure(make_settings(settings.data_dir, label_key=OTHER_KEY))
    await look_up("Pallet Wrapping")
    assert calls == [1, 1]  # a new key finds nothing: the label is embedded again


async def test_forgetting_an_erased_persons_labels_keeps_what_others_use(
    app, client, make_key, owner_engine, encoder
):
    alpha, beta = await make_key("alpha"), await make_key("beta")
    puts = [
        ("/v1/employers/emp-1", payloads.employer(), alpha),
        ("/v1/vacancies/v1", payloads.vacancy(required_skills=["Night Shift Baking"]), alpha),
        ("/v1/candidates/colleague", payloads.candidate(skills=["forklift driving"]), alpha),
        ("/v1/candidates/elsewhere", payloads.candidate(skills=["SOURDOUGH STARTER"]), beta),
    ]
    erased = ["Latte Art", "Forklift Driving", "night shift baking", "Sourdough Starter"]
    erased.append("Pastry Lamination")  # an ESCO label
    puts.append(("/v1/candidates/gone", payloads.candidate(skills=erased), alpha))
    forget_skill_vectors(map(ml_text.skill_key, erased))  # earlier tests' labels: stored anew
    for path, body, headers in puts:
        assert (await client.put(path, json=body, headers=headers)).status_code == 201
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO esco_concepts (uri, kind) VALUES (:u, 'skill')"), {"u": PASTRY}
        )
        await conn.execute(
            text(
                "INSERT INTO esco_labels (uri, lang, kind, label, key) "
                "VALUES (:u, 'en', 'preferred', 'pastry lamination', 'pastry lamination')"
            ),
            {"u": PASTRY},
        )
        # the same label under another model goes too
        await conn.execute(
            text(
                "INSERT INTO skill_embeddings (model_id, label_hash, embedding) SELECT "
                "'another-model', label_hash, embedding FROM skill_embeddings WHERE model_id = :m"
            ),
            {"m": encoder.model_id},
        )
    hashes = {label: label_keys.label_hash(label) for label in erased}
    held = await cached_hashes(owner_engine, "another-model")
    assert [label for label, h in hashes.items() if h not in held] == []
    assert (await client.delete("/v1/candidates/gone", headers=alpha)).status_code == 204

    # in the service role's own session, as the erasure runs
    async with app.state.sessionmaker() as session, session.begin():
        assert await forget_unused_labels(session, [*erased, "latte art"]) == 1

    for model_id in (encoder.model_id, "another-model"):
        held = await cached_hashes(owner_engine, model_id)
        assert hashes["Latte Art"] not in held
        assert {hashes[label] for label in erased[1:]} <= held
    assert (encoder.model_id, "latte art") not in vectors._SKILL_CACHE
    assert (encoder.model_id, "forklift driving") in vectors._SKILL_CACHE
    async with app.state.sessionmaker() as session, session.begin():
        assert await forget_unused_labels(session, []) == 0


async def test_two_erasures_of_a_labels_last_holders_together_forget_it(
    app, client, make_key, owner_engine, encoder
):
    alpha = await make_key("alpha")
    forget_skill_vectors(["night porter"])
    for ext in ("first", "second"):
        body = payloads.candidate(skills=["Night Porter"])
        assert (
            await client.put(f"/v1/candidates/{ext}", json=body, headers=alpha)
        ).status_code == 201
    erase = text("DELETE FROM candidates WHERE external_id = :e")
    async with app.state.sessionmaker() as first, app.state.sessionmaker() as second:
        await first.execute(erase, {"e": "first"})
        await second.execute(erase, {"e": "second"})
        # each sees the other's holder, not yet deleted for it
        assert await forget_unused_labels(first, ["Night Porter"]) == 0
        waiting = asyncio.create_task(forget_unused_labels(second, ["Night Porter"]))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # its turn comes when the first commits
        await first.commit()
        assert await waiting == 1
        await second.commit()
    held = await cached_hashes(owner_engine, encoder.model_id)
    assert label_keys.label_hash("Night Porter") not in held


async def test_a_snapshot_from_before_the_keyed_hashes_still_names_its_matched_skills(
    client, make_key, owner_engine
):
    """Snapshots stored before migration 0016 hold the unkeyed short hash of each matched
    label; read back, the label is named as before (and only for the same label)."""
    headers = await make_key("alpha", "admin")
    assert (
        await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=headers)
    ).status_code == 201
    assert (
        await client.put("/v1/vacancies/vac-1", json=payloads.vacancy(), headers=headers)
    ).status_code == 201
    assert (
        await client.put("/v1/candidates/c-1", json=payloads.candidate(), headers=headers)
    ).status_code == 201
    made = (await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=headers)).json()
    named = [m["matched_by"] for m in made["items"][0]["explanation"]["matched_skills"]]
    assert "food preparation" in named
    unkeyed = hashlib.sha256(b"food preparation").hexdigest()[:16]
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE shortlist_items SET explanation = jsonb_set(explanation, "
                "'{matched_skills}', (SELECT jsonb_agg(CASE WHEN m->>'matched_index' = '0' "
                "THEN m || jsonb_build_object('matched_ref', CAST(:ref AS text)) ELSE m END) "
                "FROM jsonb_array_elements(explanation->'matched_skills') m))"
            ),
            {"ref": unkeyed},
        )
    read = (await client.get(f"/v1/shortlists/{made['id']}", headers=headers)).json()
    assert [m["matched_by"] for m in read["items"][0]["explanation"]["matched_skills"]] == named
