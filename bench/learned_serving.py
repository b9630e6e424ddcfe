"""Switch every tenant of a benchmark database to a learned ranker (or back), to measure what
serving one costs with bench/shortlist_latency.py.

    .venv/bin/python bench/learned_serving.py --on  [--data-dir var/bench-scale] [--models-dir DIR]
    PONTE_MODELS_DIR=DIR .venv/bin/python bench/shortlist_latency.py
    .venv/bin/python bench/learned_serving.py --off

``--on`` writes, registers and activates, per tenant, a learned ranker of the kind
``ponte train`` makes (the default scorer as prior, a tilt on every feature, a re-ranking
window of 40), with fixed synthetic weights: what it costs to serve does not depend on what it
learnt. ``--off`` rolls every tenant back to the default scorer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db.engine import create_engine, resolve_database, session_factory  # noqa: E402
from app.ml.features import FEATURE_VERSION, FEATURES  # noqa: E402
from app.ml.learned import LEARNED, LinearRanker  # noqa: E402
from app.ml.ranker import DEFAULT_WEIGHTS  # noqa: E402
from app.repositories.rankers import RankerRepository  # noqa: E402
from app.services import model_registry  # noqa: E402


async def run(args: argparse.Namespace) -> None:
    settings = Settings(data_dir=Path(args.data_dir))
    model_registry.configure(Path(args.models_dir))
    engine = create_engine(resolve_database(settings).owner, settings, pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            repo = RankerRepository(session)
            tenants = (await session.execute(text("SELECT id, name FROM tenants"))).all()
            for tenant_id, name in tenants:
                tenant = await repo.lock_tenant(tenant_id)
                assert tenant is not None
                if not args.on:
                    await repo.activate(tenant, None, tenant.active_ranker, "rollback", "bench")
                    print(f"{name}: default scorer")
                    continue
                coef = np.random.default_rng(0).normal(0, 0.1, len(FEATURES))
                ranker = LinearRanker(
                    "bench", FEATURES, coef, np.full(len(FEATURES), 0.5), DEFAULT_WEIGHTS, 1.0, 40
                )
                digest = model_registry.write_artefact(ranker.artefact(None, {"bench": True}))
                version = f"{LEARNED}-{digest[:16]}"
                if await repo.get(tenant_id, version) is None:
                    await repo.add(
                        {
                            "tenant_id": tenant_id,
                            "version": version,
                            "family": "pairwise",
                            "sha256": digest,
                            "feature_version": FEATURE_VERSION,
                            "features": list(FEATURES),
                            "libraries": {},
                            "examples": 0,
                            "positives": 0,
                            "shortlists": 0,
                            "holdout": {"bench": "synthetic weights"},
                            "scoring": ranker.scoring(),
                            "trained_by": "bench",
                        }
                    )
                await repo.activate(tenant, version, tenant.active_ranker, "activate", "bench")
                print(f"{name}: {version}")
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--on", action="store_true")
    group.add_argument("--off", action="store_true")
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-scale"))
    parser.add_argument("--models-dir", default=str(ROOT / "var" / "bench-models"))
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
