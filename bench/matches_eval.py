"""Evaluate the candidate → vacancies direction (``GET /v1/candidates/{id}/matches``).

    .venv/bin/python bench/matches_eval.py --set ../shared/eval/esco_dev [--no-skills] [--n 300]

The set's judgements are turned round: for each candidate, the vacancies that judged it are
its relevant ones, with the same grades. The set is loaded into a scratch tenant as
``ponte eval`` loads it, each of the first ``--n`` judged candidates is ranked through the
service's own ``matches_for_candidate``, and BM25 and plain cosine over the reference texts
(candidate text as the query) are computed beside it. Prints nDCG@10, MRR and recall@10.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import get_settings  # noqa: E402
from app.ml.evaluation import (  # noqa: E402
    BM25,
    baseline_candidate_text,
    baseline_vacancy_text,
    evaluate,
    rank_by,
)
from app.services import evaluation  # noqa: E402
from app.services.matches import matches_for_candidate  # noqa: E402


async def run(set_dir: Path, with_skills: bool, n: int) -> None:
    async with evaluation.scratch_set(get_settings(), set_dir, with_skills, print) as scratch:
        data = scratch.data
        judged: dict[str, dict[str, int]] = {}
        for vacancy, grades in data.qrels.items():
            for candidate, grade in grades.items():
                judged.setdefault(candidate, {})[vacancy] = grade
        candidates = [c for c in data.candidates if c["external_id"] in judged][:n]
        ids = [v["external_id"] for v in data.vacancies]
        texts = [
            baseline_vacancy_text(
                v["title"], v.get("description", ""), v["required_skills"] if with_skills else []
            )
            for v in data.vacancies
        ]
        bm25 = BM25(texts)
        vectors = scratch.encoder.encode(texts)
        rankings: dict[str, dict[str, list[str]]] = {"ponte": {}, "bm25": {}, "minilm_cosine": {}}
        for candidate in candidates:
            cid = candidate["external_id"]
            query = baseline_candidate_text(candidate.get("summary", ""), candidate["skills"])
            rankings["bm25"][cid] = rank_by(bm25.scores(query), ids)
            cosines = vectors @ scratch.encoder.encode([query])[0]
            rankings["minilm_cosine"][cid] = rank_by(np.asarray(cosines, dtype=np.float64), ids)
            async with scratch.sessions() as session, session.begin():
                found = await matches_for_candidate(
                    session, scratch.principal, scratch.encoder, cid, 50, None
                )
            rankings["ponte"][cid] = [i["vacancy_external_id"] for i in found["items"]]
        print("| method | candidates | nDCG@10 | MRR | recall@10 |\n|---|---:|---:|---:|---:|")
        for method, ranked in rankings.items():
            m = evaluate(ranked, judged)
            print(
                f"| {method} | {len(ranked)} | {m['ndcg@10']:.4f} | {m['mrr']:.4f} "
                f"| {m['recall@10']:.4f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, required=True)
    parser.add_argument("--no-skills", action="store_true")
    parser.add_argument("--n", type=int, default=300, help="judged candidates to rank")
    args = parser.parse_args()
    asyncio.run(run(args.set, not args.no_skills, args.n))


if __name__ == "__main__":
    main()
