"""Skill matching: how each skill a vacancy requires is met by each candidate.

Exact (same skill key), else soft (a label's vector close enough), else text (a window of the
profile's free text close enough: a CV pasted without a skills list). Pure: labels and vectors
in, a :class:`SkillMatrix` out.
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

SOFT_MATCH_THRESHOLD = 0.62
# A required skill met by no label may still be evidenced by the profile's free text (a CV pasted
# without a skills list). A short label against a paragraph scores lower than label against
# label, hence the lower bar; the credit is the similarity itself, so such evidence counts less.
TEXT_MATCH_THRESHOLD = 0.5


@dataclass(frozen=True)
class RequiredSkill:
    label: str
    must_have: bool = True
    weight: float = 1.0


def required_skills(items: Sequence[Mapping[str, Any]]) -> list[RequiredSkill]:
    """A vacancy's required skills as stored (dicts with label, must_have, weight)."""
    return [
        RequiredSkill(i["label"], bool(i.get("must_have", True)), float(i.get("weight", 1.0)))
        for i in items
    ]


KIND_NONE, KIND_EXACT, KIND_SOFT, KIND_TEXT = 0, 1, 2, 3
KIND_NAMES: dict[int, Literal["exact", "soft", "text"]] = {1: "exact", 2: "soft", 3: "text"}


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
    source: tuple[object, npt.NDArray[np.int64]] | None = None  # the index they came from

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
