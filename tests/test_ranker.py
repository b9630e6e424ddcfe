"""The ranker seam: versions that follow what a ranker computes, scores the weighted mean of
the known features, and contributions that add up to each score."""

from __future__ import annotations

import numpy as np
import pytest

from app.ml.features import FEATURES
from app.ml.ranker import DEFAULT_WEIGHTS, Ranker, WeightedRanker, weights_digest


def columns(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {name: rng.uniform(0, 1, rows) for name in FEATURES}
    out["language"][::3] = np.nan  # unknown for every third row
    out["title"][:] = np.nan  # unknown everywhere
    return out


def test_the_weighted_ranker_is_a_ranker_and_its_version_follows_its_weights():
    ranker = WeightedRanker()
    assert isinstance(ranker, Ranker)
    assert ranker.version.startswith("weighted-v1+")
    assert WeightedRanker(dict(DEFAULT_WEIGHTS)).version == ranker.version
    # Any change is a new version; the digest itself ignores the order weights come in.
    assert weights_digest(dict(reversed(DEFAULT_WEIGHTS.items()))) == weights_digest(
        DEFAULT_WEIGHTS
    )
    assert weights_digest({"a": 1.0, "b": 2.0}) != weights_digest({"a": 2.0, "b": 1.0})
    assert WeightedRanker({"lexical": 0.2}).version != ranker.version
    assert WeightedRanker({"lexical": 0.0}).features == tuple(f for f in FEATURES if f != "lexical")


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="unknown features"):
        WeightedRanker({"charm": 1.0})
    with pytest.raises(ValueError, match="negative"):
        WeightedRanker({"lexical": -1.0})


def test_score_is_the_weighted_mean_of_the_known_features():
    ranker = WeightedRanker()
    data = columns(9)
    scores = ranker.score(data)
    for row in range(9):
        known = {
            n: data[n][row] for n in FEATURES if not np.isnan(data[n][row]) and DEFAULT_WEIGHTS[n]
        }
        expected = sum(DEFAULT_WEIGHTS[n] * v for n, v in known.items()) / sum(
            DEFAULT_WEIGHTS[n] for n in known
        )
        assert scores[row] == pytest.approx(expected)


def test_contributions_add_up_to_the_score_and_unknown_features_contribute_nothing():
    ranker = WeightedRanker({"semantic_best": 2.0})
    data = columns(12, seed=3)
    parts = ranker.contributions(data)
    total = np.nansum(np.stack(list(parts.values())), axis=0)
    np.testing.assert_allclose(total, ranker.score(data))
    assert np.isnan(parts["title"]).all()
    assert np.isnan(parts["language"][::3]).all()
    # The feature weighted most contributes most where features are equal.
    flat = {name: np.full(1, 0.5) for name in FEATURES}
    contributed = {k: float(v[0]) for k, v in ranker.contributions(flat).items()}
    assert max(contributed, key=contributed.__getitem__) == "semantic_best"


def test_a_row_with_no_known_feature_scores_zero():
    ranker = WeightedRanker()
    empty = {name: np.full(2, np.nan) for name in FEATURES}
    assert list(ranker.score(empty)) == [0.0, 0.0]
