"""What linking to ESCO costs a write: esco_dev's candidates bulk-upserted (``CandidateService.
bulk_upsert``, what ``POST /v1/candidates:bulk`` runs) into a scratch tenant, with the taxonomy
imported and links made, against the same with linking switched off.

    PONTE_DATA_DIR=var/tax-try .venv/bin/python bench/linking_on_write.py [--n 400] [--batch 100]

Needs the full taxonomy imported there. The tenant ``bench-linking`` is deleted first and last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import drop_tenants

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from app.config import Settings  # noqa: E402
from app.db.engine import create_engine, resolve_database, session_factory  # noqa: E402
from app.ml.encoder import Encoder  # noqa: E402
from app.schemas import Principal, Role  # noqa: E402
from app.services import keys as key_service  # noqa: E402
from app.services import taxonomy_linking  # noqa: E402
from app.services.resources import CandidateService  # noqa: E402

TENANT = "bench-linking"


async def run(args: argparse.Namespace) -> None:
    settings = Settings()
    encoder = Encoder.from_settings(settings)
    people = [
        json.loads(line) for line in (Path(args.set) / "candidates.jsonl").open() if line.strip()
    ][: args.n]
    engine = create_engine(resolve_database(settings).owner, settings, pool_size=1)
    sessions = session_factory(engine)

    async def fresh_tenant() -> Principal:
        async with sessions() as session, session.begin():
            await drop_tenants(session, [TENANT])
            tenant = await key_service.create_tenant(session, TENANT)
        return Principal(tenant_id=tenant.id, tenant_name=TENANT, role=Role.admin, key_id="b")

    async def upsert(principal: Principal, prefix: str) -> float:
        clock = time.perf_counter()
        for start in range(0, len(people), args.batch):
            items: list[dict[str, Any]] = [
                {
                    "external_id": f"{prefix}-{start + i}",
                    "skills": p["skills"],
                    "summary": p.get("summary") or None,
                }
                for i, p in enumerate(people[start : start + args.batch])
            ]
            async with sessions() as session, session.begin():
                await CandidateService(session, principal, encoder).bulk_upsert(items)
        return time.perf_counter() - clock

    original = taxonomy_linking.TaxonomyLinker.current
    try:
        print("| run | candidates | seconds | ms per candidate |\n|---|---:|---:|---:|")
        for name, linking in (
            ("linking off, first", False),
            ("linking on, first (labels not yet remembered)", True),
            ("linking on, again (labels remembered)", True),
            ("linking off, again", False),
        ):
            if not linking:

                async def off(self: Any, *, fresh: bool = False) -> None:
                    return None

                taxonomy_linking.TaxonomyLinker.current = off  # type: ignore[method-assign]
            else:
                taxonomy_linking.TaxonomyLinker.current = original  # type: ignore[method-assign]
            principal = await fresh_tenant()
            seconds = await upsert(principal, "c")
            print(
                f"| {name} | {len(people)} | {seconds:.1f} | {1000 * seconds / len(people):.1f} |"
            )
    finally:
        taxonomy_linking.TaxonomyLinker.current = original  # type: ignore[method-assign]
        async with sessions() as session, session.begin():
            await drop_tenants(session, [TENANT])
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=str(ROOT.parent / "shared" / "eval" / "esco_dev"))
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--batch", type=int, default=100)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
