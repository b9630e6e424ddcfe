"""Benchmark: what writing the audit entry adds to a shortlist (issue 16: at most 2 ms).

    .venv/bin/python bench/load_scale.py --fresh      # once: 100,000 candidates, two tenants
    PONTE_DATA_DIR=var/bench-scale .venv/bin/ponte migrate
    .venv/bin/python bench/audit_cost.py [--data-dir var/bench-scale] [--n 200]

In this process, against the loaded database, asks the service (in-process, over ASGI: no
network, no client process) for shortlists of 50 with every gate on, for vacancies drawn at
random, alternating request by request between the service as it is and the service with the
audit write switched off (``audit.record`` replaced by a no-op), so both see the same machine
state. Prints, per mode, p50/p95/p99 of the request; the difference of the p50s; and the time
spent inside ``audit.record`` itself (taking the chain lock, reading the head, inserting the
entry), and the commit's share is in the difference. Then the same with four requests at once
on one tenant: they queue on the tenant's chain lock, which is held from the entry to commit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from common import percentiles

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.logging import configure_logging  # noqa: E402
from app.main import create_app  # noqa: E402
from app.services import audit  # noqa: E402

REAL_RECORD = audit.record
INSIDE: list[float] = []


async def timed_record(*args: Any, **kwargs: Any) -> None:
    started = time.perf_counter()
    await REAL_RECORD(*args, **kwargs)
    INSIDE.append(time.perf_counter() - started)


async def no_record(*args: Any, **kwargs: Any) -> None:
    return None


async def shortlist(client: httpx.AsyncClient, key: str, vacancy: str) -> float:
    started = time.perf_counter()
    r = await client.post(
        f"/v1/vacancies/{vacancy}/shortlists",
        json={"limit": 50},
        headers={"Authorization": f"Bearer {key}"},
    )
    elapsed = time.perf_counter() - started
    assert r.status_code == 201, r.text
    return elapsed


async def run(args: argparse.Namespace) -> None:
    keys: dict[str, str] = json.loads((Path(args.data_dir) / "bench-keys.json").read_text())["keys"]
    tenant, key = sorted(keys.items())[0]
    vacancies = [f"vac-{j:04d}" for j in range(300)]
    rng = random.Random(7)
    configure_logging("WARNING", False)
    app = create_app(Settings(data_dir=Path(args.data_dir), log_level="WARNING"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(20):  # warm: pool, lexical index, taxonomy, caches
                await shortlist(client, key, rng.choice(vacancies))
            for concurrency in args.concurrency:
                samples: dict[str, list[float]] = {"on": [], "off": []}
                INSIDE.clear()
                for i in range(args.n):
                    mode = "on" if i % 2 == 0 else "off"
                    audit.record = timed_record if mode == "on" else no_record  # type: ignore[assignment]
                    picked = [rng.choice(vacancies) for _ in range(concurrency)]
                    samples[mode] += await asyncio.gather(
                        *(shortlist(client, key, v) for v in picked)
                    )
                audit.record = REAL_RECORD  # type: ignore[assignment]
                on, off = percentiles(samples["on"]), percentiles(samples["off"])
                inside = percentiles(INSIDE)
                print(f"\n{tenant}, concurrency {concurrency}, {args.n // 2} rounds per mode")
                print("| mode | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|")
                print(f"| audit on | {on[0]:.1f} | {on[1]:.1f} | {on[2]:.1f} |")
                print(f"| audit off | {off[0]:.1f} | {off[1]:.1f} | {off[2]:.1f} |")
                print(
                    f"| inside audit.record | {inside[0]:.2f} | {inside[1]:.2f} | {inside[2]:.2f} |"
                )
                print(f"p50 difference: {on[0] - off[0]:+.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="var/bench-scale")
    parser.add_argument("--n", type=int, default=200, help="rounds, alternating the modes")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
