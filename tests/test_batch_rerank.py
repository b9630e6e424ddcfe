"""Batch re-ranking (issue 14): jobs split into tasks, run by workers in this process and in
real ``ponte`` processes (one killed with SIGKILL mid-run, two sharing a run)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from app.services.jobs import queue_rerank
from app.services.worker import run_one, run_until
from tests import payloads
from tests.learning_fixtures import CENTRE, TITLES, person


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def programme(client, headers, people=12, vacancies=6, closed=("vac-c",), filled=("vac-f",)):
    """People and open vacancies, and one closed and one filled vacancy."""
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=headers)
    for i in range(people):
        r = await client.put(f"/v1/candidates/cand-{i:02d}", json=person(i), headers=headers)
        assert r.status_code in (200, 201), r.text
    for v in range(vacancies):
        body = payloads.vacancy(title=TITLES[v % len(TITLES)], location=CENTRE)
        r = await client.put(f"/v1/vacancies/vac-{v:02d}", json=body, headers=headers)
        assert r.status_code in (200, 201), r.text
    for name, status in [*((c, "closed") for c in closed), *((f, "filled") for f in filled)]:
        body = payloads.vacancy(title="Lavapiatti", location=CENTRE, status=status)
        r = await client.put(f"/v1/vacancies/{name}", json=body, headers=headers)
        assert r.status_code in (200, 201), r.text


async def work(app, encoder, job_id=None):
    return await run_until(
        app.state.sessionmaker, encoder, asyncio.Event(), job_id=job_id, until_idle=True
    )


async def batch_counts(owner_engine, job_id) -> dict[str, int]:
    """Per vacancy (external id), the batch snapshots this job stored."""
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT v.external_id, count(*) FROM shortlists s JOIN vacancies v "
                "ON v.id = s.vacancy_id WHERE s.job_id = :j AND s.origin = 'batch' "
                "GROUP BY v.external_id"
            ),
            {"j": job_id},
        )
        return {row[0]: row[1] for row in rows}


def _close(a, b, path="") -> None:
    """Equal structures, numbers to float32 rounding: the block's products and a single
    ranking's come from different BLAS kernels (docs/ARCHITECTURE.md, Batch jobs); a figure
    shown to 4 decimals may then differ in its last."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, abs=1.01e-4), path
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def assert_same_ranking(batch: list[dict], api: list[dict], name: str) -> None:
    """The same items, each as the API's to float32 rounding, ranked 1, 2, … in an order the
    API's scores agree with: only candidates whose scores tie to that rounding may swap, or
    change places across the last rank (the fixture's people include identical twins)."""
    assert [i["rank"] for i in batch] == list(range(1, len(batch) + 1)), name
    assert [i["rank"] for i in api] == list(range(1, len(api) + 1)), name
    ids = [i["candidate_external_id"] for i in batch]
    by_candidate = {item["candidate_external_id"]: item for item in api}
    assert len(set(ids)) == len(ids) == len(by_candidate) == len(api), name
    for only, items in ((set(ids) - set(by_candidate), batch), (set(by_candidate) - set(ids), api)):
        for item in items:
            if item["candidate_external_id"] in only:  # tied with the last one kept
                assert item["score"] == pytest.approx(items[-1]["score"], abs=2e-6), name
    shared = [item for item in batch if item["candidate_external_id"] in by_candidate]
    for item in shared:
        asked = by_candidate[item["candidate_external_id"]]
        assert item["score"] == pytest.approx(asked["score"], abs=2e-6), name
        _close(
            {k: v for k, v in item.items() if k != "rank"},
            {k: v for k, v in asked.items() if k != "rank"},
            name,
        )
    scores = [by_candidate[i["candidate_external_id"]]["score"] for i in shared]
    assert all(a >= b - 2e-6 for a, b in itertools.pairwise(scores)), name


