"""Ranking a text's label matches into concept links (app/ml/concept_links.py)."""

from __future__ import annotations

import pytest

from app.ml.concept_lexicon import ConceptLexicon
from app.ml.concept_links import (
    ALTERNATIVE_DISCOUNT,
    EXACT_SCORES,
    LEXICAL_BASE,
    NEAR_CAP,
    LabelMatch,
    contained_keys,
    contained_matches,
    rank_links,
    two_forms,
    word_form_index,
)


def test_an_exact_label_outranks_any_similar_one_and_a_concept_counts_once():
    links = rank_links(
        [
            LabelMatch("u:near", "washer of pots", "preferred", exact=False, similarity=0.99),
            LabelMatch("u:porter", "kitchen porter", "preferred", exact=False, similarity=0.8),
            LabelMatch("u:porter", "lavapiatti", "preferred", exact=True),
            LabelMatch("u:typo", "kitchen portr", "hidden", exact=True),
        ],
        limit=10,
    )
    assert [(link.uri, link.score, link.how) for link in links] == [
        ("u:porter", 1.0, "exact"),
        ("u:near", 0.99, "vector"),
        ("u:typo", 0.95, "exact"),
    ]
    assert links[0].label == "lavapiatti"


def test_a_text_that_is_one_concepts_preferred_label_names_that_concept_first():
    # ESCO lists narrower names as a broader concept's alternative labels: "CSS" is the skill
    # CSS and an alternative label of "style sheet languages" (whose URI sorts first)
    links = rank_links(
        [
            LabelMatch("u:a-style-sheets", "CSS", "alternative", exact=True),
            LabelMatch("u:b-css", "CSS", "preferred", exact=True),
        ],
        limit=2,
    )
    assert [(link.uri, link.score) for link in links] == [
        ("u:b-css", 1.0),
        ("u:a-style-sheets", 1.0),
    ]


def test_a_similar_alternative_label_counts_a_little_less_than_a_preferred_one():
    links = rank_links(
        [
            LabelMatch("u:broad", "team work", "alternative", exact=False, similarity=0.80),
            LabelMatch("u:exact", "work in teams", "preferred", exact=False, similarity=0.78),
        ],
        limit=2,
    )
    assert [link.uri for link in links] == ["u:exact", "u:broad"]
    assert links[1].score == pytest.approx(0.80 - ALTERNATIVE_DISCOUNT)


def test_a_nearest_label_is_lifted_by_its_concepts_share_of_the_texts_wording():
    # two sibling skills a hundredth apart: the one whose labels share the words wins
    matches = [
        LabelMatch("u:principles", "supply chain principles", "preferred", exact=False,
                   similarity=0.80),
        LabelMatch("u:manage", "manage supply chain", "preferred", exact=False,
                   similarity=0.81),
    ]  # fmt: skip
    plain = rank_links(matches, limit=2)
    assert [link.uri for link in plain] == ["u:manage", "u:principles"]
    shares = {"u:principles": 1.0, "u:manage": 0.4}
    links = rank_links(matches, limit=2, lexical=shares, weight=0.2)
    assert [link.uri for link in links] == ["u:principles", "u:manage"]
    assert links[0].score == pytest.approx((0.80 + 0.2 * 1.0) / 1.2)
    # the mean only lifts: sharing less of the wording than its similarity keeps that
    assert (0.81 + 0.2 * 0.4) / 1.2 < 0.81
    assert links[1].score == pytest.approx(0.81)
    # nothing shared (a text in another language than the labels): the plain ranking, as
    # with weight 0
    assert rank_links(matches, 2, {}, 0.2) == plain
    assert rank_links(matches, 2, shares, 0.0) == plain
    # however much it shares, a similar label stays below an exact one
    close = [
        LabelMatch("u:near", "forklift operation", "preferred", exact=False, similarity=0.999),
        LabelMatch("u:exact", "operate forklift", "preferred", exact=True),
    ]
    ranked = rank_links(close, 2, {"u:near": 1.0}, 0.2)
    assert [(link.uri, link.score) for link in ranked] == [("u:exact", 1.0), ("u:near", NEAR_CAP)]


