"""Matching through the taxonomy, the pure part (app/ml/taxonomy_match.py): skill weights,
occupations a skill profile shows, a vacancy's targets, the two features, the retriever."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest

from app.ml.gates import VacancyView
from app.ml.pool import CandidatePool
from app.ml.retrieval import retrieve
from app.ml.skills import RequiredSkill
from app.ml.taxonomy_match import (
    SAME_ISCO3,
    SAME_ISCO4,
    Linked,
    Taxonomy,
    explain_taxonomy,
    linked_of,
    taxonomy_features,
    title_fit,
    vacancy_targets,
)
from tests.test_pool import pool_row

# Four occupations: two in ISCO group 9412, one in 9411 (same minor group 941), one apart.
GROUPS = {"porter": "9412", "kitchen-assistant": "9412", "fast-food": "9411", "forklift": "8344"}
RELATIONS = [
    *[("porter", "essential", s) for s in ("dishes", "glassware", "clean-kitchen", "hygiene")],
    ("porter", "optional", "stock"),
    *[("kitchen-assistant", "essential", s) for s in ("prep", "clean-kitchen", "hygiene")],
    *[("fast-food", "essential", s) for s in ("prep", "fry", "hygiene")],
    *[("forklift", "essential", s) for s in ("forklift", "stock", "hygiene")],
]
LABELS = {"porter": "kitchen porter", "dishes": "operate dishwashing machine"}


@pytest.fixture
def taxonomy() -> Taxonomy:
    return Taxonomy("import-1", GROUPS, RELATIONS, LABELS)


def test_a_skill_every_occupation_lists_weighs_least(taxonomy):
    assert taxonomy.weight("hygiene") < taxonomy.weight("clean-kitchen") < taxonomy.weight("fry")
    assert taxonomy.weight("unknown-skill") >= taxonomy.weight("fry")


def test_a_skill_profile_shows_the_occupation_it_shares_most_with(taxonomy):
    inferred = taxonomy.infer_occupations(["dishes", "glassware", "hygiene", "stock"])
    assert inferred[0][0] == "porter"
    assert [score for _, score in inferred] == sorted((s for _, s in inferred), reverse=True)
    # one shared skill shows no occupation
    assert taxonomy.infer_occupations(["fry"]) == []


def test_few_listed_skills_bring_the_occupations_essentials_as_soft_requirements(taxonomy):
    bare = taxonomy.targets([], [("porter", 1.0)])
    assert set(bare.skills) == {"dishes", "glassware", "clean-kitchen", "hygiene"}
    assert all(t.soft and t.occupation == "porter" for t in bare.skills.values())
    # a second occupation's essentials count by its link's confidence relative to the first
    two = taxonomy.targets([], [("porter", 1.0), ("forklift", 0.5)])
    assert two.skills["forklift"].weight == pytest.approx(0.5 * taxonomy.weight("forklift"))
    # listed skills stay listed (not soft); enough of them and nothing is added
    listed = taxonomy.targets([("fry", 1.0), ("dishes", 1.0), ("stock", 0.2)], [("porter", 1.0)])
    assert set(listed.skills) == {"fry", "dishes", "stock"}
    assert not any(t.soft for t in listed.skills.values())
    few = taxonomy.targets([("fry", 1.0)], [("porter", 1.0)])
    assert few.skills["fry"].soft is False
    assert few.skills["dishes"].soft is True


def test_occupation_agreement_follows_the_isco_hierarchy(taxonomy):
    def agreement(v, c):
        return taxonomy.agreement([(v, 1.0)], [(c, 1.0)])[0]

    assert agreement("porter", "porter") == 1.0
    assert agreement("porter", "kitchen-assistant") == SAME_ISCO4
    assert agreement("porter", "fast-food") == SAME_ISCO3
    assert agreement("porter", "forklift") == 0.0
    assert math.isnan(taxonomy.agreement([], [("porter", 1.0)])[0])
    # a weaker second link counts by its confidence relative to the best
    value, v, c = taxonomy.agreement([("forklift", 1.0), ("porter", 0.8)], [("porter", 0.9)])
    assert (value, v, c) == (pytest.approx(0.8), "porter", "porter")


def test_the_features_and_their_explanation(taxonomy):
    esco = {
        "skills": [{"label": "Frying", "uri": "fry", "score": 1.0}],
        "occupations": [{"uri": "porter", "score": 1.0}],
    }
    title = {"porter": 0.9, "forklift": 0.6}  # the title's nearest occupations
    targets = vacancy_targets(taxonomy, esco, [RequiredSkill("frying", must_have=True)], title)
    people = [
        Linked(("dishes", "glassware", "fry"), (("porter", 0.7),)),
        Linked(("forklift",), (("forklift", 0.5),)),
        Linked(),
    ]
    columns, evidence = taxonomy_features(taxonomy, [targets] * 3, people)
    skills, occupation = columns["esco_skills"], columns["occupation"]
    total = targets.total
    held = taxonomy.weight("dishes") + taxonomy.weight("glassware") + taxonomy.weight("fry")
    assert skills[0] == pytest.approx(held / total)
    assert skills[1] == 0.0
    assert math.isnan(skills[2])
    assert occupation[0] == 1.0
    assert occupation[1] == 0.0
    assert math.isnan(occupation[2])
    # the title names the first person's occupation at 0.9, the second's at 0.6
    assert list(columns["title_occupation"][:2]) == [pytest.approx(0.9), pytest.approx(0.6)]
    assert math.isnan(columns["title_occupation"][2])
    assert title_fit(title, [("fast-food", 1.0)]) == (0.0, None)  # not among the title's nearest
    value, named = title_fit(title, [("fast-food", 1.0), ("porter", 0.5)])
    assert (value, named) == (pytest.approx(0.45), "porter")
    parts, block = explain_taxonomy(taxonomy, targets, evidence[0])
    assert parts[0] == "matched through ESCO skill 'fry'"
    assert parts[1].startswith(
        "holds 2 of the 4 essential skills of ESCO occupation 'kitchen porter'"
    )
    assert "'operate dishwashing machine'" in parts[1]
    assert parts[2] == "same ESCO occupation 'kitchen porter'"
    assert len(parts) == 3  # the title names the occupation the sides agree on: said once
    assert block is not None
    assert [(s["uri"], s["soft"]) for s in block["skills"]] == [
        ("dishes", True), ("glassware", True), ("fry", False)
    ]  # fmt: skip
    assert block["title_names"] == {"uri": "porter", "label": "kitchen porter", "score": 0.9}
    assert explain_taxonomy(taxonomy, targets, evidence[2]) == ([], None)


def test_stored_links_read_back_each_occupation_once_at_its_best():
    linked = linked_of(
        {
            "skills": [{"uri": "a"}, {"uri": "b"}, {"uri": "a"}],
            "occupations": [
                {"uri": "x", "score": 0.4, "source": "skills"},
                {"uri": "y", "score": 0.9},
                {"uri": "x", "score": 0.8},
            ],
        }
    )
    assert linked == Linked(("a", "b"), (("y", 0.9), ("x", 0.8)))
    assert linked_of(None) == Linked()


def test_the_taxonomy_retriever_finds_rows_linked_to_the_vacancys_skills():
    pool = CandidatePool(4)
    rows = [pool_row(f"text {i}", xid=i + 1) for i in range(120)]
    target = uuid.uuid4()
    # every profile alike except one far off the query, the only one linked to the skills
    far = pool_row("other words", xid=500, row_id=target)
    far.embedding = np.array([-1.0, 0, 0, 0], dtype=np.float32)
    far.linked = Linked(("dishes",), ())
    named = pool_row("yet other words", xid=502)
    named.embedding = far.embedding
    named.linked = Linked((), (("porter", 0.8),))
    late = pool_row("more words", xid=501)
    late.embedding = far.embedding
    late.linked = Linked(("glassware",), (("porter", 0.5),))
    pool.apply([*rows, far, named], bulk=True)
    pool = pool.compacted()
    pool.apply([late])  # written after the index was built: read from its row
    query = np.ones(4, dtype=np.float32) / 2
    view = VacancyView(None, False, None, None, [])

    def found(concepts):
        return retrieve(pool, view, (), query, None, "kitchen", 5, (), None, None, concepts).ids

    assert target not in found(())
    assert target in found([("dishes", 2.0), ("glassware", 1.0)])
    assert late.id in found([("dishes", 2.0), ("glassware", 1.0)])
    # rows whose occupation the title names
    by_title = retrieve(pool, view, (), query, None, "x", 5, (), None, None, (), [("porter", 0.9)])
    assert named.id in by_title.ids
    assert late.id in by_title.ids  # written after the index was built: read from its row
    assert named.id not in found(())
    picked = retrieve(pool, view, (), query, None, "kitchen", 5, (), None, None, [("dishes", 1)])
    assert picked.linked[picked.ids.index(target)] == far.linked