async def test_a_run_stores_one_batch_snapshot_per_open_vacancy_equal_to_the_apis(
    app, client, admin, encoder, owner_engine
):
    await programme(client, admin)
    queued = await client.post("/v1/jobs/rerank", json={"limit": 10, "block": 4}, headers=admin)
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["state"] == "queued"
    assert (job["total"], job["done"], job["params"]["vacancies"]) == (2, 0, 6)

    assert await work(app, encoder) == 2
    done = (await client.get(f"/v1/jobs/{job['id']}", headers=admin)).json()
    assert done["state"] == "done", done
    assert (done["done"], done["failed"], done["vacancies"], done["skipped"]) == (2, 0, 6, 0)
    assert done["started_at"]
    assert done["finished_at"]
    # every open vacancy once; the closed and the filled one not at all
    assert await batch_counts(owner_engine, job["id"]) == {f"vac-{v:02d}": 1 for v in range(6)}
    # each snapshot of the run is an entry of the audit trail, made by the worker for the job
    made = await client.get("/v1/audit", params={"action": "shortlist.create"}, headers=admin)
    entries = made.json()["items"]
    assert len(entries) == 6
    assert {e["actor"]["role"] for e in entries} == {"worker"}
    assert all({"type": "job", "id": job["id"]} in e["objects"] for e in entries)
    assert {e["detail"]["origin"] for e in entries} == {"batch"}

    # Each vacancy of the run, ranked by the batch (its block ranked together) and by the API
    # in the same state: the same snapshot (to float32 rounding).
    for v in range(6):
        name = f"vac-{v:02d}"
        listed = (await client.get(f"/v1/vacancies/{name}/shortlists", headers=admin)).json()
        assert [(s["origin"], s["job_id"]) for s in listed["items"]] == [("batch", job["id"])]
        batch = await client.get(f"/v1/shortlists/{listed['items'][0]['id']}", headers=admin)
        asked = await client.post(
            f"/v1/vacancies/{name}/shortlists", json={"limit": 10}, headers=admin
        )
        assert asked.status_code == 201
        api, batch = asked.json(), batch.json()
        assert (api["origin"], api["job_id"]) == ("request", None)
        for key in ("ranker_version", "feature_version", "embedding_model", "considered", "params"):
            assert batch[key] == api[key], (name, key)
        assert batch["excluded_by_gate"] == api["excluded_by_gate"], name
        assert_same_ranking(batch["items"], api["items"], name)
        assert len(api["items"]) == 10


async def test_automatic_triggers_join_a_waiting_run_until_a_worker_starts_it(
    app, client, admin, encoder, owner_engine
):
    await programme(client, admin, vacancies=3)
    async with owner_engine.connect() as conn:
        tenant_id = await conn.scalar(text("SELECT id FROM tenants WHERE name = 'alpha'"))

    async def queue(trigger):
        async with app.state.sessionmaker() as session, session.begin():
            job = await queue_rerank(session, tenant_id, trigger, block=2, created_by="test")
            return str(job.id)

    first = await queue("reembed")
    body = payloads.vacancy(title=TITLES[0], location=CENTRE)
    assert (await client.put("/v1/vacancies/vac-new", json=body, headers=admin)).status_code == 201
    # waiting: an activation joins it, and the vacancy opened since gets a task of its own
    assert await queue("activate") == first
    job = (await client.get(f"/v1/jobs/{first}", headers=admin)).json()
    assert (job["total"], job["params"]["vacancies"]) == (3, 4)
    assert [c["trigger"] for c in job["params"]["coalesced"]] == ["activate"]
    # a person's request is their own job
    asked = await client.post("/v1/jobs/rerank", json={"block": 2}, headers=admin)
    assert asked.json()["id"] != first
    # once a worker has started a job, the next trigger joins the one still waiting (a
    # person's, here), and with none waiting it queues a new one
    assert (await run_one(app.state.sessionmaker, encoder, uuid.UUID(first))) is not None
    assert await queue("rollback") == asked.json()["id"]
    assert await work(app, encoder) == 2 + 2  # first's last two tasks, then the person's
    assert await queue("reembed") not in (first, asked.json()["id"])
    counts = await batch_counts(owner_engine, first)
    assert counts == {name: 1 for name in ("vac-00", "vac-01", "vac-02", "vac-new")}


