"""In-process state per tenant: bounded least-recently-used first, maintained per tenant, and
kept current without blocking the event loop or missing a late commit."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid

import pytest
from sqlalchemy import event, select, text

from app.db.tables import Tenant
from app.ml.pool import CandidatePool
from app.services import lexical as lexical_service
from app.services import pool as pool_service
from app.services import tombstones
from app.services.lru import Lru
from tests import payloads
from tests.test_matching import PEOPLE, cook_vacancy, person, shortlist


def test_lru_forgets_the_least_recently_used_entry_only():
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache
    assert cache.get("a") == 1
    assert cache.get("c") == 3
    assert cache.peek("a") == 1
    cache.put("d", 4)  # peek did not make "a" recent; get did, then "c" was read after it
    assert "a" not in cache
    assert len(cache) == 2
    with pytest.raises(ValueError, match="capacity"):
        Lru(0)


async def _kitchen(client, make_key, tenant: str) -> dict[str, str]:
    headers = await make_key(tenant, "admin")
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=headers)
    await client.put("/v1/vacancies/cook", json=cook_vacancy(), headers=headers)
    for ext, body in PEOPLE.items():
        await client.put(f"/v1/candidates/{ext}", json=body, headers=headers)
    return headers


async def _tenant_id(app, name: str) -> uuid.UUID:
    async with app.state.sessionmaker() as session:
        found = await session.scalar(select(Tenant.id).where(Tenant.name == name))
    assert found is not None
    return found


async def test_a_shortlist_request_reads_its_tenants_row_once(app, client, make_key):
    # the key's look-up brings the tenant along; its ranker and its taxonomy setting are read
    # from that same row, not from the database again (without it kept, CPython frees the
    # unreferenced row at once, the identity map forgets it, and the next read queries)
    headers = await _kitchen(client, make_key, "alpha")
    await shortlist(client, headers)  # the pool is built, the key touched
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await shortlist(client, headers)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert any("FROM api_keys" in s for s in statements)  # the key was looked up, with it
    reads = [s for s in statements if "FROM tenants" in s and "api_keys" not in s]
    assert reads == []


async def test_a_full_pool_cache_evicts_one_tenant_not_all(app, client, make_key, monkeypatch):
    monkeypatch.setattr(pool_service, "_STATES", Lru(2))
    alpha = await _kitchen(client, make_key, "alpha")
    beta = await _kitchen(client, make_key, "beta")
    gamma = await _kitchen(client, make_key, "gamma")
    await shortlist(client, alpha)
    await shortlist(client, beta)
    await shortlist(client, alpha)  # alpha is the most recent now
    await shortlist(client, gamma)  # the cache is full: beta, the least recent, goes
    held = set(pool_service._STATES)
    assert held == {await _tenant_id(app, "alpha"), await _tenant_id(app, "gamma")}
    assert all(state.pool is not None for state in pool_service._STATES.values())


async def _old_tombstones(owner_engine, kind: str, tenant_ids) -> None:
    """One 30-day-old tombstone of ``kind`` (candidate or vacancy) per tenant."""
    async with owner_engine.begin() as conn:
        for tenant_id in tenant_ids:
            await conn.execute(
                text(
                    f"INSERT INTO {kind}_deletions (tenant_id, deleted_xid, {kind}_id, "
                    "deleted_at) VALUES (:t, 1, :r, now() - interval '30 days')"
                ),
                {"t": tenant_id, "r": uuid.uuid4()},
            )


async def _tombstones_left(owner_engine, kind: str) -> dict:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT tenant_id, count(*) FROM {kind}_deletions GROUP BY tenant_id")
        )
        return dict(rows.all())


async def test_one_tenants_shortlist_prunes_only_its_own_tombstones(
    app, client, make_key, owner_engine
):
    alpha = await _kitchen(client, make_key, "alpha")
    await _kitchen(client, make_key, "beta")
    ids = {name: await _tenant_id(app, name) for name in ("alpha", "beta")}
    await _old_tombstones(owner_engine, "candidate", ids.values())
    tombstones._PRUNED.pop((ids["alpha"], "candidates"))  # this process has not pruned yet
    await shortlist(client, alpha)
    left = await _tombstones_left(owner_engine, "candidate")
    assert ids["alpha"] not in left  # its own old tombstones are gone
    assert left[ids["beta"]] == 1  # another tenant's are not touched


async def test_compaction_runs_off_the_event_loop_and_requests_see_whole_pools(
    app, client, make_key, monkeypatch
):
    alpha = await _kitchen(client, make_key, "alpha")
    await shortlist(client, alpha)  # loads the pool: 4 candidates in its base
    for i in range(6):  # the delta outgrows the base: the next look compacts
        body = person(f"Line cook number {i}, pasta and sauces.", ["food preparation"])
        await client.put(f"/v1/candidates/extra-{i}", json=body, headers=alpha)
    threads: list[threading.Thread] = []
    original = CandidatePool.compacted

    def slow_compaction(self: CandidatePool) -> CandidatePool:
        threads.append(threading.current_thread())
        time.sleep(0.4)  # a big tenant's compaction, in miniature
        return original(self)

    monkeypatch.setattr(CandidatePool, "compacted", slow_compaction)
    beats: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        while not stop.is_set():
            beats.append(time.perf_counter())
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(heartbeat())
    first, second = await asyncio.gather(shortlist(client, alpha), shortlist(client, alpha))
    stop.set()
    await beat
    assert threads
    assert all(t is not threading.main_thread() for t in threads)
    # The loop kept running while the tenant's pool was compacted (0.4 s in the thread): no
    # gap between heartbeats comes near the compaction's length.
    assert max(b - a for a, b in itertools.pairwise(beats)) < 0.2
    for result in (first, second):  # each request saw a whole pool, never a half-built one
        assert result["considered"] == len(PEOPLE) + 6
        assert len(result["items"]) == len(PEOPLE) + 6
    state = pool_service._STATES.peek(await _tenant_id(app, "alpha"))
    assert state is not None
    assert state.pool is not None
    assert not state.pool.bm25.delta


async def test_vacancy_index_sees_a_write_that_committed_late(app, client, make_key):
    """The vacancy-side BM25 follows the change feed: a write whose transaction began before
    another one committed, and committed after the index looked, is still picked up."""
    admin = await make_key("alpha", "admin")
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    for ext in ("v-late", "v-other"):
        body = payloads.vacancy(title="Operaio", description="Lavoro generico.", required_skills=[])
        await client.put(f"/v1/vacancies/{ext}", json=body, headers=admin)
    summary = "Magazziniere carrellista con patentino, esperienza di picking."
    await client.put("/v1/candidates/c-1", json=payloads.candidate(summary=summary), headers=admin)

    async def lexical_of(vacancy: str) -> float:
        r = await client.get("/v1/candidates/c-1/matches", headers=admin)
        assert r.status_code == 200, r.text
        items = {i["vacancy_external_id"]: i for i in r.json()["items"]}
        return items[vacancy]["explanation"]["components"]["lexical"]

    assert await lexical_of("v-late") == 0.0
    async with app.state.sessionmaker() as late:
        await late.begin()
        # Stamped now, at its start; it commits only after the index has looked.
        await late.execute(
            text(
                "UPDATE vacancies SET search_text = 'Magazziniere carrellista. Picking.', "
                "updated_at = now(), version = version + 1 WHERE external_id = 'v-late'"
            )
        )
        # Another write commits meanwhile and moves the table's last update past it.
        other = payloads.vacancy(title="Operaio", description="Altro testo.", required_skills=[])
        assert (await client.put("/v1/vacancies/v-other", json=other, headers=admin)).status_code
        assert await lexical_of("v-late") == 0.0  # not committed yet
        await late.commit()
    assert await lexical_of("v-late") > 0.5
    # Deletions reach the index too.
    assert (await client.delete("/v1/vacancies/v-late", headers=admin)).status_code == 204
    tenant_id = await _tenant_id(app, "alpha")
    state = lexical_service._STATES.peek((tenant_id, "vacancies"))
    await lexical_of("v-other")
    assert state is not None
    assert len(state.index) == 1


def test_a_compacted_pool_leaves_the_old_one_as_it_was():
    """With nothing dead the new pool shares the old one's columns; a row it forgets later
    must not turn off a slot that a request holding the old pool still reads."""
    from tests.test_pool import pool_row

    old = CandidatePool(4)
    rows = [pool_row(f"text {i}") for i in range(3)]
    old.apply(rows)
    new = old.compacted()
    new.apply([], deleted=[rows[0].id])
    slot = old.pos[rows[0].id]
    assert old.alive[slot]
    assert old.has_vector[slot]
    assert old.ids[slot] == rows[0].id
    assert not new.alive[slot]


def test_one_batch_holding_two_versions_of_a_row_keeps_the_newer():
    from tests.test_pool import pool_row

    pool = CandidatePool(4)
    first = pool_row("old text", xid=5)
    second = pool_row("new text", xid=7, row_id=first.id)
    pool.apply([second, first])
    assert len(pool) == 1
    slot = pool.pos[first.id]
    assert pool.xid[slot] == 7
    assert int(pool.alive[: pool.size].sum()) == 1
    assert all(pool.ids[s] is not None for s in range(pool.size) if pool.alive[s])


async def test_a_failed_first_build_of_the_vacancy_index_is_retried_whole(
    app, client, make_key, monkeypatch
):
    from app.ml.bm25 import KeyedBm25

    admin = await make_key("alpha", "admin")
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    for i in range(3):
        await client.put(f"/v1/vacancies/v-{i}", json=payloads.vacancy(), headers=admin)
    tenant_id = await _tenant_id(app, "alpha")
    monkeypatch.setattr(lexical_service, "_FIRST_BUILD_OFF_LOOP", 0)
    original = KeyedBm25.apply
    calls = 0

    def failing_once(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("cancelled mid-build")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(KeyedBm25, "apply", failing_once)
    lexical_service._STATES.pop((tenant_id, "vacancies"))
    async with app.state.sessionmaker() as session:
        with pytest.raises(RuntimeError):
            await lexical_service.lexical_index(session, tenant_id, "vacancies")
        index = await lexical_service.lexical_index(session, tenant_id, "vacancies")
    assert len(index) == 3


async def test_vacancy_tombstones_are_pruned_per_tenant(app, client, make_key, owner_engine):
    alpha = await make_key("alpha", "admin")
    await make_key("beta", "admin")
    await client.put("/v1/candidates/c-1", json=payloads.candidate(), headers=alpha)
    ids = {name: await _tenant_id(app, name) for name in ("alpha", "beta")}
    await _old_tombstones(owner_engine, "vacancy", ids.values())
    tombstones._PRUNED.pop((ids["alpha"], "vacancies"))
    r = await client.get("/v1/candidates/c-1/matches", headers=alpha)
    assert r.status_code == 200, r.text
    left = await _tombstones_left(owner_engine, "vacancy")
    assert ids["alpha"] not in left
    assert left[ids["beta"]] == 1


def test_an_erased_rows_words_leave_the_index_at_the_next_compaction():
    from tests.test_pool import pool_row

    pool = CandidatePool(4)
    person, other = pool_row("Mario Rossi 3331234567 magazziniere"), pool_row("magazziniere")
    pool.apply([person, other])
    pool = pool.compacted()
    assert "rossi" in pool.bm25.base.vocab
    pool.apply([], deleted=[person.id])
    assert not pool.vectors[pool.size - 2].any()  # its vector is zeroed at once
    pool = pool.compacted()
    assert {"mario", "rossi", "3331234567"}.isdisjoint(pool.bm25.base.vocab)
    assert pool.lexical_scores("magazziniere")[0][pool.pos[other.id]] > 0
