"""In-process state per tenant: bounded least-recently-used first, maintained per tenant, and
kept current without blocking the event loop or missing a late commit."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from sqlalchemy import select, text

from app.db.tables import Tenant
from app.ml.pool import CandidatePool
from app.services import lexical as lexical_service
from app.services import pool as pool_service
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


async def test_one_tenants_shortlist_prunes_only_its_own_tombstones(
    app, client, make_key, owner_engine
):
    alpha = await _kitchen(client, make_key, "alpha")
    await _kitchen(client, make_key, "beta")
    ids = {name: await _tenant_id(app, name) for name in ("alpha", "beta")}
    async with owner_engine.begin() as conn:
        for tenant_id in ids.values():
            await conn.execute(
                text(
                    "INSERT INTO candidate_deletions (tenant_id, deleted_xid, candidate_id, "
                    "deleted_at) VALUES (:t, 1, :c, now() - interval '30 days')"
                ),
                {"t": tenant_id, "c": uuid.uuid4()},
            )
    pool_service._STATES.pop(ids["alpha"])  # a fresh state: its first look prunes
    await shortlist(client, alpha)
    async with owner_engine.connect() as conn:
        left = dict(
            (
                await conn.execute(
                    text("SELECT tenant_id, count(*) FROM candidate_deletions GROUP BY tenant_id")
                )
            ).all()
        )
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
    ticks = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(heartbeat())
    first, second = await asyncio.gather(shortlist(client, alpha), shortlist(client, alpha))
    stop.set()
    await beat
    assert threads
    assert all(t is not threading.main_thread() for t in threads)
    assert ticks > 15  # the loop kept running while the tenant's pool was compacted
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