async def test_a_vacancy_deleted_while_its_block_ranks_is_skipped_and_the_rest_stored(
    app, client, admin, encoder, owner_engine, monkeypatch
):
    from app.services.ranking import RankingService

    await programme(client, admin, vacancies=3)
    queued = (await client.post("/v1/jobs/rerank", json={"block": 3}, headers=admin)).json()
    ranked_block = RankingService.rank_candidates_block

    async def deleting_one(self, vacancies, *args, **kwargs):
        ranked = await ranked_block(self, vacancies, *args, **kwargs)
        async with owner_engine.begin() as conn:  # someone else, committed meanwhile
            await conn.execute(text("DELETE FROM vacancies WHERE external_id = 'vac-01'"))
        return ranked

    monkeypatch.setattr(RankingService, "rank_candidates_block", deleting_one)
    assert await work(app, encoder) == 1
    done = (await client.get(f"/v1/jobs/{queued['id']}", headers=admin)).json()
    assert (done["state"], done["vacancies"], done["skipped"], done["errors"]) == ("done", 2, 1, [])
    assert await batch_counts(owner_engine, queued["id"]) == {"vac-00": 1, "vac-02": 1}


async def test_a_task_whose_worker_dies_each_time_is_given_up_on(
    app, client, admin, encoder, owner_engine
):
    from app.services.worker import MAX_CLAIMS

    await programme(client, admin, vacancies=2)
    queued = (await client.post("/v1/jobs/rerank", json={"block": 1}, headers=admin)).json()
    # task 0 was taken MAX_CLAIMS times already, and no worker lived to record anything
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE jobs SET claims = jsonb_build_object('0', CAST(:n AS integer)) "
                "WHERE id = :j"
            ),
            {"n": MAX_CLAIMS, "j": queued["id"]},
        )
    assert await work(app, encoder) == 2
    done = (await client.get(f"/v1/jobs/{queued['id']}", headers=admin)).json()
    assert (done["state"], done["done"], done["failed"], done["vacancies"]) == ("failed", 1, 1, 1)
    assert "each time the worker died" in done["errors"][0]["error"]
    assert done["errors"][0]["task"] == 0
    assert await batch_counts(owner_engine, queued["id"]) == {"vac-01": 1}


async def test_vacancies_named_closed_or_unknown(app, client, admin, encoder, owner_engine):
    await programme(client, admin)
    unknown = await client.post(
        "/v1/jobs/rerank", json={"vacancies": ["vac-00", "nope"]}, headers=admin
    )
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["detail"]
    named = await client.post(
        "/v1/jobs/rerank", json={"vacancies": ["vac-01", "vac-c", "vac-f"]}, headers=admin
    )
    job = named.json()
    assert job["params"]["vacancies"] == 1  # the closed and the filled one are skipped
    await work(app, encoder)
    assert await batch_counts(owner_engine, job["id"]) == {"vac-01": 1}


async def test_a_vacancy_closed_after_queueing_is_skipped(
    app, client, admin, encoder, owner_engine
):
    await programme(client, admin, vacancies=3)
    job = (await client.post("/v1/jobs/rerank", json={}, headers=admin)).json()
    body = payloads.vacancy(title=TITLES[1], location=CENTRE, status="closed")
    assert (await client.put("/v1/vacancies/vac-01", json=body, headers=admin)).status_code == 200
    await work(app, encoder)
    done = (await client.get(f"/v1/jobs/{job['id']}", headers=admin)).json()
    assert (done["vacancies"], done["skipped"]) == (2, 1)
    assert await batch_counts(owner_engine, job["id"]) == {"vac-00": 1, "vac-02": 1}


