"""The official ESCO CSV download in its v1.2 layout: which files a folder holds, and their rows.

Concept files — ``ISCOGroups_<lang>.csv``, ``occupations_<lang>.csv``, ``skills_<lang>.csv`` —
give a concept per row with its labels in that language (``altLabels`` and ``hiddenLabels``
one per line); relation files — ``occupationSkillRelations_<lang>.csv``,
``broaderRelationsOccPillar_<lang>.csv`` — give a relation per row (they are the same in every
language; each present is read). Columns a file lacks are simply unknown.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CONCEPT_FILES = ("ISCOGroups", "occupations", "skills")
RELATION_FILES = ("occupationSkillRelations", "broaderRelationsOccPillar")
LANGUAGE_CODE = r"[a-z]{2,3}"  # a language as ESCO's file names give it
_NAME = re.compile(
    r"^(?P<stem>" + "|".join(CONCEPT_FILES + RELATION_FILES) + rf")_(?P<lang>{LANGUAGE_CODE})\.csv$"
)
_KINDS = {
    "Occupation": "occupation",
    "KnowledgeSkillCompetence": "skill",
    "ISCOGroup": "isco_group",
}
# ESCO's own words for an occupation's skills; anything else is not an ESCO relation file row.
_RELATION_TYPES = {"essential": "essential", "optional": "optional"}


@dataclass(frozen=True)
class EscoFile:
    path: Path
    stem: str  # e.g. "occupations"
    lang: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def holds_concepts(self) -> bool:
        return self.stem in CONCEPT_FILES

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


@dataclass
class ConceptRow:
    uri: str
    kind: str
    lang: str
    code: str | None = None
    isco_group: str | None = None
    skill_type: str | None = None
    reuse_level: str | None = None
    status: str | None = None
    labels: list[tuple[str, str]] = field(default_factory=list)  # (kind, label)
    description: str | None = None


@dataclass(frozen=True)
class RelationRow:
    source_uri: str
    relation: str
    target_uri: str
    skill_type: str | None = None


def find_files(folder: Path) -> list[EscoFile]:
    """The ESCO files of ``folder``: concept files first (ISCO groups, occupations, skills;
    English first, then the other languages), then relation files."""
    found = []
    for path in sorted(folder.iterdir()):
        match = _NAME.match(path.name)
        if match and path.is_file():
            found.append(EscoFile(path, match["stem"], match["lang"]))
    order = CONCEPT_FILES + RELATION_FILES
    return sorted(found, key=lambda f: (order.index(f.stem), f.lang != "en", f.lang))


def _rows(file: EscoFile) -> Iterator[dict[str, str]]:
    with file.path.open(newline="", encoding="utf-8-sig") as f:
        yield from csv.DictReader(f)


def _value(row: dict[str, str], column: str) -> str | None:
    value = (row.get(column) or "").strip()
    return value or None


def _lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def read_concepts(file: EscoFile) -> Iterator[ConceptRow]:
    """The concepts of a concept file, with their labels and description in its language."""
    for row in _rows(file):
        uri, kind = _value(row, "conceptUri"), _KINDS.get(row.get("conceptType") or "")
        if uri is None or kind is None:
            continue
        concept = ConceptRow(
            uri=uri,
            kind=kind,
            lang=file.lang,
            code=_value(row, "code"),
            isco_group=_value(row, "iscoGroup"),
            skill_type=_value(row, "skillType"),
            reuse_level=_value(row, "reuseLevel"),
            status=_value(row, "status"),
            description=_value(row, "description") or _value(row, "definition"),
        )
        preferred = _value(row, "preferredLabel")
        seen = set()
        for label_kind, labels in (
            ("preferred", [preferred] if preferred else []),
            ("alternative", _lines(row.get("altLabels"))),
            ("hidden", _lines(row.get("hiddenLabels"))),
        ):
            for label in labels:
                if (label_kind, label) not in seen:
                    seen.add((label_kind, label))
                    concept.labels.append((label_kind, label))
        yield concept


def read_relations(file: EscoFile) -> Iterator[RelationRow]:
    """The relations of a relation file."""
    for row in _rows(file):
        if file.stem == "occupationSkillRelations":
            source, target = _value(row, "occupationUri"), _value(row, "skillUri")
            relation = _RELATION_TYPES.get(row.get("relationType") or "")
            if source and target and relation:
                yield RelationRow(source, relation, target, _value(row, "skillType"))
        else:
            source, target = _value(row, "conceptUri"), _value(row, "broaderUri")
            if source and target:
                yield RelationRow(source, "broader", target)
