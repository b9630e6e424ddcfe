"""The in-process candidate pool: same gates as SQL, same BM25 as the reference index, and kept
in step with the database by the change feed — late commits and deletions included."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import numpy as np
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, Employer, Tenant, Vacancy
from app.ml import gates
from app.ml.centring import centred_cosines
from app.ml.evaluation import BM25
from app.ml.gates import VacancyView
from app.ml.pool import CandidatePool, PoolRow
from app.ml.retrieval import block_products, similarities
from app.repositories.change_feed import ChangeFeedRepository
from app.repositories.matching import GATE_SQL
from app.repositories.pool import PoolRepository
from app.schemas import Principal, Role
from app.services.rankers import ranker_for
from app.services.ranking import RankingService
from tests import payloads
from tests.test_matching import PEOPLE, cook_vacancy, shortlist

LEVELS = ["A1", "A2", "B1", "B2", "C1", "C2", "native"]


def random_candidate(rng: random.Random, i: int) -> dict:
    languages = [
        {"code": rng.choice(["it", "en", "nl", "ar"]), "level": rng.choice(LEVELS)}
        for _ in range(rng.choice([0, 1, 1, 2, 3]))
    ]
    location = (
        {"lat": 45.46 + rng.uniform(-0.5, 0.5), "lon": 9.19 + rng.uniform(-0.5, 0.5)}
        if rng.random() < 0.8
        else None
    )
    return {
        "external_id": f"c{i}",
        "status": rng.choice(["active", "active", "placed", "paused", "withdrawn"]),
        "work_permit": rng.choice(["yes", "no", "pending", "unknown"]),
        "available_from": rng.choice([None, dt.date(2027, 1, 1), dt.date(2027, 3, 1)]),
        "languages": languages,
        "location": location,
        "max_commute_km": rng.choice([None, 5.0, 20.0, 60.0]),
        "skills": ["food preparation"],
        "search_text": f"candidate {i} food preparation",
    }


IT_B1 = [{"code": "it", "min_level": "B1"}]
IT_A2_EN_NATIVE = [{"code": "it", "min_level": "A2"}, {"code": "en", "min_level": "native"}]
VACANCIES = [
    {"start_date": dt.date(2027, 2, 1), "remote": False, "languages": IT_B1},
    {"start_date": None, "remote": True, "languages": []},
    {"start_date": dt.date(2027, 1, 1), "remote": False, "languages": IT_A2_EN_NATIVE},
    {
        "start_date": dt.date(2026, 6, 1),
        "remote": False,
        "languages": [{"code": "fr", "min_level": "A1"}],
    },
]


EXPECTED = (
    "SELECT c.id, "
    + ", ".join(f"({sql}) AS {name}" for name, sql in GATE_SQL.items())
    + ", ponte_language_fit(v.languages, c.languages) AS fit, "
    "CASE WHEN c.lat IS NOT NULL AND v.lat IS NOT NULL THEN "
    "ponte_haversine_km(c.lat, c.lon, v.lat, v.lon) END AS km "
    "FROM candidates c JOIN vacancies v ON v.tenant_id = c.tenant_id WHERE v.id = :v"
)


async def test_gates_language_fit_and_distance_agree_with_sql(owner_engine, clean_db):
    rng = random.Random(3)
    async with owner_engine.begin() as conn:
        tenant_id = (
            await conn.execute(insert(Tenant).values(name="gates").returning(Tenant.id))
        ).scalar_one()
        employer_id = (
            await conn.execute(
                insert(Employer)
                .values(tenant_id=tenant_id, external_id="e", name="E")
                .returning(Employer.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(Candidate),
            [{"tenant_id": tenant_id, **random_candidate(rng, i)} for i in range(150)],
        )
        vacancy_ids = []
        for j, v in enumerate(VACANCIES):
            location = None if j == 3 else {"lat": 45.5, "lon": 9.2}
            vacancy_ids.append(
                (
                    await conn.execute(
                        insert(Vacancy)
                        .values(
                            tenant_id=tenant_id,
                            external_id=f"v{j}",
                            employer_id=employer_id,
                            title="t",
                            location=location,
                            **v,
                        )
                        .returning(Vacancy.id)
                    )
                ).scalar_one()
            )
    async with owner_engine.connect() as conn:
        session = AsyncSession(bind=conn)
        _, changed, _ = await ChangeFeedRepository(session).changes("candidates", tenant_id, -1)
        rows = await PoolRepository(session).rows(tenant_id, [row_id for row_id, _ in changed])
        pool = CandidatePool(384)
        pool.apply(rows)
        for vacancy_id in vacancy_ids:
            vacancy = (
                await session.execute(select(Vacancy).where(Vacancy.id == vacancy_id))
            ).scalar_one()
            expected = (await conn.execute(text(EXPECTED), {"v": vacancy_id})).mappings().all()
            view = VacancyView(
                vacancy.start_date, vacancy.remote, vacancy.lat, vacancy.lon, vacancy.languages
            )
            states = gates.gate_states(pool, view, list(GATE_SQL))
            slots = np.array([pool.pos[row["id"]] for row in expected])
            found = gates.language_fit(pool, view, slots)
            fit = [None] * len(slots) if found is None else list(found)
            for row, slot, f in zip(expected, slots, fit, strict=True):
                for gate in GATE_SQL:
                    assert states[gate][slot] == row[gate], (gate, dict(row))
                assert f == (pytest.approx(float(row["fit"])) if row["fit"] is not None else None)
                if row["km"] is not None and vacancy.lat is not None:
                    km = gates.distances(pool, view, np.array([slot]))[0]
                    assert km == pytest.approx(row["km"], rel=1e-9)
        await session.close()


def pool_row(text_: str, xid: int = 1, row_id: uuid.UUID | None = None, dim: int = 4) -> PoolRow:
    return PoolRow(
        id=row_id or uuid.uuid4(),
        xid=xid,
        external_id="x",
        labels=[],
        status="active",
        work_permit="yes",
        available_from=None,
        lat=None,
        lon=None,
        max_commute_km=None,
        languages=[],
        search_text=text_,
        embedding=np.ones(dim, dtype=np.float32) / np.sqrt(dim),
    )


def test_commute_gate_decides_as_the_haversine_distance_even_at_the_limit():
    # The gate compares cosines; at the limit itself the haversine distance must decide.
    rng = random.Random(5)
    vacancy = VacancyView(None, False, 45.4642, 9.19, [])
    places = [(45.4642, 9.19), (45.4642, 9.19001)] + [
        (rng.uniform(36, 47), rng.uniform(6, 18)) for _ in range(400)
    ]
    probe = CandidatePool(4)
    rows = []
    for i, (lat, lon) in enumerate(places):
        row = pool_row(str(i))
        row.lat, row.lon = lat, lon
        rows.append(row)
    probe.apply(rows)
    km = gates.distances(probe, vacancy, np.arange(len(rows)))
    limits = []
    for d in km.tolist():
        limits += [d, float(np.nextafter(d, np.inf)), float(np.nextafter(d, -np.inf))]
        limits += [d * (1 + 1e-12), d * (1 - 1e-12), rng.uniform(0, 2 * d + 1)]
    pool = CandidatePool(4)
    tested = []
    for i, limit in enumerate(limits):
        row = pool_row(str(i))
        row.lat, row.lon = places[i // 6]
        row.max_commute_km = limit
        tested.append(row)
    pool.apply(tested)
    gate = gates.gate_states(pool, vacancy, ["commute"])["commute"][: len(tested)]
    expected = np.where(np.repeat(km, 6) <= np.array(limits), 1, -1)
    np.testing.assert_array_equal(gate, expected)
    # The same place: a limit of 0 km passes, anything below it fails.
    assert gate[0] == 1
    assert gate[2] == -1


def test_bm25_with_delta_and_after_rebuild_matches_the_reference_index():
    rng = random.Random(1)
    words = [f"w{i}" for i in range(40)]
    texts = [" ".join(rng.choices(words, k=rng.randint(0, 30))) for _ in range(300)]
    rows = [pool_row(t) for t in texts]
    pool = CandidatePool(4)
    pool.apply(rows[:200])
    pool = pool.compacted()
    pool.apply(rows[200:250])  # a small delta, scored with the base's statistics
    assert len(pool.bm25.delta) == 50
    assert not pool.wants_compaction
    query = "w1 w2 w3 w30 unknown"
    assert pool.lexical_scores(query)[0][pool.pos[rows[220].id]] > 0 or "w1" not in texts[220]
    pool.apply(rows[250:])  # the delta outgrows its bound: the base is to be rebuilt
    assert pool.wants_compaction
    before = pool
    pool = pool.compacted()
    assert not pool.bm25.delta
    assert len(before.bm25.delta) == 100  # the old pool is left as it was
    reference = BM25(texts)
    got, _ = pool.lexical_scores(query)
    np.testing.assert_allclose(
        [got[pool.pos[r.id]] for r in rows], reference.scores(query), rtol=1e-6
    )
    # A replaced row is scored by its new text; an older version never overwrites a newer one.
    pool.apply([pool_row("w30 w30 w30", xid=5, row_id=rows[0].id)])
    pool.apply([pool_row("w1", xid=4, row_id=rows[0].id)])
    assert pool.lexical_scores("w30")[0][pool.pos[rows[0].id]] > 0
    pool.apply([], deleted=[rows[1].id])
    assert rows[1].id not in pool.pos
    assert len(pool) == 299


def test_bulk_load_compacts_once_not_per_batch():
    """A first load applies batches with ``bulk``: only term counts are encoded, no BM25 base is
    built and no label index, until the one compaction that publishes the pool."""
    rows = [pool_row(f"word{i % 50} text {i}") for i in range(3000)]
    pool = CandidatePool(4)
    for start in range(0, len(rows), 500):
        pool.apply(rows[start : start + 500], bulk=True)
        assert pool.bm25.base.rows == 0
        assert not pool.bm25.delta
    pool = pool.compacted()
    assert pool.bm25.base.rows == 3000
    assert not pool.bm25.staged
    assert not pool.wants_compaction
    reference = BM25([r.search_text for r in rows])
    np.testing.assert_allclose(
        pool.lexical_scores("word7 text")[0], reference.scores("word7 text"), rtol=1e-6
    )


def test_long_texts_keep_every_window():
    pool = CandidatePool(2)
    row = pool_row("a")
    row.embedding = np.array([1, 0], dtype=np.float32)
    row.chunks = np.array([[1, 0], [0, 1]], dtype=np.float32)
    pool.apply([row, pool_row("b", dim=2)])
    profile, best = similarities(pool, np.array([0, 1], dtype=np.float32), np.arange(pool.size))
    slot = pool.pos[row.id]
    assert profile[slot] == 0.0
    assert best[slot] == 1.0
    assert len(pool.text_vectors(slot)) == 2


def unit_vectors(rng: np.random.Generator, dim: int = 8):
    """``unit(*shape)``: random unit vectors of ``dim`` dimensions in that shape."""

    def unit(*shape):
        v = rng.normal(size=(*shape, dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    return unit


@pytest.mark.parametrize("centred", [True, False])
def test_a_blocks_products_give_each_query_its_own_similarities(centred):
    # What a batch computes in one matrix product for a block of vacancies is, per vacancy,
    # what a single ranking computes by itself: for a small share of the rows (gathered) and
    # for a large one (a pass over all), profile vectors and text windows alike.
    unit = unit_vectors(np.random.default_rng(3))

    pool = CandidatePool(8)
    rows = []
    for i in range(60):
        row = pool_row(str(i), dim=8)
        row.embedding = unit()
        if i % 3 == 0:
            row.chunks = unit(2)
        rows.append(row)
    pool.apply(rows)
    centroid = unit() * 0.3 if centred else None
    queries = list(unit(5))
    block = block_products(pool, queries, centroid)
    for slots in (np.arange(0, pool.size, 7), np.arange(pool.size)):  # few, all
        for j, query in enumerate(queries):
            alone = similarities(pool, query, slots, centroid)
            shared = similarities(pool, query, slots, centroid, block.of(j))
            np.testing.assert_allclose(shared[0], alone[0], rtol=0, atol=1e-6)
            np.testing.assert_allclose(shared[1], alone[1], rtol=0, atol=1e-6)
            assert not np.allclose(shared[1], shared[0])  # the windows took part


def test_the_pools_centroid_products_follow_its_rows():
    # The rows' products with the centroid are kept between rankings (one pass over the vectors
    # per ranking): an edit, a deletion or a compaction must not leave a stale one, even when
    # the centroid asked for is the same.
    unit = unit_vectors(np.random.default_rng(4))

    pool = CandidatePool(8)
    rows = [pool_row(str(i), dim=8) for i in range(40)]
    for row in rows:
        row.embedding = unit()
    pool.apply(rows)
    centroid, query = unit() * 0.3, unit()

    def check(pool, centroid=centroid):
        # every slot, the dead ones too: the products are of the vectors as they are now; a
        # few gathered before anything is kept for the rows as they are (they make their
        # own), a pass over all (it makes the pool's), a few gathered again (they read those)
        slots = np.arange(pool.size)
        for chosen in (slots[::7], slots, slots[::7]):
            profile, _ = similarities(pool, query, chosen, centroid)
            rows_ = pool.vectors[chosen]
            expected = centred_cosines(rows_ @ query, rows_ @ centroid, query, centroid)
            np.testing.assert_allclose(profile, expected, rtol=0, atol=1e-6)

    check(pool, unit() * 0.2)  # another centroid, the same rows
    check(pool)
    pool.apply([], [rows[14].id])  # a deletion zeroes the row's vector in its slot
    check(pool)
    edited = pool_row("edited", xid=2, row_id=rows[7].id, dim=8)
    edited.embedding = unit()
    pool.apply([edited])  # an edit: the old slot dies, a new one is filled
    check(pool)
    check(pool.compacted())


def test_occupation_vectors_are_shared_and_survive_compaction():
    pool = CandidatePool(2)
    waiter, cook = np.array([1, 0], np.float32), np.array([0.6, 0.8], np.float32)
    rows = [pool_row(str(i), dim=2) for i in range(6)]
    for row, occupation in zip(rows, [waiter, cook, waiter, None, cook, waiter], strict=True):
        row.occupation = occupation
    pool.apply(rows)
    assert len(pool.occupations._rows) == 2  # one vector per distinct occupation
    title = np.array([0.0, 1.0], np.float32)
    slots = np.array([pool.pos[r.id] for r in rows])
    assert pool.title_similarity(title, slots) == pytest.approx(
        [0, 0.8, 0, np.nan, 0.8, 0], nan_ok=True
    )  # NaN: names no occupation
    # Every cook leaves; compaction drops the unused vector and the rest still point right.
    pool.apply([], deleted=[rows[1].id, rows[4].id])
    pool = pool.compacted()
    assert len(pool.occupations._rows) == 1
    kept = [rows[i] for i in (0, 2, 3, 5)]
    slots = np.array([pool.pos[r.id] for r in kept])
    assert pool.title_similarity(np.array([1.0, 0.0], np.float32), slots) == pytest.approx(
        [1, 1, np.nan, 1], nan_ok=True
    )


@pytest.fixture
async def kitchen_pool(client, make_key):
    admin = await make_key("alpha", "admin")
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=admin)
    await client.put("/v1/vacancies/cook", json=cook_vacancy(), headers=admin)
    for ext, body in PEOPLE.items():
        assert (
            await client.put(f"/v1/candidates/{ext}", json=body, headers=admin)
        ).status_code == 201
    return admin


async def test_pool_sees_a_write_that_commits_after_the_pool_looked(app, client, kitchen_pool):
    first = await shortlist(client, kitchen_pool, limit=10)
    assert "cook" in [i["candidate_external_id"] for i in first["items"]]
    async with app.state.sessionmaker() as writer:
        await writer.begin()
        await writer.execute(
            text("UPDATE candidates SET status = 'withdrawn' WHERE external_id = 'cook'")
        )
        # The pool looks while that transaction is still open, and must not skip it later.
        during = await shortlist(client, kitchen_pool, limit=10)
        assert "cook" in [i["candidate_external_id"] for i in during["items"]]
        await writer.commit()
    after = await shortlist(client, kitchen_pool, limit=10)
    assert "cook" not in [i["candidate_external_id"] for i in after["items"]]
    assert after["excluded_by_gate"]["status"] == 1


async def test_pool_follows_creates_edits_and_deletes(client, kitchen_pool):
    await shortlist(client, kitchen_pool, limit=10)
    body = PEOPLE["cook"] | {"summary": "Chef de partie, pasta and sauces."}
    assert (
        await client.put("/v1/candidates/chef", json=body, headers=kitchen_pool)
    ).status_code == 201
    ranked = [i["candidate_external_id"] for i in (await shortlist(client, kitchen_pool))["items"]]
    assert "chef" in ranked
    assert (await client.delete("/v1/candidates/chef", headers=kitchen_pool)).status_code == 204
    result = await shortlist(client, kitchen_pool)
    assert "chef" not in [i["candidate_external_id"] for i in result["items"]]
    assert result["considered"] == len(PEOPLE)
    # An edit that moves someone out of commuting range applies at once.
    far = {"location": {"municipality": "Torino", "country": "IT", "lat": 45.07, "lon": 7.69}}
    r = await client.patch(
        "/v1/candidates/warehouse",
        json=far,
        headers={**kitchen_pool, "Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    result = await shortlist(client, kitchen_pool)
    assert result["excluded_by_gate"]["commute"] == 1


async def rank_in_process(app, encoder, vacancy_id, limit=10, pool_max_rows=None):
    """Tenant alpha's candidates for a vacancy ranked by RankingService itself, by the database
    path with ``pool_max_rows=0``: (items, excluded by gate, considered)."""
    async with app.state.sessionmaker() as session, session.begin():
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.name == "alpha"))
        principal = Principal(tenant_id=tenant_id, tenant_name="alpha", role=Role.admin, key_id="t")
        service = RankingService(session, principal, encoder, pool_max_rows=pool_max_rows)
        ranker = await ranker_for(session, tenant_id, model_id=encoder.model_id)
        vacancy = await service.vacancy(vacancy_id)
        return await service.rank_candidates(vacancy, limit, ranker)


async def test_pool_and_database_paths_rank_alike(app, client, encoder, kitchen_pool):
    pooled = await shortlist(client, kitchen_pool, limit=10)
    items, excluded, total = await rank_in_process(app, encoder, "cook", pool_max_rows=0)
    assert [i["candidate_external_id"] for i in items] == [
        i["candidate_external_id"] for i in pooled["items"]
    ]
    assert [i["score"] for i in items] == pytest.approx(
        [i["score"] for i in pooled["items"]], abs=1e-5
    )
    assert excluded == pooled["excluded_by_gate"]
    assert total == pooled["considered"]
    # Feature by feature, the occupation-to-title similarity (from the pool's vectors) included.
    from_pool, _, _ = await rank_in_process(app, encoder, "cook")
    assert any(item["features"]["title"] is not None for item in items)
    for database_item, pool_item in zip(items, from_pool, strict=True):
        assert database_item["candidate_id"] == pool_item["candidate_id"]
        for name, value in database_item["features"].items():
            expected = None if value is None else pytest.approx(value, abs=1e-5)
            assert pool_item["features"][name] == expected, name


async def test_warm_up_loads_the_pools_before_the_first_shortlist(app, kitchen_pool):
    from app.services import pool as pool_service

    pool_service._STATES.clear()
    loaded = await pool_service.warm(app.state.sessionmaker, 384, 1000)
    assert loaded == 1
    (state,) = pool_service._STATES.values()
    assert state.pool is not None
    assert len(state.pool) == len(PEOPLE)
    # A tenant above the bound is left to the database path.
    pool_service._STATES.clear()
    assert await pool_service.warm(app.state.sessionmaker, 384, 2) == 0


async def test_a_row_gone_without_a_tombstone_is_dropped_not_ranked(
    owner_engine, client, kitchen_pool
):
    # A deletion the change feed cannot see (triggers off, as a TRUNCATE or a restore would
    # be) must not reach a shortlist, nor break the snapshot's reference to candidates.
    await shortlist(client, kitchen_pool, limit=10)
    async with owner_engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text("DELETE FROM candidates WHERE external_id = 'cook'"))
    result = await shortlist(client, kitchen_pool, limit=10)
    assert "cook" not in [i["candidate_external_id"] for i in result["items"]]
    assert len(result["items"]) == len(PEOPLE) - 1


def test_skill_hits_cover_indexed_and_newly_written_rows():
    pool = CandidatePool(4)
    old = pool_row("a")
    old.labels = ["Food preparation", "knife skills"]
    pool.apply([old, pool_row("b")])
    pool = pool.compacted()
    new = pool_row("c")
    new.labels = ["food  preparation"]
    pool.apply([new])  # in the delta, not yet indexed
    hits = pool.skill_hits([("food preparation", 1.0), ("knife skills", 0.2)])
    assert hits[pool.pos[old.id]] == pytest.approx(1.2)
    assert hits[pool.pos[new.id]] == pytest.approx(1.0)
    assert hits.sum() == pytest.approx(2.2)


def test_label_keys_read_indexed_and_newly_written_rows_alike():
    pool = CandidatePool(4)
    old = pool_row("a")
    old.labels = ["Food preparation", "knife skills", "HACCP"]
    bare = pool_row("b")
    pool.apply([old, bare])
    pool = pool.compacted()
    new = pool_row("c")
    new.labels = ["food  preparation", "Pastry"]  # one known key, one the pool has not seen
    pool.apply([new])
    slots = [pool.pos[new.id], pool.pos[bare.id], pool.pos[old.id]]
    keys = pool.label_keys(slots)
    spelled = [[keys.names[k] for k in row if k >= 0] for row in keys.ids.tolist()]
    assert spelled == [
        ["food preparation", "pastry"],
        [],
        ["food preparation", "knife skills", "haccp"],
    ]
    # Vectors: none yet; completed from the cache, kept by the pool for the next ranking.
    assert not keys.known.any()
    cache = {name: np.full(4, i, dtype=np.float32) for i, name in enumerate(keys.names)}
    keys.complete(cache)
    pool.remember_vectors(keys)
    again = pool.label_keys(slots)
    assert again.known.all()
    for name, vector in zip(again.names, again.vectors, strict=True):
        np.testing.assert_array_equal(vector, cache[name])
    # After the keys are renumbered (a rebuild), vectors taken before are not written back.
    stale = pool.label_keys(slots)
    pool = pool.compacted()
    stale.known[:] = True
    pool.remember_vectors(stale)
    assert not pool.label_keys(slots).known.any()


async def test_the_service_warms_pools_when_it_starts(settings, encoder, database, kitchen_pool):
    import asyncio

    from app.main import create_app
    from app.services import pool as pool_service
    from tests.conftest import make_settings

    pool_service._STATES.clear()
    app = create_app(
        make_settings(settings.data_dir, warm_pools=True), encoder=encoder, database=database
    )
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if any(s.pool is not None for s in pool_service._STATES.values()):
                break
            await asyncio.sleep(0.1)
    assert [len(s.pool) for s in pool_service._STATES.values() if s.pool] == [len(PEOPLE)]
