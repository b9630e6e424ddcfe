"""Placement spans stay equal to the fold of the feedback log: written with every event that
can change them, filled by the migration that made them, rebuilt by the CLI (issue 12)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.cli import cli
from app.db import migrate
from app.db.engine import session_factory
from app.services import placement_spans
from app.services.stints import span_rows
from tests.test_feedback import event, post, setup_kitchen
from tests.test_migrations import scratch  # noqa: F401  (fixture)

SPANS = (
    "SELECT path_key, seq, kind, vacancy_external_id, started_at, ended_at, outcome, "
    "planned_end, extensions FROM placement_spans ORDER BY path_key, seq"
)


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def spans(engine) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(SPANS))]


async def test_spans_follow_every_event_out_of_order_and_retracted(client, admin, owner_engine):
    await setup_kitchen(client, admin, positions=3)
    steps = [
        event("a1", "internship_started", "cand-1", occurred_at="2026-03-02T09:00:00Z"),
        event("a2", "hired", "cand-1", occurred_at="2026-08-01T09:00:00Z"),
        # back-filled later, but it happened between the two
        event("a3", "internship_extended", "cand-1", occurred_at="2026-05-20T09:00:00Z"),
        event("b1", "internship_started", "cand-2", occurred_at="2026-04-01T09:00:00Z"),
        event("b2", "dropped_out", "cand-2", reason="other", occurred_at="2026-04-15T09:00:00Z"),
        event("c1", "hired", "cand-3", occurred_at="2026-06-01T09:00:00Z"),
    ]
    ids = {}
    for body in steps:
        r = await post(client, admin, body)
        assert r.status_code == 201, r.text
        ids[body["idempotency_key"]] = r.json()["id"]
    # the dropout is retracted: cand-2's internship runs again
    await post(client, admin, event("r1", "retracted", "cand-2", retracts=ids["b2"]))
    stored = await spans(owner_engine)
    kinds = sorted((row[2], str(row[6]), str(row[7]), row[8]) for row in stored)
    expected = sorted(
        (kind, str(outcome), str(end), extensions)
        for kind, outcome, end, extensions in [
            ("internship", "hired", dt.date(2026, 9, 2), 1),  # 3 + 3 months from 2 March
            ("contract", None, None, 0),  # cand-1's, from the hire
            ("internship", None, dt.date(2026, 7, 1), 0),  # cand-2's, running again
            ("contract", None, None, 0),  # cand-3, hired straight away
        ]
    )
    assert kinds == expected
    # the stored spans are exactly what refolding the whole log gives
    async with owner_engine.connect() as conn:
        tenant_id = await conn.scalar(text("SELECT id FROM tenants WHERE name = 'alpha'"))
    async with session_factory(owner_engine)() as session, session.begin():
        await placement_spans.rebuild(session, tenant_id)
    assert await spans(owner_engine) == stored


async def test_rebuild_spans_restores_a_damaged_projection(client, admin, owner_engine, cli_env):
    await setup_kitchen(client, admin)
    await post(client, admin, event("a1", "internship_started", occurred_at="2026-03-02T09:00:00Z"))
    stored = await spans(owner_engine)
    assert len(stored) == 1
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM placement_spans"))
    rebuild = ["feedback", "rebuild-spans", "--tenant"]
    result = await asyncio.to_thread(cli_env.invoke, cli, [*rebuild, "alpha"])
    assert result.exit_code == 0, result.output
    assert "1 internships and contracts" in result.output
    assert await spans(owner_engine) == stored
    missing = await asyncio.to_thread(cli_env.invoke, cli, [*rebuild, "nobody"])
    assert missing.exit_code == 1


async def test_the_migration_fills_spans_from_the_log_already_recorded(scratch, settings):  # noqa: F811
    await asyncio.to_thread(migrate.upgrade, scratch.owner, settings, "0006")
    engine = create_async_engine(scratch.owner)
    tenant, path, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rows = [
        (path, "internship_started", 3, "2026-01-10"),
        (path, "internship_extended", 2, "2026-03-01"),
        (path, "hired", None, "2026-06-01"),
        (other, "internship_started", 3, "2026-02-01"),
        (other, "dropped_out", None, "2026-02-20"),
    ]
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO tenants (id, name) VALUES (:t, 'legacy')"), {"t": tenant}
        )
        for n, (path_key, kind, months, day) in enumerate(rows):
            await conn.execute(
                text(
                    "INSERT INTO feedback_events (tenant_id, vacancy_external_id, person_key, "
                    "path_key, event, reason, months, occurred_at, idempotency_key, body_hash, "
                    "link) VALUES (:t, 'vac-old', :p, :path, :e, :r, :m, :at, :k, :h, 'none')"
                ),
                {
                    "t": tenant,
                    "p": path_key,
                    "path": path_key,
                    "e": kind,
                    "r": "other" if kind == "dropped_out" else None,
                    "m": months,
                    "at": dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC),
                    "h": b"\x00",
                    "k": f"k{n}",
                },
            )
    await asyncio.to_thread(migrate.upgrade, scratch.owner, settings, "head")
    filled = await spans(engine)
    await engine.dispose()
    by_path = {}
    for row in filled:
        by_path.setdefault(row[0], []).append((row[2], row[6], row[7], row[8]))
    assert by_path == {
        path: [("internship", "hired", dt.date(2026, 6, 10), 1), ("contract", None, None, 0)],
        other: [("internship", "dropped_out", dt.date(2026, 5, 1), 0)],
    }


def test_span_rows_copy_the_latest_events_references():
    class E:
        def __init__(self, kind, at, vacancy):
            self.event, self.months, self.occurred_at = kind, None, at
            self.vacancy_id, self.vacancy_external_id = None, vacancy
            self.employer_id, self.contract, self.candidate_id = None, None, None
            self.person_key = "p"

    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = span_rows("t", "k", [E("internship_started", at, "old"), E("hired", at, "new")])
    assert [r["vacancy_external_id"] for r in rows] == ["new", "new"]
    assert [r["seq"] for r in rows] == [0, 1]
    assert span_rows("t", "k", []) == []


async def test_concurrent_events_on_one_path_leave_the_spans_a_rebuild_gives(
    client, admin, owner_engine
):
    await setup_kitchen(client, admin, positions=1)
    bodies = [
        event("p1", "internship_started", occurred_at="2026-02-01T09:00:00Z"),
        event("p2", "internship_extended", months=2, occurred_at="2026-04-01T09:00:00Z"),
        event("p3", "hired", occurred_at="2026-07-01T09:00:00Z"),
        event("p4", "internship_started", "cand-2", occurred_at="2026-02-03T09:00:00Z"),
        event("p5", "dropped_out", "cand-2", reason="other", occurred_at="2026-03-01T09:00:00Z"),
    ]
    answers = await asyncio.gather(*(post(client, admin, body) for body in bodies))
    assert [a.status_code for a in answers] == [201] * len(bodies)
    stored = await spans(owner_engine)
    async with owner_engine.connect() as conn:
        tenant_id = await conn.scalar(text("SELECT id FROM tenants WHERE name = 'alpha'"))
    async with session_factory(owner_engine)() as session, session.begin():
        await placement_spans.rebuild(session, tenant_id)
    assert await spans(owner_engine) == stored
    assert sorted((row[2], str(row[6])) for row in stored) == [
        ("contract", "None"),
        ("internship", "dropped_out"),
        ("internship", "hired"),
    ]
    vacancy = (await client.get("/v1/vacancies/vac-1", headers=admin)).json()
    assert vacancy["status"] == "filled"
