"""Learning to rank from a programme's feedback: labels, position bias, the fit, the holdout.

- **Labels** (:func:`grade`): per person shown in a shortlist, from the feedback linked to that
  shortlist: hired or internship_* 4, offered or interviewed 3, shortlisted or contacted 2;
  rejected, viewed, or shown in a shortlist that received feedback with nothing for the person
  0. An example whose only signal says nothing about fit (candidate_declined; rejected for
  candidate_declined, no_show, availability or documents) is left out, not counted as 0.
- **Position bias.** Scouts read from the top, so a person at rank 8 who was never looked at
  says little. Each example is weighted by the inverse of the chance that its rank was
  examined, ``p(r) = r^-η`` (the power-law examination model of Joachims, Swaminathan and
  Schnabel, "Unbiased learning-to-rank with biased feedback", WSDM 2017, whose eye-tracking
  and swap experiments found η ≈ 1 for ranked lists), clipped at ``p ≥ clip`` so one lucky
  click far down cannot dominate. η and the clip are settings (the prior, documented in
  docs/EVALUATION.md; bench/feedback_loop.py shows what the correction does).
- **The fit** (:func:`fit`): a linear model, so that explanations are exact
  (app/ml/learned.py), on top of the score of the tenant's default scorer as a prior: the
  model is ``a · prior + Σ w_f · x_f``, the prior's coefficient left (almost) unpenalised and
  the features' weights pulled towards zero. The examples' weights are scaled to a mean of 1,
  so that the penalty pulls as hard with the position-bias correction as without it (unscaled,
  the corrected weights — up to 20 — made its fits several times less regularised, and
  noisy). Shortlists show only the top of a ranking, where relevance varies little; a model
  fit on them alone learns weights that, applied to every candidate, let a near but unskilled
  person past a skilled one (bench/feedback_loop.py measured that). The prior keeps what
  ranked well; the feedback tilts it.
  ``pairwise`` (default): logistic regression on the differences of the
  features of a better and a worse example of one shortlist, each pair weighted by the
  inverse propensity of the better one (propensity-weighted pairwise ranking, as in the paper
  above); ``pointwise``: logistic regression of "positive" on the features, positives weighted
  by their inverse propensity. docs/EVALUATION.md says why pairwise is the default.
- **The holdout** (:func:`ips_ndcg`, :func:`bootstrap_interval`): IPS-weighted nDCG@10 per
  held-out shortlist, each relevant example's gain divided by its propensity at the rank it
  was shown, and a percentile bootstrap over shortlists of the mean difference between two
  rankers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Family = Literal["pairwise", "pointwise"]
FAMILIES: tuple[Family, ...] = ("pairwise", "pointwise")

GRADES: dict[str, int] = {
    "hired": 4,
    "internship_started": 4,
    "internship_extended": 4,
    "internship_completed": 4,
    "offered": 3,
    "interviewed": 3,
    "shortlisted": 2,
    "contacted": 2,
    "viewed": 0,
    "rejected": 0,
}
# A rejection for one of these reasons, or the person declining, says nothing about the fit.
UNINFORMATIVE_REASONS = frozenset({"candidate_declined", "no_show", "availability", "documents"})
DEFAULT_ETA = 1.0
DEFAULT_CLIP = 0.05  # the smallest propensity used: weights are at most 20
NDCG_AT = 10


def grade(events: Iterable[tuple[str, str | None]]) -> int | None:
    """The label of a shown person from the (event, reason) pairs linked to them in one
    shortlist (effective ones only); None when the example is left out; 0 with no event."""
    best: int | None = None
    informative = False
    seen = False
    for event, reason in events:
        seen = True
        if event == "candidate_declined" or (
            event == "rejected" and reason in UNINFORMATIVE_REASONS
        ):
            continue
        value = GRADES.get(event)
        if value is None:  # dropped_out and the like: no statement on the shortlist's order
            continue
        informative = True
        best = value if best is None else max(best, value)
    if not seen:
        return 0
    return best if informative else None


def propensity(rank: npt.ArrayLike, eta: float = DEFAULT_ETA, clip: float = DEFAULT_CLIP) -> F64:
    """The chance that an item at ``rank`` (1-based) was examined, clipped below at ``clip``."""
    ranks = np.asarray(rank, dtype=np.float64)
    p: F64 = np.maximum(ranks**-eta, clip)
    return p


@dataclass
class Examples:
    """Labelled examples: one row per person shown, ``group`` numbering their shortlists."""

    x: F64  # (n, features), NaN where unknown
    label: F64
    rank: I64
    group: I64

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, rows: npt.NDArray[np.bool_]) -> Examples:
        return Examples(self.x[rows], self.label[rows], self.rank[rows], self.group[rows])

    @property
    def positives(self) -> int:
        return int((self.label > 0).sum())


def fill_values(x: F64) -> F64:
    """Per feature, the mean of its known values (0.5 where none is known)."""
    known = ~np.isnan(x)
    counts = known.sum(axis=0)
    sums = np.where(known, x, 0.0).sum(axis=0)
    fill: F64 = np.divide(sums, counts, out=np.full(x.shape[1], 0.5), where=counts > 0)
    return fill


def _filled(x: F64, fill: F64) -> F64:
    out: F64 = np.where(np.isnan(x), fill, x)
    return out


def _pairs(data: Examples, xf: F64, weights: F64) -> tuple[F64, F64]:
    """Difference vectors of (better, worse) pairs within each shortlist, both ways round,
    each weighted by the better example's weight."""
    diffs, pair_weights = [], []
    order = np.argsort(data.group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(data.group[order]) != 0])
    for begin, end in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        rows = order[begin:end]
        labels = data.label[rows]
        for at, i in enumerate(rows):
            worse = rows[labels < labels[at]]
            if len(worse):
                diffs.append(xf[i] - xf[worse])
                pair_weights.append(np.full(len(worse), weights[i]))
    if not diffs:
        return np.empty((0, xf.shape[1])), np.empty(0)
    return np.vstack(diffs), np.concatenate(pair_weights)


