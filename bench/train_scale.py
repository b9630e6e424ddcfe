"""Benchmark: training a learned ranker on 50,000 labelled examples, and what scoring with it
costs next to the weighted scorer.

    .venv/bin/python bench/train_scale.py [--shortlists 2500] [--shown 20] [--rows 100000]

1. Builds the rows ``ponte train`` reads (one per shown item: stored features, rank, the
   linked events) for ``--shortlists`` × ``--shown`` examples — a hidden preference for one
   feature, position-biased examination, noisy answers — and times what ``train`` does with
   them in process: labels and examples, the holdout split, the pairwise fit, the comparison
   with the weighted scorer (bootstrap included) and the artefact's serialisation. The
   database read is not in this figure; bench/feedback_loop.py times ``train`` end to end on a
   real log.
2. Times ``score_and_order`` + ``contributions`` (of 50 rows) of the weighted scorer and
   of the learned ranker (prior, window 40, bounded tilt) on
   ``--rows`` rows and on 2,000 (about what one shortlist scores after retrieval).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.ml import learning  # noqa: E402
from app.ml.features import FEATURES  # noqa: E402
from app.ml.learned import LinearRanker  # noqa: E402
from app.ml.ranker import WeightedRanker  # noqa: E402
from app.services import model_registry, training  # noqa: E402


def rows(shortlists: int, shown: int, seed: int = 0) -> list[SimpleNamespace]:
    rng = np.random.default_rng(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    out = []
    distance = FEATURES.index("distance")
    for s in range(shortlists):
        x = rng.random((shown, len(FEATURES)))
        x[rng.random(x.shape) < 0.05] = np.nan
        order = np.argsort(-np.nan_to_num(x[:, 0]))
        sid = uuid.uuid4()
        for rank, i in enumerate(order, start=1):
            near = np.nan_to_num(x[i, distance]) > 0.7
            events, reasons = [], []
            if rng.random() < 1 / rank:
                liked = rng.random() < (0.85 if near else 0.03)
                events, reasons = (["interviewed"], [""]) if liked else (["rejected"], ["skills"])
            out.append(
                SimpleNamespace(
                    shortlist_id=sid,
                    created_at=start + dt.timedelta(minutes=s),
                    rank=rank,
                    features={
                        f: None if np.isnan(x[i, j]) else float(x[i, j])
                        for j, f in enumerate(FEATURES)
                    },
                    events=events,
                    reasons=reasons,
                )
            )
    return out


def train_once(data_rows: list, seed: int) -> dict[str, float]:
    times: dict[str, float] = {}
    t = time.perf_counter()
    data = training.training_set(data_rows)
    times["examples"] = time.perf_counter() - t
    t = time.perf_counter()
    held = training.holdout_split(data)
    fit_on, test = data.examples.subset(~held), data.examples.subset(held)
    prior = WeightedRanker()
    fitted = learning.fit(fit_on, "pairwise", prior=prior.score(training._columns(fit_on.x)))
    times["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    candidate = LinearRanker(
        "candidate",
        FEATURES,
        fitted.coef,
        fitted.fill,
        prior.weights,
        fitted.prior_coef,
        window=2 * int(fit_on.rank.max()),
        max_tilt=training.DEFAULT_MAX_TILT,
    )
    options = training.TrainingOptions(seed=seed)
    summary = training.compare(candidate, WeightedRanker(), test, options)
    times["compare"] = time.perf_counter() - t
    t = time.perf_counter()
    model_registry.write_artefact(candidate.artefact(fitted.estimator, {}), write=False)
    times["artefact"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    times["examples_n"] = len(data.examples)
    times["gain_low"] = summary["difference_interval_95"][0]
    return times


def score_cost(n: int, repeats: int = 50) -> dict[str, float]:
    rng = np.random.default_rng(1)
    columns = {f: rng.random(n) for f in FEATURES}
    learned = LinearRanker(
        "x",
        FEATURES,
        rng.normal(size=len(FEATURES)),
        np.full(len(FEATURES), 0.5),
        WeightedRanker().weights,
        1.0,
        window=40,
        max_tilt=training.DEFAULT_MAX_TILT,
    )
    out = {}
    for name, ranker in (("weighted", WeightedRanker()), ("learned", learned)):
        samples = []
        for _ in range(repeats):
            t = time.perf_counter()
            ranker.score_and_order(columns)
            ranker.contributions({f: v[:50] for f, v in columns.items()})
            samples.append(time.perf_counter() - t)
        out[name] = statistics.median(samples) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shortlists", type=int, default=2500)
    parser.add_argument("--shown", type=int, default=20)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model_registry.configure(Path(folder))
        built = rows(args.shortlists, args.shown)
        runs = [train_once(built, seed) for seed in range(3)]
    print("| step | seconds (median of 3) |\n|---|---:|")
    for step in ("examples", "fit", "compare", "artefact", "total"):
        print(f"| {step} | {statistics.median(r[step] for r in runs):.2f} |")
    print(
        f"\n{int(runs[0]['examples_n']):,} examples; holdout gain interval low end "
        f"{runs[0]['gain_low']:.3f}"
    )
    print("\n| rows scored | weighted ms | learned ms |\n|---:|---:|---:|")
    for n in (2_000, args.rows):
        cost = score_cost(n)
        print(f"| {n:,} | {cost['weighted']:.3f} | {cost['learned']:.3f} |")


if __name__ == "__main__":
    main()
