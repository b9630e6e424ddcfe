"""Retention (issue 16): ``retention_days`` in the tenant's settings; ``ponte purge`` erases the
candidates with no activity for that long (no write, no feedback, in no shortlist), lists them
with --dry-run, reclaims the space, and may run twice at once: each person is erased once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from sqlalchemy import text

from app.schemas import Principal
from app.services import retention
from app.services.keys import get_tenant
from tests import payloads
from tests.cli_helpers import Sql, invoker
from tests.test_feedback import event, setup_kitchen


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def age(owner_engine, external_ids, days):
    """Makes the candidates' last write (and their sensitive part's) ``days`` old."""
    names = ", ".join(f"'{n}'" for n in external_ids)
    sql = Sql(owner_engine)
    await sql.execute(
        f"UPDATE candidates SET updated_at = now() - interval '{days} days' "
        f"WHERE external_id IN ({names})"
    )
    await sql.execute(
        f"UPDATE candidate_sensitive s SET updated_at = now() - interval '{days} days' "
        f"FROM candidates c WHERE c.id = s.candidate_id AND c.external_id IN ({names})"
    )


async def remaining(owner_engine):
    async with owner_engine.connect() as conn:
        return set(await conn.scalars(text("SELECT external_id FROM candidates")))


async def test_the_period_is_a_setting_with_a_floor(client, admin):
    r = await client.patch("/v1/tenant/settings", json={"retention_days": 10}, headers=admin)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.patch("/v1/tenant/settings", json={"retention_days": 400}, headers=admin)
    assert r.status_code == 200
    assert r.json()["retention_days"] == 400
    r = await client.patch("/v1/tenant/settings", json={"retention_days": 0}, headers=admin)
    assert r.json()["retention_days"] is None


async def test_only_people_inactive_past_the_period_go(client, admin, owner_engine, cli_env):
    people = ("idle", "fed-back", "shortlisted", "written", "sensitive-written")
    await setup_kitchen(client, admin, people=people)
    for name in people:
        await client.put(
            f"/v1/candidates/{name}/sensitive", json=payloads.sensitive(), headers=admin
        )
    await client.patch("/v1/tenant/settings", json={"retention_days": 30}, headers=admin)
    # every one's profile is old; then each but "idle" does something recent
    await age(owner_engine, people, 45)
    sql = Sql(owner_engine)
    await sql.execute(
        "UPDATE candidate_sensitive SET updated_at = now() FROM candidates c "
        "WHERE c.id = candidate_id AND c.external_id = 'sensitive-written'"
    )
    await sql.execute("UPDATE candidates SET updated_at = now() WHERE external_id = 'written'")
    r = await client.post("/v1/feedback", json=event("k1", candidate="fed-back"), headers=admin)
    assert r.status_code == 201
    # a shortlist made now ranks everyone: age it, but keep one of "shortlisted"
    assert (
        await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    ).status_code == 201
    await sql.execute("UPDATE shortlists SET created_at = now() - interval '40 days'")
    await sql.execute(
        "UPDATE feedback_events SET recorded_at = now(), occurred_at = now() - interval '40 days'"
    )
    later = await client.post("/v1/vacancies/vac-1/shortlists", json={"limit": 5}, headers=admin)
    assert later.status_code == 201
    await sql.execute(
        "DELETE FROM shortlist_items i USING candidates c WHERE c.id = i.candidate_id "
        "AND c.external_id <> 'shortlisted' AND i.shortlist_id = "
        f"'{later.json()['id']}'"
    )
    invoke = invoker(cli_env)
    dry = await invoke("purge", "--tenant", "alpha", "--dry-run")
    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.strip().splitlines()
    assert [line.split("\t")[1] for line in lines[:-1]] == ["idle"]
    assert json.loads(lines[-1])["erased"] == 0
    assert await remaining(owner_engine) == set(people)  # a dry run erases nothing

    done = await invoke("purge", "--tenant", "alpha")
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["erased"] == 1
    assert summary["retention_days"] == 30
    assert summary["vacuum_removed"]["candidates"] >= 1
    assert await remaining(owner_engine) == set(people) - {"idle"}
    again = json.loads((await invoke("purge", "--tenant", "alpha")).stdout.strip())
    assert again["erased"] == 0
    trail = await client.get("/v1/audit", params={"action": "candidate.erase"}, headers=admin)
    (entry,) = trail.json()["items"]
    assert entry["detail"]["reason"] == "retention"
    assert entry["actor"]["role"] == "operator"
    assert entry["actor"]["label"] == "purge"
    purges = await client.get("/v1/audit", params={"action": "purge"}, headers=admin)
    assert [e["detail"]["erased"] for e in purges.json()["items"]] == [1, 0]  # a dry run: none


async def test_each_erased_persons_entry_counts_what_was_theirs(
    client, admin, owner_engine, cli_env
):
    """A purge counts what it reaches for all of a batch at once; each entry still says only
    its own person's rows."""
    people = ("with-sensitive", "without")
    await setup_kitchen(client, admin, people=people)
    r = await client.put(
        "/v1/candidates/with-sensitive/sensitive", json=payloads.sensitive(), headers=admin
    )
    assert r.status_code in (200, 201), r.text
    await client.patch("/v1/tenant/settings", json={"retention_days": 30}, headers=admin)
    await age(owner_engine, people, 45)
    sql = Sql(owner_engine)
    ids = {
        name: str(await sql.scalar(f"SELECT id FROM candidates WHERE external_id = '{name}'"))
        for name in people
    }
    done = await invoker(cli_env)("purge", "--tenant", "alpha")
    assert done.exit_code == 0, done.output
    trail = await client.get("/v1/audit", params={"action": "candidate.erase"}, headers=admin)
    sensitive = {e["objects"][0]["id"]: e["detail"]["sensitive"] for e in trail.json()["items"]}
    assert sensitive == {ids["with-sensitive"]: 1, ids["without"]: 0}