def test_a_concepts_lexical_share_is_its_best_language_analysed_as_that_language():
    lexicon = ConceptLexicon(
        [
            ("u:forklift", "en", "operate forklift"),
            ("u:forklift", "en", "drive forklift trucks"),
            ("u:coffee", "it", "preparare il caffè"),
            ("u:coffee", "en", "prepare coffee"),
            ("u:dishes", "en", "wash the dishes"),
        ]
    )
    shares = lexicon.shares("driving forklifts", ["u:forklift", "u:dishes", "u:unknown"])
    assert shares["u:forklift"] > 0.5  # stems: "driving" ~ "drive", "forklifts" ~ "forklift"
    assert shares["u:dishes"] == 0.0
    assert shares["u:unknown"] == 0.0
    assert all(0.0 <= v <= 1.0 for v in shares.values())
    # an Italian text meets the Italian labels, accents folded
    assert lexicon.shares("preparazione caffe", ["u:coffee"])["u:coffee"] > 0
    assert lexicon.shares("anything", []) == {}
    assert ConceptLexicon([]).shares("anything", ["u:x"]) == {}


def test_the_best_label_of_a_concept_decides_and_the_limit_and_ties_hold():
    matches = [
        LabelMatch(f"u:{i}", "x", "preferred", exact=False, similarity=0.5) for i in (3, 1, 2)
    ] + [LabelMatch("u:3", "y", "alternative", exact=False, similarity=0.9)]
    links = rank_links(matches, limit=2)
    assert [link.uri for link in links] == ["u:3", "u:1"]  # 0.86 first, then the tie by URI
    assert rank_links([], limit=3) == []
    negative = rank_links([LabelMatch("u:x", "x", "preferred", exact=False, similarity=-0.2)], 1)
    assert negative[0].score == 0.0


def test_a_label_the_text_contains_word_for_word_scores_by_the_share_it_covers():
    runs = contained_keys("Lead Data Scientist - Marketing Squad")
    assert runs["data scientist"] == pytest.approx(2 / 5)
    # the whole text as its words, covering all of it: a label with other punctuation
    assert runs["lead data scientist marketing squad"] == 1.0
    assert "scientist" not in runs  # one word alone is too loose ("open-source" has "source")
    assert "open source" in contained_keys("open-source software")
    labels = {
        "data scientist": [LabelMatch("u:ds", "data scientist", "preferred", exact=True)],
        "marketing squad": [LabelMatch("u:ms", "Marketing squad", "alternative", exact=True)],
    }
    links = rank_links(
        [
            *contained_matches(runs, labels),
            LabelMatch("u:mc", "marketing consultant", "preferred", exact=False, similarity=0.61),
        ],
        limit=10,
    )
    assert [(link.uri, link.how) for link in links] == [
        ("u:ds", "lexical"), ("u:ms", "lexical"), ("u:mc", "vector")
    ]  # fmt: skip
    assert links[0].score == pytest.approx(LEXICAL_BASE + (1 - LEXICAL_BASE) * 2 / 5)
    assert links[1].score == pytest.approx(links[0].score - ALTERNATIVE_DISCOUNT)


def test_each_whole_part_of_a_coordinated_text_is_looked_up_one_word_too():
    runs = contained_keys("JavaScript and CSS")
    assert runs["css"] == pytest.approx(1 / 3)
    assert runs["javascript"] == pytest.approx(1 / 3)
    assert contained_keys("Node.js, CSS")["node.js"] == pytest.approx(2 / 3)  # its own form
    assert {"css", "sass"} <= set(contained_keys("CSS/SASS"))
    assert {"barber", "hair"} <= set(contained_keys("Barber / Hair"))
    # a slash inside a name does not part it
    assert contained_keys("PL/SQL") == {"pl sql": 1.0}
    assert "tcp" not in contained_keys("TCP/IP networking")
    # another language's coordinators only where the text is in that language
    italian = "gestione magazzino e logistica"
    assert "logistica" in contained_keys(italian, "it")
    assert "logistica" not in contained_keys(italian, "en")
    assert "marketing" not in contained_keys("formation en marketing", "es")
    assert "marketing" in contained_keys("formation et marketing", "fr")
    # a title naming both genders is looked up as its first, covering the whole text
    assert contained_keys("Cuoco/a") == {"cuoco": 1.0}
    assert contained_keys("Addetto/a alle pulizie")["addetto alle pulizie"] == 1.0


