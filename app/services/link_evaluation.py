"""``ponte eval`` on a linking set (skill_links_dev's layout: ``queries.jsonl`` of
``{"id", "text"}``, ``qrels.json`` of id → relevant URIs): each phrase linked through the
taxonomy API's code (app/services/taxonomy.py) against the imported taxonomy, scored with
app/ml/evaluation.link_metrics, and per score band of the first link how often it is right (what
the automatic-link threshold reads)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.encoder import Encoder
from app.ml.evaluation import link_metrics
from app.services.taxonomy import TaxonomyService

BATCH = 100  # the link endpoint's own limit


def is_link_set(folder: Path) -> bool:
    return (folder / "queries.jsonl").is_file() and not (folder / "vacancies.jsonl").exists()


def read_link_set(folder: Path) -> tuple[list[dict[str, str]], dict[str, list[str]]]:
    with (folder / "queries.jsonl").open(encoding="utf-8") as f:
        queries = [json.loads(line) for line in f if line.strip()]
    qrels: dict[str, list[str]] = json.loads((folder / "qrels.json").read_text(encoding="utf-8"))
    return queries, qrels


async def evaluate_links(
    session: AsyncSession,
    encoder: Encoder,
    queries: Sequence[Mapping[str, str]],
    qrels: Mapping[str, Sequence[str]],
    concept_kind: str = "skill",
) -> dict[str, Any]:
    """The set's figures for Ponte's linker, and the first link's precision per score band."""
    service = TaxonomyService(session, encoder)
    linked = []
    for start in range(0, len(queries), BATCH):
        part = [q["text"] for q in queries[start : start + BATCH]]
        linked += await service.link(concept_kind, part, 10)
    ranked = [[link.uri for link in links] for links in linked]
    relevant = [set(qrels.get(q["id"], ())) for q in queries]
    bands: dict[str, list[int]] = {}
    for links, gold in zip(linked, relevant, strict=True):
        if links:
            band = f"{min(int(links[0].score * 10), 9) / 10:.1f}"
            bands.setdefault(band, []).append(int(links[0].uri in gold))
    return {
        "ponte": link_metrics(ranked, relevant),
        "first_link_right": {
            band: {"phrases": len(hits), "right": round(sum(hits) / len(hits), 2)}
            for band, hits in sorted(bands.items())
        },
    }
