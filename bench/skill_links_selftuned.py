"""Fusion weights for linking chosen on the taxonomy itself, then (skills) measured on
skill_links_dev: does BM25 over a concept's labels, or its description's vector, added to the
label cosine, help when the weights are not read off an evaluation set?

    PONTE_DATA_DIR=var/bench-tax .venv/bin/python bench/skill_links_selftuned.py [--kind occupation]

The tuning queries are ESCO's own alternative labels: for a sample of concepts, one
alternative label each is held out — taken out of the label vectors its own query searches,
and (all of them at once) out of the concepts' BM25 rows (app/ml/concept_lexicon.py, as the
linker builds them) — and linked as a phrase; the grid's best weights by acc@1 on them are
then scored on skill_links_dev (skills only: docs/EVALUATION.md, "Linking skill phrases").
Needs the full taxonomy imported there; embeds every concept's "label. description" (about
90 s for the skills).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from app.config import Settings  # noqa: E402
from app.ml.concept_lexicon import ConceptLexicon  # noqa: E402
from app.ml.encoder import Encoder  # noqa: E402
from bench.skill_links_sweep import metrics_row, read  # noqa: E402

F32 = npt.NDArray[np.float32]
DISCOUNTS = (0.0, 0.04, 0.1)
LEXICAL = (0.0, 0.05, 0.1, 0.2, 0.3)
DESCRIBED = (0.0, 0.1, 0.3, 0.5, 0.7, 1.0)


def best_labels(
    query_vectors: F32,
    labels: F32,
    alternative: npt.NDArray[np.bool_],
    starts: npt.NDArray[np.intp],
    hidden: npt.NDArray[np.intp] | None,
) -> dict[float, F32]:
    """Per alternative-label discount, per query and skill, its best label's cosine
    (alternative labels that much below). Labels are sorted by skill, so a skill's best is one
    ``reduceat`` over its run of columns; queries go in blocks to bound memory."""
    out: dict[float, list[F32]] = {d: [] for d in DISCOUNTS}
    for block in range(0, len(query_vectors), 200):
        sims = query_vectors[block : block + 200] @ labels.T
        if hidden is not None:  # a held-out label is not searched
            part = hidden[block : block + 200]
            sims[np.arange(len(part)), part] = -2.0
        for d in DISCOUNTS:
            out[d].append(np.maximum.reduceat(sims - d * alternative, starts, axis=1))
    return {d: np.concatenate(parts) for d, parts in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=str(ROOT.parent / "shared" / "eval" / "skill_links_dev"))
    parser.add_argument("--tuning", type=int, default=2000, help="held-out labels to tune on")
    parser.add_argument("--kind", choices=("skill", "occupation"), default="skill")
    args = parser.parse_args()
    settings = Settings()
    encoder = Encoder.from_settings(settings)
    data = asyncio.run(read(settings, encoder.model_id, args.kind))
    rows = sorted(data["rows"], key=lambda r: r[0])  # labels in runs by concept
    uris = sorted({r[0] for r in rows})
    index = {u: i for i, u in enumerate(uris)}
    owner = np.array([index[r[0]] for r in rows])
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    alternative = np.array([r[1] != "preferred" for r in rows])
    labels = np.stack([np.array(json.loads(r[3]), dtype=np.float32) for r in rows])

    # the held-out labels: one alternative label of each of a sample of skills
    rng = np.random.default_rng(7)
    alternatives_of: dict[int, list[int]] = {}
    for at, r in enumerate(rows):
        if r[1] == "alternative":
            alternatives_of.setdefault(index[r[0]], []).append(at)
    sampled = rng.choice(
        sorted(alternatives_of), size=min(args.tuning, len(alternatives_of)), replace=False
    )
    held = np.array([rng.choice(alternatives_of[s]) for s in sampled])
    held_set = set(held.tolist())

    # BM25 over each concept's labels per language, as the linker has it: for the tuning
    # queries with their held-out labels left out, for the evaluation set with all of them
    pruned = ConceptLexicon((r[0], r[4], r[2]) for at, r in enumerate(rows) if at not in held_set)
    full = ConceptLexicon((r[0], r[4], r[2]) for r in rows)
    assert pruned.uris == full.uris == uris  # every concept keeps its preferred label

    names = {r[0]: r[2] for r in rows if r[1] == "preferred"}
    described_texts = [
        f"{names.get(u, '')}. {data['descriptions'].get(u, '')}".strip() for u in uris
    ]
    described = np.asarray(encoder.encode(described_texts), dtype=np.float32)
    described /= np.linalg.norm(described, axis=1, keepdims=True)

    def scored(
        query_vectors: F32,
        query_texts: list[str],
        hidden: npt.NDArray[np.intp] | None,
        lexicon: ConceptLexicon,
    ) -> tuple[dict[float, F32], F32, F32]:
        lexical = np.stack([lexicon.all_shares(t) for t in query_texts]).astype(np.float32)
        best = best_labels(query_vectors, labels, alternative, starts, hidden)
        return best, lexical, query_vectors @ described.T

    grid = list(itertools.product(DISCOUNTS, LEXICAL, DESCRIBED))

    def tops(
        parts: tuple[dict[float, F32], F32, F32],
        weights: tuple[float, float, float],
        lift_only: bool = False,
    ) -> list[list[str]]:
        """Each query's ten best concepts; ``lift_only``: BM25 as the linker adds it, the
        label's score or its weighted mean with the share, whichever is higher."""
        discount, w_lexical, w_described = weights
        best, lexical, desc = parts
        if lift_only:
            label = best[discount]
            score = np.maximum(label, (label + w_lexical * lexical) / (1 + w_lexical))
        else:
            score = best[discount] + w_lexical * lexical + w_described * desc
        order = np.argsort(-score, axis=1, kind="stable")[:, :10]
        return [[uris[t] for t in row] for row in order]

    tuning = scored(labels[held], [rows[h][2] for h in held], held, pruned)
    accuracy = {}
    best, lexical, desc = tuning
    for weights in grid:
        first = np.argmax(best[weights[0]] + weights[1] * lexical + weights[2] * desc, axis=1)
        accuracy[weights] = float(np.mean(first == sampled))

    def chosen_of(family: list[tuple[float, float, float]]) -> tuple[float, float, float]:
        return max(family, key=lambda w: (accuracy[w], -sum(w)))

    chosen = chosen_of(grid)
    lexical_only = chosen_of([w for w in grid if w[2] == 0.0])
    described_only = chosen_of([w for w in grid if w[1] == 0.0])
    print(f"tuned on {len(held)} held-out alternative labels; acc@1 per weights:")
    print(f"{args.kind}: ", end="")
    shown = sorted(grid, key=lambda w: -accuracy[w])[:8]
    for weights in [*shown, (0.04, 0.0, 0.0), (0.04, 0.2, 0.0), (0.04, 0.0, 0.5)]:
        print(f"  discount {weights[0]}, BM25 × {weights[1]}, description × {weights[2]}: "
              f"{accuracy[weights]:.4f}")  # fmt: skip
    for w in LEXICAL[1:]:
        first = np.array([int(t[0] == uris[s]) for t, s in zip(
            tops(tuning, (0.04, w, 0.0), lift_only=True), sampled, strict=True)])  # fmt: skip
        print(f"  discount 0.04, BM25 × {w} lifting only: {first.mean():.4f}")

    if args.kind != "skill":
        return  # no linking set of occupations: the title sets judge them (ponte eval)
    folder = Path(args.set)
    queries = [json.loads(line) for line in (folder / "queries.jsonl").open() if line.strip()]
    qrels = json.loads((folder / "qrels.json").read_text())
    phrases = [q["text"] for q in queries]
    vectors = np.asarray(encoder.encode(phrases), dtype=np.float32)
    dev = scored(vectors, phrases, None, full)
    relevant = [set(qrels[q["id"]]) for q in queries]
    print(
        "\n| method (weights: alternative discount, BM25, description) "
        "| acc@1 | MRR@10 | recall@5 |"
    )
    print("|---|---:|---:|---:|")
    for name, weights in (
        ("cosine, alternative − 0.04 (as built, no lexical stage)", (0.04, 0.0, 0.0)),
        (f"BM25 only, chosen on the held-out labels {lexical_only}", lexical_only),
        (f"description only, chosen on the held-out labels {described_only}", described_only),
        (f"both, chosen on the held-out labels {chosen}", chosen),
        ("dev's best by hand (0.04, 0.2, 0.5)", (0.04, 0.2, 0.5)),
    ):
        print(metrics_row(name, tops(dev, weights), relevant))
    for w in LEXICAL[1:]:
        lifted = tops(dev, (0.04, w, 0.0), lift_only=True)
        print(metrics_row(f"BM25 × {w} lifting only (as the linker adds it)", lifted, relevant))


if __name__ == "__main__":
    main()
