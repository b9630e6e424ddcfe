"""The learning-to-rank arithmetic (app/ml/learning.py, app/ml/learned.py), by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app import vocabulary
from app.ml import learning
from app.ml.learned import LinearRanker


@pytest.mark.parametrize(
    ("events", "label"),
    [
        ([], 0),  # shown in a shortlist that got feedback, nothing for this person
        ([("viewed", None)], 0),
        ([("rejected", "skills")], 0),
        ([("contacted", None), ("rejected", "language")], 2),  # the best grade stands
        ([("shortlisted", None)], 2),
        ([("interviewed", None), ("offered", None)], 3),
        ([("internship_started", None), ("dropped_out", "other")], 4),
        ([("hired", None)], 4),
        ([("rejected", "no_show")], None),  # says nothing about fit: left out
        ([("rejected", "documents")], None),
        ([("candidate_declined", "candidate_declined")], None),
        ([("candidate_declined", None), ("interviewed", None)], 3),
        ([("dropped_out", "other")], None),
    ],
)
def test_grades(events, label):
    assert learning.grade(events) == label


def test_every_graded_event_is_a_feedback_event():
    assert set(learning.GRADES) <= set(vocabulary.FEEDBACK_EVENTS)
    assert set(vocabulary.FEEDBACK_REASONS) >= learning.UNINFORMATIVE_REASONS
    assert learning.FAMILIES == vocabulary.MODEL_FAMILIES


def test_propensity_is_a_clipped_power_law():
    p = learning.propensity([1, 2, 4, 100], eta=1.0, clip=0.05)
    assert p.tolist() == pytest.approx([1.0, 0.5, 0.25, 0.05])
    assert learning.propensity([4], eta=0.5, clip=0.01).tolist() == pytest.approx([0.5])


def _examples(labels, ranks, groups, x=None):
    n = len(labels)
    return learning.Examples(
        np.zeros((n, 1)) if x is None else np.asarray(x, dtype=float),
        np.asarray(labels, dtype=float),
        np.asarray(ranks),
        np.asarray(groups),
    )


def test_ips_ndcg_by_hand():
    # one shortlist of three: a grade-2 person shown at rank 2, a grade-4 one at rank 3
    data = _examples([0, 2, 4], [1, 2, 3], [0, 0, 0])
    gains = np.array([0, 3 / 0.5, 15 / (1 / 3)])  # (2^label - 1) / p(rank), eta 1
    scores = np.array([3.0, 2.0, 1.0])  # the shown order
    dcg = gains[0] / math.log2(2) + gains[1] / math.log2(3) + gains[2] / math.log2(4)
    ideal = gains[2] / math.log2(2) + gains[1] / math.log2(3)
    got = learning.ips_ndcg(scores, data, eta=1.0, clip=0.01)
    assert got == {0: pytest.approx(dcg / ideal)}
    best = learning.ips_ndcg(np.array([0.0, 1.0, 2.0]), data, eta=1.0, clip=0.01)
    assert best == {0: pytest.approx(1.0)}
    # uncorrected, the gains are the plain ones
    plain = learning.ips_ndcg(scores, data, correct_bias=False)
    want = (3 / math.log2(3) + 15 / math.log2(4)) / (15 + 3 / math.log2(3))
    assert plain == {0: pytest.approx(want)}
    # a shortlist with nothing relevant is not scored
    assert learning.ips_ndcg(scores, _examples([0, 0, 0], [1, 2, 3], [5, 5, 5])) == {}


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    diffs = [0.1, 0.2, 0.15, 0.05, 0.12]
    low, high = learning.bootstrap_interval(diffs, seed=3)
    assert low < np.mean(diffs) < high
    assert learning.bootstrap_interval(diffs, seed=3) == (low, high)
    assert learning.bootstrap_interval([0.0] * 5) == (0.0, 0.0)


def test_pairwise_weights_follow_the_better_examples_rank():
    # the better example (label 1) shown at rank 4 weighs 1 / 0.25 = 4 with the correction
    data = _examples([0, 1], [1, 4], [0, 0], x=[[0.2, 0.0], [0.9, 1.0]])
    xf = data.x
    diffs, weights = learning._pairs(data, xf, 1.0 / learning.propensity(data.rank))
    assert diffs.tolist() == [pytest.approx([0.7, 1.0])]
    assert weights.tolist() == [4.0]


def test_the_fit_learns_a_hidden_preference_and_explains_exactly():
    rng = np.random.default_rng(0)
    groups, labels, ranks, rows = [], [], [], []
    for g in range(60):
        x = rng.random((10, 3))
        x[:, 2] = np.nan if g % 7 == 0 else x[:, 2]  # sometimes unknown
        liked = x[:, 1] > 0.6  # the scouts care about the second feature only
        order = np.argsort(-x[:, 0])  # while the shown order followed the first
        for rank, i in enumerate(order, start=1):
            rows.append(x[i])
            labels.append(float(liked[i]) * 2)
            ranks.append(rank)
            groups.append(g)
    data = learning.Examples(np.array(rows), np.array(labels), np.array(ranks), np.array(groups))
    for family in learning.FAMILIES:
        fitted = learning.fit(data, family)
        coef, fill = fitted.coef, fitted.fill
        assert coef[1] > 3 * abs(coef[0]), (family, coef)
        ranker = LinearRanker("t", ["a", "b", "c"], coef, fill)
        columns = {"a": data.x[:, 0], "b": data.x[:, 1], "c": data.x[:, 2]}
        parts = ranker.contributions(columns)
        total = parts["a"] + parts["b"] + parts["c"]
        assert np.allclose(total, ranker.score(columns) - ranker.baseline)
        # an unknown feature contributes nothing
        assert np.all(parts["c"][np.isnan(data.x[:, 2])] == 0)
        # a feature the columns lack is read as unknown
        assert np.allclose(
            ranker.score({"a": columns["a"], "b": columns["b"]}),
            ranker.score({**columns, "c": np.full(len(data), np.nan)}),
        )


def test_fit_refuses_examples_without_contrast():
    data = _examples([1, 1], [1, 2], [0, 0], x=[[0.1], [0.2]])
    with pytest.raises(ValueError, match="two different labels"):
        learning.fit(data, "pairwise")
    with pytest.raises(ValueError, match="all positive"):
        learning.fit(data, "pointwise")


def test_a_prior_keeps_its_order_where_feedback_is_silent_and_explains_exactly():
    from app.ml.features import FEATURES
    from app.ml.ranker import WeightedRanker

    rng = np.random.default_rng(2)
    prior = WeightedRanker()
    x = rng.random((400, len(FEATURES)))
    x[rng.random(x.shape) < 0.1] = np.nan
    columns = {f: x[:, j] for j, f in enumerate(FEATURES)}
    prior_scores = prior.score(columns)
    # feedback that agrees with the prior: the model keeps it, with a positive weight
    order = np.argsort(-prior_scores)
    labels = np.zeros(400)
    labels[order[:40]] = 2
    data = learning.Examples(x, labels, np.tile(np.arange(1, 21), 20), np.repeat(np.arange(20), 20))
    fitted = learning.fit(data, "pairwise", prior=prior_scores)
    assert fitted.prior_coef > 0
    ranker = LinearRanker("t", FEATURES, fitted.coef, fitted.fill, prior.weights, fitted.prior_coef)
    parts = ranker.contributions(columns)
    assert np.allclose(sum(parts.values()), ranker.score(columns) - ranker.baseline)
    restored = LinearRanker.from_artefact("t", ranker.artefact(fitted.estimator, {}))
    assert np.allclose(restored.score(columns), ranker.score(columns))


def test_a_reranker_orders_only_its_window_and_leaves_the_prior_below():
    from app.ml.features import FEATURES
    from app.ml.ranker import WeightedRanker

    prior = WeightedRanker()
    rng = np.random.default_rng(4)
    columns = {f: rng.random(50) for f in FEATURES}
    # a model that only cares about distance, re-ranking the prior's best 10
    coef = np.array([5.0 if f == "distance" else 0.0 for f in FEATURES])
    ranker = LinearRanker("t", FEATURES, coef, np.full(len(FEATURES), 0.5), prior.weights, 1.0, 10)
    scores, keys = ranker.score_and_order(columns)
    assert np.array_equal(scores, ranker.score(columns))
    order = np.argsort(-keys, kind="stable")
    by_prior = np.argsort(-prior.score(columns), kind="stable")
    assert set(order[:10]) == set(by_prior[:10])  # the same people on top…
    inside = order[:10]
    assert list(inside) == sorted(inside, key=lambda i: -scores[i])  # …in the model's order
    assert list(order[10:]) == list(by_prior[10:])  # the rest in the prior's
    unwindowed = LinearRanker("t", FEATURES, coef, np.full(len(FEATURES), 0.5), prior.weights, 1.0)
    assert np.array_equal(unwindowed.score_and_order(columns)[1], unwindowed.score(columns))


def test_a_bounded_tilt_moves_no_score_further_than_its_bound_and_still_adds_up():
    from app.ml.features import FEATURES
    from app.ml.ranker import WeightedRanker

    prior = WeightedRanker()
    rng = np.random.default_rng(5)
    columns = {f: rng.random(200) for f in FEATURES}
    coef = rng.normal(0, 3, len(FEATURES))
    fill = np.full(len(FEATURES), 0.5)
    bounded = LinearRanker("t", FEATURES, coef, fill, prior.weights, 2.0, max_tilt=0.05)
    free = LinearRanker("t", FEATURES, coef, fill, prior.weights, 2.0)
    base = 2.0 * prior.score(columns) + bounded.baseline
    tilt = bounded.score(columns) - base
    assert np.abs(tilt).max() == pytest.approx(0.05)  # in the model's units, whatever a is
    assert np.abs(free.score(columns) - base).max() > 0.5  # unbounded, it goes much further
    parts = bounded.contributions(columns)
    assert np.allclose(sum(parts.values()), bounded.score(columns) - bounded.baseline)
    restored = LinearRanker.from_artefact("t", bounded.artefact(None, {}))
    assert restored.max_tilt == 0.05
    assert np.allclose(restored.score(columns), bounded.score(columns))


def test_an_artefact_bounded_in_the_priors_units_still_loads_with_its_bound_converted():
    from app.ml.features import FEATURES
    from app.ml.learned import FORMAT_PRIOR_UNITS
    from app.ml.ranker import WeightedRanker

    prior = WeightedRanker()
    rng = np.random.default_rng(6)
    columns = {f: rng.random(100) for f in FEATURES}
    coef = rng.normal(0, 3, len(FEATURES))
    ranker = LinearRanker("t", FEATURES, coef, np.full(len(FEATURES), 0.5), prior.weights, 4.0)
    old = ranker.artefact(None, {}) | {"format": FORMAT_PRIOR_UNITS, "max_tilt": 0.05}
    restored = LinearRanker.from_artefact("t", old)
    assert restored.max_tilt == pytest.approx(4.0 * 0.05)
    base = 4.0 * prior.score(columns) + restored.baseline
    assert np.abs(restored.score(columns) - base).max() == pytest.approx(0.2)
    with pytest.raises(ValueError, match="artefact"):
        LinearRanker.from_artefact("t", old | {"format": "ponte-linear-ranker-2"})


def test_the_position_weights_do_not_change_how_hard_the_penalty_pulls():
    # every example shown at rank 20: corrected, each weighs 20, the same for all, so the fit
    # must equal the uncorrected one; unscaled weights would regularise it 20 times less
    rng = np.random.default_rng(7)
    x = rng.random((200, 2))
    labels = (x[:, 0] + rng.normal(0, 0.3, 200) > 0.6).astype(float)
    data = learning.Examples(x, labels, np.full(200, 20), np.repeat(np.arange(20), 10))
    for family in learning.FAMILIES:
        plain = learning.fit(data, family, correct_bias=False, c=0.01)
        weighted = learning.fit(data, family, correct_bias=True, c=0.01)
        assert np.allclose(plain.coef, weighted.coef, rtol=1e-4), family
