"""Time the first load of each tenant's candidate pool, in process (no HTTP).

    .venv/bin/python bench/pool_load.py [--tenant scale-it scale-be] [--data-dir var/bench-scale]

On the data folder bench/load_scale.py filled, loads each tenant's pool exactly as a first
shortlist does (``services.pool.candidate_pool``, change feed included) and prints the time.
Pass ``--tree`` to time another checkout of Ponte on the same data (its ``app``
is imported instead), which is how the before/after figures in docs/BENCHMARKS.md were taken.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def run(args: argparse.Namespace) -> None:
    from sqlalchemy import text

    from app.config import Settings
    from app.db.engine import create_engine, resolve_database, session_factory
    from app.services import pool as pool_service

    print(f"code from {Path(pool_service.__file__).parents[2]}")
    settings = Settings(data_dir=Path(args.data_dir))
    engine = create_engine(resolve_database(settings).service, settings)
    sessions = session_factory(engine)
    for name in args.tenant:
        async with sessions() as session:
            tenant_id = (
                await session.execute(text("SELECT id FROM tenants WHERE name = :n"), {"n": name})
            ).scalar_one()
        async with sessions() as session, session.begin():
            start = time.perf_counter()
            pool = await pool_service.candidate_pool(session, tenant_id, 384, 10**7)
            took = time.perf_counter() - start
        assert pool is not None
        print(f"{name}: {len(pool):,} candidates, first load {took:.2f} s", flush=True)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-scale"))
    parser.add_argument("--tenant", nargs="+", default=["scale-it", "scale-be"])
    parser.add_argument("--tree", default=str(ROOT), help="the checkout whose app/ to time")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.tree).resolve()))
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
