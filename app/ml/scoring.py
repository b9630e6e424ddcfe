"""Features of a (vacancy, candidate) pair, the default weighted scorer, and explanations.

Everything here is pure: vectors and plain values in, numbers and dicts out. Gates and the
database-side features (similarities, lexical rank, distance) arrive already computed.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app.ml.text import skill_key

Vector = npt.NDArray[np.float32]

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
)

# The default scorer: a weighted mean of features in [0, 1]. The relevance block (semantic
# similarity, skill coverage, full text, titles: about 0.9 in all) was tuned by coordinate ascent on
# half of esco_dev and checked on the other half (docs/EVALUATION.md). The practical block
# (language, distance, availability: 0.10) cannot be tuned on that set, which has no such data;
# it breaks ties among similar profiles, after the hard gates have removed impossible ones.
# Tenants can override any weight.
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
}
SCORER_VERSION = "weighted-v1"
SOFT_MATCH_THRESHOLD = 0.62
# A required skill met by no label may still be evidenced by the profile's free text (a CV pasted
# without a skills list). A short label against a paragraph scores lower than label against
# label, hence the lower bar; the credit is the similarity itself, so such evidence counts less.
TEXT_MATCH_THRESHOLD = 0.5
GATES = ("status", "not_placed", "availability", "language", "commute", "permit")
GateState = Literal["pass", "unknown", "fail"]
_GATE_STATE: dict[int, GateState] = {1: "pass", 0: "unknown", -1: "fail"}


def gate_state(value: int | None) -> GateState:
    """Maps the database's 1 / 0 / -1 to "pass" / "unknown" / "fail"."""
    return _GATE_STATE[0 if value is None else int(value)]


@dataclass(frozen=True)
class RequiredSkill:
    label: str
    must_have: bool = True
    weight: float = 1.0


KIND_NONE, KIND_EXACT, KIND_SOFT, KIND_TEXT = 0, 1, 2, 3
_KIND_NAMES: dict[int, Literal["exact", "soft", "text"]] = {1: "exact", 2: "soft", 3: "text"}


@dataclass
class SkillMatrix:
    """How each required skill (column) is met by each candidate (row): kind code, similarity
    credit and the index of the candidate's matching label (-1 when none)."""

    kind: npt.NDArray[np.int8]
    similarity: npt.NDArray[np.float64]
    index: npt.NDArray[np.int64]

    def coverage(
        self, required: Sequence[RequiredSkill], must_have: bool
    ) -> npt.NDArray[np.float64]:
        """Per row, the weighted share of the (must-have or nice-to-have) skills met; NaN when
        none is asked. A soft or text match counts by its similarity, so "forklift driving" for
        "operate forklift" counts nearly fully and a loose neighbour counts little."""
        columns = [j for j, r in enumerate(required) if r.must_have == must_have]
        weights = np.array([required[j].weight for j in columns], dtype=np.float64)
        rows = self.kind.shape[0]
        if not columns or weights.sum() <= 0:
            return np.full(rows, np.nan)
        credit: npt.NDArray[np.float64] = self.similarity[:, columns] @ weights / weights.sum()
        return credit


@dataclass
class LabelKeys:
    """Candidates' skill labels as key ids: ``ids`` is rows × labels (padded with -1) into
    ``names`` (the distinct skill keys), with a vector per key where ``known``."""

    ids: npt.NDArray[np.int64]
    names: list[str]
    vectors: npt.NDArray[np.float32]
    known: npt.NDArray[np.bool_]
    source: tuple[int, npt.NDArray[np.int64]] | None = None  # where a pool took them from

    def complete(self, vectors: Mapping[str, Vector]) -> None:
        """Fills in the vectors of keys that had none, from ``vectors`` (by skill key)."""
        for n in np.flatnonzero(~self.known).tolist():
            vector = vectors.get(self.names[n])
            if vector is not None:
                self.vectors[n] = vector
                self.known[n] = True


