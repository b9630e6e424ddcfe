"""Linking a text to taxonomy concepts: which ESCO skills a skill phrase names, which
occupations a job title names, each with a confidence.

Cheapest first: the text's comparison form (case and spacing folded, app/ml/text.skill_key)
equal to a label of the concept in any imported language — the text names it; then the labels
nearest the text's vector (the same model as every other vector). A concept scores its best
label's match: 1 for an exact preferred or alternative label, 0.95 for an exact hidden one
(ESCO's common misspellings), otherwise its nearest label's cosine similarity. So an exact
match always outranks a merely similar label, and a concept named in several languages counts
once. Links under the threshold are not made on profiles and vacancies; the link endpoints show
the best concepts with their scores and leave the choice to the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EXACT_SCORES = {"preferred": 1.0, "alternative": 1.0, "hidden": 0.95}
# The least score an automatic link needs; on skill_links_dev (docs/EVALUATION.md) the first
# concept is right for most phrases above it and for few below.
LINK_THRESHOLD = 0.6


@dataclass(frozen=True)
class LabelMatch:
    uri: str
    label: str
    label_kind: str  # preferred, alternative, hidden; "vector" for a nearest label
    score: float  # 1 for an exact match; the cosine similarity for a nearest label


@dataclass(frozen=True)
class Link:
    uri: str
    score: float
    label: str  # the label that matched
    how: str  # "exact" or "vector"


def rank_links(matches: Iterable[LabelMatch], limit: int) -> list[Link]:
    """The ``limit`` best concepts of a text's label matches, best first (ties by URI)."""
    best: dict[str, Link] = {}
    for match in matches:
        if match.label_kind == "vector":
            link = Link(match.uri, max(0.0, min(1.0, match.score)), match.label, "vector")
        else:
            link = Link(match.uri, EXACT_SCORES[match.label_kind], match.label, "exact")
        held = best.get(match.uri)
        if held is None or link.score > held.score:
            best[match.uri] = link
    return sorted(best.values(), key=lambda link: (-link.score, link.uri))[:limit]
