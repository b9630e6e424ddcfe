"""The audit trail (issue 16): every accountable act writes an entry naming who, what, which
objects (surrogate ids), which ranker and model, under which request; the trail is append-only
for the service role, hash-chained per tenant, verified by ``ponte audit verify``, and read by
admins through GET /v1/audit."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hmac
import uuid

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from app.db.transactions import each_statement_commits
from app.errors import NotFound
from app.repositories.audit import AuditRepository
from app.repositories.shortlists import ShortlistRepository
from app.services import audit, deployment_keys
from app.services.shortlists import ShortlistService
from tests import payloads
from tests.cli_helpers import Sql, invoker
from tests.test_feedback import event, setup_kitchen


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def entries(client, headers, **query):
    """Every entry the filters select, all pages (each read adds an audit.read entry)."""
    found, cursor = [], None
    while True:
        params = {**query, "limit": 50, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/audit", params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def actions(client, headers):
    return [e["action"] for e in await entries(client, headers) if e["action"] != "audit.read"]


async def candidate_id(owner_engine, external_id):
    return await Sql(owner_engine).scalar(
        f"SELECT id FROM candidates WHERE external_id = '{external_id}'"
    )


async def test_each_act_on_people_writes_an_entry_naming_them_by_surrogate_id(
    client, admin, owner_engine
):
    await setup_kitchen(client, admin)
    person = await candidate_id(owner_engine, "cand-1")
    assert (
        await client.put(
            "/v1/candidates/cand-1/sensitive", json=payloads.sensitive(), headers=admin
        )
    ).status_code == 201
    headers = {**admin, "X-Actor-Ref": "scout-marta"}
    made = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=headers)
    assert made.status_code == 201
    shortlist = made.json()
    calls = [
        client.get("/v1/candidates/cand-1", headers=admin),
        client.get("/v1/candidates", headers=admin),
        client.get("/v1/candidates/cand-1/sensitive", headers=admin),
        client.get(f"/v1/shortlists/{shortlist['id']}", headers=admin),
        client.get("/v1/vacancies/vac-1/shortlists", headers=admin),
        client.get("/v1/candidates/cand-1/matches", headers=admin),
        client.post("/v1/feedback", json=event("k1", actor_ref="scout-luca"), headers=admin),
        client.get("/v1/feedback", headers=admin),
        client.get("/v1/vacancies/vac-1/pipeline", headers=admin),
        client.get("/v1/internships", headers=admin),
        client.get("/v1/candidates/cand-1/export", headers=admin),
        client.patch("/v1/tenant/settings", json={"retention_days": 365}, headers=admin),
    ]
    for call in calls:
        r = await call
        assert r.status_code in (200, 201), r.text
    assert await actions(client, admin) == [
        "key.create",  # the test's own key
        "shortlist.create",
        "candidate.read",
        "candidate.list",
        "sensitive.read",
        "shortlist.read",
        "shortlist.list",
        "matches.read",
        "feedback.create",
        "feedback.read",
        "pipeline.read",
        "internships.read",
        "candidate.export",
        "settings.update",
    ]
    trail = await entries(client, admin)
    made_entry = next(e for e in trail if e["action"] == "shortlist.create")
    assert made_entry["actor"]["role"] == "admin"
    assert made_entry["actor"]["actor_ref"] == "scout-marta"
    assert made_entry["ranker_version"] == shortlist["ranker_version"]
    assert made_entry["model_version"] == shortlist["embedding_model"]
    assert made_entry["request_id"] == made.headers["x-request-id"]
    assert made_entry["detail"]["items"] == len(shortlist["items"])
    named = {(o["type"], o["id"]) for o in made_entry["objects"]}
    assert ("shortlist", shortlist["id"]) in named
    assert ("candidate", str(person)) in named
    feedback = next(e for e in trail if e["action"] == "feedback.create")
    assert feedback["actor"]["actor_ref"] == "scout-luca"  # who decided, as the event says
    pipeline = next(e for e in trail if e["action"] == "pipeline.read")
    assert {"type": "candidate", "id": str(person)} in pipeline["objects"]  # fed back on
    settings = next(e for e in trail if e["action"] == "settings.update")
    assert settings["detail"] == {"changed": ["retention_days"]}
    # entries name people by surrogate id only: nothing in the trail is the external id
    assert "cand-1" not in str(trail)
    # the object filter finds what concerned one person
    about = {e["action"] for e in await entries(client, admin, object=str(person))}
    assert {
        "candidate.read",
        "sensitive.read",
        "matches.read",
        "feedback.read",
        "pipeline.read",
        "candidate.export",
    } <= about
    assert "candidate.list" in about
    assert "settings.update" not in about


async def test_action_filter_takes_a_name_or_its_first_part_and_time_bounds(client, admin):
    await setup_kitchen(client, admin)
    await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    await client.get("/v1/vacancies/vac-1/shortlists", headers=admin)
    whole = await entries(client, admin, action="shortlist.create")
    assert [e["action"] for e in whole] == ["shortlist.create"]
    family = await entries(client, admin, action="shortlist")
    assert [e["action"] for e in family] == ["shortlist.create", "shortlist.list"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert await entries(client, admin, **{"from": later.isoformat()}) == []
    before = await entries(client, admin, to=later.isoformat(), action="shortlist")
    assert len(before) == 2
    weird = base64.urlsafe_b64encode("audit:²".encode()).decode()
    for bad in (
        {"action": "Shortlist"},
        {"action": "a..b"},
        {"cursor": "nonsense"},
        {"cursor": "é"},
        {"cursor": weird},
        {"object": "not-a-uuid"},
    ):
        r = await client.get("/v1/audit", params=bad, headers=admin)
        assert r.status_code in (400, 422), (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_only_admins_read_the_trail_and_each_tenant_its_own(client, admin, make_key):
    scout = await make_key("alpha", "scout")
    assert (await client.get("/v1/audit", headers=scout)).status_code == 403
    beta = await make_key("beta", "admin")
    await setup_kitchen(client, beta)
    await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=beta)
    assert "shortlist.create" not in await actions(client, admin)
    assert "shortlist.create" in await actions(client, beta)


async def test_keys_created_revoked_and_refused_are_recorded(client, admin):
    made = await client.post("/v1/api-keys", json={"role": "scout", "label": "desk"}, headers=admin)
    assert made.status_code == 201
    scout = {"Authorization": f"Bearer {made.json()['key']}"}
    assert (await client.get("/v1/me", headers=scout)).status_code == 200
    key_id = made.json()["id"]
    assert (await client.delete(f"/v1/api-keys/{key_id}", headers=admin)).status_code == 200
    refused = await client.get("/v1/candidates/p-17", headers=scout)
    assert refused.status_code == 401
    trail = [e for e in await entries(client, admin) if e["action"].startswith("key.")]
    assert [e["action"] for e in trail] == ["key.create", "key.create", "key.revoke", "key.refused"]
    last = trail[-1]
    assert last["outcome"] == "refused"
    assert last["actor"] == {"key_id": key_id, "role": "scout", "label": "desk", "actor_ref": None}
    # the route's template, never the path (it would hold an external id)
    assert last["detail"] == {
        "why": "revoked",
        "route": "/v1/candidates/{external_id}",
        "refused_since_last_entry": 0,
    }
    assert last["request_id"] == refused.headers["x-request-id"]
    # a key used again and again is one entry a minute, counting the others
    for _ in range(3):
        assert (await client.get("/v1/candidates/cand-9", headers=scout)).status_code == 401
    again = [e for e in await entries(client, admin, action="key.refused")]
    assert len(again) == 1
    # a path the database would refuse to store is still a plain 401
    assert (await client.get("/v1/candidates/a%00b", headers=scout)).status_code in (401, 422)


async def test_a_bad_actor_reference_is_refused(client, admin):
    r = await client.get("/v1/candidates", headers={**admin, "X-Actor-Ref": "x" * 201})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_the_service_role_can_only_append_and_read(client, admin, database):
    await client.get("/v1/candidates", headers=admin)
    dsn = database.service.render_as_string(hide_password=False).replace("+asyncpg", "")
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM audit_entries") >= 2
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE audit_entries SET outcome = 'refused'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_entries")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("TRUNCATE audit_entries")
        # nor through a tenant's deletion: no cascade takes the trail with it
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute("DELETE FROM tenants")
    finally:
        await conn.close()


async def test_concurrent_writers_keep_one_unbroken_chain(client, admin, cli_env, owner_engine):
    await setup_kitchen(client, admin)
    made = await asyncio.gather(
        *(client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin) for _ in range(8)),
        *(client.get("/v1/candidates/cand-2", headers=admin) for _ in range(8)),
    )
    assert all(r.status_code in (200, 201) for r in made)
    sql = Sql(owner_engine)
    assert await sql.scalar("SELECT count(*) FROM audit_entries") == 17
    assert await sql.scalar("SELECT max(seq) FROM audit_entries") == 17
    result = await invoker(cli_env)("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 0, result.output
    assert "17 entries" in result.output


@pytest.mark.parametrize(
    ("tamper", "broken_at"),
    [
        ("UPDATE audit_entries SET detail = '{\"items\": 0}' WHERE seq = 2", 2),
        ("UPDATE audit_entries SET at = at - interval '1 day' WHERE seq = 3", 3),
        ("UPDATE audit_entries SET objects = '[]' WHERE seq = 2", 2),
        ("DELETE FROM audit_entries WHERE seq = 2", 2),
        ("UPDATE audit_entries SET prev_hash = hash WHERE seq = 3", 3),
    ],
)
async def test_a_tampered_trail_fails_verification_at_the_entry(
    client, admin, cli_env, owner_engine, tamper, broken_at
):
    await setup_kitchen(client, admin)
    await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    await client.get("/v1/candidates/cand-1", headers=admin)
    await client.get("/v1/candidates/cand-2", headers=admin)
    invoke = invoker(cli_env)
    assert (await invoke("audit", "verify", "--tenant", "alpha")).exit_code == 0
    await Sql(owner_engine).execute(tamper)
    result = await invoke("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 1
    assert f"broken at entry {broken_at}" in result.output


@pytest.mark.parametrize(("key", "verifies"), [("the audit key", True), ("another key", False)])
async def test_a_chain_recomputed_over_a_change_verifies_only_under_the_audit_key(
    client, admin, cli_env, owner_engine, key, verifies
):
    """Whoever can write the table can change an entry and recompute every hash after it;
    without the deployment's audit key those are not the chain's hashes. (With it they are:
    the control case, which also shows the forgery below is done right.)"""
    await setup_kitchen(client, admin)
    for name in ("cand-1", "cand-2", "cand-3"):
        await client.get(f"/v1/candidates/{name}", headers=admin)
    secret = deployment_keys.AUDIT.current() if verifies else b"x" * 32
    sql = Sql(owner_engine)
    rows = await _rows(owner_engine)
    forged = dict(rows[1], key_id="someone-else")
    prev = rows[0]["hash"]
    for seq, row in enumerate([forged, *rows[2:]], start=2):
        digest = hmac.digest(secret, prev + audit.canonical(row), "sha256")
        await sql.execute(
            f"UPDATE audit_entries SET key_id = '{row['key_id']}', "
            f"prev_hash = '\\x{prev.hex()}', hash = '\\x{digest.hex()}' WHERE seq = {seq}"
        )
        prev = digest
    result = await invoker(cli_env)("audit", "verify", "--tenant", "alpha")
    if verifies:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1
        assert "broken at entry 2" in result.output


async def _rows(owner_engine):
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM audit_entries ORDER BY seq"))
        return [dict(row._mapping) for row in rows]


async def test_an_unknown_tenant_is_a_clear_error(cli_env):
    result = await invoker(cli_env)("audit", "verify", "--tenant", "nobody")
    assert result.exit_code == 1
    assert "no tenant 'nobody'" in result.output


async def test_an_entry_names_no_external_object_id(client, admin):
    """The trail's objects are surrogate ids (UUIDs) only, whatever the act."""
    await setup_kitchen(client, admin)
    await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    await client.delete("/v1/candidates/cand-3", headers=admin)
    for entry in await entries(client, admin):
        for named in entry["objects"]:
            if named["type"] in ("candidate", "vacancy", "shortlist", "employer"):
                uuid.UUID(named["id"])


