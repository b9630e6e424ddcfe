"""Explanations as a snapshot stores them and as the API renders them.

A stored explanation names a candidate's matching skill only by its position in the candidate's
list and a short keyed hash of the label (``matched_ref``), never the label itself; rendering names
the label again if the candidate still holds the same label at the same place (after an
erasure or an edit, it is null).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from app.ml.explain import components
from app.ml.text import skill_key
from app.services.label_key import label_hash


def matched_ref(label: str) -> str:
    """The short hash a snapshot keeps of a candidate's label (keyed: app/services/label_key)."""
    return label_hash(label).hex()[:16]


def _unkeyed_ref(label: str) -> str:
    """The short hash snapshots made before migration 0016 keep: read back, never written."""
    return hashlib.sha256(skill_key(label).encode("utf-8")).hexdigest()[:16]


def _same_label(label: str, ref: str | None) -> bool:
    # the keyed form first: the unkeyed one is only for snapshots older than it
    return ref is not None and (ref == matched_ref(label) or ref == _unkeyed_ref(label))


def stored_explanation(item: dict[str, Any]) -> dict[str, Any]:
    """The ranked item's explanation as a snapshot keeps it: each matched skill gains its
    ``matched_ref``. (The feature values are not in it: the item stores them as its
    ``features``, and rendering shows them as ``components``.)"""
    explanation: dict[str, Any] = item["explanation"]
    labels = item["candidate_labels"]
    for m in explanation["matched_skills"]:
        index = m["matched_index"]
        m["matched_ref"] = matched_ref(labels[index]) if index is not None else None
    return explanation


def public_explanation(
    stored: dict[str, Any],
    labels: list[str] | None,
    features: Mapping[str, float | None],
    *,
    ranked_labels: bool = False,
) -> dict[str, Any]:
    """Renders a stored explanation against the candidate's current labels, with the item's
    ``features`` as its components (snapshots made before they were stored once keep their own
    copy, which is shown).
    ``ranked_labels``: ``labels`` are the very list the ranking matched against (an answer
    rendered as the ranking made it), so no ref is hashed to check them — and none is needed."""
    matched = []
    for m in stored.get("matched_skills", []):
        index = m.get("matched_index")
        label = (
            labels[index]
            if labels is not None and index is not None and index < len(labels)
            else None
        )
        if label is not None and not ranked_labels and not _same_label(label, m.get("matched_ref")):
            label = None
        matched.append(
            {
                "required": m["required"],
                "matched_by": label,
                "kind": m["kind"],
                "similarity": m["similarity"],
            }
        )
    return {
        "summary": stored["summary"],
        "components": stored["components"] if "components" in stored else components(features),
        # Snapshots made before rankers reported contributions have none.
        "contributions": stored.get("contributions"),
        "matched_skills": matched,
        "missing_skills": stored["missing_skills"],
        "gates": stored["gates"],
        "distance_km": stored["distance_km"],
        # Snapshots made before matching through the taxonomy have none.
        "esco": stored.get("esco"),
    }
