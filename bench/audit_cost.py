"""Benchmark: what writing the audit entry adds to a shortlist (issue 16: at most 2 ms).

    .venv/bin/python bench/load_scale.py --fresh      # once: 100,000 candidates, two tenants
    PONTE_DATA_DIR=var/bench-scale .venv/bin/ponte migrate
    .venv/bin/python bench/audit_cost.py [--data-dir var/bench-scale] [--n 200]

In this process, against the loaded database, asks the service (in-process, over ASGI: no
network, no client process) for shortlists of 50 with every gate on, for vacancies drawn at
random, each round asking for the same vacancy (or, at concurrency 4, the same four at once) from
the service as it is (the entry built and hashed by ``audit.prepare`` and carried by the
snapshot's own statement, all or nothing and its own transaction), from the service with the
audit write switched off (no entry built, none recorded), the same switched off again (how far
two identical modes differ: the measurement's own noise), and, as a control: no entry, one
``SELECT 1`` of its own instead (on one event loop, any extra await lets the other requests'
work run first), in a rotating order. Prints, per mode, p50/p95/p99 of the request; the median
of the rounds' differences from "off", with a bootstrap 95% interval (pairing takes the
vacancy's own cost out), of the requests' median latency and of the round's wall time per
request (the work a shortlist adds, queueing aside); the time spent building and hashing the
entry; and the share of entries the snapshot's statement carried. Then the same with four
requests at once on one tenant: they also queue on the tenant's chain lock, held for the
snapshot's statement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from common import percentiles
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db.transactions import each_statement_commits  # noqa: E402
from app.logging import configure_logging  # noqa: E402
from app.main import create_app  # noqa: E402
from app.services import audit  # noqa: E402
from app.services.shortlists import ShortlistService  # noqa: E402

REAL_RECORD = audit.record
REAL_PREPARE = audit.prepare
REAL_SEALED = ShortlistService._insert_sealed
INSIDE: list[float] = []
CARRIED: list[bool] = []  # per request: was the entry carried by the snapshot's statement


async def timed_prepare(*args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    made = await REAL_PREPARE(*args, **kwargs)
    INSIDE.append(time.perf_counter() - started)
    return made


async def counted_sealed(self: ShortlistService, *args: Any) -> Any:
    """The service's own statement, noting whether it stored the snapshot with its entry
    (None: it stored nothing, and the entry is recorded alone, in the request's transaction)."""
    made = await REAL_SEALED(self, *args)
    CARRIED.append(made is not None)
    return made


async def no_record(*args: Any, **kwargs: Any) -> None:
    return None


async def stored_alone(
    self: ShortlistService, snapshots: Any, acts: Any, *, extra: bool = False
) -> Any:
    """The snapshot's statement as the service runs it, its own transaction, carrying no entry
    (with ``extra``, the control: one statement of its own before it, no lock, no row — what
    any extra await costs a request among others on one event loop)."""
    async with each_statement_commits(self.session):
        if extra:
            await self.session.execute(text("SELECT 1"))
        made, _ = await self.repo.create_many(self.principal.tenant_id, snapshots)
    return made


async def stored_after_one_more(self: ShortlistService, snapshots: Any, acts: Any) -> Any:
    return await stored_alone(self, snapshots, acts, extra=True)


# per mode: what stores a request's snapshot (with its entry, or without), and what records
# an entry alone
MODES = {
    "on": (counted_sealed, REAL_RECORD),
    "off": (stored_alone, no_record),
    "one round trip": (stored_after_one_more, no_record),
    "off again": (stored_alone, no_record),
}


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
            audit.prepare = timed_prepare  # type: ignore[assignment]
            for concurrency in args.concurrency:
                samples: dict[str, list[float]] = {mode: [] for mode in MODES}
                walls: dict[str, list[float]] = {mode: [] for mode in MODES}
                INSIDE.clear()
                CARRIED.clear()
                for i in range(args.n):
                    # one round: the same vacancies in every mode, in a rotating order, so a
                    # round's differences are of the audit, not of the vacancy or the moment
                    picked = [rng.choice(vacancies) for _ in range(concurrency)]
                    order = list(MODES)[i % len(MODES) :] + list(MODES)[: i % len(MODES)]
                    for mode in order:
                        sealed, audit.record = MODES[mode]  # type: ignore[assignment]
                        ShortlistService._insert_sealed = sealed  # type: ignore[method-assign]
                        started = time.perf_counter()
                        took = await asyncio.gather(*(shortlist(client, key, v) for v in picked))
                        walls[mode].append((time.perf_counter() - started) / concurrency)
                        samples[mode].append(statistics.median(took))
                ShortlistService._insert_sealed = REAL_SEALED  # type: ignore[method-assign]
                audit.record = REAL_RECORD
                report(tenant, concurrency, args.n, samples, walls, rng)


def paired(a: list[float], b: list[float], rng: random.Random) -> tuple[float, float, float]:
    """The median of the rounds' differences a - b, in ms, with a bootstrap 95% interval."""
    diffs = [(x - y) * 1000 for x, y in zip(a, b, strict=True)]
    boots = sorted(statistics.median(rng.choices(diffs, k=len(diffs))) for _ in range(2000))
    return statistics.median(diffs), boots[50], boots[1949]


def report(
    tenant: str,
    concurrency: int,
    rounds: int,
    samples: dict[str, list[float]],
    walls: dict[str, list[float]],
    rng: random.Random,
) -> None:
    print(f"\n{tenant}, concurrency {concurrency}, {rounds} rounds, each in every mode")
    print("| mode | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|")
    labels = {
        "on": "audit on",
        "off": "audit off",
        "one round trip": "no audit, one SELECT 1 instead",
        "off again": "audit off, again",
    }
    for mode, label in labels.items():
        p50, p95, p99 = percentiles(samples[mode])
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {p99:.1f} |")
    within = " | ".join(f"{v:.2f}" for v in percentiles(INSIDE))
    print(f"| building and hashing the entry (audit.prepare) | {within} |")
    carried = sum(CARRIED) / len(CARRIED) if CARRIED else 0.0
    print(
        f"entries carried by the snapshot's statement: {carried:.0%} (the rest: one of their own)"
    )
    print("| − audit off, per round | latency (median of the round) | wall time ÷ requests |")
    print("|---|---:|---:|")
    for mode in ("on", "one round trip", "off again"):
        median, low, high = paired(samples[mode], samples["off"], rng)
        work, work_low, work_high = paired(walls[mode], walls["off"], rng)
        print(
            f"| {labels[mode]} | {median:+.2f} ms [{low:+.2f}, {high:+.2f}] "
            f"| {work:+.2f} ms [{work_low:+.2f}, {work_high:+.2f}] |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="var/bench-scale")
    parser.add_argument("--n", type=int, default=200, help="rounds (each runs every mode)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
