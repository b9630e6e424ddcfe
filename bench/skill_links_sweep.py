"""The linking choices measured on skill_links_dev with an exact in-memory search over the same
label vectors the linker searches: preferred labels only, alternative labels with a discount
swept, a popularity prior, corrections of the label space (mean, principal directions,
hubness), descriptions fused (docs/EVALUATION.md, "Linking skill phrases").

    PONTE_DATA_DIR=var/tax-try .venv/bin/python bench/skill_links_sweep.py [--descriptions]

Needs the full taxonomy imported there (``ponte taxonomy import ../shared/taxonomy/esco``).
``--descriptions`` also embeds every skill's "label. description" (about 90 s); ``--lexical``
fuses BM25 over each skill's labels.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db.engine import create_engine, resolve_database  # noqa: E402
from app.ml.bm25 import Bm25Index, lexical_share  # noqa: E402
from app.ml.encoder import Encoder  # noqa: E402


async def read(settings: Settings, model_id: str, kind: str = "skill") -> dict[str, Any]:
    """The kind's label vectors (URI, label kind, label, vector as text, language), how many
    occupations list each concept, and its English description."""
    engine = create_engine(resolve_database(settings).owner, settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT uri, kind, label, embedding::text, lang FROM esco_label_vectors "
                        "WHERE model_id = :m AND concept_kind = :k"
                    ),
                    {"m": model_id, "k": kind},
                )
            ).all()
            popularity = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT target_uri, count(*) FROM esco_relations "
                            "WHERE relation IN ('essential', 'optional') GROUP BY 1"
                        )
                    )
                ).all()
            )
            descriptions = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT d.uri, d.description FROM esco_descriptions d JOIN "
                            "esco_concepts c ON c.uri = d.uri "
                            "WHERE c.kind = :k AND d.lang = 'en'"
                        ),
                        {"k": kind},
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    return {"rows": rows, "popularity": popularity, "descriptions": descriptions}


def metrics_row(name: str, tops: list[list[str]], relevant: list[set[str]]) -> str:
    """A table row of acc@1, MRR@10 and recall@5 for each query's top ten and relevant URIs."""
    acc = mrr = recall = 0.0
    for top, wanted in zip(tops, relevant, strict=True):
        acc += top[0] in wanted
        mrr += next((1 / r for r, u in enumerate(top, 1) if u in wanted), 0.0)
        recall += len(set(top[:5]) & wanted) / len(wanted)
    n = len(tops)
    return f"| {name} | {acc / n:.4f} | {mrr / n:.4f} | {recall / n:.4f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=str(ROOT.parent / "shared" / "eval" / "skill_links_dev"))
    parser.add_argument("--descriptions", action="store_true")
    parser.add_argument("--lexical", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    encoder = Encoder.from_settings(settings)
    data = asyncio.run(read(settings, encoder.model_id))
    rows = data["rows"]
    uris = sorted({r[0] for r in rows})
    index = {u: i for i, u in enumerate(uris)}
    owner = np.array([index[r[0]] for r in rows])
    preferred = np.array([r[1] == "preferred" for r in rows])
    labels = np.stack([np.array(json.loads(r[3]), dtype=np.float32) for r in rows])
    folder = Path(args.set)
    queries = [json.loads(line) for line in (folder / "queries.jsonl").open() if line.strip()]
    qrels = json.loads((folder / "qrels.json").read_text())
    query_vectors = np.asarray(encoder.encode([q["text"] for q in queries]), dtype=np.float32)
    sims = query_vectors @ labels.T

    def best(row: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        out = np.full(len(uris), -1.0)
        keep = slice(None) if mask is None else mask
        np.maximum.at(out, owner[keep], row[keep])
        return out

    def report(name: str, score: Callable[[int], np.ndarray]) -> None:
        tops = [
            [uris[t] for t in np.argsort(-score(qi), kind="stable")[:10]]
            for qi in range(len(queries))
        ]
        print(metrics_row(name, tops, [set(qrels[q["id"]]) for q in queries]), flush=True)

    print("| method | acc@1 | MRR@10 | recall@5 |\n|---|---:|---:|---:|")
    report("preferred labels only", lambda qi: best(sims[qi], preferred))
    for discount in (0.0, 0.02, 0.04, 0.06, 0.1):
        report(
            f"preferred and alternative, alternative − {discount}",
            lambda qi, d=discount: best(sims[qi] - d * ~preferred),
        )
    prior = np.array([np.log1p(data["popularity"].get(u, 0)) for u in uris])
    prior /= prior.max()
    for weight in (0.02, 0.05, 0.15):
        report(
            f"alternative − 0.04, + {weight} × popularity",
            lambda qi, w=weight: best(sims[qi] - 0.04 * ~preferred) + w * prior,
        )
    # corrections of the label space: its mean taken away, its top principal directions
    # taken away, labels near many others discounted (hubness, as CSLS does)
    alt = 0.04 * ~preferred
    mean = labels.mean(axis=0)

    def unit(m: np.ndarray) -> np.ndarray:
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    for share in (0.5, 1.0):
        sims_c = unit(query_vectors - share * mean) @ unit(labels - share * mean).T
        report(
            f"alternative − 0.04, {share} × the mean taken away",
            lambda qi, m=sims_c: best(m[qi] - alt),
        )
    _, _, directions = np.linalg.svd(labels[::3] - mean, full_matrices=False)
    for k in (1, 2, 4, 8):
        top = directions[:k]

        def strip(m: np.ndarray, top: np.ndarray = top) -> np.ndarray:
            m = m - mean
            return unit(m - (m @ top.T) @ top)

        sims_p = strip(query_vectors) @ strip(labels).T
        report(
            f"alternative − 0.04, top {k} directions taken away",
            lambda qi, m=sims_p: best(m[qi] - alt),
        )
    reference = labels[np.random.default_rng(0).choice(len(labels), 4000, replace=False)]
    crowd = np.concatenate(
        [
            np.sort(block @ reference.T, axis=1)[:, -11:-1].mean(axis=1)
            for block in np.array_split(labels, 20)
        ]
    )
    for weight in (0.1, 0.25, 0.5):
        report(
            f"alternative − 0.04, − {weight} × closeness to its 10 nearest labels",
            lambda qi, w=weight: best(sims[qi] - alt - w * crowd),
        )
    if args.lexical:
        # BM25 over each skill's labels (preferred and alternative as one text, stemmed as
        # English, as lexical matching analyses it), its share added to the cosine
        texts_of: dict[str, list[str]] = {}
        for r in rows:
            texts_of.setdefault(r[0], []).append(r[2])
        lexicon = Bm25Index()
        lexicon.stage(range(len(uris)), [" ".join(texts_of[u]) for u in uris], ["en"] * len(uris))
        lexicon = lexicon.rebuild(range(len(uris)))
        shares = [lexical_share(*lexicon.query(q["text"], len(uris))) for q in queries]
        for weight in (0.02, 0.05, 0.1, 0.2):
            report(
                f"alternative − 0.04, + {weight} × BM25 share over the skill's labels",
                lambda qi, w=weight: best(sims[qi] - alt) + w * shares[qi],
            )
    if args.descriptions:
        names = {r[0]: r[2] for r in rows if r[1] == "preferred"}
        texts = [f"{names.get(u, '')}. {data['descriptions'].get(u, '')}".strip() for u in uris]
        described = np.asarray(encoder.encode(texts), dtype=np.float32)
        described /= np.linalg.norm(described, axis=1, keepdims=True)
        with_text = query_vectors @ described.T
        for weight in (0.1, 0.3, 0.5):
            report(
                f"alternative − 0.04, + {weight} × cosine to label. description",
                lambda qi, w=weight: best(sims[qi] - 0.04 * ~preferred) + w * with_text[qi],
            )


if __name__ == "__main__":
    main()
