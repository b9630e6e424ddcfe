"""Learned rankers end to end (issue 13): train → artefact → activate → shortlists carry the
version → rollback; too little feedback; a model no better than the active one; a tampered
artefact; tenant isolation; another process serving an activation on its next request."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import text

from app.cli import cli
from app.services import model_registry
from tests.cli_helpers import Sql
from tests.learning_fixtures import is_near, load_programme, scouts_decide

SMALL = ["--min-examples", "100", "--min-positives", "20"]


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def run_cli(cli_env, *args):
    result = await asyncio.to_thread(cli_env.invoke, cli, list(args))
    return result


async def train(cli_env, *args, tenant="alpha"):
    result = await run_cli(cli_env, "train", "--tenant", tenant, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


async def shortlist_version(client, headers, vacancy="vac-00"):
    made = await client.post(f"/v1/vacancies/{vacancy}/shortlists", json={}, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()


@pytest.fixture
async def learnt(client, admin, cli_env, settings):
    """A tenant whose scouts only interview people living near; trained and activated."""
    model_registry.configure(settings.models_dir)
    shortlists = await load_programme(client, admin)
    default_version = shortlists[0]["ranker_version"]
    await scouts_decide(client, admin, shortlists)
    summary = await train(cli_env, *SMALL)
    return default_version, summary


async def test_train_activate_serve_and_roll_back(client, admin, learnt, settings):
    default_version, summary = learnt
    assert summary["activated"] is True, summary
    version = summary["version"]
    assert version.startswith("learned-")
    assert summary["holdout"]["new"] > summary["holdout"]["active"]
    assert summary["holdout"]["difference_interval_95"][0] > 0
    assert summary["holdout"]["active_version"] == default_version
    assert summary["counts"]["examples"] == 240
    assert summary["counts"]["positives"] == 120

    listed = (await client.get("/v1/models", headers=admin)).json()
    assert listed["active"] == version
    assert listed["serving"] == version
    model = (await client.get(f"/v1/models/{version}", headers=admin)).json()
    assert model["active"] is True
    assert (settings.models_dir / f"{model['sha256']}.skops").is_file()
    assert set(model["libraries"]) == {"ponte", "scikit-learn", "numpy", "skops"}
    assert model["parent_version"] == default_version

    made = await shortlist_version(client, admin)
    assert made["ranker_version"] == version
    # the learnt ranker puts the people who live near first, as the scouts do
    top = [i["candidate_external_id"] for i in made["items"][:10]]
    assert all(is_near(c) for c in top), top
    # its explanation is exact: contributions sum to the score minus the model's baseline
    baseline = model["scoring"]["baseline"]
    for item in made["items"][:5]:
        parts = item["explanation"]["contributions"]
        total = sum(v for v in parts.values() if v is not None)
        assert total == pytest.approx(item["score"] - baseline, abs=1e-3)

    rolled = await client.post("/v1/models/rollback", headers=admin)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["active"] is None
    assert (await shortlist_version(client, admin))["ranker_version"] == default_version
    # nothing served before the default here: a second rollback has nowhere to go
    again = await client.post("/v1/models/rollback", headers=admin)
    assert again.status_code == 409
    reactivated = await client.post(f"/v1/models/{version}/activate", headers=admin)
    assert reactivated.status_code == 200

    # every switch asked for a re-rank of the open vacancies, in the switch's own transaction;
    # no worker ran meanwhile, so the later switches joined the first one's waiting job
    jobs = (await client.get("/v1/jobs", headers=admin)).json()["items"]
    assert [(j["trigger"], j["state"], j["params"]["vacancies"], j["total"]) for j in jobs] == [
        ("activate", "queued", 10, 1)
    ]
    assert [c["trigger"] for c in jobs[0]["params"]["coalesced"]] == ["rollback", "activate"]
    assert summary["rerank_job_id"] == jobs[0]["id"]
    assert rolled.json()["rerank_job_id"] == jobs[0]["id"]
    assert reactivated.json()["rerank_job_id"] == jobs[0]["id"]

    # each is an entry of the audit trail, with the version it concerned (the refused second
    # rollback changed nothing and is not one)
    trail = await client.get("/v1/audit", params={"action": "model"}, headers=admin)
    entries = trail.json()["items"]
    assert [(e["action"], e["ranker_version"]) for e in entries] == [
        ("model.train", version),
        ("model.activate", version),
        ("model.rollback", default_version),
        ("model.activate", version),
    ]
    assert entries[0]["actor"]["role"] == "operator"
    assert entries[0]["detail"]["examples"] == 240
    assert entries[2]["detail"] == {"from": version, "to": None}


async def test_each_tenants_batch_run_uses_its_own_active_ranker(
    client, admin, learnt, cli_env, make_key, owner_engine
):
    _, summary = learnt
    beta = await make_key("beta", "admin")
    await load_programme(client, beta, people=12, vacancies=2)
    # one run over every tenant: alpha's learnt model, beta's default scorer
    result = await run_cli(cli_env, "rerank", "--limit", "5")
    assert result.exit_code == 0, result.output
    views = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert sorted((v["state"], v["vacancies"]) for v in views) == [("done", 2), ("done", 10)]
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT t.name, s.ranker_version, count(*) FROM shortlists s JOIN tenants t "
                "ON t.id = s.tenant_id WHERE s.origin = 'batch' GROUP BY 1, 2 ORDER BY 1"
            )
        )
        found = [tuple(row) for row in rows]
    assert found[0] == ("alpha", summary["version"], 10)
    assert found[1][0] == "beta"
    assert found[1][1].startswith("weighted-v1")
    assert found[1][2] == 2


async def test_rollbacks_walk_back_one_activation_at_a_time(client, admin, learnt, cli_env):
    _, first = learnt
    # a second model (unbounded tilt: other bytes), switched to by hand whatever its holdout
    second = await train(cli_env, *SMALL, "--max-tilt", "0")
    assert second["version"] not in (None, first["version"])
    switched = await client.post(f"/v1/models/{second['version']}/activate", headers=admin)
    assert switched.status_code == 200, switched.text
    assert (await shortlist_version(client, admin))["ranker_version"] == second["version"]
    back = await client.post("/v1/models/rollback", headers=admin)
    assert back.json()["active"] == first["version"]
    assert (await shortlist_version(client, admin))["ranker_version"] == first["version"]
    back = await client.post("/v1/models/rollback", headers=admin)
    assert back.json()["active"] is None
    assert (await client.post("/v1/models/rollback", headers=admin)).status_code == 409
    unknown = await client.post("/v1/models/learned-0000000000000000/activate", headers=admin)
    assert unknown.status_code == 404
    assert (await client.get("/v1/models/not a version", headers=admin)).status_code == 422


async def test_too_little_feedback_is_refused_and_nothing_activates(client, admin, cli_env):
    shortlists = await load_programme(client, admin, people=12, vacancies=3)
    await scouts_decide(client, admin, shortlists)
    summary = await train(cli_env)
    assert summary["version"] is None
    assert summary["activated"] is False
    assert "needs 164 more labelled examples and 2 more positive ones" in summary["reason"]
    assert (await client.get("/v1/models", headers=admin)).json()["items"] == []
    assert (await shortlist_version(client, admin))["ranker_version"].startswith("weighted-v1")


async def test_a_model_no_better_than_the_active_one_is_not_activated(
    client, admin, cli_env, settings
):
    model_registry.configure(settings.models_dir)
    shortlists = await load_programme(client, admin)
    # the scouts agree with the default scorer: they interview its top five
    top = {s["id"]: {i["candidate_external_id"] for i in s["items"][:5]} for s in shortlists}
    for s in shortlists:
        await scouts_decide(client, admin, [s], prefer=lambda c, s=s: c in top[s["id"]])
    summary = await train(cli_env, *SMALL, "--min-positives", "10")
    assert summary["activated"] is False, summary
    assert summary["version"] is not None  # registered as evidence, not served
    assert "not better" in summary["reason"]
    assert (await client.get("/v1/models", headers=admin)).json()["active"] is None
    assert (await shortlist_version(client, admin))["ranker_version"].startswith("weighted-v1")


async def test_a_dry_run_compares_and_writes_nothing(client, admin, cli_env, settings):
    model_registry.configure(settings.models_dir)
    shortlists = await load_programme(client, admin)
    await scouts_decide(client, admin, shortlists)
    before = set(settings.models_dir.glob("*.skops")) if settings.models_dir.exists() else set()
    summary = await train(cli_env, *SMALL, "--dry-run")
    assert summary["activated"] is False
    assert summary["dry_run"] is True
    assert summary["holdout"]["difference_interval_95"][0] > 0  # it would have been
    assert (await client.get("/v1/models", headers=admin)).json()["items"] == []
    assert set(settings.models_dir.glob("*.skops")) == before
    assert summary["counts"]["examples"] == 240
    # people erased since are left out of what is learnt: 10 shortlists showed each of them
    for gone in ("cand-00", "cand-01"):
        assert (await client.delete(f"/v1/candidates/{gone}", headers=admin)).status_code == 204
    again = await train(cli_env, *SMALL, "--dry-run")
    assert again["counts"]["examples"] == 220


async def test_a_tampered_artefact_is_refused_and_the_default_served(
    client, admin, learnt, settings
):
    default_version, summary = learnt
    version = summary["version"]
    model = (await client.get(f"/v1/models/{version}", headers=admin)).json()
    path = settings.models_dir / f"{model['sha256']}.skops"
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes() + b"\0")
    model_registry.configure(settings.models_dir)  # as a freshly started process
    made = await shortlist_version(client, admin)
    assert made["ranker_version"] == default_version
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert ready["checks"]["rankers"].startswith("1 tenant(s) served the default scorer")
    assert version not in json.dumps(ready)  # which, and why, only in the log
    refused = await client.post(f"/v1/models/{version}/activate", headers=admin)
    assert refused.status_code == 409
    assert "checksum" in refused.json()["detail"]
    # back to the default on purpose: the fallback is no longer reported
    assert (await client.post("/v1/models/rollback", headers=admin)).status_code == 200
    await shortlist_version(client, admin)
    assert (await client.get("/readyz")).json()["checks"]["rankers"] == "ok"


async def test_untrusted_types_and_another_feature_version_are_refused(
    admin, learnt, settings, owner_engine
):
    from sqlalchemy import text

    from app.db.engine import session_factory

    _, summary = learnt
    version = summary["version"]
    digest = model_registry.write_artefact({"format": "x", "evil": _Untrusted()})
    async with session_factory(owner_engine)() as session:
        tenant_id = await session.scalar(text("SELECT id FROM tenants WHERE name = 'alpha'"))
        await session.execute(
            text("UPDATE ranker_models SET sha256 = :d WHERE version = :v"),
            {"d": digest, "v": version},
        )
        model_registry.configure(settings.models_dir)
        with pytest.raises(model_registry.ArtefactError, match="untrusted types"):
            await model_registry.load(session, tenant_id, version)
        await session.execute(
            text("UPDATE ranker_models SET feature_version = 'features-v0' WHERE version = :v"),
            {"v": version},
        )
        with pytest.raises(model_registry.ArtefactError, match="trained on features-v0"):
            await model_registry.load(session, tenant_id, version)
        await session.rollback()


async def test_a_ranker_trained_with_another_embedding_model_is_not_served(
    client, admin, learnt, settings, owner_engine, cli_env, app
):
    """A ranker's features are its embedding model's cosines: under another model (after a
    model change) it is not served or activated, and training learns only from shortlists
    made with the service's model."""
    default_version, summary = learnt
    version = summary["version"]
    shown = (await client.get(f"/v1/models/{version}", headers=admin)).json()
    assert shown["embedding_model"] == app.state.encoder.model_id
    assert (await shortlist_version(client, admin))["ranker_version"] == version
    sql = Sql(owner_engine)
    await sql.execute("UPDATE ranker_models SET embedding_model = 'another-model'")
    model_registry.configure(settings.models_dir)  # what a restart under the new model reads
    assert (await shortlist_version(client, admin))["ranker_version"] == default_version
    assert "another embedding model" in (await client.get("/readyz")).json()["checks"]["rankers"]
    refused = await client.post(f"/v1/models/{version}/activate", headers=admin)
    assert refused.status_code == 409
    assert "another-model" in refused.json()["detail"]
    before = await train(cli_env, *SMALL, "--dry-run")
    assert before["counts"]["examples"] > 0
    await sql.execute("UPDATE shortlists SET embedding_model = 'another-model'")
    after = await train(cli_env, *SMALL, "--dry-run")
    assert after["counts"]["examples"] == 0


