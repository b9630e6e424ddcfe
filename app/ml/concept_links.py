"""Linking a text to taxonomy concepts: which ESCO skills a skill phrase names, which
occupations a job title names, each with a confidence.

Cheapest first: the text's comparison form (case and spacing folded, app/ml/text.skill_key)
equal to a label of the concept in any imported language — the text names it; then labels the
text contains word for word ("Lead Data Scientist - Marketing" contains "data scientist"), scored
by the share of the text's words the label covers (``LEXICAL_BASE`` up to 1); then the labels
nearest the text's vector (the same model as every other vector). A concept scores its best
label's match: 1 for an exact preferred or alternative label, 0.95 for an exact hidden one
(ESCO's common misspellings), otherwise its nearest label's cosine similarity, less
``ALTERNATIVE_DISCOUNT`` for an alternative label: alternative labels include broader and
looser names, and a phrase close to one is less surely that concept than a phrase as close to
its preferred label (on skill_links_dev, acc@1 0.553 with no discount, 0.585–0.596 with any
from 0.02 to 0.1; docs/EVALUATION.md). A skill found by its nearest label then has that
score averaged with how much of the text's wording its labels share (BM25,
app/ml/concept_lexicon.py), weighted 1 to ``LEXICAL_WEIGHTS``: the small model places sibling
skills within hundredths of each other, and the words the text and the labels have in common
often tell them apart. The weight was chosen on ESCO's own alternative labels held out as
phrases (bench/skill_links_selftuned.py), not on an evaluation set, and a weighted mean keeps
the score on the scale the threshold reads; occupations have none yet (0: not measured for
titles). A similar label scores at most ``NEAR_CAP``, so an exact match always outranks it,
and a concept named in several languages counts once. ``LINK_THRESHOLD`` is the least
score an automatic link (stored on candidates and vacancies) needs; the link endpoints show the
best concepts with their scores and leave the choice to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EXACT_SCORES = {"preferred": 1.0, "alternative": 1.0, "hidden": 0.95}
# What a row's stored links (``esco``) are made by: a row linked by an earlier version is linked
# again by ``ponte taxonomy link``. 2: the lexical stage, occupations a profile's skills show, a
# title's nearest occupations. 3: a skill's nearest labels gain its labels' lexical share.
LINKS_VERSION = 3
# A contained label scores LEXICAL_BASE + (1 - LEXICAL_BASE) × the share of the text's words it
# covers; a label of one word is too loose alone ("open-source" contains "source").
LEXICAL_BASE = 0.6
LEXICAL_MIN_WORDS = 2
LEXICAL_MAX_WORDS = 8  # the longest label looked for inside a text, in words
ALTERNATIVE_DISCOUNT = 0.04
# Per concept kind, the weight of the lexical share in a nearest label's score (its cosine's: 1).
LEXICAL_WEIGHTS = {"skill": 0.2, "occupation": 0.0}
NEAR_CAP = 0.99  # the most a similar (not exact) label scores
# The least score an automatic link needs: on skill_links_dev (docs/EVALUATION.md) the first
# concept was right for 66-91 % of the phrases scoring 0.7 or more, for 26-40 % below.
LINK_THRESHOLD = 0.7


@dataclass(frozen=True, slots=True)
class LabelMatch:
    uri: str
    label: str
    label_kind: str  # preferred, alternative, hidden
    exact: bool  # the text's comparison form is the label's; else a contained or nearest label
    similarity: float = 1.0  # a nearest label's cosine similarity to the text
    coverage: float | None = None  # a contained label: the share of the text's words it covers


@dataclass(frozen=True, slots=True)
class Link:
    uri: str
    score: float
    label: str  # the label that matched
    how: str  # "exact", "lexical" or "vector"


def rank_links(
    matches: Iterable[LabelMatch],
    limit: int,
    lexical: Mapping[str, float] | None = None,
    weight: float = 0.0,
) -> list[Link]:
    """The ``limit`` best concepts of a text's label matches, best first (ties by URI).
    ``lexical``: per concept, its labels' share of the text's wording, averaged into a
    nearest label's score with ``weight`` (the label's own score weighs 1)."""
    shares = lexical or {}
    best: dict[str, Link] = {}
    for match in matches:
        if match.exact:
            link = Link(match.uri, EXACT_SCORES[match.label_kind], match.label, "exact")
        elif match.coverage is not None:
            score = LEXICAL_BASE + (1.0 - LEXICAL_BASE) * match.coverage
            if match.label_kind == "alternative":
                score -= ALTERNATIVE_DISCOUNT
            link = Link(match.uri, min(1.0, score), match.label, "lexical")
        else:
            score = match.similarity
            if match.label_kind == "alternative":
                score -= ALTERNATIVE_DISCOUNT
            score = (score + weight * shares.get(match.uri, 0.0)) / (1.0 + weight)
            link = Link(match.uri, max(0.0, min(NEAR_CAP, score)), match.label, "vector")
        held = best.get(match.uri)
        if held is None or link.score > held.score:
            best[match.uri] = link
    return sorted(best.values(), key=lambda link: (-link.score, link.uri))[:limit]


_WORD = re.compile(r"\w+")


def contained_keys(text: str) -> dict[str, float]:
    """The comparison forms of the runs of words inside ``text`` (not the whole text: that is
    the exact stage) of at least ``LEXICAL_MIN_WORDS`` words, each with the share of the text's
    words it covers."""
    words = [w.casefold() for w in _WORD.findall(text)]
    n = len(words)
    found: dict[str, float] = {}
    for size in range(min(n - 1, LEXICAL_MAX_WORDS), LEXICAL_MIN_WORDS - 1, -1):
        coverage = size / n
        for start in range(n - size + 1):
            key = " ".join(words[start : start + size])
            found.setdefault(key, coverage)
    return found


def contained_matches(
    runs: dict[str, float], labels: dict[str, list[LabelMatch]]
) -> list[LabelMatch]:
    """The labels a text contains, given its runs of words (:func:`contained_keys`) and the
    labels found by key (app/repositories/taxonomy_links.exact)."""
    return [
        LabelMatch(m.uri, m.label, m.label_kind, exact=False, coverage=coverage)
        for key, coverage in runs.items()
        for m in labels.get(key, ())
    ]
