"""Matching through the ESCO taxonomy (issue 15): what a candidate and a vacancy share once both
are linked to it, whatever language each was written in.

:class:`Taxonomy` is the part of an import ranking reads, held in memory per process (about
130,000 occupation–skill relations, some 20 MB): each occupation's essential and optional
skills and four-digit ISCO group, and each concept's preferred label for explanations. From it:

- **skill weights**: a skill's idf over occupations, ``ln(1 + N / n)`` with ``n`` the
  occupations listing it: "use different communication channels" (hundreds of occupations)
  says little of a person, "operate forklift truck" much;
- **occupations a skill profile shows** (:meth:`Taxonomy.infer_occupations`): the cosine, in
  that idf space, of the person's linked skills to each occupation's (essential 1, optional
  0.5) — what a candidate who names no desired occupation is matched on;
- **a vacancy's targets** (:meth:`Taxonomy.targets`): its linked required skills, and, when it
  has fewer than ``SOFT_BELOW`` of them, the essential skills of the occupations its title
  names, weighted by each link's confidence: soft requirements, never must-haves;
- three features per pair (:func:`taxonomy_features`): ``esco_skills``, the idf-weighted share
  of the targets the candidate holds; ``occupation``, the best agreement of the two sides'
  occupations: 1 the same occupation, ``SAME_ISCO4`` the same four-digit ISCO group,
  ``SAME_ISCO3`` the same three-digit one, each scaled by both links' relative confidence; and
  ``title_occupation``, how well the vacancy's title names the candidate's occupation: the
  title's link score (app/ml/concept_links.py: exact, contained, or nearest label, in any
  imported language) to the candidate's best occupation among the title's
  ``TITLE_OCCUPATIONS`` nearest, 0 when none of them is the candidate's. A job title and an
  occupation's labels are the same kind of text, where a title and a list of skills are not:
  this is what lets a bare title rank profiles that are only skills.
  NaN when a side has nothing linked: the weighted scorer then leaves the feature out.
"""

from __future__ import annotations

import heapq
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from app.ml.skills import RequiredSkill
from app.ml.text import skill_key

F64 = npt.NDArray[np.float64]

SOFT_BELOW = 3  # a vacancy with fewer linked required skills gets its occupations' essentials
OPTIONAL_WEIGHT = 0.5  # an optional skill's weight in an occupation's profile
SAME_ISCO4 = 0.6
SAME_ISCO3 = 0.3
INFERRED_OCCUPATIONS = 3
MIN_SHARED = 2  # an occupation is inferred from at least two shared skills
MIN_INFERRED = 0.15  # … and a cosine at least this
NICE_TO_HAVE = 0.2  # a nice-to-have requirement's weight against a must-have's
TITLE_OCCUPATIONS = 50  # a title's nearest occupations the title_occupation feature looks among
_UNSEEN: Any = object()  # a candidate occupation not looked up yet


# By candidate occupation URI, ISCO group, minor group: (value, the vacancy occupation giving it)
AgreementTable = tuple[
    dict[str, tuple[float, str]], dict[str, tuple[float, str]], dict[str, tuple[float, str]]
]
_NO_TABLE: AgreementTable = ({}, {}, {})  # a vacancy with no occupations


@dataclass(frozen=True, slots=True)
class Linked:
    """What one candidate or vacancy is linked to: skill URIs, and occupations as (URI,
    confidence) best first. Held per pool slot, so small: URIs are interned strings."""

    skills: tuple[str, ...] = ()
    occupations: tuple[tuple[str, float], ...] = ()


NOTHING = Linked()


@dataclass(frozen=True)
class Target:
    """One skill a vacancy is matched on: its weight, and whether it is a soft requirement
    (an essential skill of the vacancy's occupation, not one the vacancy listed)."""

    weight: float
    soft: bool
    occupation: str | None = None  # the occupation a soft requirement comes from


@dataclass(frozen=True)
class Targets:
    """What a vacancy is matched on through the taxonomy: its ESCO skills, its occupations
    (URI, confidence, best first) and its title's ``TITLE_OCCUPATIONS`` nearest occupations
    with their link scores."""

    skills: dict[str, Target] = field(default_factory=dict)
    occupations: tuple[tuple[str, float], ...] = ()
    title: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(t.weight for t in self.skills.values())


