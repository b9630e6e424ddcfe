"""A ranker learnt from a programme's feedback (app/ml/learning.py trains it).

The model is linear in the features, on top of a prior — the weighted scorer the tenant had
when it was trained, with its weights frozen into the artefact:
``score = a · prior(x) + Σ w_f · x̃_f``, where ``x̃`` is the feature with an unknown value
(NaN) replaced by its mean over the training examples, ``μ_f``. Being additive, it explains
itself exactly: ``contributions()[f] = a · prior_f(x) + w_f · (x̃_f − μ_f)`` (``prior_f`` being
the weighted scorer's own contribution of f, which adds up to its score), so the parts of a row
sum to its score minus the ``baseline`` ``Σ w_f · μ_f``; an unknown feature contributes
nothing. Scores are on the model's own scale (higher is better), not in [0, 1] like the
weighted scorer's.

The features' own part, the tilt ``Σ w_f · (x̃_f − μ_f)``, may be bounded (``max_tilt``, in the
model's own units: the log-odds of the pairwise model): a row's tilt beyond the bound is scaled
down, and its contributions with it, so they still sum to the score minus the baseline. The
bound is how far a programme's learnt preferences may move a person past the relevance the
default sees: at 0.15, the learnt part changes the model's odds that one person is preferred to
another by a factor of at most e^0.3 ≈ 1.35. Being in the model's units, not the prior's, it
gives a model that trusts its prior more (a larger ``a``) less room to move people in the
prior's terms — and trusting the prior for what was only its rank is the error the
position-bias correction removes (docs/EVALUATION.md, "Learned rankers", shows the effect).

It is a re-ranker: it orders the rows its prior ranks in its ``window`` (twice the depth of
the lists it learnt from), and leaves the prior's order below (:meth:`score_and_order`). A model
fit on the top of shortlists has seen nothing further down; applied to every candidate it lets
a near but unskilled person past a skilled one (bench/feedback_loop.py measured it).

The artefact is a skops file (app/services/model_registry.py reads and writes it): a
dictionary of plain values, numpy arrays and the fitted scikit-learn estimator, which loads
without running code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from app.ml.ranker import F64, Columns, WeightedRanker

LEARNED = "learned"
ARTEFACT_FORMAT = "ponte-linear-ranker-4"
# Format 3 bounded the tilt in the prior's units: it still loads (its bound converted), so a
# model trained before keeps serving until a new one replaces it.
FORMAT_PRIOR_UNITS = "ponte-linear-ranker-3"


class LinearRanker:
    """The Ranker protocol (app/ml/ranker.py) over a learnt weight per feature."""

    def __init__(
        self,
        version: str,
        features: Sequence[str],
        coef: npt.ArrayLike,
        fill: npt.ArrayLike,
        prior: Mapping[str, float] | None = None,
        prior_coef: float = 0.0,
        window: int | None = None,
        max_tilt: float | None = None,
    ) -> None:
        self._version = version
        self.window = window
        # How far the features' own weights may move a row from its prior score, in the
        # prior's units (None: unbounded).
        self.max_tilt = max_tilt if prior else None
        self.prior = WeightedRanker(prior, defaults={}) if prior else None
        self.prior_coef = float(prior_coef) if prior else 0.0
        self._features = tuple(features)
        self.coef = np.asarray(coef, dtype=np.float64).ravel()
        self.fill = np.asarray(fill, dtype=np.float64).ravel()
        if not (len(self._features) == len(self.coef) == len(self.fill)):
            raise ValueError("features, coefficients and fill values differ in length")
        self.baseline = float(self.coef @ self.fill)

    @property
    def version(self) -> str:
        return self._version

    @property
    def features(self) -> tuple[str, ...]:
        return self._features

    @property
    def weights(self) -> dict[str, float]:
        return dict(zip(self._features, self.coef.tolist(), strict=True))

    def _matrix(self, columns: Columns) -> F64:
        rows = len(next(iter(columns.values()))) if columns else 0
        out = np.empty((rows, len(self._features)))
        for j, name in enumerate(self._features):
            values = columns.get(name)
            out[:, j] = np.nan if values is None else values
        unknown = np.isnan(out)
        if unknown.any():
            out[unknown] = np.broadcast_to(self.fill, out.shape)[unknown]
        return out

    def _bounded(self, tilt: F64) -> F64:
        """The tilt within ``max_tilt``."""
        if self.max_tilt is None:
            return tilt
        clipped: F64 = np.clip(tilt, -self.max_tilt, self.max_tilt)
        return clipped

    def _scores(self, columns: Columns) -> tuple[F64, F64 | None]:
        """The scores, and the prior's (None without a prior)."""
        tilt = self._bounded(self._matrix(columns) @ self.coef - self.baseline)
        scores: F64 = self.baseline + tilt
        if self.prior is None:
            return scores, None
        prior = self.prior.score(columns)
        return scores + self.prior_coef * prior, prior

    def score(self, columns: Columns) -> F64:
        return self._scores(columns)[0]

    def score_and_order(self, columns: Columns) -> tuple[F64, F64]:
        """The scores, and the order: a re-ranker's. The prior's best ``window`` rows come
        first, in this model's order, then the rest in the prior's: the model learnt from the
        top of shortlists; below it, where it saw nothing, the prior's order stands."""
        scores, prior = self._scores(columns)
        if prior is None or self.window is None or len(scores) <= self.window:
            return scores, scores
        inside = np.zeros(len(scores), dtype=bool)
        inside[np.argpartition(-prior, self.window - 1)[: self.window]] = True
        lift = prior.max() + 1.0 - scores[inside].min()
        keys: F64 = np.where(inside, scores + lift, prior)
        return scores, keys

    def contributions(self, columns: Columns) -> dict[str, F64]:
        parts = (self._matrix(columns) - self.fill) * self.coef
        raw = parts.sum(axis=1)
        # a bounded row's parts shrink with its tilt, so they still add up to it
        parts *= np.divide(self._bounded(raw), raw, out=np.ones(len(raw)), where=raw != 0)[:, None]
        out = {name: parts[:, j] for j, name in enumerate(self._features)}
        if self.prior is not None:
            for name, part in self.prior.contributions(columns).items():
                tilt = self.prior_coef * np.nan_to_num(part, nan=0.0)
                out[name] = out[name] + tilt if name in out else tilt
        return out

    def scoring(self) -> dict[str, Any]:
        """How it scores beyond the weights: what the registry shows of it."""
        return {
            "baseline": self.baseline,
            "prior_coef": self.prior_coef,
            "prior_weights": dict(self.prior.weights) if self.prior is not None else None,
            "tilt_weights": self.weights,
            "window": self.window,
            "max_tilt": self.max_tilt,
        }

    def artefact(self, estimator: Any, meta: Mapping[str, Any]) -> dict[str, Any]:
        """What the registry writes: the estimator, what scoring needs, and ``meta``."""
        return {
            "format": ARTEFACT_FORMAT,
            "estimator": estimator,
            "features": list(self._features),
            "coef": self.coef,
            "fill": self.fill,
            "prior": dict(self.prior.weights) if self.prior is not None else {},
            "prior_coef": self.prior_coef,
            "window": self.window if self.window is not None else 0,
            "max_tilt": self.max_tilt if self.max_tilt is not None else -1.0,
            **meta,
        }

    @classmethod
    def from_artefact(cls, version: str, artefact: Mapping[str, Any]) -> LinearRanker:
        found = artefact.get("format")
        if found not in (ARTEFACT_FORMAT, FORMAT_PRIOR_UNITS):
            raise ValueError(f"not a {ARTEFACT_FORMAT} artefact")
        prior_coef = float(artefact.get("prior_coef", 0.0))
        max_tilt = None if artefact.get("max_tilt", -1.0) < 0 else float(artefact["max_tilt"])
        if found == FORMAT_PRIOR_UNITS and max_tilt is not None:
            max_tilt *= abs(prior_coef)
        return cls(
            version,
            artefact["features"],
            artefact["coef"],
            artefact["fill"],
            prior=artefact.get("prior") or None,
            prior_coef=prior_coef,
            window=int(artefact.get("window", 0)) or None,
            max_tilt=max_tilt,
        )
