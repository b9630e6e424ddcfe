"""Benchmark: feedback writes over TCP, and every metrics endpoint over 100,000 events.

    .venv/bin/python bench/feedback_load.py [--writes 2000] [--concurrency 4] [--events 100000]

Starts `ponte serve --migrate` (another process) on a scratch embedded PostgreSQL, loads a
programme through the API (20 employers, 100 vacancies, 2,000 candidates, one shortlist per
vacancy), then:

1. posts ``--writes`` single events (POST /v1/feedback, each a new idempotency key, linked to
   the vacancy's latest shortlist, with effects on state), ``--concurrency`` at a time, and
   prints throughput and p50/p95/p99;
2. fills the log to ``--events`` with plausible histories written straight into PostgreSQL
   (the API path is what step 1 measures; this only builds a large log quickly): each pair goes
   shortlisted → contacted → interviewed → internship → extension → hire with falling odds, or
   is rejected or drops out on the way, over two years; then ``ponte feedback rebuild-spans``
   folds the placement spans those rows bypassed (and is timed);
3. times each metrics endpoint 20 times (after one warm-up) and prints p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from common import PONTE, percentiles, scratch_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db.engine import resolve_database  # noqa: E402
from app.services.feedback import event_keys  # noqa: E402

TRADES = ["aiuto cuoco", "magazziniere", "addetta pulizie", "OSS", "commessa", "elettricista"]
START = dt.datetime(2024, 12, 1, tzinfo=dt.UTC)


def candidate(i: int) -> dict:
    trade = TRADES[i % len(TRADES)]
    return {
        "external_id": f"cand-{i:05d}",
        "skills": [trade, "lavoro in squadra"],
        "summary": f"{i % 9 + 1} anni come {trade}, disponibile su turni.",
        "languages": [{"code": "it", "level": "B1"}],
        "location": {"municipality": "Milano", "country": "IT", "lat": 45.46, "lon": 9.19},
        "max_commute_km": 30,
        "work_permit": "yes",
        "entered_on": (START.date() + dt.timedelta(days=i % 600)).isoformat(),
    }


def vacancy(i: int) -> dict:
    trade = TRADES[i % len(TRADES)]
    return {
        "external_id": f"vac-{i:03d}",
        "employer_external_id": f"emp-{i % 20:02d}",
        "title": trade,
        "description": f"Tirocinio come {trade}.",
        "required_skills": [trade],
        "location": {"municipality": "Milano", "country": "IT", "lat": 45.46, "lon": 9.19},
        "contract": "internship" if i % 4 else "fixed_term",
        "positions": 1000,  # the benchmark's people are placed again and again
    }


async def load_programme(c: httpx.AsyncClient) -> dict[str, dict]:
    for i in range(20):
        body = {"name": f"Employer {i}", "size": "small"}
        (await c.put(f"/v1/employers/emp-{i:02d}", json=body)).raise_for_status()
    r = await c.post("/v1/vacancies:bulk", json={"items": [vacancy(i) for i in range(100)]})
    r.raise_for_status()
    for start in range(0, 2000, 500):
        items = [candidate(i) for i in range(start, start + 500)]
        (await c.post("/v1/candidates:bulk", json={"items": items}, timeout=600)).raise_for_status()
    shortlists = {}
    for i in range(100):
        r = await c.post(f"/v1/vacancies/vac-{i:03d}/shortlists", json={"limit": 50}, timeout=60)
        r.raise_for_status()
        shortlists[f"vac-{i:03d}"] = r.json()
    return shortlists


async def writes(c: httpx.AsyncClient, shortlists: dict, n: int, concurrency: int) -> None:
    rng = random.Random(6)
    kinds = ["viewed", "shortlisted", "contacted", "interviewed", "rejected"]
    bodies = []
    for k in range(n):
        vac = f"vac-{rng.randrange(100):03d}"
        item = rng.choice(shortlists[vac]["items"])
        kind = rng.choice(kinds)
        bodies.append(
            {
                "vacancy_external_id": vac,
                "candidate_external_id": item["candidate_external_id"],
                "event": kind,
                "reason": "skills" if kind == "rejected" else None,
                "idempotency_key": f"bench-{k}",
                "actor_ref": "scout-1",
            }
        )
    samples: list[float] = []
    queue = iter(bodies)

    async def worker() -> None:
        for body in queue:
            t = time.perf_counter()
            r = await c.post("/v1/feedback", json={k: v for k, v in body.items() if v is not None})
            samples.append(time.perf_counter() - t)
            if r.status_code != 201:
                raise RuntimeError(r.text)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    took = time.perf_counter() - began
    p50, p95, p99 = percentiles(samples)
    print(
        f"| feedback writes, concurrency {concurrency} | {n} | {n / took:.0f} events/s "
        f"| {p50:.1f} | {p95:.1f} | {p99:.1f} |"
    )


STAGES = ["shortlisted", "contacted", "interviewed", "internship_started"]


def history(rng: random.Random, at: dt.datetime) -> list[tuple[str, dt.datetime, str | None]]:
    """One pair's events: each stage reached with falling odds, or a stop on the way."""
    out: list[tuple[str, dt.datetime, str | None]] = []
    for stage, odds in zip(STAGES, (1.0, 0.7, 0.5, 0.45), strict=True):
        if rng.random() > odds:
            out.append(("rejected", at, rng.choice(["skills", "language", "distance"])))
            return out
        out.append((stage, at, None))
        at += dt.timedelta(days=rng.randint(2, 20))
    if rng.random() < 0.3:
        at += dt.timedelta(days=80)
        out.append(("internship_extended", at, None))
    at += dt.timedelta(days=rng.randint(60, 120))
    ending = rng.random()
    if ending < 0.45:
        out.append(("hired", at, None))
    elif ending < 0.8:
        out.append(("internship_completed", at, None))
    else:
        out.append(("dropped_out", at, "other"))
    return out