async def test_jobs_are_the_tenants_own_and_admin_only(app, client, admin, make_key, encoder):
    await programme(client, admin, vacancies=2)
    job = (await client.post("/v1/jobs/rerank", json={}, headers=admin)).json()
    other = await make_key("beta", "admin")
    assert (await client.get(f"/v1/jobs/{job['id']}", headers=other)).status_code == 404
    assert (await client.post(f"/v1/jobs/{job['id']}/cancel", headers=other)).status_code == 404
    assert (await client.get("/v1/jobs", headers=other)).json()["items"] == []
    scout = await make_key("alpha", "scout")
    assert (await client.get("/v1/jobs", headers=scout)).status_code == 403
    assert (await client.post("/v1/jobs/rerank", json={}, headers=scout)).status_code == 403
    bad = await client.post("/v1/jobs/rerank", json={"limit": 0}, headers=admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    newest = (await client.post("/v1/jobs/rerank", json={}, headers=admin)).json()
    listed = (await client.get("/v1/jobs", headers=admin)).json()["items"]
    assert [j["id"] for j in listed] == [newest["id"], job["id"]]
    # a cancelled job starts no more tasks
    cancelled = await client.post(f"/v1/jobs/{newest['id']}/cancel", headers=admin)
    assert cancelled.json()["state"] == "cancelled"
    assert await work(app, encoder) == 1  # only the first job's one task
    after = (await client.get(f"/v1/jobs/{newest['id']}", headers=admin)).json()
    assert (after["state"], after["done"]) == ("cancelled", 0)


async def test_a_failing_task_is_retried_then_failed_with_its_errors(
    app, client, admin, encoder, monkeypatch
):
    from app.services import worker

    await programme(client, admin, vacancies=2)
    job = (await client.post("/v1/jobs/rerank", json={}, headers=admin)).json()

    async def broken(*args, **kwargs):
        raise RuntimeError("the ranking broke")

    monkeypatch.setattr(worker, "rerank_block", broken)
    assert await work(app, encoder) == worker.MAX_ATTEMPTS
    failed = (await client.get(f"/v1/jobs/{job['id']}", headers=admin)).json()
    assert (failed["state"], failed["failed"], failed["done"]) == ("failed", 1, 0)
    assert [e["attempt"] for e in failed["errors"]] == [1, 2, 3]
    assert all(e["error"] == "RuntimeError: the ranking broke" for e in failed["errors"])


# -- real processes ------------------------------------------------------------------------------


def _env(database, settings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database.owner.render_as_string(hide_password=False),
        "PONTE_MODELS_DIR": str(settings.models_dir),
        "PONTE_LOG_JSON": "true",
    }


def _ponte() -> str:
    return str(Path(sys.executable).with_name("ponte"))


async def _wait_for(predicate, seconds=180.0, every=0.2):
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(every)


async def _tasks_done(owner_engine, job_id) -> int:
    async with owner_engine.connect() as conn:
        return await conn.scalar(
            text("SELECT count(*) FROM job_tasks WHERE job_id = :j AND state = 'done'"),
            {"j": job_id},
        )


async def test_a_killed_run_resumed_stores_each_vacancy_exactly_once(
    client, admin, database, settings, owner_engine
):
    await programme(client, admin, vacancies=12)
    env = _env(database, settings)
    run = subprocess.Popen(  # noqa: S603, ASYNC220 - the process under test
        [_ponte(), "rerank", "--tenant", "alpha", "--block", "1", "--limit", "10"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:

        async def started() -> bool:
            async with owner_engine.connect() as conn:
                return bool(await conn.scalar(text("SELECT count(*) FROM jobs")))

        await _wait_for(started)
        async with owner_engine.connect() as conn:
            job_id = await conn.scalar(text("SELECT id FROM jobs"))

        async def some_done() -> bool:
            return await _tasks_done(owner_engine, job_id) >= 2

        await _wait_for(some_done, every=0.05)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    killed_at = await _tasks_done(owner_engine, job_id)
    assert killed_at < 12, "the run finished before it was killed: give it more work"
    resumed = await asyncio.to_thread(
        subprocess.run,
        [_ponte(), "rerank", "--resume", str(job_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    view = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert (view["state"], view["done"], view["vacancies"]) == ("done", 12, 12)
    assert view["errors"] == []  # no task was done twice (a second snapshot would be refused)
    assert await batch_counts(owner_engine, job_id) == {f"vac-{v:02d}": 1 for v in range(12)}


async def test_two_workers_share_a_run_and_rank_each_vacancy_once(
    client, admin, database, settings, owner_engine, tmp_path
):
    await programme(client, admin, vacancies=16)
    env = _env(database, settings)
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    workers = [
        subprocess.Popen(  # noqa: S603, ASYNC220 - the processes under test
            [_ponte(), "worker", "--poll", "0.2"], env=env, stderr=log.open("w")
        )
        for log in logs
    ]
    try:

        async def ready() -> bool:
            return all(log.exists() and " ready" in log.read_text() for log in logs)

        await _wait_for(ready)
        job = (await client.post("/v1/jobs/rerank", json={"block": 1}, headers=admin)).json()
        job_id = uuid.UUID(job["id"])

        async def finished() -> bool:
            view = (await client.get(f"/v1/jobs/{job_id}", headers=admin)).json()
            return view["state"] == "done"

        await _wait_for(finished, seconds=300)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    assert [p.returncode for p in workers] == [0, 0]  # SIGTERM: a clean stop
    assert await batch_counts(owner_engine, job_id) == {f"vac-{v:02d}": 1 for v in range(16)}
    async with owner_engine.connect() as conn:
        by = await conn.scalar(
            text("SELECT count(DISTINCT worker) FROM job_tasks WHERE job_id = :j"), {"j": job_id}
        )
    assert by == 2, "both workers should have taken tasks"
    view = (await client.get(f"/v1/jobs/{job_id}", headers=admin)).json()
    assert view["errors"] == []  # no task was claimed twice


def test_changes_name_who_entered_left_and_moved():
    from app.services.shortlist_changes import compare

    older = [(1, "a"), (2, "b"), (3, "c"), (4, None), (5, "d")]
    newer = [(1, "b"), (2, "a"), (3, "e"), (4, "c"), (5, "f")]
    found = compare(older, newer)
    assert found["entered"] == [
        {"candidate_external_id": "e", "rank": 3},
        {"candidate_external_id": "f", "rank": 5},
    ]
    assert found["left"] == [{"candidate_external_id": "d", "rank": 5}]
    assert found["moved"] == [
        {"candidate_external_id": "b", "from": 2, "to": 1, "by": 1},
        {"candidate_external_id": "a", "from": 1, "to": 2, "by": -1},
        {"candidate_external_id": "c", "from": 3, "to": 4, "by": -1},
    ]
    assert (found["unchanged"], found["changed"]) == (0, True)
    # within the top 2 only a and b swapped
    top = compare(older, newer, top=2)
    assert (top["entered"], top["left"], len(top["moved"])) == ([], [], 2)
    assert compare(newer, newer)["changed"] is False


async def test_the_changes_endpoint_compares_the_two_latest_snapshots(client, admin):
    await programme(client, admin, vacancies=1)
    none_yet = await client.get("/v1/vacancies/vac-00/shortlists/changes", headers=admin)
    assert none_yet.status_code == 404
    first = await client.post("/v1/vacancies/vac-00/shortlists", json={"limit": 5}, headers=admin)
    only = (await client.get("/v1/vacancies/vac-00/shortlists/changes", headers=admin)).json()
    assert only["older"] is None
    assert [e["candidate_external_id"] for e in only["entered"]] == [
        i["candidate_external_id"] for i in first.json()["items"]
    ]
    # the person ranked first moves far away: they leave the top
    top = first.json()["items"][0]["candidate_external_id"]
    moved_away = person(int(top.split("-")[1]))
    moved_away["location"] = {"municipality": "Roma", "country": "IT", "lat": 41.9, "lon": 12.5}
    assert (
        await client.put(f"/v1/candidates/{top}", json=moved_away, headers=admin)
    ).status_code == 200
    second = await client.post("/v1/vacancies/vac-00/shortlists", json={"limit": 5}, headers=admin)
    changes = (await client.get("/v1/vacancies/vac-00/shortlists/changes", headers=admin)).json()
    assert changes["newer"]["id"] == second.json()["id"]
    assert changes["older"]["id"] == first.json()["id"]
    assert {"candidate_external_id": top, "rank": 1} in changes["left"]
    assert len(changes["entered"]) == len(changes["left"]) == 1
    assert changes["changed"] is True
    unknown = await client.get("/v1/vacancies/nope/shortlists/changes", headers=admin)
    assert unknown.status_code == 404


class Receiver:
    """A local webhook receiver: answers each POST with the next status of ``statuses``."""

    def __init__(self, statuses):
        import http.server
        import threading

        self.statuses = list(statuses)
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = outer.statuses.pop(0) if outer.statuses else 200
                outer.received.append((dict(self.headers), body, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/ponte"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


async def test_a_changed_top_is_posted_signed_with_ids_only_and_retried(
    app, client, admin, encoder, monkeypatch
):
    from types import SimpleNamespace

    from app.services import webhooks, worker

    monkeypatch.setattr(worker, "get_settings", lambda: SimpleNamespace(webhook_retry_base_s=0))
    receiver = Receiver([500])  # the first delivery fails once
    secret = "s3cret-of-the-programme"
    try:
        await programme(client, admin, vacancies=3)
        # a webhook on this machine's own addresses is refused unless the deployment allows it
        local = await client.patch(
            "/v1/tenant/settings",
            json={"webhook_url": receiver.url, "webhook_secret": secret},
            headers=admin,
        )
        assert local.status_code == 422
        assert "private or local address" in local.text
        monkeypatch.setattr(webhooks, "private_allowed", lambda: True)
        off = await client.patch(
            "/v1/tenant/settings", json={"webhook_url": receiver.url}, headers=admin
        )
        assert off.status_code == 422  # a webhook without a secret to sign with
        on = await client.patch(
            "/v1/tenant/settings",
            json={"webhook_url": receiver.url, "webhook_secret": secret},
            headers=admin,
        )
        assert on.status_code == 200, on.text
        shown = on.json()
        assert (shown["webhook_url"], shown["webhook_secret_set"]) == (receiver.url, True)
        assert secret not in on.text

        job = (await client.post("/v1/jobs/rerank", json={"limit": 5}, headers=admin)).json()
        await work(app, encoder)
        # three first shortlists, each a change; the first attempt got a 500 and was retried
        assert [status for _, _, status in receiver.received] == [500, 200, 200, 200]
        view = (await client.get(f"/v1/jobs/{job['id']}", headers=admin)).json()
        deliveries = view["deliveries"]
        assert [d["state"] for d in deliveries] == ["delivered"] * 3
        assert view["delivery_counts"] == {"delivered": 3}
        assert sorted(d["attempts"] for d in deliveries) == [1, 1, 2]
        assert all(d["last_status"] == 200 for d in deliveries)

        vacancies = set()
        for headers, body, _ in receiver.received:
            signature = headers[webhooks.SIGNATURE_HEADER]
            assert webhooks.verify(secret, signature, body)
            assert not webhooks.verify("another-secret-entirely", signature, body)
            assert not webhooks.verify(secret, signature, body + b" ")
            sent = json.loads(body)
            vacancies.add(sent["vacancy_external_id"])
            assert sent["event"] == "shortlist.changed"
            assert sent["previous_shortlist_id"] is None
            assert [e["rank"] for e in sent["entered"]] == [1, 2, 3, 4, 5]
            # external ids, ranks and moves only: no name, no text of anybody's
            text_of = body.decode()
            for personal in ("Aiuto", "Cuoco", "cucina", "food preparation", "knife", "Milano"):
                assert personal not in text_of
            people = {e["candidate_external_id"] for e in sent["entered"]}
            assert all(p.startswith("cand-") for p in people)
        assert vacancies == {"vac-00", "vac-01", "vac-02"}

        # the same state ranked again (and a scout's own shortlist of 3 meanwhile, which a
        # batch does not compare with): nothing changed, nothing sent
        asked = {"limit": 3}
        await client.post("/v1/vacancies/vac-00/shortlists", json=asked, headers=admin)
        again = (await client.post("/v1/jobs/rerank", json={"limit": 5}, headers=admin)).json()
        await work(app, encoder)
        assert len(receiver.received) == 4
        view = (await client.get(f"/v1/jobs/{again['id']}", headers=admin)).json()
        assert view["deliveries"] == []

        # someone on every top moves far away: each vacancy's change set names them as left
        first = json.loads(receiver.received[1][1])
        leaving = first["entered"][0]["candidate_external_id"]
        moved = person(int(leaving.split("-")[1]))
        moved["location"] = {"municipality": "Roma", "country": "IT", "lat": 41.9, "lon": 12.5}
        await client.put(f"/v1/candidates/{leaving}", json=moved, headers=admin)
        third = (await client.post("/v1/jobs/rerank", json={"limit": 5}, headers=admin)).json()
        await work(app, encoder)
        later = [json.loads(body) for _, body, _ in receiver.received[4:]]
        assert later, "the change should have been sent"
        batch_before = {
            s["id"]
            for v in ("vac-00", "vac-01", "vac-02")
            for s in (await client.get(f"/v1/vacancies/{v}/shortlists", headers=admin)).json()[
                "items"
            ]
            if s["job_id"] == again["id"]
        }
        for sent in later:
            assert sent["job_id"] == third["id"]
            assert sent["previous_shortlist_id"] in batch_before
            assert leaving in {e["candidate_external_id"] for e in sent["left"]}
    finally:
        receiver.close()


async def test_a_schedule_queues_one_rerank_per_fire_time(app, client, admin, owner_engine):
    import datetime as dt

    from app.services import schedule

    await programme(client, admin, vacancies=2)
    for wrong in ("every night", "0 0 2 * * *"):  # words; six fields (seconds first)
        bad = await client.patch(
            "/v1/tenant/settings", json={"rerank_schedule": wrong}, headers=admin
        )
        assert bad.status_code == 422, wrong
        assert "rerank_schedule" in bad.text
    set_ = await client.patch(
        "/v1/tenant/settings", json={"rerank_schedule": "0 2 * * *"}, headers=admin
    )
    assert set_.json()["rerank_schedule"] == "0 2 * * *"
    # the schedule was set just now: pretend it was set on 1 December at noon
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE tenants SET settings = settings || "
                "jsonb_build_object('rerank_schedule_since', '2026-12-01T12:00:00+00:00')"
            )
        )
    at = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)

    async def due(now):
        async with app.state.sessionmaker() as session, session.begin():
            return [job.params["scheduled_for"] for job in await schedule.queue_due(session, now)]

    assert await due(at) == []  # 02:00 has not come yet
    assert await due(at + dt.timedelta(hours=1, minutes=1)) == ["2026-12-02T02:00:00+00:00"]
    assert await due(at + dt.timedelta(hours=5)) == []  # that fire is queued already
    # three nights without a worker: the latest fire only
    assert await due(at + dt.timedelta(days=3, hours=2)) == ["2026-12-05T02:00:00+00:00"]
    jobs = (await client.get("/v1/jobs", headers=admin)).json()["items"]
    assert [(j["trigger"], j["params"]["vacancies"]) for j in jobs] == [("schedule", 2)] * 2
    off = await client.patch("/v1/tenant/settings", json={"rerank_schedule": ""}, headers=admin)
    assert off.json()["rerank_schedule"] is None
    assert await due(at + dt.timedelta(days=9)) == []


async def test_two_workers_deciding_a_schedule_at_once_queue_one_run(
    app, client, admin, owner_engine
):
    import datetime as dt

    from app.services import schedule

    await programme(client, admin, vacancies=1)
    await client.patch("/v1/tenant/settings", json={"rerank_schedule": "0 2 * * *"}, headers=admin)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE tenants SET settings = settings || "
                "jsonb_build_object('rerank_schedule_since', '2026-12-01T12:00:00+00:00')"
            )
        )
    now = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)

    async def due():
        async with app.state.sessionmaker() as session, session.begin():
            found = await schedule.queue_due(session, now)
            await asyncio.sleep(0.2)  # hold the transaction (and its lock) a while
            return len(found)

    assert sum(await asyncio.gather(due(), due(), due())) == 1
    jobs = (await client.get("/v1/jobs", headers=admin)).json()["items"]
    assert [j["trigger"] for j in jobs] == ["schedule"]


async def test_a_job_left_running_after_its_last_task_is_ended_by_the_next_worker(
    app, client, admin, encoder, owner_engine
):
    await programme(client, admin, vacancies=2)
    job = (await client.post("/v1/jobs/rerank", json={}, headers=admin)).json()
    await work(app, encoder)
    # as if the worker had been killed between committing its task and ending the job
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE jobs SET state = 'running', finished_at = NULL WHERE id = :j"),
            {"j": job["id"]},
        )
    assert await work(app, encoder) == 0
    view = (await client.get(f"/v1/jobs/{job['id']}", headers=admin)).json()
    assert view["state"] == "done"
    assert view["finished_at"] is not None


async def test_a_webhook_that_now_points_inside_is_refused_at_sending(
    app, client, admin, encoder, monkeypatch
):
    from app.services import webhooks

    await programme(client, admin, vacancies=1)
    monkeypatch.setattr(webhooks, "private_allowed", lambda: True)
    receiver = Receiver([])
    try:
        on = await client.patch(
            "/v1/tenant/settings",
            json={"webhook_url": receiver.url, "webhook_secret": "0123456789abcdef"},
            headers=admin,
        )
        assert on.status_code == 200
        job = (await client.post("/v1/jobs/rerank", json={}, headers=admin)).json()
        # the deployment stops allowing private addresses before the delivery goes out
        monkeypatch.setattr(webhooks, "private_allowed", lambda: False)
        await work(app, encoder)
        assert receiver.received == []
        view = (await client.get(f"/v1/jobs/{job['id']}", headers=admin)).json()
        (delivery,) = view["deliveries"]
        assert delivery["state"] == "queued"  # retried later, as any failure
        assert "private or local address" in delivery["last_error"]
    finally:
        receiver.close()
