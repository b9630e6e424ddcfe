"""Linking a text to taxonomy concepts: which ESCO skills a skill phrase names, which
occupations a job title names, each with a confidence.

Cheapest first: the text's comparison form (case and spacing folded, app/ml/text.skill_key)
equal to a label of the concept in any imported language — the text names it; then the labels
nearest the text's vector (the same model as every other vector). A concept scores its best
label's match: 1 for an exact preferred or alternative label, 0.95 for an exact hidden one
(ESCO's common misspellings), otherwise its nearest label's cosine similarity, less
``ALTERNATIVE_DISCOUNT`` for an alternative label: alternative labels include broader and
looser names, and a phrase close to one is less surely that concept than a phrase as close to
its preferred label (on skill_links_dev, acc@1 0.553 with no discount, 0.585–0.596 with any
from 0.02 to 0.1; docs/EVALUATION.md). So an exact match always outranks a merely similar
label, and a concept named in several languages counts once. ``LINK_THRESHOLD`` is the least
score an automatic link (stored on candidates and vacancies) needs; the link endpoints show the
best concepts with their scores and leave the choice to the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EXACT_SCORES = {"preferred": 1.0, "alternative": 1.0, "hidden": 0.95}
ALTERNATIVE_DISCOUNT = 0.04
# The least score an automatic link needs: on skill_links_dev (docs/EVALUATION.md) the first
# concept was right for 66-91 % of the phrases scoring 0.7 or more, for 26-40 % below.
LINK_THRESHOLD = 0.7


@dataclass(frozen=True, slots=True)
class LabelMatch:
    uri: str
    label: str
    label_kind: str  # preferred, alternative, hidden
    exact: bool  # the text's comparison form is the label's; else a nearest label
    similarity: float = 1.0  # a nearest label's cosine similarity to the text


@dataclass(frozen=True, slots=True)
class Link:
    uri: str
    score: float
    label: str  # the label that matched
    how: str  # "exact" or "vector"


def rank_links(matches: Iterable[LabelMatch], limit: int) -> list[Link]:
    """The ``limit`` best concepts of a text's label matches, best first (ties by URI)."""
    best: dict[str, Link] = {}
    for match in matches:
        if match.exact:
            link = Link(match.uri, EXACT_SCORES[match.label_kind], match.label, "exact")
        else:
            score = match.similarity
            if match.label_kind == "alternative":
                score -= ALTERNATIVE_DISCOUNT
            link = Link(match.uri, max(0.0, min(1.0, score)), match.label, "vector")
        held = best.get(match.uri)
        if held is None or link.score > held.score:
            best[match.uri] = link
    return sorted(best.values(), key=lambda link: (-link.score, link.uri))[:limit]
