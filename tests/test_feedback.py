"""Feedback events: validation, linking to shortlists, idempotency, append-only storage,
tenancy, bulk and roles (issue 12)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import asyncpg
import pytest
from sqlalchemy import text

from tests import payloads


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def setup_kitchen(client, headers, people=("cand-1", "cand-2", "cand-3"), **vacancy):
    assert (
        await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=headers)
    ).status_code in (200, 201)
    body = payloads.vacancy(**vacancy)
    assert (await client.put("/v1/vacancies/vac-1", json=body, headers=headers)).status_code in (
        200,
        201,
    )
    for name in people:
        r = await client.put(f"/v1/candidates/{name}", json=payloads.candidate(), headers=headers)
        assert r.status_code in (200, 201), r.text


def event(key, kind="contacted", candidate="cand-1", vacancy="vac-1", **extra):
    return {
        "vacancy_external_id": vacancy,
        "candidate_external_id": candidate,
        "event": kind,
        "idempotency_key": key,
        **extra,
    }


async def post(client, headers, body):
    return await client.post("/v1/feedback", json=body, headers=headers)


async def test_event_is_recorded_and_linked_to_the_latest_shortlist(client, admin):
    await setup_kitchen(client, admin)
    made = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    shortlist = made.json()
    shown = {i["candidate_external_id"]: i for i in shortlist["items"]}
    r = await post(
        client,
        admin,
        event(
            "k1", "rejected", reason="language", note="Needs B1 Italian first", actor_ref="user-42"
        ),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["link"] == "latest_shortlist"
    assert body["shortlist_id"] == shortlist["id"]
    assert body["rank"] == shown["cand-1"]["rank"]
    assert body["ranker_version"] == shortlist["ranker_version"]
    assert body["note"] == "Needs B1 Italian first"
    assert body["actor_ref"] == "user-42"
    assert body["key_id"]
    assert body["reason"] == "language"
    assert dt.datetime.fromisoformat(body["occurred_at"]) <= dt.datetime.now(dt.UTC)
    listed = await client.get(
        "/v1/feedback", params={"candidate_external_id": "cand-1"}, headers=admin
    )
    assert [e["id"] for e in listed.json()["items"]] == [body["id"]]


async def test_given_shortlist_must_be_this_vacancys_and_show_the_person(client, admin):
    await setup_kitchen(client, admin)
    shortlist = (await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)).json()
    r = await post(client, admin, event("k1", shortlist_id=shortlist["id"]))
    assert r.status_code == 201
    assert r.json()["link"] == "given"
    r = await post(client, admin, event("k2", shortlist_id=str(uuid.uuid4())))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "shortlist_id"]
    # another vacancy's shortlist
    await client.put("/v1/vacancies/vac-2", json=payloads.vacancy(), headers=admin)
    other = (await client.post("/v1/vacancies/vac-2/shortlists", json={}, headers=admin)).json()
    r = await post(client, admin, event("k3", shortlist_id=other["id"]))
    assert r.status_code == 422


async def test_never_shown_is_organic(client, admin):
    await setup_kitchen(client, admin)
    r = await post(client, admin, event("k1"))
    assert r.status_code == 201
    assert r.json()["link"] == "none"
    assert r.json()["rank"] is None
    assert r.json()["shortlist_id"] is None


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"event": "rejected"}, "body"),  # reason required
        ({"event": "dropped_out"}, "body"),
        ({"event": "hired", "months": 3}, "body"),
        ({"event": "retracted"}, "body"),  # retracts required
        ({"event": "teleported"}, "event"),
        ({"reason": "bad-luck", "event": "rejected"}, "reason"),
        ({"note": "x" * 2001}, "note"),
        ({"occurred_at": "2026-11-20T10:00:00"}, "occurred_at"),  # no time zone
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_events_are_422_and_write_nothing(client, admin, owner_engine, extra, where):
    await setup_kitchen(client, admin)
    r = await post(client, admin, {**event("k1"), **extra})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    locs = [e["loc"] for e in r.json()["errors"]]
    if where == "body":  # a rule over several fields is reported on the body itself
        assert ["body"] in locs, locs
    else:
        assert any(where in [str(p) for p in loc] for loc in locs), locs
    async with owner_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM feedback_events")) == 0


async def test_occurred_at_in_the_future_is_refused_the_past_allowed(client, admin):
    await setup_kitchen(client, admin)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=4)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)
    assert (await post(client, admin, event("k1", occurred_at=soon.isoformat()))).status_code == 201
    assert (
        await post(client, admin, event("k2", occurred_at=later.isoformat()))
    ).status_code == 422
    past = await post(client, admin, event("k3", occurred_at="2024-03-01T09:00:00+01:00"))
    assert past.status_code == 201
    assert past.json()["occurred_at"].startswith("2024-03-01T08:00:00")


async def test_same_key_same_body_is_the_original_other_body_409(client, admin):
    await setup_kitchen(client, admin)
    first = await post(client, admin, event("k1"))
    again = await post(client, admin, event("k1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    other = await post(client, admin, event("k1", "interviewed"))
    assert other.status_code == 409


async def test_twenty_simultaneous_retries_leave_one_row(app, admin, owner_engine, client):
    await setup_kitchen(client, admin)
    body = event("same-key", "interviewed", note="Went well")

    async def one():
        transport = __import__("httpx").ASGITransport(app=app)
        async with __import__("httpx").AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.post("/v1/feedback", json=body, headers=admin)

    answers = await asyncio.gather(*(one() for _ in range(20)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 19 + [201], codes
    assert len({a.json()["id"] for a in answers}) == 1
    async with owner_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM feedback_events")) == 1
        assert await conn.scalar(text("SELECT count(*) FROM feedback_notes")) == 1


async def test_other_tenants_objects_are_not_reachable(client, make_key, owner_engine):
    alpha = await make_key("alpha", "admin")
    beta = await make_key("beta", "admin")
    await setup_kitchen(client, alpha)
    await setup_kitchen(client, beta, people=("cand-b",))
    beta_list = (await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=beta)).json()
    # alpha names beta's candidate, and beta's shortlist
    assert (await post(client, alpha, event("k1", candidate="cand-b"))).status_code == 422
    r = await post(client, alpha, event("k2", shortlist_id=beta_list["id"]))
    assert r.status_code == 422
    ok = await post(client, beta, event("k3", candidate="cand-b"))
    assert ok.status_code == 201
    # beta's event cannot be retracted, read or listed from alpha
    r = await post(client, alpha, event("k4", "retracted", retracts=ok.json()["id"]))
    assert r.status_code == 422
    assert (await client.get(f"/v1/feedback/{ok.json()['id']}", headers=alpha)).status_code == 404
    assert (await client.get("/v1/feedback", headers=alpha)).json()["items"] == []
    async with owner_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM feedback_events")) == 1


async def test_service_role_cannot_update_or_delete_events(client, admin, database):
    await setup_kitchen(client, admin)
    recorded = await post(client, admin, event("k1", note="Personal remark"))
    event_id = recorded.json()["id"]
    dsn = database.service.render_as_string(hide_password=False).replace("+asyncpg", "")
    conn = await asyncpg.connect(dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE feedback_events SET event = 'hired'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM feedback_events")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("TRUNCATE feedback_events")
        # the note, the one piece of free text, can be erased on its own
        await conn.execute("DELETE FROM feedback_notes WHERE event_id = $1", uuid.UUID(event_id))
    finally:
        await conn.close()
    again = await client.get(f"/v1/feedback/{event_id}", headers=admin)
    assert again.json()["note"] is None
    assert again.json()["event"] == "contacted"


async def test_a_note_can_be_erased_and_the_event_stays(client, admin):
    await setup_kitchen(client, admin)
    recorded = (
        await post(client, admin, event("k1", note="Lives with her sister in Via Roma"))
    ).json()
    r = await client.delete(f"/v1/feedback/{recorded['id']}/note", headers=admin)
    assert r.status_code == 200
    assert r.json()["note"] is None
    assert r.json()["event"] == "contacted"
    missing = await client.delete(f"/v1/feedback/{uuid.uuid4()}/note", headers=admin)
    assert missing.status_code == 404


async def test_erasing_the_candidate_keeps_the_event_without_the_person(
    client, admin, owner_engine
):
    await setup_kitchen(client, admin)
    recorded = (await post(client, admin, event("k1", "hired", note="Contract signed"))).json()
    assert (await client.delete("/v1/candidates/cand-1", headers=admin)).status_code == 204
    after = (await client.get(f"/v1/feedback/{recorded['id']}", headers=admin)).json()
    assert after["candidate_external_id"] is None
    assert after["note"] is None
    assert after["event"] == "hired"
    async with owner_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM feedback_notes")) == 0


async def test_retraction_once_and_only_of_the_same_pair(client, admin):
    await setup_kitchen(client, admin)
    first = (await post(client, admin, event("k1", "interviewed"))).json()
    wrong = await post(
        client, admin, event("k2", "retracted", candidate="cand-2", retracts=first["id"])
    )
    assert wrong.status_code == 422
    ok = await post(client, admin, event("k3", "retracted", retracts=first["id"]))
    assert ok.status_code == 201
    assert ok.json()["retracts"] == first["id"]
    twice = await post(client, admin, event("k4", "retracted", retracts=first["id"]))
    assert twice.status_code == 409
    of_retraction = await post(client, admin, event("k5", "retracted", retracts=ok.json()["id"]))
    assert of_retraction.status_code == 422


async def test_bulk_answers_each_item(client, admin, owner_engine):
    await setup_kitchen(client, admin)
    await post(client, admin, event("dup"))
    items = [
        event("b1", "contacted"),
        event("b2", "rejected"),  # no reason
        event("dup"),
        event("b3", "interviewed", candidate="nobody"),
        event("b4", "interviewed", candidate="cand-2"),
        "not an object",
    ]
    r = await client.post("/v1/feedback:bulk", json={"items": items}, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["status"] for i in body["items"]] == [
        "created",
        "error",
        "duplicate",
        "error",
        "created",
        "error",
    ]
    assert (body["created"], body["duplicate"], body["refused"]) == (2, 1, 3)
    assert body["items"][1]["problem"]["status"] == 422
    assert body["items"][3]["problem"]["errors"][0]["loc"] == ["body", "candidate_external_id"]
    async with owner_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM feedback_events")) == 3


async def test_periods_without_a_time_zone_are_422(client, admin):
    for path in ("/v1/feedback", "/v1/metrics/outcomes", "/v1/metrics/ranking"):
        r = await client.get(path, params={"from": "2024-01-01T00:00:00"}, headers=admin)
        assert r.status_code == 422, (path, r.text)


async def test_list_filters_and_pages(client, admin):
    await setup_kitchen(client, admin)
    for n in range(5):
        at = dt.datetime(2026, 11, 1 + n, 9, tzinfo=dt.UTC).isoformat()
        kind = "contacted" if n % 2 == 0 else "interviewed"
        await post(client, admin, event(f"k{n}", kind, occurred_at=at))
    page = (await client.get("/v1/feedback", params={"limit": 2}, headers=admin)).json()
    keys = [e["idempotency_key"] for e in page["items"]]
    while page["next_cursor"]:
        page = (
            await client.get(
                "/v1/feedback", params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin
            )
        ).json()
        keys += [e["idempotency_key"] for e in page["items"]]
    assert keys == ["k0", "k1", "k2", "k3", "k4"]
    r = await client.get(
        "/v1/feedback",
        params={"event": "contacted", "from": "2026-11-02T00:00:00Z", "to": "2026-11-05T10:00:00Z"},
        headers=admin,
    )
    assert [e["idempotency_key"] for e in r.json()["items"]] == ["k2", "k4"]
    assert (
        await client.get("/v1/feedback", params={"cursor": "garbage!"}, headers=admin)
    ).status_code == 400
    assert (
        await client.get("/v1/feedback", params={"colour": "red"}, headers=admin)
    ).status_code == 422


async def test_roles_scout_posts_and_reads_pipeline_not_metrics(client, make_key):
    admin = await make_key("alpha", "admin")
    scout = await make_key("alpha", "scout")
    await setup_kitchen(client, admin)
    assert (await post(client, scout, event("k1"))).status_code == 201
    assert (await client.get("/v1/vacancies/vac-1/pipeline", headers=scout)).status_code == 200
    assert (await client.get("/v1/internships", headers=scout)).status_code == 200
    me = (await client.get("/v1/me", headers=scout)).json()
    assert "feedback:write" in me["permissions"]
    assert "metrics:read" not in me["permissions"]


async def test_cli_import_is_idempotent_and_reports_refused_lines(client, admin, cli_env, tmp_path):
    from app.cli import cli

    await setup_kitchen(client, admin)
    lines = [
        json.dumps(
            event(f"hist-{n}", "contacted", f"cand-{n % 3 + 1}", occurred_at="2025-03-01T09:00:00Z")
        )
        for n in range(7)
    ]
    lines.insert(3, "{not json")
    lines.append(json.dumps(event("hist-bad", "rejected")))  # no reason
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = await asyncio.to_thread(
        cli_env.invoke, cli, ["feedback", "import", str(path), "--tenant", "alpha"]
    )
    assert first.exit_code == 1, first.output  # some lines were refused
    assert "created 7, duplicate 0, refused 2" in first.stdout
    assert "line 4: not a JSON object" in first.stderr
    assert "line 9: body: Value error, 'rejected' needs a reason" in first.stderr
    again = await asyncio.to_thread(
        cli_env.invoke, cli, ["feedback", "import", str(path), "--tenant", "alpha"]
    )
    assert "created 0, duplicate 7, refused 2" in again.stdout
    listed = await client.get("/v1/feedback", params={"limit": 100}, headers=admin)
    assert len(listed.json()["items"]) == 7


async def test_a_deadlock_answers_409_retry_not_500():
    from sqlalchemy.exc import DBAPIError
    from starlette.requests import Request

    from app.api import problems

    class Deadlock(Exception):
        sqlstate = "40P01"

    scope = {"type": "http", "method": "POST", "path": "/v1/feedback", "headers": []}
    scope |= {"query_string": b"", "server": ("ponte.test", 80), "scheme": "http"}
    answer = await problems._unexpected(Request(scope), DBAPIError("INSERT", {}, Deadlock()))
    assert answer.status_code == 409
    assert answer.headers["retry-after"] == "1"
    other = await problems._unexpected(Request(scope), DBAPIError("INSERT", {}, Exception()))
    assert other.status_code == 500