def test_labels_are_looked_for_inside_a_text_by_word_form_punctuation_folded():
    # a label with punctuation between its words is found by its word form
    index = word_form_index(
        [
            ("node.js", "u:node", "Node.js", "preferred"),
            ("operatore socio-sanitario", "u:oss", "operatore socio-sanitario", "preferred"),
            ("time@work", "u:tw", "time@work", "preferred"),
            ("c++", "u:cpp", "C++", "preferred"),
            ("caffè", "u:coffee", "caffè", "alternative"),  # no punctuation: found by key
            (".ql", "u:ql", ".QL", "preferred"),  # a name of one word keeps its signs
        ]
    )
    assert set(index) == {"node js", "operatore socio sanitario"}
    assert not contained_matches(contained_keys("QL"), {}, index)
    runs = contained_keys("Backend developer (Node.js, TypeScript)")
    assert [m.uri for m in contained_matches(runs, {}, index)] == ["u:node"]
    # the whole text's word form, covering all of it
    title = contained_matches(contained_keys("Operatore Socio Sanitario"), {}, index)
    assert [(m.uri, m.coverage) for m in title] == [("u:oss", 1.0)]
    assert contained_keys("English .") == {"english": 1.0}
    # a part of a list is looked for by its word form too: its stray punctuation dropped
    runs = contained_keys("English, French.")
    assert runs["french"] == runs["english"] == pytest.approx(1 / 2)
    # ... a name of one word keeping its other signs
    runs = contained_keys("Java, .NET, C#.")
    assert {".net", "c#"} <= set(runs)
    assert "net" not in runs
    # a sign keeps a name whole: "C++" alone, and not the "time work" of other words
    runs = contained_keys("C++ developer, full time work")
    assert runs["c++"] == pytest.approx(1 / 5)
    assert "c" not in runs
    assert not contained_matches(runs, {}, index)
    # "+" between words parts them: "customer service" of "customer service+sales"
    assert "customer service" in contained_keys("customer service+sales")
    # a contained label never outscores the same label met exactly: a hidden one 0.95
    hidden = [
        LabelMatch("u:x", "excell", "hidden", exact=True),
        LabelMatch("u:x", "excell", "hidden", exact=False, coverage=1.0),
    ]
    assert rank_links(hidden, 1)[0].score == EXACT_SCORES["hidden"]


def test_each_half_of_a_label_naming_two_forms_is_looked_for_as_that_label():
    assert two_forms("operatore socio-sanitario/operatrice socio-sanitaria") == (
        "operatore socio-sanitario", "operatrice socio-sanitaria"
    )  # fmt: skip
    assert two_forms("waiter/waitress") == ("waiter", "waitress")
    # two names, or a name with a slash in it, are not two forms of one
    for label in ("fabricator/welder", "graphic designer/digital printer", "SAP R/3", "PL/SQL"):
        assert two_forms(label) is None
    index = word_form_index(
        [("operatore socio-sanitario/operatrice socio-sanitaria", "u:oss",
          "operatore socio-sanitario/operatrice socio-sanitaria", "preferred"),
         ("fabricator/welder", "u:fw", "fabricator/welder", "alternative"),
         ("cuoco/cuoca", "u:cook", "cuoco/cuoca", "preferred")]
    )  # fmt: skip
    assert {"operatore socio sanitario", "operatrice socio sanitaria"} <= set(index)
    assert {"cuoco", "cuoca"} <= set(index)  # halves of one word each too
    assert "welder" not in index
    # the half covers the whole title; a text another concept's label names exactly ties it
    # at 1 and comes first
    runs = contained_keys("Operatore socio-sanitario")
    matches = contained_matches(runs, {}, index)
    assert [(m.uri, m.coverage) for m in matches] == [("u:oss", 1.0)]
    exact = LabelMatch("u:other", "operatore socio-sanitario", "alternative", exact=True)
    links = rank_links([*matches, exact], 2)
    assert [(link.uri, link.score) for link in links] == [("u:other", 1.0), ("u:oss", 1.0)]