async def test_a_tenant_without_a_period_keeps_everyone(client, admin, owner_engine, cli_env):
    await setup_kitchen(client, admin, people=("cand-1",))
    await age(owner_engine, ["cand-1"], 4000)
    result = await invoker(cli_env)("purge")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ""  # no tenant set a period
    assert await remaining(owner_engine) == {"cand-1"}


async def test_two_concurrent_purges_erase_each_person_once(
    client, admin, app, owner_engine, monkeypatch
):
    people = [f"old-{n:02d}" for n in range(24)]
    await setup_kitchen(client, admin, people=(*people, "recent"))
    await client.patch("/v1/tenant/settings", json={"retention_days": 30}, headers=admin)
    await age(owner_engine, people, 60)
    monkeypatch.setattr(retention, "BATCH", 5)
    sessions = app.state.sessionmaker  # the service role's, as workers have it
    async with sessions() as session:
        tenant = await get_tenant(session, "alpha")
    actors = [Principal.operator(tenant.id, tenant.name, f"purge-{n}") for n in range(2)]
    reports = await asyncio.gather(
        *(retention.purge_tenant(sessions, tenant, actor) for actor in actors)
    )
    assert sum(report.erased for report in reports) == len(people)
    assert all(report.erased for report in reports)  # they did run side by side
    assert await remaining(owner_engine) == {"recent"}
    sql = Sql(owner_engine)
    erased = await sql.scalar(
        "SELECT count(DISTINCT objects) FROM audit_entries WHERE action = 'candidate.erase'"
    )
    entries = await sql.scalar(
        "SELECT count(*) FROM audit_entries WHERE action = 'candidate.erase'"
    )
    assert erased == entries == len(people)


async def test_someone_active_since_the_first_look_is_kept(client, admin, app, owner_engine):
    """The inactive are found, then locked; whoever came back to life in between (a feedback
    event committed after the first look's snapshot) is asked about again under the lock, and
    kept. The first look is made stale here by adding an active person to what it found."""
    from app.repositories.retention import RetentionRepository

    await setup_kitchen(client, admin, people=("idle", "back"))
    await age(owner_engine, ["idle", "back"], 60)
    r = await client.post("/v1/feedback", json=event("k1", candidate="back"), headers=admin)
    assert r.status_code == 201
    sql = Sql(owner_engine)
    back = await sql.scalar("SELECT id FROM candidates WHERE external_id = 'back'")
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    async with app.state.sessionmaker() as session, session.begin():
        repo = RetentionRepository(session)
        first_look = session.scalars
        looks = []

        async def stale(statement, params=None, **kwargs):
            found = await first_look(statement, params, **kwargs)
            if looks:
                return found
            looks.append(1)
            return [*found, back]  # as if "back" had been idle when the first look began

        session.scalars = stale  # type: ignore[method-assign]
        looked, taken = await repo.take_inactive(
            await sql.scalar("SELECT id FROM tenants"), cutoff, 10
        )
    assert looked == 2
    assert [row.external_id for row in taken] == ["idle"]
