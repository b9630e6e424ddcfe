"""The features of a (vacancy, candidate) pair, each in [0, 1], NaN where unknown.

Every feature is a function of the pair alone (and of fixed corpus statistics), never of the
other rows ranked with it: a trainer mixes rows from thousands of shortlists, so a stored
feature must mean the same in each. ``FEATURE_VERSION`` changes whenever a definition here
does; every snapshot records it.

- ``semantic_best`` / ``semantic_profile``: centred cosine (app/ml/centring.py: each side less
  its tenant's centroid) of the vacancy to the candidate's best text window / to the whole
  profile, clipped to [0, 1].
- ``must_have`` / ``nice_to_have``: weighted share of the required skills met (app/ml/skills.py).
- ``lexical``: BM25 against half the sum of the idf of the query's matchable terms (what an
  average-length profile holding each of them once would score), clipped to 1
  (app/ml/bm25.py): the pair and the corpus statistics alone, never the best row of the
  batch. Both texts are analysed in the candidate's (the indexed row's) language: Snowball
  stems, accents folded; that analysis came within features-v3, before any release carried
  it, so the version did not change for it. The statistics are those of the index's last
  rebuild, so two processes (or the pool and the database path) that rebuilt at different
  times may differ slightly.
- ``title`` / ``title_profile``: cosine of the vacancy title to the desired occupations / to the
  best text window.
- ``language``: share of the required languages spoken at the level asked (0.5 if none recorded).
- ``distance``: 1 near, falling to 0 at the candidate's commute limit; 1 for a remote job.
- ``availability``: 1 available by the start date, 0.5 unknown, 0 later.
- ``esco_skills`` / ``occupation``: through the ESCO taxonomy (app/ml/taxonomy_match.py): the
  idf-weighted share of the vacancy's ESCO skills (its linked requirements, or its
  occupation's essential skills as soft requirements) the candidate holds; the agreement of
  the two sides' occupations (same occupation, same ISCO 4-digit, 3-digit group); how well the
  vacancy title names the candidate's ESCO occupation (``title_occupation``). NaN when
  matching through the taxonomy is off or a side has nothing linked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.ml.bm25 import lexical_share

F64 = npt.NDArray[np.float64]

TAXONOMY_FEATURES = ("esco_skills", "occupation", "title_occupation")
FEATURES = (
    "semantic_best",
    "semantic_profile",
    "must_have",
    "nice_to_have",
    "lexical",
    "title",
    "title_profile",
    "language",
    "distance",
    "availability",
    *TAXONOMY_FEATURES,
)
# features-v1: BM25 over the batch's best, plain cosines; v2: BM25 against the query's ceiling,
# semantic cosines centred by the tenant's centroids; v3: the three taxonomy features, and BM25
# over Snowball stems in each row's language (the same feature through a better analyser).
FEATURE_VERSION = "features-v3"

# Stored features of these versions read as this version's, the features added since unknown:
# features-v3 only added the taxonomy features, so a programme's feedback on features-v2
# shortlists still trains its rankers (app/services/training.py).
READS_AS_CURRENT = ("features-v2",)

# Commute limit assumed when the candidate gave none, and the fit when the distance is unknown.
DEFAULT_COMMUTE_KM = 30.0
UNKNOWN_DISTANCE_FIT = 0.5


def distance_fit(remote: bool | npt.NDArray[np.bool_], km: F64, max_km: F64) -> F64:
    """Per row: 1 near, falling to 0 at the candidate's commute limit (30 km if unknown or 0);
    1 for a remote job; 0.5 where the distance is unknown (NaN)."""
    with np.errstate(invalid="ignore"):
        limit = np.where(max_km > 0, max_km, DEFAULT_COMMUTE_KM)  # NaN compares false
    fit: F64 = 1.0 - km / limit
    np.maximum(fit, 0.0, out=fit)  # beyond the limit: 0; an unknown distance stays NaN
    fit[np.isnan(fit)] = UNKNOWN_DISTANCE_FIT
    fit[np.broadcast_to(remote, fit.shape)] = 1.0
    return fit


def availability_fit(gate: npt.NDArray[np.int8]) -> F64:
    """Per row: 1 when available by the start date, 0.5 when unknown, 0 when later."""
    fit: F64 = (gate.astype(np.float64) + 1.0) / 2.0
    return fit


def as_column(values: Sequence[float | None]) -> F64:
    """Returns values as a float array, None as NaN (an unknown feature)."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def clip01(values: F64) -> F64:
    """Clips to [0, 1], leaving NaN (unknown) as it is."""
    clipped: F64 = np.clip(values, 0.0, 1.0)
    return clipped


@dataclass
class Pairs:
    """The (vacancy, candidate) pairs one ranking scores, column by column: per pair its ids,
    the candidate's skill labels, the vacancy's required skills, and the features computed
    before skill matching (NaN where unknown)."""

    candidate_id: list[Any]
    candidate_external_id: list[str]
    vacancy_id: list[Any]
    vacancy_external_id: list[str]
    labels: list[list[str]]
    required: list[Sequence[Any]]  # the vacancy's required skills as stored, one per pair
    semantic_profile: F64
    semantic_chunk: F64
    title: F64
    title_profile: F64
    language: F64
    distance_km: F64
    max_commute_km: F64
    remote: npt.NDArray[np.bool_]
    lexical: F64  # raw BM25 of the anchor's text against the ranked row's
    lexical_ceiling: F64  # per pair, the most the anchor's text could score in that corpus
    gates: dict[str, npt.NDArray[np.int8]]  # per gate, 1 / 0 / -1
    # Through the taxonomy (NaN: off, or nothing linked), with each pair's evidence
    taxonomy: dict[str, F64] | None = None
    esco_evidence: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.candidate_id)


def feature_columns(pairs: Pairs, must: F64, nice: F64) -> dict[str, F64]:
    """Returns every feature of :data:`FEATURES` per pair, given the skill coverage of each."""
    profile = np.nan_to_num(clip01(pairs.semantic_profile), nan=0.0)
    chunk = np.nan_to_num(clip01(pairs.semantic_chunk), nan=0.0)
    raw = np.nan_to_num(pairs.lexical, nan=0.0)
    gate = pairs.gates.get("availability")
    return {
        "semantic_best": np.maximum(profile, chunk),
        "semantic_profile": profile,
        "must_have": must,
        "nice_to_have": nice,
        "lexical": lexical_share(raw, pairs.lexical_ceiling),
        "title": clip01(pairs.title),
        "title_profile": clip01(pairs.title_profile),
        "language": pairs.language,
        "distance": distance_fit(pairs.remote, pairs.distance_km, pairs.max_commute_km),
        "availability": availability_fit(
            gate if gate is not None else np.zeros(len(pairs), dtype=np.int8)
        ),
        **{name: _taxonomy_column(pairs, name) for name in TAXONOMY_FEATURES},
    }


def _taxonomy_column(pairs: Pairs, name: str) -> F64:
    if pairs.taxonomy is None:
        return np.full(len(pairs), np.nan)
    return pairs.taxonomy[name]
