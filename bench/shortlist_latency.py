"""Benchmark: shortlist latency over TCP at programme size, the server's memory, and recall@50.

    .venv/bin/python bench/load_scale.py --fresh          # once: 100,000 candidates
    .venv/bin/python bench/shortlist_latency.py [--n 300] [--concurrency 1 4] [--client httpx]

Starts `ponte serve` (another process, uvicorn, one worker) on the data folder the loader filled
and asks, from this process over TCP, for shortlists of 50 with every gate on and lexical
retrieval on, for vacancies of both tenants drawn at random. Prints p50/p95/p99 per concurrency,
the first request per tenant (which builds the in-process lexical index) apart, and the server's
resident memory (now and peak). The client is aiohttp unless ``--client httpx``: on two cores
shared by client, service and PostgreSQL, the client's own CPU shows up in the latency.

Then, in this process and against the same database, recall@50 of the index path against an
exact scan with the same gates, for a sample of vacancies: of the vector retriever alone (HNSW
with iterative scan vs a sequential scan), and of the final shortlist (Ponte's ranking with HNSW
retrieval vs the same ranking with exact retrieval).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import psutil
from common import percentiles, wait_ready

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PONTE = Path(sys.executable).with_name("ponte")

from sqlalchemy import text  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db.engine import create_engine, resolve_database, session_factory  # noqa: E402
from app.ml.encoder import Encoder  # noqa: E402
from app.repositories.matching import MatchRepository, Scope  # noqa: E402
from app.schemas import Principal, Role  # noqa: E402
from app.services import ranking  # noqa: E402
from app.services.rankers import ranker_for  # noqa: E402
from app.vocabulary import GATES  # noqa: E402


class Client:
    """POSTs a shortlist request over one keep-alive HTTP/1.1 pool: aiohttp by default (a lean
    client leaves more of the two shared cores to the service), httpx to compare."""

    def __init__(self, kind: str, base: str) -> None:
        self.kind = kind
        self.base = base
        self.httpx: httpx.AsyncClient | None = None
        self.aiohttp: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Client:
        if self.kind == "httpx":
            limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
            self.httpx = httpx.AsyncClient(base_url=self.base, limits=limits, timeout=60)
        else:
            self.aiohttp = aiohttp.ClientSession(
                self.base,
                connector=aiohttp.TCPConnector(limit=8),
                timeout=aiohttp.ClientTimeout(total=60),
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.httpx is not None:
            await self.httpx.aclose()
        if self.aiohttp is not None:
            await self.aiohttp.close()

    async def post(self, path: str, body: Any, key: str) -> tuple[int, Any, str]:
        """Returns (status, decoded JSON body, Server-Timing header)."""
        headers = {"Authorization": f"Bearer {key}"}
        if self.httpx is not None:
            r = await self.httpx.post(path, json=body, headers=headers)
            return r.status_code, r.json(), r.headers.get("server-timing", "")
        assert self.aiohttp is not None
        async with self.aiohttp.post(path, json=body, headers=headers) as response:
            decoded = await response.json(content_type=None)
            return response.status, decoded, response.headers.get("server-timing", "")


async def shortlist(client: Client, key: str, vacancy: str, limit: int) -> tuple[float, float]:
    """Returns (seconds seen by this client, seconds the server says it spent)."""
    start = time.perf_counter()
    status, body, timing = await client.post(
        f"/v1/vacancies/{vacancy}/shortlists", {"limit": limit}, key
    )
    elapsed = time.perf_counter() - start
    if status != 201:
        raise RuntimeError(f"{vacancy} -> {status}: {str(body)[:300]}")
    if len(body["items"]) == 0:
        raise RuntimeError(f"{vacancy}: empty shortlist")
    server = float(timing.split("dur=")[1]) / 1000
    return elapsed, server


WRITER = {  # one candidate of the first tenant, written (and rewritten on every run) first
    "skills": ["food preparation", "knife skills", "kitchen hygiene"],
    "summary": "Ho lavorato come aiuto cuoco per tre anni in una mensa aziendale a Milano; "
    "preparazione dei pasti, pulizia della cucina, turni serali.",
    "languages": [{"code": "it", "level": "B1"}],
    "location": {"municipality": "Milano", "country": "IT", "lat": 45.46, "lon": 9.19},
    "work_permit": "yes",
}


async def write_one(base: str, key: str) -> None:
    """Writes a candidate, so what a write loads (language detection, stemmers, linking)
    counts in the resident memory measured after the run, as in a service that takes writes."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        r = await client.put(
            "/v1/candidates/bench-writer-0",
            json=WRITER,
            headers={"Authorization": f"Bearer {key}"},
        )
        r.raise_for_status()


