"""The ranker seam: what turns a shortlist's feature columns into scores.

Any ranker — today's weighted mean, tomorrow a model learnt from a programme's feedback — has a
``version`` that changes whenever what it computes does (it is stamped on every snapshot), the
``features`` it reads, ``score`` and ``contributions``: how much each feature added to each
score, which explanations show, so an explanation stays truthful whatever ranks.

Which ranker serves a tenant is decided in app/services/rankers.py and handed to the ranking
code as an argument.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from app.ml.features import FEATURES

F64 = npt.NDArray[np.float64]
Columns = Mapping[str, F64]

# The default weighted mean of features in [0, 1]. The relevance block (semantic similarity,
# skill coverage, full text, titles: about 0.9 in all) was tuned by coordinate ascent on half of
# esco_dev and checked on the other half (docs/EVALUATION.md). The practical block (language,
# distance, availability: 0.10) cannot be tuned on that set, which has no such data; it breaks
# ties among similar profiles, after the hard gates have removed impossible ones. Tenants can
# override any weight.
DEFAULT_WEIGHTS: dict[str, float] = {
    "semantic_best": 0.30,
    "semantic_profile": 0.10,
    "must_have": 0.20,
    "nice_to_have": 0.033,
    "lexical": 0.10,
    "title": 0.067,
    "title_profile": 0.11,
    "language": 0.04,
    "distance": 0.03,
    "availability": 0.03,
    # Matching through the taxonomy (NaN, so left out, when it is off): chosen on the tune
    # halves of titles_dev and it_titles_dev, checked against esco_dev's (docs/EVALUATION.md,
    # bench/tune_taxonomy_weights.py). A larger title_occupation gains a little more on bare
    # titles and costs vacancies with skills and a description more.
    "esco_skills": 0.15,
    "occupation": 0.10,
    "title_occupation": 0.6,
}
# The candidate → vacancies direction (GET …/matches) ranks the tenant's vacancies with the
# person's whole text as the query, often a multi-page CV. There a single vector of a long text
# is mostly its boilerplate (personal statement, education, GDPR lines), and the best window of
# it against the vacancy's mean vector rewards whichever window looks most like an ad's
# boilerplate; BM25's idf ignores the words every text shares. Measured on esco_dev turned
# round and on its boilerplate-padded variant (docs/EVALUATION.md), this direction therefore
# weighs the whole-profile similarity instead of the best window, and full text five times as
# much as the shortlist direction does; short texts rank as before.
MATCH_WEIGHTS: dict[str, float] = {
    **DEFAULT_WEIGHTS,
    "semantic_best": 0.0,
    "semantic_profile": 0.40,
    "lexical": 0.50,
}
WEIGHTED = "weighted-v1"


@runtime_checkable
class Ranker(Protocol):
    """Scores feature columns; see the module docstring."""

    @property
    def version(self) -> str: ...

    @property
    def features(self) -> tuple[str, ...]: ...

    def score(self, columns: Columns) -> F64:
        """One score per row, higher is better."""
        ...

    def contributions(self, columns: Columns) -> dict[str, F64]:
        """Per feature, what it added to each row's score (NaN where it was not used)."""
        ...

    def score_and_order(self, columns: Columns) -> tuple[F64, F64]:
        """The scores, and what rows are ordered by (descending): the scores themselves,
        except for a re-ranker, which orders only the rows its prior puts in its window."""
        ...


def weights_digest(weights: Mapping[str, float]) -> str:
    """A short hash of the effective weights (same weights, same digest, in any order)."""
    canonical = json.dumps({k: float(weights[k]) for k in sorted(weights)}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:10]


class WeightedRanker:
    """The weighted mean of the known features: an unknown one (NaN) drops out and the others'
    weights are renormalised, so the score stays in [0, 1]."""

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        defaults: Mapping[str, float] = DEFAULT_WEIGHTS,
    ) -> None:
        merged = {**defaults, **(weights or {})}
        unknown = sorted(set(merged) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown features: {', '.join(unknown)}")
        if any(w < 0 for w in merged.values()):
            raise ValueError("weights must not be negative")
        self.weights = {name: float(merged[name]) for name in FEATURES}
        self._version = f"{WEIGHTED}+{weights_digest(self.weights)}"

    @property
    def version(self) -> str:
        return self._version

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(name for name in FEATURES if self.weights[name] > 0)

    def _parts(self, columns: Columns) -> tuple[dict[str, F64], F64]:
        rows = len(next(iter(columns.values()))) if columns else 0
        parts: dict[str, F64] = {}
        den = np.zeros(rows)
        for name in self.features:
            values = columns.get(name)
            if values is None:
                continue
            known = ~np.isnan(values)
            weight = self.weights[name]
            parts[name] = np.where(known, weight * values, np.nan)
            den += weight * known
        return parts, den

    def contributions(self, columns: Columns) -> dict[str, F64]:
        parts, den = self._parts(columns)
        return {
            name: np.divide(part, den, out=np.full(len(den), np.nan), where=den > 0)
            for name, part in parts.items()
        }

    def score_and_order(self, columns: Columns) -> tuple[F64, F64]:
        scores = self.score(columns)
        return scores, scores

    def score(self, columns: Columns) -> F64:
        parts, den = self._parts(columns)
        num = np.zeros(len(den))
        for part in parts.values():
            num += np.nan_to_num(part, nan=0.0)
        score: F64 = np.divide(num, den, out=np.zeros(len(den)), where=den > 0)
        return score