class _Untrusted:
    """A type skops does not trust: loading it could run code."""


async def test_another_tenant_is_never_served_the_model(
    client, admin, learnt, make_key, owner_engine
):
    from sqlalchemy import text

    _, summary = learnt
    version = summary["version"]
    other = await make_key("beta", "admin")
    await load_programme(client, other, people=4, vacancies=1)
    made = await shortlist_version(client, other)
    assert made["ranker_version"].startswith("weighted-v1")
    # even pointed at alpha's version behind the API's back, beta is served the default
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE tenants SET active_ranker = :v WHERE name = 'beta'"), {"v": version}
        )
    assert (await shortlist_version(client, other))["ranker_version"].startswith("weighted-v1")
    assert (await shortlist_version(client, admin))["ranker_version"] == version
    assert (await client.get(f"/v1/models/{version}", headers=other)).status_code == 404
    assert (await client.post(f"/v1/models/{version}/activate", headers=other)).status_code == 404
    assert (await client.get("/v1/models", headers=other)).json()["items"] == []


async def test_scouts_cannot_see_or_switch_models(client, learnt, make_key):
    _, _summary = learnt
    scout = await make_key("alpha", "scout")
    integration = await make_key("alpha", "integration")
    for headers in (scout, integration):
        assert (await client.get("/v1/models", headers=headers)).status_code == 403
        assert (await client.post("/v1/models/rollback", headers=headers)).status_code == 403


