"""A ranker learnt from a programme's feedback (app/ml/learning.py trains it).

The model is linear in the features: ``score = Σ w_f · x̃_f``, where ``x̃`` is the feature with
an unknown value (NaN) replaced by its mean over the training examples, ``μ_f``. Being
additive, it explains itself exactly: ``contributions()[f] = w_f · (x̃_f − μ_f)``, and the
parts of a row sum to its score minus the ``baseline`` (the score of an average training
example, ``Σ w_f · μ_f``); an unknown feature contributes nothing. Scores are on the model's
own scale (a logit, higher is better), not in [0, 1] like the weighted scorer's.

The artefact is a skops file (app/services/model_registry.py reads and writes it): a
dictionary of plain values, numpy arrays and the fitted scikit-learn estimator, which loads
without running code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from app.ml.ranker import F64, Columns

LEARNED = "learned"
ARTEFACT_FORMAT = "ponte-linear-ranker-1"


class LinearRanker:
    """The Ranker protocol (app/ml/ranker.py) over a learnt weight per feature."""

    def __init__(
        self, version: str, features: Sequence[str], coef: npt.ArrayLike, fill: npt.ArrayLike
    ) -> None:
        self._version = version
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
            out[:, j] = (
                self.fill[j] if values is None else np.where(np.isnan(values), self.fill[j], values)
            )
        return out

    def score(self, columns: Columns) -> F64:
        scores: F64 = self._matrix(columns) @ self.coef
        return scores

    def contributions(self, columns: Columns) -> dict[str, F64]:
        parts = (self._matrix(columns) - self.fill) * self.coef
        return {name: parts[:, j] for j, name in enumerate(self._features)}

    def artefact(self, estimator: Any, meta: Mapping[str, Any]) -> dict[str, Any]:
        """What the registry writes: the estimator, what scoring needs, and ``meta``."""
        return {
            "format": ARTEFACT_FORMAT,
            "estimator": estimator,
            "features": list(self._features),
            "coef": self.coef,
            "fill": self.fill,
            **meta,
        }

    @classmethod
    def from_artefact(cls, version: str, artefact: Mapping[str, Any]) -> LinearRanker:
        if artefact.get("format") != ARTEFACT_FORMAT:
            raise ValueError(f"not a {ARTEFACT_FORMAT} artefact")
        return cls(version, artefact["features"], artefact["coef"], artefact["fill"])