async def test_bulk_feedback_notes_and_deletions_are_recorded(client, admin):
    await setup_kitchen(client, admin)
    bulk = [event("b1"), event("b2", candidate="cand-2"), event("b1")]  # the third repeats
    r = await client.post("/v1/feedback:bulk", json={"items": bulk}, headers=admin)
    assert r.status_code == 200, r.text
    one = r.json()["items"][0]["event"]["id"]
    assert (await client.delete(f"/v1/feedback/{one}/note", headers=admin)).status_code == 200
    assert (await client.delete("/v1/vacancies/vac-1", headers=admin)).status_code == 204
    assert (await client.delete("/v1/employers/emp-1", headers=admin)).status_code == 204
    assert (await client.delete("/v1/candidates/cand-3", headers=admin)).status_code == 204
    assert await actions(client, admin) == [
        "key.create",
        "feedback.create",  # the repeated key recorded nothing new, and is not an act
        "feedback.create",
        "feedback.note_erase",
        "vacancy.delete",
        "employer.delete",
        "candidate.erase",
    ]


async def test_a_stale_guess_of_the_chains_head_costs_a_retry_not_a_fork(
    client, admin, cli_env, owner_engine
):
    """Another process appending (here: this process forgetting, or guessing wrong) leaves
    this one's idea of the last entry stale; the database refuses the stale chaining, and the
    entry is chained again onto the real last one."""
    tenant_id = await Sql(owner_engine).scalar("SELECT id FROM tenants WHERE name = 'alpha'")
    await client.get("/v1/candidates", headers=admin)
    audit._HEADS.put(tenant_id, (1, b"\0" * 32))  # behind, and with a wrong hash
    await client.get("/v1/candidates", headers=admin)
    audit._HEADS.pop(tenant_id)  # unknown: guessed as empty
    await client.get("/v1/candidates", headers=admin)
    result = await invoker(cli_env)("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 0, result.output
    assert "4 entries" in result.output


def counted_appends(monkeypatch):
    """Counts the audit appends made in statements of their own."""
    calls = []
    real = AuditRepository.append

    async def append(self, *args, **kwargs):
        calls.append(args)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(AuditRepository, "append", append)
    return calls


def counted_statements(monkeypatch):
    """Per snapshot statement: whether it carried audit entries (all or nothing with them)."""
    calls = []
    real = ShortlistRepository.create_many

    async def create_many(self, tenant_id, snapshots, audit=None):
        calls.append(audit is not None)
        return await real(self, tenant_id, snapshots, audit)

    monkeypatch.setattr(ShortlistRepository, "create_many", create_many)
    return calls


async def test_a_shortlists_entry_rides_on_its_snapshots_statement(
    client, admin, cli_env, owner_engine, monkeypatch
):
    """The entry of a shortlist made on request is appended by the statement that stores the
    snapshot (no round trip of its own) and names whom the snapshot holds; with a stale guess
    of the head that statement stores nothing, and a second one, onto the real head, stores
    the snapshot with its entry."""
    await setup_kitchen(client, admin)
    tenant_id = await Sql(owner_engine).scalar("SELECT id FROM tenants WHERE name = 'alpha'")
    calls = counted_appends(monkeypatch)
    statements = counted_statements(monkeypatch)
    made = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    assert made.status_code == 201, made.text
    assert (calls, statements) == ([], [True])
    audit._HEADS.put(tenant_id, (1, b"\0" * 32))  # another process appended meanwhile
    again = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    assert again.status_code == 201, again.text
    assert (calls, statements) == ([], [True, True, True])
    sql = Sql(owner_engine)
    assert await sql.scalar("SELECT count(*) FROM shortlists") == 2  # the stale try stored none
    for snapshot in (made.json(), again.json()):
        (entry,) = [
            e
            for e in await entries(client, admin, action="shortlist.create")
            if {"type": "shortlist", "id": snapshot["id"]} in e["objects"]
        ]
        held = await sql.scalar(
            "SELECT array_agg(candidate_id::text ORDER BY rank) FROM shortlist_items "
            f"WHERE shortlist_id = '{snapshot['id']}'"
        )
        assert [o["id"] for o in entry["objects"] if o["type"] == "candidate"] == held
        assert entry["detail"]["items"] == len(held) == len(snapshot["items"])
    result = await invoker(cli_env)("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 0, result.output


async def test_a_snapshot_that_failed_to_store_leaves_the_chain_head_where_it_was(
    client, admin, cli_env, monkeypatch
):
    """The head a request reserved for its entry is given back when its statement fails, so
    the next request's entry is carried again (not chained onto an entry that never was)."""
    await setup_kitchen(client, admin)
    real = ShortlistRepository.create_many

    async def failing(self, *args, **kwargs):
        raise NotFound("the snapshot could not be stored")

    monkeypatch.setattr(ShortlistRepository, "create_many", failing)
    failed = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    assert failed.status_code == 404
    monkeypatch.setattr(ShortlistRepository, "create_many", real)
    calls = counted_appends(monkeypatch)
    made = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    assert made.status_code == 201, made.text
    assert calls == []
    result = await invoker(cli_env)("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 0, result.output


async def test_someone_erased_while_ranked_is_not_in_the_shortlists_entry(
    client, admin, cli_env, owner_engine, monkeypatch
):
    """The snapshot leaves out whoever was erased between ranking and storing; its entry is
    then recorded as stored (by a statement of its own), not as ranked."""
    await setup_kitchen(client, admin)
    sql = Sql(owner_engine)
    gone = await candidate_id(owner_engine, "cand-2")
    calls = counted_appends(monkeypatch)
    real = ShortlistRepository.create_many

    async def erase_first(self, *args, **kwargs):
        await sql.execute(f"DELETE FROM candidates WHERE id = '{gone}'")
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(ShortlistRepository, "create_many", erase_first)
    statements = counted_statements(monkeypatch)
    made = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    assert made.status_code == 201, made.text
    assert len(made.json()["items"]) == 2
    # the statement carrying the entry stored nothing; then the snapshot as it could be stored,
    # and its entry as stored
    assert statements == [True, False]
    assert await sql.scalar("SELECT count(*) FROM shortlists") == 1
    assert len(calls) == 1
    (entry,) = await entries(client, admin, action="shortlist.create")
    people = [o["id"] for o in entry["objects"] if o["type"] == "candidate"]
    assert len(people) == 2
    assert str(gone) not in people
    assert entry["detail"]["items"] == 2
    result = await invoker(cli_env)("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 0, result.output


async def test_a_shortlists_statement_commits_as_it_ends_its_lock_with_it(
    client, admin, owner_engine, monkeypatch, app
):
    """The snapshot and its entry are committed by the statement itself: before the request
    has done anything more, another connection sees them and can take the chain's lock."""
    await setup_kitchen(client, admin)
    tenant_id = await Sql(owner_engine).scalar("SELECT id FROM tenants WHERE name = 'alpha'")
    real = ShortlistService._insert_sealed
    seen = []

    async def then_look(self, *args, **kwargs):
        made = await real(self, *args, **kwargs)
        async with owner_engine.connect() as other:
            free = await other.scalar(
                text("SELECT pg_try_advisory_xact_lock(1096107092, hashtext(:t))"),
                {"t": str(tenant_id)},
            )
            stored = await other.scalar(text("SELECT count(*) FROM shortlists"))
            entries_now = await other.scalar(
                text("SELECT count(*) FROM audit_entries WHERE action = 'shortlist.create'")
            )
            await other.rollback()
        seen.append((free, stored, entries_now))
        return made

    monkeypatch.setattr(ShortlistService, "_insert_sealed", then_look)
    made = await client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
    assert made.status_code == 201, made.text
    assert seen == [(True, 1, 1)]
    # a session inside session.begin() is refused before anything is committed
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT 1"))
        with pytest.raises(RuntimeError, match="outside session"):
            async with each_statement_commits(session):
                pass


async def test_an_erasure_under_way_does_not_deadlock_with_a_shortlists_entry(
    client, admin, cli_env, owner_engine
):
    """An erasure holds the person's row, then takes the chain's lock for its own entry. A
    shortlist stored meanwhile waits for that row before it takes the chain's lock (not after,
    which would have them wait on each other), then stores the shortlist without the person."""
    await setup_kitchen(client, admin)
    sql = Sql(owner_engine)
    tenant_id = await sql.scalar("SELECT id FROM tenants WHERE name = 'alpha'")
    gone = await candidate_id(owner_engine, "cand-2")
    async with owner_engine.connect() as erasing:
        await erasing.begin()
        await erasing.execute(text(f"DELETE FROM candidates WHERE id = '{gone}'"))
        made = asyncio.ensure_future(
            client.post("/v1/vacancies/vac-1/shortlists", json={}, headers=admin)
        )
        for _ in range(200):  # until the shortlist's statement waits for a lock
            await asyncio.sleep(0.05)
            if await sql.scalar("SELECT count(*) FROM pg_locks WHERE NOT granted"):
                break
        else:
            pytest.fail("the shortlist never waited for the erased person's row")
        chain_free = await erasing.scalar(
            text("SELECT pg_try_advisory_xact_lock(1096107092, hashtext(:t))"),
            {"t": str(tenant_id)},
        )
        await erasing.commit()
    assert chain_free  # the waiting statement had not taken the chain's lock
    made = await made
    assert made.status_code == 201, made.text
    assert len(made.json()["items"]) == 2
    (entry,) = await entries(client, admin, action="shortlist.create")
    assert str(gone) not in [o["id"] for o in entry["objects"]]
    result = await invoker(cli_env)("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 0, result.output


async def test_a_process_with_another_audit_key_refuses_to_run(
    client, admin, cli_env, monkeypatch, settings, encoder, database
):
    """The first process to use a database records each key's fingerprint; a command or a
    service started with another audit key stops there, instead of chaining entries nobody
    can verify."""
    from app.main import create_app
    from app.services.deployment_keys import DeploymentKeyError

    await client.get("/v1/candidates", headers=admin)
    invoke = invoker(cli_env)
    assert (await invoke("audit", "verify", "--tenant", "alpha")).exit_code == 0
    other = "another deployment's audit key, 32 chars or more"
    monkeypatch.setenv("PONTE_AUDIT_KEY", other)
    refused = await invoke("audit", "verify", "--tenant", "alpha")
    assert refused.exit_code == 1
    assert "PONTE_AUDIT_KEY differs" in refused.output
    monkeypatch.delenv("PONTE_AUDIT_KEY")
    monkeypatch.setenv("PONTE_LABEL_KEY", other)
    refused = await invoke("audit", "verify", "--tenant", "alpha")
    assert refused.exit_code == 1
    assert "PONTE_LABEL_KEY differs" in refused.output
    app = create_app(
        settings.model_copy(update={"audit_key": SecretStr(other)}),
        encoder=encoder,
        database=database,
    )
    with pytest.raises(DeploymentKeyError):
        async with app.router.lifespan_context(app):
            pass
