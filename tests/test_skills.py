"""Skill matching in arrays agrees with matching one candidate and one skill at a time."""

from __future__ import annotations

import random

import numpy as np
import pytest

from app.ml.explain import explain
from app.ml.skills import (
    KIND_EXACT,
    KIND_NONE,
    KIND_SOFT,
    KIND_TEXT,
    SOFT_MATCH_THRESHOLD,
    TEXT_MATCH_THRESHOLD,
    RequiredSkill,
    skill_matrix,
)
from app.ml.text import skill_key


def reference(required, labels, vectors, windows):
    """The rule, spelled out: exact (first label with the same key), else the best embedded
    label at or above the soft threshold, else the best text window at or above the text one."""
    out = []
    for req in required:
        key = skill_key(req.label)
        exact = [i for i, label in enumerate(labels) if skill_key(label) == key]
        if exact:
            out.append((KIND_EXACT, 1.0, exact[0]))
            continue
        wanted = vectors.get(key)
        if wanted is None:
            out.append((KIND_NONE, 0.0, -1))
            continue
        scored = [
            (float(vectors[skill_key(label)] @ wanted), i)
            for i, label in enumerate(labels)
            if skill_key(label) in vectors
        ]
        best, at = max(scored, key=lambda s: (s[0], -s[1]), default=(-np.inf, -1))
        if best >= SOFT_MATCH_THRESHOLD:
            out.append((KIND_SOFT, best, at))
            continue
        text = float(np.max(windows @ wanted)) if windows is not None and len(windows) else -1
        out.append((KIND_TEXT, text, -1) if text >= TEXT_MATCH_THRESHOLD else (KIND_NONE, 0.0, -1))
    return out


def unit(v):
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_skill_matrix_matches_the_rule_row_by_row():
    rng = random.Random(5)
    nrng = np.random.default_rng(5)
    base = [unit(nrng.standard_normal(8)) for _ in range(6)]
    # Labels cluster around a few directions, so soft and text matches both happen.
    names = [f"Skill {i}" for i in range(40)]
    vectors = {
        skill_key(name): unit(base[i % 6] + 0.6 * nrng.standard_normal(8))
        for i, name in enumerate(names)
        if i % 7  # some labels were never embedded
    }
    required = [
        RequiredSkill(rng.choice(names), must_have=rng.random() < 0.7) for _ in range(6)
    ] + [RequiredSkill("  skill   3 "), RequiredSkill("unheard of")]
    candidates, windows = [], []
    for _ in range(120):
        labels = [rng.choice(names).upper() if rng.random() < 0.2 else rng.choice(names)]
        labels += rng.sample(names, rng.randint(0, 7))
        candidates.append(labels if rng.random() < 0.95 else [])
        count = rng.choice([0, 1, 1, 3])
        windows.append(
            np.stack(
                [unit(base[rng.randrange(6)] + 0.5 * nrng.standard_normal(8)) for _ in range(count)]
            )
            if count
            else None
        )
    found = skill_matrix(required, candidates, vectors, windows)
    kinds = set()
    for row, (labels, text) in enumerate(zip(candidates, windows, strict=True)):
        for j, (kind, similarity, index) in enumerate(reference(required, labels, vectors, text)):
            kinds.add(kind)
            assert found.kind[row, j] == kind, (row, j)
            assert found.similarity[row, j] == pytest.approx(similarity, abs=1e-4)
            assert found.index[row, j] == index
    assert kinds == {KIND_NONE, KIND_EXACT, KIND_SOFT, KIND_TEXT}
    # An explanation reads a row back: what was met, in the order asked, and what is missing.
    for row, (labels, text) in enumerate(zip(candidates, windows, strict=True)):
        rule = list(zip(required, reference(required, labels, vectors, text), strict=True))
        said = explain({}, found, row, required, {}, None, remote=False, contributions={})
        assert [(m["required"], m["matched_index"]) for m in said["matched_skills"]] == [
            (r.label, index if index >= 0 else None) for r, (kind, _, index) in rule if kind
        ]
        assert said["missing_skills"] == [
            r.label for r, (kind, _, _) in rule if r.must_have and not kind
        ]
