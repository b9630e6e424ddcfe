"""Lexical retrieval, measured both ways: PostgreSQL full text (what Ponte uses) against an
in-process BM25 index over the same texts.

    .venv/bin/python bench/lexical_compare.py --set ../shared/eval/esco_dev [--depth 100]

Loads the set into a scratch tenant through the API's services (so ``search_text`` and
``search_tsv`` are exactly what production stores), then for every vacancy ranks the tenant's
candidates (a) with ``MatchRepository.lexical`` — the multilingual OR query ranked by
``ts_rank_cd`` inside PostgreSQL — and (b) with Okapi BM25 in Python over the stored
``search_text``. Prints quality of each ranking alone and its per-query latency.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from sqlalchemy import select

from app.config import get_settings
from app.db.tables import Candidate, Vacancy
from app.ml.evaluation import BM25, evaluate, rank_by
from app.repositories.matching import MatchRepository, Scope
from app.services import evaluation


def ms(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms"


async def run(set_dir: Path, depth: int) -> None:
    async with evaluation.scratch_set(get_settings(), set_dir, True, print) as scratch:
        data, sessions, principal = scratch.data, scratch.sessions, scratch.principal
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(Candidate.id, Candidate.external_id, Candidate.search_text).where(
                        Candidate.tenant_id == principal.tenant_id
                    )
                )
            ).all()
            vacancies = (
                await session.execute(
                    select(Vacancy.id, Vacancy.external_id, Vacancy.search_text).where(
                        Vacancy.tenant_id == principal.tenant_id
                    )
                )
            ).all()
        by_id = {r.id: r.external_id for r in rows}
        ext_ids = [r.external_id for r in rows]

        started = time.perf_counter()
        bm25 = BM25([r.search_text or "" for r in rows])
        build = time.perf_counter() - started

        pg_rank, bm_rank = {}, {}
        pg_times, bm_times = [], []
        for vacancy in vacancies:
            scope = Scope("shortlist", principal.tenant_id, vacancy.id, ())
            async with sessions() as session:
                started = time.perf_counter()
                ids = await MatchRepository(session).lexical(scope, depth)
                pg_times.append(time.perf_counter() - started)
            pg_rank[vacancy.external_id] = [by_id[i] for i in ids]
            started = time.perf_counter()
            bm_rank[vacancy.external_id] = rank_by(bm25.scores(vacancy.search_text), ext_ids)[
                :depth
            ]
            bm_times.append(time.perf_counter() - started)

    print(f"{len(rows)} candidates, {len(vacancies)} vacancies, depth {depth}")
    for name, ranking, times in (
        ("postgres full text", pg_rank, pg_times),
        ("in-process BM25", bm_rank, bm_times),
    ):
        m = evaluate(ranking, data.qrels)
        print(
            f"{name:20s} nDCG@10 {m['ndcg@10']:.4f}  MRR {m['mrr']:.4f}  "
            f"R@10 {m['recall@10']:.4f}  latency {ms(times)}"
        )
    print(f"BM25 index build: {build * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, required=True)
    parser.add_argument("--depth", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.set, args.depth))


if __name__ == "__main__":
    main()