async def run_http(
    args: argparse.Namespace, base: str, keys: dict[str, str], vacancies: list[str]
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    if args.write_first:
        await write_one(base, next(iter(keys.values())))
    async with Client(args.client, base) as client:
        for tenant, key in keys.items():
            first, _ = await shortlist(client, key, vacancies[0], args.limit)
            rows.append((f"first request, {tenant}", 1, 1, first * 1000, None, None, None))
        rng = random.Random(11)
        # Warm-up (not counted): a running service has its skill-label vectors cached.
        for _ in range(args.warmup):
            await shortlist(
                client, rng.choice(list(keys.values())), rng.choice(vacancies), args.limit
            )
        for concurrency in args.concurrency if args.n else []:
            calls = [
                (rng.choice(list(keys.values())), rng.choice(vacancies)) for _ in range(args.n)
            ]
            samples: list[tuple[float, float]] = []
            start = time.perf_counter()

            async def worker(
                work: list[tuple[str, str]] = calls, out: list[tuple[float, float]] = samples
            ) -> None:
                while work:
                    key, vacancy = work.pop()
                    out.append(await shortlist(client, key, vacancy, args.limit))

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            wall = time.perf_counter() - start
            p50, p95, p99 = percentiles([client_s for client_s, _ in samples])
            rows.append(
                ("shortlist of 50", concurrency, len(samples), p50, p95, p99, len(samples) / wall)
            )
            p50, p95, p99 = percentiles([server_s for _, server_s in samples])
            rows.append(
                ("— of which in the server", concurrency, len(samples), p50, p95, p99, None)
            )
    return rows


async def recall(args: argparse.Namespace, settings: Settings, sample: int) -> dict[str, Any]:
    """Compares, per sampled vacancy, ways to a shortlist of ``limit`` against the exhaustive
    reference — every gate-passing candidate scored by the full scorer: the served path
    (in-process pool, exact retrieval of 2 x limit per retriever), the database path on the HNSW
    index, and the database path on an exact scan. Also the vector retriever alone, HNSW vs
    exact."""
    urls = resolve_database(settings)
    engine = create_engine(urls.service, settings)
    sessions = session_factory(engine)
    encoder = Encoder.from_settings(settings)
    rng = random.Random(5)
    out: dict[str, list[float]] = {
        "passing rows": [],
        "vector retriever, HNSW vs exact": [],
        "shortlist, served (pool)": [],
        "shortlist, database HNSW path": [],
        "shortlist, database exact path": [],
        "ms served (pool)": [],
        "ms exhaustive": [],
        "ms database HNSW path": [],
        "ms database exact path": [],
    }
    default_exact_below = ranking.EXACT_SCAN_BELOW

    retrieve = ranking.retrieve

    def everything(*a: Any) -> Any:
        return retrieve(*a[:6], 10**9, *a[7:])

    async def shortlist(
        principal: Principal, vacancy: str, pool: bool, exact: bool, exhaustive: bool = False
    ) -> list[Any]:
        ranking.EXACT_SCAN_BELOW = 10**12 if exact else default_exact_below
        ranking.retrieve = everything if exhaustive else retrieve  # type: ignore[assignment]
        async with sessions() as session, session.begin():
            service = ranking.RankingService(
                session, principal, encoder, pool_max_rows=None if pool else 0
            )
            ranker = await ranker_for(session, principal.tenant_id, model_id=encoder.model_id)
            row = await service.vacancy(vacancy)
            items, _, _ = await service.rank_candidates(row, args.limit, ranker)
        ranking.EXACT_SCAN_BELOW = default_exact_below
        ranking.retrieve = retrieve
        return [i["candidate_id"] for i in items]

    def overlap(found: list[Any], reference: list[Any]) -> float:
        return len(set(found) & set(reference)) / len(reference) if reference else 1.0

    try:
        async with sessions() as session:
            tenants = (
                await session.execute(
                    text("SELECT id, name FROM tenants WHERE name LIKE 'scale-%'")
                )
            ).all()
        for tenant_id, name in tenants:
            principal = Principal(
                tenant_id=tenant_id, tenant_name=name, role=Role.admin, key_id="bench"
            )
            async with sessions() as session:
                vacancies = (
                    await session.execute(
                        text(
                            "SELECT id, external_id, embedding FROM vacancies WHERE tenant_id = :t"
                        ),
                        {"t": tenant_id},
                    )
                ).all()
            await shortlist(principal, vacancies[0][1], pool=True, exact=False)  # load the pool
            for vacancy_id, external_id, embedding in rng.sample(vacancies, sample):
                scope = Scope("shortlist", tenant_id, vacancy_id, GATES)
                k = max(2 * args.limit, 50)  # what the database path asks each retriever for
                async with sessions() as session, session.begin():
                    repo = MatchRepository(session)
                    counts = await repo.gate_counts(scope)
                    out["passing rows"].append(counts["passing"])
                    await repo.tune_vector_search(k)
                    query = np.asarray(
                        json.loads(embedding) if isinstance(embedding, str) else embedding
                    )
                    approx = await repo.nearest(scope, query, k, exact=False)
                    exact = await repo.nearest(scope, query, k, exact=True)
                    out["vector retriever, HNSW vs exact"].append(overlap(approx, exact))
                timed = {}
                for label, pool, exact_scan, exhaustive in (
                    ("served (pool)", True, False, False),
                    ("exhaustive", True, False, True),
                    ("database HNSW path", False, False, False),
                    ("database exact path", False, True, False),
                ):
                    start = time.perf_counter()
                    timed[label] = await shortlist(
                        principal, external_id, pool, exact_scan, exhaustive
                    )
                    out[f"ms {label}"].append((time.perf_counter() - start) * 1000)
                for label in ("served (pool)", "database HNSW path", "database exact path"):
                    out[f"shortlist, {label}"].append(overlap(timed[label], timed["exhaustive"]))
    finally:
        await engine.dispose()
    return {"vacancies": len(out["passing rows"]), **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-scale"))
    parser.add_argument("--n", type=int, default=300, help="requests per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=100, help="requests before timing")
    parser.add_argument("--recall-sample", type=int, default=25, help="vacancies per tenant")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--client", choices=["aiohttp", "httpx"], default="aiohttp", help="the HTTP client"
    )
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--warm", action="store_true", help="start the server with warm-up on")
    parser.add_argument(
        "--write-first",
        action="store_true",
        help="write one candidate before the first shortlist (its memory then counts)",
    )
    args = parser.parse_args()

    keys_file = Path(args.data_dir) / "bench-keys.json"
    loaded = json.loads(keys_file.read_text())
    keys: dict[str, str] = loaded["keys"]
    vacancies = [f"vac-{j:04d}" for j in range(300)]
    env = {
        **os.environ,
        "PONTE_DATA_DIR": args.data_dir,
        "PONTE_LOG_LEVEL": "WARNING",
        "PONTE_WARM_POOLS": "true" if args.warm else "false",
    }
    base = f"http://127.0.0.1:{args.port}"
    rows: list[tuple[Any, ...]] = []
    rss = peak = 0.0
    if not args.skip_http:
        command = [str(PONTE), "serve", "--migrate", "--port", str(args.port)]
        proc = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603
        try:
            wait_ready(base, proc)
            ready_rss = psutil.Process(proc.pid).memory_info().rss / 2**20
            rows = asyncio.run(run_http(args, base, keys, vacancies))
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = (
                int(
                    next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[
                        1
                    ]
                )
                / 1024
            )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        stored = loaded["candidates"]
        print(f"\n{stored} candidates stored; server ready at {ready_rss:.0f} MiB resident")
        print(f"client: {args.client}\n")
        print("| request | concurrency | requests | p50 ms | p95 ms | p99 ms | req/s |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, conc, count, p50, p95, p99, rps in rows:
            if p95 is None:
                print(f"| {name} | {conc} | {count} | {p50:.0f} | | | |")
            else:
                rate = f"{rps:.1f}" if rps else ""
                print(f"| {name} | {conc} | {count} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {rate} |")
        print(f"\nserver resident memory after the run: {rss:.0f} MiB (peak {peak:.0f} MiB)")

    if args.recall_sample:
        settings = Settings(data_dir=Path(args.data_dir))
        result = asyncio.run(recall(args, settings, args.recall_sample))
        print(f"\nrecall@{args.limit} against scoring every gate-passing candidate, ")
        print(f"{result.pop('vacancies')} vacancies (in this process, no HTTP):\n")
        print("| measure | mean | min | median |\n|---|---:|---:|---:|")
        for name, values in result.items():
            print(
                f"| {name} | {statistics.fmean(values):.3f} | {min(values):.3f} "
                f"| {statistics.median(values):.3f} |"
            )


if __name__ == "__main__":
    main()