# The prior's column is scaled up so that its coefficient, being this much smaller, is all but
# free of the L2 penalty: the data decide how much of the prior to keep, while the features'
# own weights are pulled towards zero (towards the prior alone) unless the feedback says more.
PRIOR_SCALE = 100.0


@dataclass
class Fitted:
    estimator: Any
    coef: F64  # one weight per feature, on top of the prior
    fill: F64
    prior_coef: float  # how much of the prior score (0 without a prior)


def fit(
    data: Examples,
    family: Family = "pairwise",
    *,
    prior: F64 | None = None,
    correct_bias: bool = True,
    eta: float = DEFAULT_ETA,
    clip: float = DEFAULT_CLIP,
    c: float = 1.0,
) -> Fitted:
    """Fits a linear model of the features, on top of ``prior`` (per example, the score of the
    ranker the tenant had: its learnt tilt is what the feedback adds to what already ranked
    well, so relevance is kept where the feedback is silent, e.g. below the ranks scouts read)."""
    fill = fill_values(data.x)
    xf = _filled(data.x, fill)
    if prior is not None:
        xf = np.column_stack([xf, PRIOR_SCALE * np.nan_to_num(prior)])
    weights = 1.0 / propensity(data.rank, eta, clip) if correct_bias else np.ones(len(data))
    weights = weights / weights.mean()
    if family == "pairwise":
        diffs, pair_weights = _pairs(data, xf, weights)
        if not len(diffs):
            raise ValueError("no shortlist has examples of two different labels")
        x = np.vstack([diffs, -diffs])
        y = np.r_[np.ones(len(diffs)), np.zeros(len(diffs))]
        model = LogisticRegression(C=c, fit_intercept=False, max_iter=1000)
        model.fit(x, y, sample_weight=np.r_[pair_weights, pair_weights])
    else:
        y = (data.label > 0).astype(np.float64)
        if y.min() == y.max():
            raise ValueError("the examples are all positive or all negative")
        model = LogisticRegression(C=c, max_iter=1000)
        model.fit(xf, y, sample_weight=np.where(y > 0, weights, 1.0))
    coef: F64 = np.asarray(model.coef_, dtype=np.float64).ravel()
    if prior is None:
        return Fitted(model, coef, fill, 0.0)
    return Fitted(model, coef[:-1], fill, float(coef[-1] * PRIOR_SCALE))


def ips_ndcg(
    scores: F64,
    data: Examples,
    *,
    eta: float = DEFAULT_ETA,
    clip: float = DEFAULT_CLIP,
    k: int = NDCG_AT,
    correct_bias: bool = True,
) -> dict[int, float]:
    """Per shortlist with a relevant example: nDCG@k of the order ``scores`` give its examples,
    each gain ``2^label − 1`` divided by the propensity of the rank it was shown at."""
    gains = 2.0**data.label - 1.0
    if correct_bias:
        gains = gains / propensity(data.rank, eta, clip)
    out: dict[int, float] = {}
    for g in np.unique(data.group):
        rows = np.flatnonzero(data.group == g)
        gain = gains[rows]
        if not (gain > 0).any():
            continue
        # ties broken by the shown rank, so equal scores cannot flatter either ranker
        order = np.lexsort((data.rank[rows], -scores[rows]))[:k]
        discounts = 1.0 / np.log2(np.arange(2, len(order) + 2))
        dcg = float((gain[order] * discounts).sum())
        ideal = np.sort(gain)[::-1][:k]
        out[int(g)] = dcg / float((ideal * discounts[: len(ideal)]).sum())
    return out


def bootstrap_interval(
    differences: Sequence[float], *, rounds: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-shortlist differences."""
    values = np.asarray(differences, dtype=np.float64)
    if not len(values):
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(rounds, len(values)))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