async def test_another_process_serves_an_activation_on_its_next_request(
    client, admin, learnt, database, settings, tmp_path
):
    _, summary = learnt
    version = summary["version"]
    rolled = await client.post("/v1/models/rollback", headers=admin)
    assert rolled.json()["active"] is None
    port = 8000 + os.getpid() % 1000 + 7
    env = {
        **os.environ,
        "DATABASE_URL": database.owner.render_as_string(hide_password=False),
        "PONTE_MODELS_DIR": str(settings.models_dir),
        "PONTE_LOG_LEVEL": "WARNING",
        "PONTE_LOG_JSON": "true",
    }
    ponte = os.path.join(os.path.dirname(sys.executable), "ponte")
    server = subprocess.Popen(  # noqa: S603, ASYNC220 - a second process, started once
        [ponte, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, headers=admin, timeout=30) as other:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if (await other.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the second process did not start"
                await asyncio.sleep(0.5)
            first = await other.post("/v1/vacancies/vac-00/shortlists", json={})
            assert first.json()["ranker_version"].startswith("weighted-v1")
            # activated here, served there on its very next request
            assert (
                await client.post(f"/v1/models/{version}/activate", headers=admin)
            ).status_code == 200
            second = await other.post("/v1/vacancies/vac-00/shortlists", json={})
            assert second.json()["ranker_version"] == version
    finally:
        server.terminate()
        server.wait(timeout=30)


async def test_a_failing_model_is_not_reread_on_every_request(
    client, admin, learnt, settings, owner_engine, monkeypatch
):
    from sqlalchemy import text

    from app.db.engine import session_factory

    _, summary = learnt
    model = (await client.get(f"/v1/models/{summary['version']}", headers=admin)).json()
    path = settings.models_dir / f"{model['sha256']}.skops"
    os.chmod(path, 0o644)
    path.write_bytes(b"not a model")
    model_registry.configure(settings.models_dir)
    reads = []
    real = model_registry.read_artefact
    monkeypatch.setattr(model_registry, "read_artefact", lambda d: reads.append(d) or real(d))
    async with session_factory(owner_engine)() as session:
        tenant_id = await session.scalar(text("SELECT id FROM tenants WHERE name = 'alpha'"))
        for _ in range(3):
            assert await model_registry.serving(session, tenant_id, summary["version"]) is None
    assert len(reads) == 1  # tried again only after RETRY_FAILED_S


async def test_feedback_on_features_v2_shortlists_still_trains(
    client, admin, cli_env, settings, owner_engine
):
    model_registry.configure(settings.models_dir)
    shortlists = await load_programme(client, admin)
    await scouts_decide(client, admin, shortlists)
    # as a programme's history made before the taxonomy features: features-v2, without them
    async with owner_engine.begin() as conn:
        await conn.execute(text("UPDATE shortlists SET feature_version = 'features-v2'"))
        await conn.execute(
            text(
                "UPDATE shortlist_items SET features = features - 'esco_skills' - 'occupation' "
                "- 'title_occupation'"
            )
        )
    summary = await train(cli_env, *SMALL, "--dry-run")
    assert summary["counts"]["examples"] == 240  # as many as from features-v3 shortlists
    # an older version's features mean something else: not read
    async with owner_engine.begin() as conn:
        await conn.execute(text("UPDATE shortlists SET feature_version = 'features-v1'"))
    older = await train(cli_env, *SMALL, "--dry-run")
    assert older["counts"]["examples"] == 0


async def test_training_names_a_missing_model_folder(cli_env, tmp_path):
    """Training reads only the shortlists of the service's model: a wrong model folder is an
    error that says so, not an empty training set."""
    missing = tmp_path / "no-model"
    result = await asyncio.to_thread(
        cli_env.invoke, cli, ["train", "--tenant", "alpha"], env={"PONTE_MODEL_PATH": str(missing)}
    )
    assert result.exit_code != 0
    assert "model folder not found" in result.output