async def fill(data_dir: Path, shortlists: dict, target: int) -> str:
    """Fills the log to ``target`` events; returns the tenant's name."""
    import asyncpg

    url = resolve_database(Settings(data_dir=data_dir)).owner
    conn = await asyncpg.connect(url.render_as_string(hide_password=False).replace("+asyncpg", ""))
    try:
        tenant, name = await conn.fetchrow("SELECT id, name FROM tenants LIMIT 1")
        vacancies = {
            r["external_id"]: r
            for r in await conn.fetch(
                "SELECT id, external_id, employer_id, contract FROM vacancies WHERE tenant_id = $1",
                tenant,
            )
        }
        people = {
            r["external_id"]: r["id"]
            for r in await conn.fetch(
                "SELECT id, external_id FROM candidates WHERE tenant_id = $1", tenant
            )
        }
        have = await conn.fetchval("SELECT count(*) FROM feedback_events")
        rng = random.Random(8)
        rows = []
        n = 0
        while have + len(rows) < target:
            vac = f"vac-{rng.randrange(100):03d}"
            shown = shortlists[vac]
            item = rng.choice(shown["items"])
            v = vacancies[vac]
            begin = START + dt.timedelta(days=rng.randrange(700), hours=rng.randrange(24))
            person = people[item["candidate_external_id"]]
            person_key, path_key = event_keys(tenant, v["id"], person)
            for kind, at, reason in history(rng, begin):
                n += 1
                rows.append(
                    (
                        uuid.uuid4(),
                        tenant,
                        v["id"],
                        vac,
                        v["employer_id"],
                        v["contract"],
                        person,
                        person_key,
                        path_key,
                        kind,
                        reason,
                        3
                        if kind.startswith("internship_") and kind != "internship_completed"
                        else None,
                        at,
                        "bench",
                        f"fill-{n}",
                        hashlib.sha256(str(n).encode()).digest(),
                        "latest_shortlist",
                        uuid.UUID(shown["id"]),
                        item["rank"],
                        item["score"],
                        shown["ranker_version"],
                        shown["feature_version"],
                    )
                )
        await conn.copy_records_to_table(
            "feedback_events",
            records=rows,
            columns=[
                "id",
                "tenant_id",
                "vacancy_id",
                "vacancy_external_id",
                "employer_id",
                "contract",
                "candidate_id",
                "person_key",
                "path_key",
                "event",
                "reason",
                "months",
                "occurred_at",
                "key_id",
                "idempotency_key",
                "body_hash",
                "link",
                "shortlist_id",
                "rank",
                "score",
                "ranker_version",
                "feature_version",
            ],
        )
        await conn.execute("ANALYZE feedback_events")
        total = await conn.fetchval("SELECT count(*) FROM feedback_events")
        print(f"feedback log filled to {total} events", file=sys.stderr)
        return str(name)
    finally:
        await conn.close()


def fold_spans(data_dir: Path, tenant: str) -> None:
    """The rows written straight into the log bypassed the service, which keeps the placement
    spans: refold them with the CLI (as after a change to the fold), and time it."""
    env = {**os.environ, "PONTE_DATA_DIR": str(data_dir), "PONTE_LOG_LEVEL": "WARNING"}
    command = [str(PONTE), "feedback", "rebuild-spans", "--tenant", tenant]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    took = time.perf_counter() - start
    print(f"{done.stdout.strip()} in {took:.1f} s (the CLI, start-up included)", file=sys.stderr)


async def metrics(c: httpx.AsyncClient) -> None:
    period = {"from": "2024-12-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
    calls = {
        "outcomes by month": ("/v1/metrics/outcomes", {**period, "group_by": "month"}),
        "outcomes by quarter": ("/v1/metrics/outcomes", {**period, "group_by": "quarter"}),
        "outcomes by employer": ("/v1/metrics/outcomes", {**period, "group_by": "employer"}),
        "outcomes by contract": ("/v1/metrics/outcomes", {**period, "group_by": "contract"}),
        "cohorts by month": ("/v1/metrics/cohorts", {"by": "month"}),
        "ranking quality": ("/v1/metrics/ranking", period),
        "internships (active)": ("/v1/internships", {"status": "active"}),
    }
    for name, (path, params) in calls.items():
        (await c.get(path, params=params, timeout=60)).raise_for_status()
        samples = []
        for _ in range(20):
            t = time.perf_counter()
            (await c.get(path, params=params, timeout=60)).raise_for_status()
            samples.append(time.perf_counter() - t)
        qs = statistics.quantiles(samples, n=100, method="inclusive")
        print(f"| {name} | {qs[49] * 1000:.0f} | {qs[98] * 1000:.0f} |")


async def main_async(args: argparse.Namespace) -> None:
    with scratch_server(args.port, "ponte-feedback-", args.keep) as (base, key, _, data_dir):
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as c:
            shortlists = await load_programme(c)
            print("| phase | events | throughput | p50 ms | p95 ms | p99 ms |")
            print("|---|---:|---:|---:|---:|---:|")
            await writes(c, shortlists, args.writes, args.concurrency)
            tenant = await fill(data_dir, shortlists, args.events)
            fold_spans(data_dir, tenant)
            print("\n| endpoint (100,000 events) | p50 ms | p99 ms |\n|---|---:|---:|")
            await metrics(c)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--keep", type=Path, help="data folder to use and keep (profiling)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
