"""Tune the default scorer's weights on one half of an evaluation set; report the other half.

    .venv/bin/python bench/tune_weights.py --set ../shared/eval/esco_dev [--no-skills]
        [--dump FEATURES.json | --load FEATURES.json]

Loads the set into a scratch tenant (embedded PostgreSQL under PONTE_DATA_DIR, or
DATABASE_URL), ranks each vacancy once through ``ShortlistService.rank`` keeping every retrieved
candidate's features, then searches weights by coordinate ascent on nDCG@10 of the tune split
(even-numbered vacancies) and prints tune and test (odd-numbered) figures for the defaults and
for the tuned weights. Retrieval uses its own fixed weights (app/ml/retrieval.py), not the
ranker's, so re-scoring the stored features of every retrieved candidate is the same as
re-running the ranking with other weights.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np

from app.config import get_settings
from app.ml.evaluation import evaluate
from app.ml.features import FEATURES, as_column
from app.ml.ranker import DEFAULT_WEIGHTS, WeightedRanker
from app.services import evaluation


def rankings(
    items: dict[str, list[dict[str, Any]]], weights: dict[str, float]
) -> dict[str, list[str]]:
    ranker = WeightedRanker(weights)
    out = {}
    for vid, scored in items.items():
        columns = {n: as_column([i["features"][n] for i in scored]) for n in FEATURES}
        order = np.argsort(-ranker.score(columns), kind="stable")
        out[vid] = [scored[i]["candidate_external_id"] for i in order]
    return out


def ndcg(items, weights, qrels, ids) -> float:
    subset = {q: r for q, r in items.items() if q in ids}
    return evaluate(rankings(subset, weights), qrels)["ndcg@10"]


def coordinate_ascent(items, qrels, ids, start: dict[str, float], rounds: int = 3):
    best = dict(start)
    best_score = ndcg(items, best, qrels, ids)
    for _ in range(rounds):
        improved = False
        for feature in FEATURES:
            for factor in (0.0, 0.5, 0.75, 1.5, 2.0, 3.0):
                trial = {**best, feature: best[feature] * factor if best[feature] else factor * 0.1}
                score = ndcg(items, trial, qrels, ids)
                if score > best_score + 1e-6:
                    best, best_score, improved = trial, score, True
        if not improved:
            break
    return best, best_score


async def collect(set_dir: Path, with_skills: bool, depth: int):
    async with evaluation.scratch_set(get_settings(), set_dir, with_skills, print) as scratch:
        return scratch.data, await scratch.rank(depth, print)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, required=True)
    parser.add_argument("--no-skills", action="store_true")
    parser.add_argument("--depth", type=int, default=300, help="candidates kept per vacancy")
    parser.add_argument("--dump", type=Path, help="keep the ranked features in this file")
    parser.add_argument("--load", type=Path, help="re-score features kept by --dump")
    args = parser.parse_args()
    if args.load:
        data = evaluation.EvalSet.load(args.set)
        items = json.loads(args.load.read_text())
    else:
        data, items = asyncio.run(collect(args.set, not args.no_skills, args.depth))
    if args.dump:
        kept = {
            v: [{"candidate_external_id": i["candidate_external_id"], "features": i["features"]}
                for i in scored]
            for v, scored in items.items()
        }  # fmt: skip
        args.dump.write_text(json.dumps(kept))
    tune, test = data.split("tune"), data.split("test")
    tuned, _ = coordinate_ascent(items, data.qrels, tune, DEFAULT_WEIGHTS)
    for name, weights in (("default", DEFAULT_WEIGHTS), ("tuned", tuned)):
        for split, ids in (("tune", tune), ("test", test)):
            subset = {q: r for q, r in items.items() if q in ids}
            m = evaluate(rankings(subset, weights), data.qrels)
            print(
                f"{name:8s} {split:5s} nDCG@10 {m['ndcg@10']:.4f} "
                f"MRR {m['mrr']:.4f} R@10 {m['recall@10']:.4f}"
            )
    print(json.dumps({k: round(v, 4) for k, v in tuned.items()}, indent=1))


if __name__ == "__main__":
    main()
