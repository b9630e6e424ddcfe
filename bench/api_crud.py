"""Benchmark: latency of the CRUD API over TCP, against a real `ponte serve` in another process.

    .venv/bin/python bench/api_crud.py [--n 500] [--concurrency 1 4]

Starts `ponte serve --migrate` on a scratch embedded PostgreSQL (or on DATABASE_URL's server, if
set), bootstraps an admin key, then times candidate PUTs (create), GETs, PATCHes and list pages.
Prints a Markdown table (milliseconds) and the server's resident memory afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
import psutil
from common import percentiles, scratch_server


def candidate(i: int) -> dict:
    """Returns a plausible candidate profile, different for each i."""
    trades = ["aiuto cuoco", "magazziniere", "addetta pulizie", "OSS", "commessa", "elettricista"]
    trade = trades[i % len(trades)]
    return {
        "skills": [trade, "lavoro in squadra", {"label": "patente B", "level": 3, "years": i % 7}],
        "summary": f"Esperienza di {i % 9 + 1} anni come {trade}; disponibile su turni. " * 3,
        "languages": [{"code": "it", "level": "B1"}, {"code": "en", "level": "A2"}],
        "location": {"municipality": "Milano", "country": "IT", "lat": 45.46, "lon": 9.19},
        "max_commute_km": 20,
        "available_from": "2027-01-07",
        "work_permit": "yes",
    }


async def timed(coro) -> float:
    start = time.perf_counter()
    r = await coro
    elapsed = time.perf_counter() - start
    if r.status_code >= 400:
        raise RuntimeError(f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text}")
    return elapsed


async def run_phase(concurrency: int, calls: list) -> tuple[list[float], float]:
    """Runs ``calls`` (factories of coroutines) ``concurrency`` at a time."""
    samples: list[float] = []
    queue = list(calls)
    start = time.perf_counter()

    async def worker() -> None:
        while queue:
            make = queue.pop()
            samples.append(await timed(make()))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples, time.perf_counter() - start


async def bench(base: str, key: str, n: int, concurrency: int, tag: str) -> list[tuple]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    rows = []
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as c:
        ids = [f"bench-{tag}-{i:05d}" for i in range(n)]
        phases = {
            "PUT create": [
                lambda i=i: c.put(f"/v1/candidates/{i}", json=candidate(n)) for i in ids
            ],
            "GET one": [lambda i=i: c.get(f"/v1/candidates/{i}") for i in ids],
            "PATCH": [
                lambda i=i: c.patch(f"/v1/candidates/{i}", json={"max_commute_km": 25}) for i in ids
            ],
            "GET list (50)": [lambda: c.get("/v1/candidates", params={"limit": 50})] * n,
        }
        for name, calls in phases.items():
            samples, wall = await run_phase(concurrency, calls)
            p50, p95, p99 = percentiles(samples)
            rows.append((name, concurrency, len(samples), p50, p95, p99, len(samples) / wall))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="requests per phase")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    with scratch_server(args.port, "ponte-bench-") as (base, key, proc, _):
        rows = []
        for conc in args.concurrency:
            rows += asyncio.run(bench(base, key, args.n, conc, f"c{conc}"))
        rss = psutil.Process(proc.pid).memory_info().rss / 2**20

    print("| operation | concurrency | requests | p50 ms | p95 ms | p99 ms | req/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, conc, count, p50, p95, p99, rps in rows:
        print(f"| {name} | {conc} | {count} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {rps:.0f} |")
    print(f"\nserver resident memory after the run: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
