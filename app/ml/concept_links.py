"""Linking a text to taxonomy concepts: which ESCO skills a skill phrase names, which
occupations a job title names, each with a confidence.

Cheapest first: the text's comparison form (case and spacing folded, app/ml/text.skill_key)
equal to a label of the concept in any imported language — the text names it; then labels the
text contains word for word ("Lead Data Scientist - Marketing" contains "data scientist"),
compared by word form, punctuation between words folded ("node js" contains "Node.js"), and
scored by the share of the text's words the label covers (``LEXICAL_BASE`` up to 1); then the
labels nearest the text's vector (the same model as every other vector). A concept scores its
best label's match: 1 for an exact preferred or alternative label, 0.95 for an exact hidden one
(ESCO's common misspellings; where a text is one concept's preferred label and another's
alternative label — "CSS": the skill *CSS*, and an alternative label of *style sheet languages*
— the concept it names outright comes first), otherwise its nearest label's cosine similarity,
less ``ALTERNATIVE_DISCOUNT`` for an alternative label: alternative labels include broader and
looser names, and a phrase close to one is less surely that concept than a phrase as close to
its preferred label (on skill_links_dev, acc@1 0.553 with no discount, 0.585–0.596 with any from
0.02 to 0.1; docs/EVALUATION.md). A skill found by its nearest label can then be lifted by how
much of the text's wording its labels share (BM25, app/ml/concept_lexicon.py): it scores the
higher of its label's score and that score's weighted mean with the share (weights 1 and
``LEXICAL_WEIGHTS``). The small model places sibling skills within hundredths of each other, and
the words the text and the labels have in common often tell them apart; a text that shares no
word with any label (written in a language the labels are not in, or in other words) keeps its
similarity's score. The weight was chosen on ESCO's own alternative labels held out as phrases
(bench/skill_links_selftuned.py), not on an evaluation set; occupations have none (0: their
held-out labels gained a third of a point). A similar label scores at most ``NEAR_CAP``, so an
exact preferred or alternative label (1) always outranks it, and a concept named in several
languages counts once. ``LINK_THRESHOLD`` is the least score an automatic link (stored on
candidates and vacancies) needs; the link endpoints show the best concepts with their scores and
leave the choice to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.ml.text import comparison_form, word_form, words

EXACT_SCORES = {"preferred": 1.0, "alternative": 1.0, "hidden": 0.95}
# What a row's stored links (``esco``) are made by: a row linked by an earlier version is linked
# again by ``ponte taxonomy link``. 2: the lexical stage, occupations a profile's skills show, a
# title's nearest occupations. 3: a skill's nearest label may be lifted by its labels' lexical
# share; a similar label of any kind scores at most NEAR_CAP (it could reach 1 before). 4: of
# concepts an exact label ties, the one it is the preferred label of comes first. 5: each whole
# part of a coordinated text is looked up as a contained label, one word too; a title naming
# both genders ("Cuoco/a") as its first. 6: labels are looked for inside a text by word form
# (punctuation between words folded on both sides: "Node.js" in "node js developer", the
# label "operatore socio-sanitario" in "Operatore socio sanitario"), a single word with a
# sign ("C++") too, the whole text's word form as well; a contained label never outscores
# the same label met exactly; each half of a label naming two forms ("cuoco/cuoca") is looked
# for as that label. 7: a coordinated part is looked for by its word form too ("French" of
# "English, French."); a label of one word is not looked for by its word form (".QL"). 8: a
# part of one word keeps its signs but a list's stray punctuation (".NET" of "Java, .NET").
LINKS_VERSION = 8
# A contained label scores LEXICAL_BASE + (1 - LEXICAL_BASE) × the share of the text's words it
# covers; a plain label of one word is too loose alone ("open-source" contains "source").
LEXICAL_BASE = 0.6
LEXICAL_MIN_WORDS = 2
LEXICAL_MAX_WORDS = 8  # the longest label looked for inside a text, in words
ALTERNATIVE_DISCOUNT = 0.04
# Per concept kind, the lexical share's weight in the mean that may lift a nearest label's score
# (the score's own weight: 1).
LEXICAL_WEIGHTS = {"skill": 0.2, "occupation": 0.0}
NEAR_CAP = 0.99  # the most a similar (not exact) label scores
# The least score an automatic link needs: on skill_links_dev (docs/EVALUATION.md) the first
# concept was right for 58-88 % of the phrases scoring 0.7 or more (73 % of all 128), for 36-38 %
# between 0.5 and 0.7.
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
    """The ``limit`` best concepts of a text's label matches, best first; of concepts tied
    at a score, those whose preferred label the text is exactly come first, then those it
    names exactly, then by URI.
    ``lexical``: per concept, its labels' share of the text's wording; a nearest label's score
    becomes its mean with the share (weights 1 and ``weight``) where that is higher."""
    shares = lexical or {}
    best: dict[str, Link] = {}
    named = set()  # concepts the text is the preferred label of: first among exact ties
    for match in matches:
        if match.exact:
            link = Link(match.uri, EXACT_SCORES[match.label_kind], match.label, "exact")
            if match.label_kind == "preferred":
                named.add(match.uri)
        elif match.coverage is not None:
            score = LEXICAL_BASE + (1.0 - LEXICAL_BASE) * match.coverage
            if match.label_kind == "alternative":
                score -= ALTERNATIVE_DISCOUNT
            # never above the label met exactly: a hidden label (a misspelling) 0.95
            link = Link(
                match.uri, min(EXACT_SCORES[match.label_kind], score), match.label, "lexical"
            )
        else:
            score = match.similarity
            if match.label_kind == "alternative":
                score -= ALTERNATIVE_DISCOUNT
            # lifted only: a text sharing no word with any label (another language than the
            # labels', or other words for the same thing) keeps its similarity's score
            score = max(score, (score + weight * shares.get(match.uri, 0.0)) / (1.0 + weight))
            link = Link(match.uri, max(0.0, min(NEAR_CAP, score)), match.label, "vector")
        held = best.get(match.uri)
        if held is None or link.score > held.score:
            best[match.uri] = link
    ranked = sorted(
        best.values(),
        key=lambda link: (-link.score, link.uri not in named, link.how != "exact", link.uri),
    )
    return ranked[:limit]


# What joins the parts of a coordinated phrase in any language: English's "and" and "or" (the
# language of most labels and of job ads' jargon), "&", a comma, a semicolon, a spaced slash,
# and an unspaced one between words of three letters or more ("CSS/SASS"; not "PL/SQL",
# "TCP/IP", "I/O", which are names). Other languages' coordinators only in a text detected in
# that language: French and Spanish "en" is "in", Dutch "of" is English "of".
_JOINS = r"\s+(?:and|or|&)\s+|[,;]|\s+/\s*|\s*/\s+|(?<=\w{3})/(?=\w{3})"
_COORDINATORS = {
    "it": ("e", "ed", "o", "oppure"),
    "nl": ("en", "of"),
    "fr": ("et", "ou"),
    "de": ("und", "oder"),
    "es": ("y", "e", "o", "u"),
}
_SPLITS = {
    lang: re.compile(rf"\s+(?:{'|'.join(words)})\s+|{_JOINS}", re.IGNORECASE)
    for lang, words in _COORDINATORS.items()
}
_SPLIT = re.compile(_JOINS, re.IGNORECASE)
# Italian titles name both genders with a slash: "Cuoco/a", "Cameriere/a", "Addetto/a"
_GENDER_ENDING = re.compile(r"(?<=\w\w)/[aeio]\b", re.IGNORECASE)


def contained_keys(text: str, language: str | None = None) -> dict[str, float]:
    """What labels are looked for inside ``text`` by, each with the share of the text's words
    it covers (words: app/ml/text.words, "Node.js" two of them, "C++" one): the text's whole
    word form (a label with other punctuation, "operatore socio-sanitario" of "Operatore
    socio sanitario"); its runs of at least ``LEXICAL_MIN_WORDS`` words, and single words
    with a sign in them ("C++" of "C++ developer": a name, where a plain word inside a text
    is too loose); and each whole part of a coordinated text however short ("CSS" of
    "JavaScript and CSS": a part is a name in its own right; ``language``, the text's, adds
    its coordinators), as its comparison form, punctuation kept, and as its word form
    ("French" of "English, French."). A title naming both genders
    is looked for as its first ("cuoco" of "Cuoco/a", covering the whole text)."""
    folded = _GENDER_ENDING.sub("", text)
    tokens = words(folded)
    n = len(tokens)
    found: dict[str, float] = {}
    if n:
        found[" ".join(tokens)] = 1.0
    for size in range(min(n - 1, LEXICAL_MAX_WORDS), 0, -1):
        coverage = size / n
        for start in range(n - size + 1):
            run = tokens[start : start + size]
            if size >= LEXICAL_MIN_WORDS or not run[0].isalnum():
                found.setdefault(" ".join(run), coverage)
    parts = _SPLITS.get(language or "", _SPLIT).split(folded)
    if len(parts) > 1:
        for part in parts:
            size = len(words(part))
            if 0 < size < n:
                # its own form, punctuation kept ("Node.js" of "Node.js and CSS"); a part of
                # several words is a run above, by word form, and one word is looked for
                # without a list's stray punctuation too ("French" of "English, French."),
                # keeping its other signs (".NET" of "Java, .NET")
                own = comparison_form(part)
                found.setdefault(own, size / n)
                if size == 1:
                    found.setdefault(_bare(own), size / n)
    return found


def _bare(word: str) -> str:
    # one word without a list's stray punctuation: brackets and quotes around it, a full stop
    # or other sentence sign after it
    return word.strip("()[]\"'").rstrip(".:;!?")


def contained_matches(
    runs: dict[str, float],
    labels: Mapping[str, list[LabelMatch]],
    by_words: Mapping[str, list[LabelMatch]] | None = None,
) -> list[LabelMatch]:
    """The labels a text contains, given what they are looked for by (:func:`contained_keys`),
    the labels found by comparison key (app/repositories/taxonomy_links.exact) and
    ``by_words``: labels with punctuation, by word form (:func:`word_form_index`)."""
    return [
        LabelMatch(m.uri, m.label, m.label_kind, exact=False, coverage=coverage)
        for key, coverage in runs.items()
        for found in (labels, by_words or {})
        for m in found.get(key, ())
    ]


def two_forms(label: str) -> tuple[str, str] | None:
    """The halves of a label naming one name in two forms, ESCO's two genders ("cuoco/cuoca",
    "operatore socio-sanitario/operatrice socio-sanitaria", "waiter/waitress"): one slash,
    halves of as many words, each word the other's or sharing its first three letters with
    it. None for any other label: two names ("fabricator/welder", "graphic designer/digital
    printer"), a name with a slash ("SAP R/3", "PL/SQL")."""
    if label.count("/") != 1:
        return None
    first, second = label.split("/")
    a, b = words(first), words(second)
    if not a or len(a) != len(b) or a == b:
        return None
    for x, y in zip(a, b, strict=True):
        if x != y and (len(x) < 3 or len(y) < 3 or x[:3] != y[:3]):
            return None
    return first.strip(), second.strip()


def word_form_index(rows: Iterable[tuple[str, str, str, str]]) -> dict[str, list[LabelMatch]]:
    """By word form, the labels of two words or more whose word form is not their comparison
    key (a label with punctuation between its words: "Node.js", "operatore socio-sanitario"),
    and each half of a label naming two forms (:func:`two_forms`: "operatore socio-sanitario"
    of the label "operatore socio-sanitario/operatrice socio-sanitaria", which ESCO does not
    always give as a label of its own), from (key, URI, label, label kind) rows; the others
    are found by key."""
    index: dict[str, list[LabelMatch]] = {}
    for key, uri, label, label_kind in rows:
        # a name of one word keeps its signs: "QL" is not ".QL", nor "net" ".NET"
        whole = word_form(label)
        forms = {whole} if " " in whole else set()
        forms.update(word_form(half) for half in two_forms(label) or ())
        for form in sorted(forms):
            if form and form != key:
                index.setdefault(form, []).append(LabelMatch(uri, label, label_kind, exact=True))
    return index
