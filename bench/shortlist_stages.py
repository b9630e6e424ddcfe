"""Profile: where a shortlist's time goes, stage by stage, in process (no HTTP).

    .venv/bin/python bench/shortlist_stages.py [--n 60] [--tenant scale-it]
    .venv/bin/python bench/shortlist_stages.py --pyinstrument     # needs the bench extra

Runs ``ShortlistService.create_shortlist`` for random vacancies of a tenant loaded by
bench/load_scale.py, after 100 warm-up requests, with a timer around each stage (or under
pyinstrument), and prints the median time per stage: a stage called once per item (the
explanations) counts its calls' sum per request.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

import app.ml.gates as gates  # noqa: E402
import app.ml.pool as pool_module  # noqa: E402
import app.ml.retrieval as retrieval  # noqa: E402
import app.services.ranking as ranking  # noqa: E402
import app.services.ranking_taxonomy as ranking_taxonomy  # noqa: E402
import app.services.shortlists as shortlists  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db.engine import create_engine, resolve_database, session_factory  # noqa: E402
from app.ml.encoder import Encoder  # noqa: E402
from app.schemas import Principal, Role  # noqa: E402
from app.services import deployment_keys  # noqa: E402

TIMES: dict[str, list[float]] = {}
REQUEST: dict[str, float] = {}  # the request running: each stage's time so far


def timed(owner: Any, name: str, label: str) -> None:
    """Replaces ``owner.name`` by a version that records its duration under ``label``."""
    original: Callable[..., Any] = getattr(owner, name)
    if asyncio.iscoroutinefunction(original):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = await original(*args, **kwargs)
            REQUEST[label] = REQUEST.get(label, 0.0) + time.perf_counter() - start
            return result
    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            start = time.perf_counter()
            result = original(*args, **kwargs)
            REQUEST[label] = REQUEST.get(label, 0.0) + time.perf_counter() - start
            return result

    setattr(owner, name, wrapper)


STAGES = [
    (ranking.RankingService, "vacancy", "read the vacancy"),
    (ranking, "candidate_pool", "change feed + pool"),
    (ranking, "retrieve", "gates + retrieval (all)"),
    (gates, "gate_states", "  gates"),
    (retrieval, "similarities", "  vector product"),
    (pool_module.CandidatePool, "lexical_scores", "  BM25"),
    (ranking_taxonomy.RankingTaxonomy, "add_features", "ESCO features"),
    (ranking.RankingService, "_score", "scoring + explanations (all)"),
    (ranking, "match_skills", "  skill matching"),
    (ranking.VectorService, "skill_vectors", "  skill-label vectors"),
    (ranking, "explain", "  explanations (per item, summed)"),
    (shortlists, "stored_explanation", "explanations as stored (summed)"),
    (shortlists, "public_explanation", "explanations as shown (summed)"),
    (shortlists.ShortlistRepository, "create_many", "store the snapshot"),
]


async def run(args: argparse.Namespace) -> None:
    settings = Settings(data_dir=Path(args.data_dir))
    deployment_keys.load(settings)  # the data folder's keys, as the service there uses
    engine = create_engine(resolve_database(settings).service, settings)
    sessions = session_factory(engine)
    encoder = Encoder.from_settings(settings)
    async with sessions() as session:
        tenant_id = (
            await session.execute(
                text("SELECT id FROM tenants WHERE name = :n"), {"n": args.tenant}
            )
        ).scalar_one()
    principal = Principal(tenant_id=tenant_id, tenant_name=args.tenant, role=Role.admin, key_id="b")

    async def one(vacancy: str) -> None:
        async with sessions() as session:
            service = shortlists.ShortlistService(session, principal, encoder)
            await service.create_shortlist(vacancy, 50, None)
            await session.commit()  # as the request's session does (app/deps.py)

    rng = random.Random(9)
    for _ in range(100):
        await one(f"vac-{rng.randrange(300):04d}")
    profiler = None
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="enabled", interval=0.0002)
        profiler.start()
    else:
        for owner, name, label in STAGES:
            timed(owner, name, label)
    totals = []
    for _ in range(args.n):
        start = time.perf_counter()
        await one(f"vac-{rng.randrange(300):04d}")
        totals.append(time.perf_counter() - start)
        for label, spent in REQUEST.items():
            TIMES.setdefault(label, []).append(spent)
        REQUEST.clear()
    await engine.dispose()
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
    print(f"shortlist of 50, in process: median {statistics.median(totals) * 1000:.1f} ms\n")
    print("| stage | median ms |\n|---|---:|")
    for _, _, label in STAGES:
        if label in TIMES:
            print(f"| {label} | {statistics.median(TIMES[label]) * 1000:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-scale"))
    parser.add_argument("--tenant", default="scale-it")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--pyinstrument", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
