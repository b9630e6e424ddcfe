"""Tune the weights of the taxonomy features only, on the tune halves of several sets at once.

    .venv/bin/python bench/tune_weights.py --set ../shared/eval/titles_dev --dump titles.json
    (likewise for it_titles_dev, esco_dev, and esco_dev --no-skills), then
    .venv/bin/python bench/tune_taxonomy_weights.py \\
        --run ../shared/eval/esco_dev esco.json --run ../shared/eval/esco_dev esco_ns.json \\
        --run ../shared/eval/titles_dev titles.json --run ../shared/eval/it_titles_dev it.json

The other weights stay as they are (tuned on esco_dev, docs/EVALUATION.md), so a tenant with
the taxonomy off ranks exactly as before; the taxonomy features' weights are searched by
coordinate ascent on the mean nDCG@10 of every run's tune half (even-numbered vacancies), and
each run's tune and test figures are printed for the defaults and for the weights found.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tune_weights import rankings

from app.ml.evaluation import evaluate
from app.ml.features import TAXONOMY_FEATURES
from app.ml.ranker import DEFAULT_WEIGHTS
from app.services import evaluation

FACTORS = (0.0, 0.5, 0.75, 1.5, 2.0, 3.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs=2, action="append", metavar=("SET", "FEATURES"))
    args = parser.parse_args()
    runs = []
    for set_dir, dump in args.run:
        data = evaluation.EvalSet.load(Path(set_dir))
        runs.append((f"{Path(set_dir).name} ({dump})", data, json.loads(Path(dump).read_text())))

    def score(weights: dict[str, float], split: str) -> list[float]:
        out = []
        for _, data, items in runs:
            ids = data.split(split)
            subset = {q: r for q, r in items.items() if q in ids}
            out.append(evaluate(rankings(subset, weights), data.qrels)["ndcg@10"])
        return out

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    best = dict(DEFAULT_WEIGHTS)
    best_score = mean(score(best, "tune"))
    for _ in range(4):
        improved = False
        for feature in TAXONOMY_FEATURES:
            for factor in FACTORS:
                value = best[feature] * factor if best[feature] else factor * 0.1
                trial = {**best, feature: value}
                found = mean(score(trial, "tune"))
                if found > best_score + 1e-6:
                    best, best_score, improved = trial, found, True
        if not improved:
            break
    for name, weights in (("default", DEFAULT_WEIGHTS), ("tuned", best)):
        for split in ("tune", "test"):
            figures = score(weights, split)
            cells = " ".join(f"{run[0]} {v:.4f}" for run, v in zip(runs, figures, strict=True))
            print(f"{name:8s} {split:5s} mean {mean(figures):.4f} | {cells}")
    print(json.dumps({k: round(best[k], 4) for k in TAXONOMY_FEATURES}, indent=1))


if __name__ == "__main__":
    main()
