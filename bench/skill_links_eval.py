"""skill_links_dev (../shared/eval/skill_links_dev): job-ad phrases linked to ESCO skills through
Ponte's linker (POST /v1/taxonomy/skills:link's code), against a database where the full ESCO
taxonomy is imported (``ponte taxonomy import ../shared/taxonomy/esco``).

    PONTE_DATA_DIR=var/tax-try .venv/bin/python bench/skill_links_eval.py

Metrics as the set's README defines them: acc@1 (a relevant URI first), MRR@10, recall@5 (share
of the relevant URIs in the top 5); and, per score band of the first link, how often it is right
(what the automatic-link threshold reads).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db.engine import create_engine, resolve_database, session_factory  # noqa: E402
from app.ml.encoder import Encoder  # noqa: E402
from app.services.taxonomy import TaxonomyService  # noqa: E402


async def run(args: argparse.Namespace) -> None:
    folder = Path(args.set)
    queries = [json.loads(line) for line in (folder / "queries.jsonl").open() if line.strip()]
    qrels = json.loads((folder / "qrels.json").read_text())
    settings = Settings()
    encoder = Encoder.from_settings(settings)
    engine = create_engine(resolve_database(settings).owner, settings, pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            service = TaxonomyService(session, encoder)
            linked = []
            for start in range(0, len(queries), 100):
                part = [q["text"] for q in queries[start : start + 100]]
                linked += await service.link("skill", part, 10)
    finally:
        await engine.dispose()
    acc = mrr = recall = 0.0
    bands: dict[str, list[int]] = {}
    for query, links in zip(queries, linked, strict=True):
        relevant = set(qrels[query["id"]])
        uris = [link.uri for link in links]
        right = bool(uris) and uris[0] in relevant
        acc += right
        mrr += next((1 / r for r, u in enumerate(uris, 1) if u in relevant), 0.0)
        recall += len(set(uris[:5]) & relevant) / len(relevant)
        if links:
            band = f"{min(int(links[0].score * 10), 9) / 10:.1f}"
            bands.setdefault(band, []).append(int(right))
    n = len(queries)
    print("| queries | acc@1 | MRR@10 | recall@5 |\n|---:|---:|---:|---:|")
    print(f"| {n} | {acc / n:.4f} | {mrr / n:.4f} | {recall / n:.4f} |")
    print("\n| first link's score | phrases | first link right |\n|---|---:|---:|")
    for band in sorted(bands):
        hits = bands[band]
        print(f"| ≥ {band} | {len(hits)} | {sum(hits) / len(hits):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=str(ROOT.parent / "shared" / "eval" / "skill_links_dev"))
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