def ragged_positions(
    counts: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For rows of ``counts`` items laid end to end: each item's row and its place in the row
    (what padding ragged rows into a matrix needs)."""
    owner = np.repeat(np.arange(len(counts)), counts)
    place: npt.NDArray[np.int64] = np.arange(len(owner)) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    return owner, place


def label_keys(
    candidates: Sequence[Sequence[str]], vectors: Mapping[str, Vector], dim: int
) -> LabelKeys:
    """Builds :class:`LabelKeys` from label lists and vectors by skill key."""
    key_ids: dict[str, int] = {}
    ids_of = [
        [key_ids.setdefault(skill_key(label), len(key_ids)) for label in labels]
        for labels in candidates
    ]
    rows = len(ids_of)
    counts = np.fromiter(map(len, ids_of), dtype=np.int64, count=rows)
    ids = np.full((rows, max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
    owner, place = ragged_positions(counts)
    ids[owner, place] = np.fromiter(
        itertools.chain.from_iterable(ids_of), dtype=np.int64, count=len(owner)
    )
    names = list(key_ids)  # ids were given in insertion order
    missing = np.zeros(dim, dtype=np.float32)
    matrix = (
        np.stack([vectors.get(name, missing) for name in names])
        if names
        else np.zeros((0, dim), dtype=np.float32)
    )
    known = np.array([name in vectors for name in names], dtype=bool)
    return LabelKeys(ids, names, matrix, known)


def skill_matrix(
    required: Sequence[RequiredSkill],
    candidates: Sequence[Sequence[str]],
    vectors: Mapping[str, Vector],
    text_vectors: Sequence[npt.NDArray[np.float32] | None],
    threshold: float = SOFT_MATCH_THRESHOLD,
    text_threshold: float = TEXT_MATCH_THRESHOLD,
) -> SkillMatrix:
    """Matches the required skills against candidates' label lists (see ``match_skills``)."""
    dim = next(iter(vectors.values())).shape[0] if vectors else 1
    return match_skills(
        required,
        label_keys(candidates, vectors, dim),
        vectors,
        text_vectors,
        threshold,
        text_threshold,
    )


def match_skills(
    required: Sequence[RequiredSkill],
    labels: LabelKeys,
    vectors: Mapping[str, Vector],
    text_vectors: Sequence[npt.NDArray[np.float32] | None],
    threshold: float = SOFT_MATCH_THRESHOLD,
    text_threshold: float = TEXT_MATCH_THRESHOLD,
) -> SkillMatrix:
    """Matches the required skills against many candidates in a few array operations: every
    distinct label is compared with every required skill once; then per row exact, else soft
    (best label at or above ``threshold``), else text (best window at or above
    ``text_threshold``). An exact match counts 1, a soft or text one its similarity.
    ``vectors`` needs to hold the required skills' keys."""
    rows, q = len(labels.ids), len(required)
    kind = np.zeros((rows, q), dtype=np.int8)
    similarity = np.zeros((rows, q), dtype=np.float64)
    index = np.full((rows, q), -1, dtype=np.int64)
    if not rows or not q:
        return SkillMatrix(kind, similarity, index)
    required_keys = [skill_key(r.label) for r in required]
    label_ids = labels.ids
    position = {name: n for n, name in enumerate(labels.names)}
    required_ids = np.array([position.get(k, -2) for k in required_keys], dtype=np.int64)
    # Exact: the first label with the same key.
    same = label_ids[:, :, None] == required_ids[None, None, :]
    has_exact = same.any(axis=1)
    kind[has_exact] = KIND_EXACT
    similarity[has_exact] = 1.0
    index[has_exact] = same.argmax(axis=1)[has_exact]
    embedded = [j for j, key in enumerate(required_keys) if key in vectors]
    if not embedded:
        return SkillMatrix(kind, similarity, index)
    required_matrix = np.stack([vectors[required_keys[j]] for j in embedded])
    known = np.append(labels.known, False)  # label -1 reads this last entry
    if known.any():
        per_key = labels.vectors @ required_matrix.T  # distinct labels x embedded required
        sims = per_key[label_ids]  # rows x labels x embedded (label -1 reads the last row)
        sims[~known[label_ids]] = -np.inf
        best_at = sims.argmax(axis=1)
        best = np.take_along_axis(sims, best_at[:, None, :], axis=1)[:, 0, :].astype(np.float64)
        columns = np.array(embedded)
        soft = (best >= threshold) & (kind[:, columns] == KIND_NONE)
        kind[:, columns] = np.where(soft, KIND_SOFT, kind[:, columns])
        similarity[:, columns] = np.where(soft, np.round(best, 4), similarity[:, columns])
        index[:, columns] = np.where(soft, best_at, index[:, columns])
    lengths = [len(t) if t is not None else 0 for t in text_vectors]
    if sum(lengths):
        stacked = np.concatenate([t for t in text_vectors if t is not None and len(t)])
        text_sims = stacked @ required_matrix.T
        owners = np.repeat(np.arange(rows), lengths)
        best_text = np.full((rows, len(embedded)), -np.inf)
        np.maximum.at(best_text, owners, text_sims)
        columns = np.array(embedded)
        hit = (kind[:, columns] == KIND_NONE) & (best_text >= text_threshold)
        kind[:, columns] = np.where(hit, KIND_TEXT, kind[:, columns])
        similarity[:, columns] = np.where(hit, np.round(best_text, 4), similarity[:, columns])
    return SkillMatrix(kind, similarity, index)


# Commute limit assumed when the candidate gave none, and the fit when the distance is unknown.
DEFAULT_COMMUTE_KM = 30.0
UNKNOWN_DISTANCE_FIT = 0.5


def distance_fit(
    remote: bool | npt.NDArray[np.bool_],
    km: npt.NDArray[np.float64],
    max_km: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Per row: 1 near, falling to 0 at the candidate's commute limit (30 km if unknown or 0);
    1 for a remote job; 0.5 where the distance is unknown (NaN)."""
    with np.errstate(invalid="ignore"):
        limit = np.where(max_km > 0, max_km, DEFAULT_COMMUTE_KM)  # NaN compares false
    fit: npt.NDArray[np.float64] = 1.0 - km / limit
    np.maximum(fit, 0.0, out=fit)  # beyond the limit: 0; an unknown distance stays NaN
    fit[np.isnan(fit)] = UNKNOWN_DISTANCE_FIT
    fit[np.broadcast_to(remote, fit.shape)] = 1.0
    return fit


def availability_fit(gate: npt.NDArray[np.int8]) -> npt.NDArray[np.float64]:
    """Per row: 1 when available by the start date, 0.5 when unknown, 0 when later."""
    fit: npt.NDArray[np.float64] = (gate.astype(np.float64) + 1.0) / 2.0
    return fit


def combine(features: Mapping[str, float | None], weights: Mapping[str, float]) -> float:
    """Returns the weighted mean of the known features (unknown ones drop out), in [0, 1]."""
    columns = {name: as_column([value]) for name, value in features.items()}
    return float(combine_many(columns, weights)[0])


def as_column(values: Sequence[float | None]) -> npt.NDArray[np.float64]:
    """Returns values as a float array, None as NaN (an unknown feature)."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def combine_many(
    columns: Mapping[str, npt.NDArray[np.float64]], weights: Mapping[str, float]
) -> npt.NDArray[np.float64]:
    """``combine`` for many rows at once: NaN marks an unknown feature, which drops out."""
    rows = len(next(iter(columns.values()))) if columns else 0
    num = np.zeros(rows)
    den = np.zeros(rows)
    for name, values in columns.items():
        w = weights.get(name, 0.0)
        if w > 0:
            known = ~np.isnan(values)
            num += w * np.where(known, values, 0.0)
            den += w * known
    return np.divide(num, den, out=np.zeros(rows), where=den > 0)


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
    semantic_profile: npt.NDArray[np.float64]
    semantic_chunk: npt.NDArray[np.float64]
    title: npt.NDArray[np.float64]
    title_profile: npt.NDArray[np.float64]
    language: npt.NDArray[np.float64]
    distance_km: npt.NDArray[np.float64]
    max_commute_km: npt.NDArray[np.float64]
    remote: npt.NDArray[np.bool_]
    lexical: npt.NDArray[np.float64]  # raw BM25
    gates: dict[str, npt.NDArray[np.int8]]  # per gate, 1 / 0 / -1

    def __len__(self) -> int:
        return len(self.candidate_id)


def feature_columns(
    pairs: Pairs, must: npt.NDArray[np.float64], nice: npt.NDArray[np.float64]
) -> dict[str, npt.NDArray[np.float64]]:
    """Returns every feature in [0, 1] per pair (NaN where unknown), given the skill coverage
    of each pair."""
    profile = np.nan_to_num(np.clip(pairs.semantic_profile, 0.0, 1.0), nan=0.0)
    chunk = np.nan_to_num(np.clip(pairs.semantic_chunk, 0.0, 1.0), nan=0.0)
    lexical = np.nan_to_num(pairs.lexical, nan=0.0)
    top = float(lexical.max(initial=0.0)) or 1.0
    gate = pairs.gates.get("availability")
    return {
        "semantic_best": np.maximum(profile, chunk),
        "semantic_profile": profile,
        "must_have": must,
        "nice_to_have": nice,
        "lexical": lexical / top,
        "title": np.clip(pairs.title, 0.0, 1.0),
        "title_profile": np.clip(pairs.title_profile, 0.0, 1.0),
        "language": pairs.language,
        "distance": distance_fit(pairs.remote, pairs.distance_km, pairs.max_commute_km),
        "availability": availability_fit(
            gate if gate is not None else np.zeros(len(pairs), dtype=np.int8)
        ),
    }


def explain(
    features: Mapping[str, float | None],
    skills: SkillMatrix,
    row: int,
    required: Sequence[RequiredSkill],
    gates: Mapping[str, GateState],
    distance_km: float | None,
    remote: bool,
) -> dict[str, Any]:
    """Why a candidate is where it is, in terms a scout can check: one readable sentence plus
    the parts it is made of. The candidate's skills are ``skills``' row ``row``; a matched skill
    names the candidate's label by its position (``matched_index``, None for text evidence)."""
    matched: list[dict[str, Any]] = []
    missing: list[str] = []
    must = met = soft = text = 0
    for req, kind, similarity, index in zip(
        required,
        skills.kind[row].tolist(),
        skills.similarity[row].tolist(),
        skills.index[row].tolist(),
        strict=True,
    ):
        if kind:
            matched.append(
                {
                    "required": req.label,
                    "matched_index": index if index >= 0 else None,
                    "kind": _KIND_NAMES[kind],
                    "similarity": similarity,
                }
            )
        if req.must_have:
            must += 1
            if not kind:
                missing.append(req.label)
            else:
                met += 1
                soft += kind == KIND_SOFT
                text += kind == KIND_TEXT
    parts = []
    if must:
        how = [f"{soft} by a similar skill"] * bool(soft) + [
            f"{text} from the profile text"
        ] * bool(text)
        parts.append(
            f"meets {met} of {must} must-have skills" + (f" ({', '.join(how)})" if how else "")
        )
    sem = features.get("semantic_best") or 0.0
    parts.append(
        "profile text is a "
        + ("strong" if sem >= 0.6 else "fair" if sem >= 0.4 else "weak")
        + " match for the vacancy"
    )
    if gates.get("language") == "pass":
        parts.append("speaks the required languages")
    elif gates.get("language") == "unknown":
        parts.append("languages not recorded")
    if remote:
        parts.append("remote job")
    elif distance_km is not None:
        parts.append(f"{distance_km:.0f} km away")
    unknown = [g for g, s in gates.items() if s == "unknown" and g != "language"]
    if unknown:
        parts.append("unknown: " + ", ".join(unknown))
    summary = "; ".join(parts)
    summary = summary[0].upper() + summary[1:] + "."
    if missing:
        summary += " Missing: " + ", ".join(missing) + "."
    return {
        "summary": summary,
        "components": {k: (round(v, 4) if v is not None else None) for k, v in features.items()},
        "matched_skills": matched,
        "missing_skills": missing,
        "gates": dict(gates),
        "distance_km": round(distance_km, 2) if distance_km is not None else None,
    }
