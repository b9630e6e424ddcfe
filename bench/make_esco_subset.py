"""Writes the small ESCO subset the demo and the tests import (app/demo/esco/): the occupations
job-integration programmes place people in most, their skills, the ISCO groups above them and
the relations among them, in every language the source folder has, in the official layout.

    .venv/bin/python bench/make_esco_subset.py [--source ../shared/taxonomy/esco]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# By English preferred label: kitchens, warehouses, cleaning, hotels, shops, care, trades.
OCCUPATIONS = (
    "kitchen porter", "kitchen assistant", "cook", "baker", "waiter/waitress", "bartender",
    "warehouse worker", "forklift operator", "domestic cleaner", "building cleaner",
    "room attendant", "hotel porter", "shop assistant", "sales assistant", "cashier",
    "healthcare assistant", "home care aide", "hairdresser", "welder", "carpenter",
    "electrician", "fruit and vegetable picker", "payroll clerk",
)  # fmt: skip
# Essential skills only, plus every skill these occupations share (optional included), keeps
# the subset small and still relational.
MAX_OPTIONAL_PER_OCCUPATION = 8


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{path.name}: {len(rows)} rows", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(ROOT.parent / "shared" / "taxonomy" / "esco"))
    parser.add_argument("--out", default=str(ROOT / "app" / "demo" / "esco"))
    args = parser.parse_args()
    source, out = Path(args.source), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    _, occupations = read(source / "occupations_en.csv")
    chosen = [r for r in occupations if r["preferredLabel"] in OCCUPATIONS]
    missing = set(OCCUPATIONS) - {r["preferredLabel"] for r in chosen}
    if missing:
        sys.exit(f"not in the source: {sorted(missing)}")
    occupation_uris = {r["conceptUri"] for r in chosen}

    rel_columns, relations = read(source / "occupationSkillRelations_en.csv")
    kept_relations, optional_seen = [], dict.fromkeys(occupation_uris, 0)
    for r in relations:
        if r["occupationUri"] not in occupation_uris:
            continue
        if r["relationType"] == "optional":
            if optional_seen[r["occupationUri"]] >= MAX_OPTIONAL_PER_OCCUPATION:
                continue
            optional_seen[r["occupationUri"]] += 1
        kept_relations.append(r)
    skill_uris = {r["skillUri"] for r in kept_relations}

    broader_columns, broader = read(source / "broaderRelationsOccPillar_en.csv")
    parent = {r["conceptUri"]: r["broaderUri"] for r in broader}
    groups: set[str] = set()
    for uri in occupation_uris:
        at = parent.get(uri)
        while at is not None:
            if "/isco/" in at:
                groups.add(at)
            at = parent.get(at)
    concepts = occupation_uris | groups
    kept_broader = [
        r for r in broader if r["conceptUri"] in concepts and r["broaderUri"] in concepts
    ]

    for name in sorted(p.name for p in source.glob("*.csv")):
        stem = name.rsplit("_", 1)[0]
        if stem == "occupationSkillRelations":
            write(out / name, rel_columns, kept_relations)
        elif stem == "broaderRelationsOccPillar":
            write(out / name, broader_columns, kept_broader)
        else:
            wanted = {"occupations": occupation_uris, "skills": skill_uris, "ISCOGroups": groups}
            file_columns, rows = read(source / name)
            write(out / name, file_columns, [r for r in rows if r["conceptUri"] in wanted[stem]])


if __name__ == "__main__":
    main()
