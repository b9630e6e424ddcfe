"""The skill-label cache shared by every tenant: keyed by the deployment's secret, and found
again under it."""

from __future__ import annotations

import hashlib
import hmac
import stat

import pytest
from sqlalchemy import text

from app.ml import text as ml_text
from app.services import label_key as label_keys
from app.services.vectors import VectorService, forget_skill_vectors
from tests import payloads
from tests.conftest import make_settings

OTHER_KEY = "another deployment's key, 32 chars or more"


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