def linked_of(esco: Mapping[str, object] | None) -> Linked:
    """A row's stored links (``esco``, app/services/taxonomy_linking.py) as :class:`Linked`:
    the skills' URIs, and the occupations — the caller's, those linked from names, and those
    its skills show — each URI once at its best confidence."""
    if not esco:
        return NOTHING
    skills = esco.get("skills") or []
    occupations: dict[str, float] = {}
    for item in esco.get("occupations") or []:  # type: ignore[attr-defined]
        uri, score = item["uri"], float(item.get("score", 1.0))
        if score > occupations.get(uri, -1.0):
            occupations[uri] = score
    return Linked(
        tuple(dict.fromkeys(item["uri"] for item in skills)),  # type: ignore[attr-defined]
        tuple(sorted(occupations.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def vacancy_targets(
    taxonomy: Taxonomy,
    esco: Mapping[str, object] | None,
    required: Sequence[RequiredSkill],
    title: Mapping[str, float] | None = None,
) -> Targets:
    """A vacancy's targets from its stored links, its parsed required skills (each linked
    skill weighs as its requirement: its weight, a nice-to-have ``NICE_TO_HAVE`` of it) and its
    title's nearest occupations (URI → link score)."""
    if not esco:
        return Targets(title=dict(title or {}))
    weight_of = {
        skill_key(r.label): r.weight * (1.0 if r.must_have else NICE_TO_HAVE) for r in required
    }
    linked = [
        (item["uri"], weight_of.get(skill_key(item["label"]), 1.0))
        for item in esco.get("skills") or []  # type: ignore[attr-defined]
    ]
    return taxonomy.targets(linked, linked_of(esco).occupations, title)


def interned(
    skills: Sequence[str] | None, occupations: Sequence[Mapping[str, object]] | None
) -> Linked:
    """A row's links from its skills' URIs and its occupations as stored, as :func:`linked_of`
    reads them, URIs interned: a pool holds the same few thousand URIs for every one of its
    candidates."""
    if not skills and not occupations:
        return NOTHING
    return linked_of(
        {
            "skills": [{"uri": sys.intern(uri)} for uri in skills or ()],
            "occupations": [
                {**item, "uri": sys.intern(str(item["uri"]))} for item in occupations or ()
            ],
        }
    )


class Taxonomy:
    """See the module docstring. Built from an import's rows (app/services/taxonomy_model.py)."""

    def __init__(
        self,
        import_id: str,
        isco_groups: Mapping[str, str | None],
        relations: Iterable[tuple[str, str, str]],
        labels: Mapping[str, str],
    ) -> None:
        self.import_id = import_id
        self.isco = dict(isco_groups)
        self.labels = dict(labels)
        self.essential: dict[str, list[str]] = {}
        profile: dict[str, dict[str, float]] = {}
        for occupation, relation, skill in relations:
            # interned: pools hold the same URIs, and the model holds each once
            occupation, skill = sys.intern(occupation), sys.intern(skill)
            weight = 1.0 if relation == "essential" else OPTIONAL_WEIGHT
            held = profile.setdefault(occupation, {})
            held[skill] = max(held.get(skill, 0.0), weight)
            if relation == "essential":
                self.essential.setdefault(occupation, []).append(skill)
        n = max(len(profile), 1)
        listed: dict[str, int] = {}
        for skills in profile.values():
            for skill in skills:
                listed[skill] = listed.get(skill, 0) + 1
        self.idf = {skill: math.log(1.0 + n / count) for skill, count in listed.items()}
        self._unlisted_idf = math.log(1.0 + n)  # a skill no occupation lists: the rarest
        # Per skill, the occupations listing it with the skill's weight in their profile
        # (idf × relation weight), and per occupation its profile's norm.
        self._by_skill: dict[str, list[tuple[str, float]]] = {}
        self._norm: dict[str, float] = {}
        for occupation, skills in profile.items():
            squares = 0.0
            for skill, weight in skills.items():
                w = weight * self.idf[skill]
                self._by_skill.setdefault(skill, []).append((occupation, w))
                squares += w * w
            self._norm[occupation] = math.sqrt(squares)
        for essential in self.essential.values():
            essential.sort()

    def weight(self, skill: str) -> float:
        return self.idf.get(skill, self._unlisted_idf)

    def infer_occupations(
        self, skills: Sequence[str], limit: int = INFERRED_OCCUPATIONS
    ) -> list[tuple[str, float]]:
        """The occupations a set of linked skills shows best, with the cosine (idf space)."""
        dots: dict[str, float] = {}
        shared: dict[str, int] = {}
        squares = 0.0
        for skill in set(skills):
            w = self.weight(skill)
            squares += w * w
            for occupation, weight in self._by_skill.get(skill, ()):
                dots[occupation] = dots.get(occupation, 0.0) + w * weight
                shared[occupation] = shared.get(occupation, 0) + 1
        if not dots:
            return []
        norm = math.sqrt(squares)
        scored = (
            (dot / (norm * self._norm[occupation]), occupation)
            for occupation, dot in dots.items()
            if shared[occupation] >= MIN_SHARED
        )
        best = heapq.nlargest(limit, scored)
        return [(occ, round(score, 4)) for score, occ in best if score >= MIN_INFERRED]

    def targets(
        self,
        required: Sequence[tuple[str, float]],
        occupations: Sequence[tuple[str, float]],
        title: Mapping[str, float] | None = None,
    ) -> Targets:
        """A vacancy's targets from its linked required skills (URI, requirement weight), its
        occupations (URI, confidence, best first) and its title's nearest occupations (URI →
        link score); see the module docstring."""
        skills: dict[str, Target] = {}
        for uri, weight in required:
            w = weight * self.weight(uri)
            if uri not in skills or skills[uri].weight < w:
                skills[uri] = Target(w, soft=False)
        if len(skills) < SOFT_BELOW and occupations:
            best = occupations[0][1] or 1.0
            for occupation, confidence in occupations:
                relative = confidence / best
                for uri in self.essential.get(occupation, ()):
                    w = relative * self.weight(uri)
                    held = skills.get(uri)
                    if held is None or (held.soft and held.weight < w):
                        skills[uri] = Target(w, soft=True, occupation=occupation)
        return Targets(skills, tuple(occupations), dict(title or {}))

    def agreement_level(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        ga, gb = self.isco.get(a), self.isco.get(b)
        if not ga or not gb:
            return 0.0
        if ga == gb:
            return SAME_ISCO4
        return SAME_ISCO3 if ga[:3] == gb[:3] else 0.0

    def agreement(
        self, vacancy: Sequence[tuple[str, float]], candidate: Sequence[tuple[str, float]]
    ) -> tuple[float, str | None, str | None]:
        """The best agreement of two sides' occupations (NaN when a side has none), and the
        pair of occupations that gave it."""
        return self.agreement_with(self.agreement_table(vacancy), candidate)

    def agreement_table(self, vacancy: Sequence[tuple[str, float]]) -> AgreementTable:
        """What a vacancy's occupations (URI, confidence, best first) agree with, looked up by
        a candidate occupation's URI, its ISCO group and its minor group: the best value and
        the vacancy occupation that gives it (one look-up per candidate occupation, however
        many the vacancy has)."""
        table: AgreementTable = ({}, {}, {})
        if not vacancy:
            return table
        best = vacancy[0][1] or 1.0
        for v, confidence in vacancy:
            relative = confidence / best
            group = self.isco.get(v) or ""
            for held, key, level in (
                (table[0], v, 1.0),
                (table[1], group, SAME_ISCO4),
                (table[2], group[:3], SAME_ISCO3),
            ):
                if key and level * relative > held.get(key, (0.0, v))[0]:
                    held[key] = (level * relative, v)
        return table

    def agreement_with(
        self, table: AgreementTable, candidate: Sequence[tuple[str, float]]
    ) -> tuple[float, str | None, str | None]:
        """:meth:`agreement` with the vacancy's side looked up once (:meth:`agreement_table`)."""
        value, (v, c), _, _ = occupation_fit(self, table, {}, candidate)
        return value, v, c

    def agrees_with(self, table: AgreementTable, occupation: str) -> tuple[float, str] | None:
        """What a vacancy's occupations (:meth:`agreement_table`) agree with one candidate
        occupation at best: the value (level × the vacancy occupation's relative confidence)
        and that vacancy occupation; None when nothing agrees. Of equal values, the closer
        level's (same occupation, then group, then minor group)."""
        group = self.isco.get(occupation) or ""
        found = table[0].get(occupation)
        if group:
            for held, key in ((table[1], group), (table[2], group[:3])):
                hit = held.get(key)
                if hit is not None and (found is None or hit[0] > found[0]):
                    found = hit
        return found if found is not None and found[0] > 0 else None

    def label(self, uri: str) -> str:
        return self.labels.get(uri, uri)


@dataclass(frozen=True)
class PairEvidence:
    """Per pair, what the explanation names: the candidate's links (the targets it holds are
    found when an explanation asks: only the rows kept are explained), and the pair of
    occupations that agreed."""

    linked: Linked
    occupation: tuple[str | None, str | None]
    named: tuple[str, float] | None = None  # the candidate's occupation the title names best

    def shared(self, targets: Targets) -> tuple[str, ...]:
        return tuple(uri for uri in self.linked.skills if uri in targets.skills)


def title_fit(
    title: Mapping[str, float], occupations: Sequence[tuple[str, float]]
) -> tuple[float, str | None]:
    """How well a title names one of these occupations (URI, confidence, best first): the
    title's link score to each, scaled by its relative confidence, at best, and which; NaN
    when either side has none."""
    _, _, value, named = occupation_fit(None, _NO_TABLE, title, occupations)
    return value, None if named is None else named[0]


def occupation_fit(
    taxonomy: Taxonomy | None,
    table: AgreementTable,
    title: Mapping[str, float],
    occupations: Sequence[tuple[str, float]],
    agrees: dict[str, Any] | None = None,
) -> tuple[float, tuple[str | None, str | None], float, tuple[str, float] | None]:
    """A pair's two occupation features in one pass over the candidate's occupations (URI,
    confidence, best first), each scaled by its confidence relative to the best: the best
    agreement with the vacancy's occupations (``table``, :meth:`Taxonomy.agreement_table`; NaN
    when a side has none) and the (vacancy, candidate) occupations that gave it; the title's
    best link score (``title``: URI → score; NaN when a side has none) and the occupation it
    names with that score (None when 0). ``agrees``: what ``table`` agrees with each candidate
    occupation, kept across the pairs of one vacancy (a pool's rows share few occupations)."""
    agreement, fit = math.nan, math.nan
    pair: tuple[str | None, str | None] = (None, None)
    if not occupations:
        return agreement, pair, fit, None
    held = {} if agrees is None else agrees
    agreeing = taxonomy if table[0] else None  # None: a side has no occupations
    best_c = occupations[0][1] or 1.0
    value, best_title = 0.0, None
    for c, confidence in occupations:
        if agreeing is not None:
            hit = held.get(c, _UNSEEN)
            if hit is _UNSEEN:
                hit = held[c] = agreeing.agrees_with(table, c)
            if hit is not None and hit[0] * confidence / best_c > value:
                value, pair = hit[0] * confidence / best_c, (hit[1], c)
        scored = (title.get(c, 0.0) * (confidence / best_c), c)
        if best_title is None or scored > best_title:
            best_title = scored
    if agreeing is not None:
        agreement = value
    named = None
    if title and best_title is not None:
        fit = best_title[0]
        named = (best_title[1], fit) if fit > 0 else None
    return agreement, pair, fit, named


def taxonomy_features(
    taxonomy: Taxonomy,
    targets: Sequence[Targets],
    candidates: Sequence[Linked],
    held: F64 | None = None,
) -> tuple[dict[str, F64], list[PairEvidence]]:
    """Per pair — a vacancy's targets and a candidate's links — ``esco_skills``,
    ``occupation`` and ``title_occupation``, and the evidence for the explanation (see the
    module docstring). ``held``: per pair the summed weight of the targets the candidate
    holds, where the caller has it (a pool's retriever counted it for every row)."""
    n = len(candidates)
    skills, occupation = np.full(n, np.nan), np.full(n, np.nan)
    titled = np.full(n, np.nan)
    evidence: list[PairEvidence] = []
    # per vacancy once: its targets' weights, their total, its occupations' agreement table,
    # and what that table agrees with each candidate occupation met (a pool's rows share few)
    once: dict[int, tuple[dict[str, float], float, AgreementTable, dict[str, Any]]] = {}
    for i, (wanted, linked) in enumerate(zip(targets, candidates, strict=True)):
        once_held = once.get(id(wanted))
        if once_held is None:
            weights = {uri: t.weight for uri, t in wanted.skills.items()}
            table = taxonomy.agreement_table(wanted.occupations)
            once_held = once[id(wanted)] = (weights, wanted.total, table, {})
        weights, total, table, agrees = once_held
        if total > 0 and linked.skills:
            if held is None:
                found = sum(weights[uri] for uri in linked.skills if uri in weights)
            else:
                found = float(held[i])
            skills[i] = min(1.0, found / total)
        occupation[i], pair, titled[i], named = occupation_fit(
            taxonomy, table, wanted.title, linked.occupations, agrees
        )
        evidence.append(PairEvidence(linked, pair, named))
    columns = {"esco_skills": skills, "occupation": occupation, "title_occupation": titled}
    return columns, evidence


_AGREEMENT = {
    1.0: "same occupation",
    SAME_ISCO4: "same ISCO group",
    SAME_ISCO3: "same ISCO minor group",
}
_NAMED = 3  # skills named in the summary sentence
SHOWN_SKILLS = 10  # shared skills an explanation lists
TITLE_NAMES = 0.7  # the least title_occupation an explanation names the occupation at


def _names(taxonomy: Taxonomy, uris: Sequence[str]) -> str:
    named = ", ".join(f"'{taxonomy.label(u)}'" for u in uris[:_NAMED])
    return named + (f" and {len(uris) - _NAMED} more" if len(uris) > _NAMED else "")


def explain_taxonomy(
    taxonomy: Taxonomy, targets: Targets, evidence: PairEvidence
) -> tuple[list[str], dict[str, object] | None]:
    """What an explanation says of a pair through the taxonomy: phrases for its summary, and
    the ``esco`` block (None when nothing was shared)."""
    shared = evidence.shared(targets)
    listed = [u for u in shared if not targets.skills[u].soft]
    soft = [u for u in shared if targets.skills[u].soft]
    parts = []
    if listed:
        parts.append("matched through ESCO skill " + _names(taxonomy, listed))
    if soft:
        source = targets.skills[soft[0]].occupation or ""
        essential = len(taxonomy.essential.get(source, ()))
        parts.append(
            f"holds {len(soft)} of the {essential} essential skills of ESCO occupation "
            f"'{taxonomy.label(source)}' (soft requirements): " + _names(taxonomy, soft)
        )
    occupation = None
    vacancy, candidate = evidence.occupation
    if vacancy is not None and candidate is not None:
        agreement = _AGREEMENT[taxonomy.agreement_level(vacancy, candidate)]
        occupation = {
            "vacancy": {"uri": vacancy, "label": taxonomy.label(vacancy)},
            "candidate": {"uri": candidate, "label": taxonomy.label(candidate)},
            "agreement": agreement,
        }
        if vacancy == candidate:
            parts.append(f"same ESCO occupation '{taxonomy.label(vacancy)}'")
        else:
            parts.append(
                f"ESCO occupation '{taxonomy.label(candidate)}' is in the {agreement} as "
                f"'{taxonomy.label(vacancy)}'"
            )
    named = None
    if evidence.named is not None and evidence.named[1] >= TITLE_NAMES:
        uri, score = evidence.named
        named = {"uri": uri, "label": taxonomy.label(uri), "score": round(score, 4)}
        if uri != vacancy or candidate != uri:
            parts.append(f"the title names the ESCO occupation '{taxonomy.label(uri)}'")
    if not shared and occupation is None and named is None:
        return parts, None
    # the weightiest first, at most SHOWN_SKILLS: what a scout reads (and a snapshot keeps)
    weightiest = sorted(shared, key=lambda u: -targets.skills[u].weight)[:SHOWN_SKILLS]
    skills = [
        {"uri": u, "label": taxonomy.label(u), "soft": targets.skills[u].soft} for u in weightiest
    ]
    return parts, {"skills": skills, "occupation": occupation, "title_names": named}
