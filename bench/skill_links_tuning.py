"""Measurement: would tuning the model on the taxonomy itself link skill phrases better?
(docs/EVALUATION.md, "Linking skill phrases").

    PONTE_DATA_DIR=var/tax-try .venv/bin/python bench/skill_links_tuning.py [--epochs 1]

Tunes a copy of the configured model, contrastively with in-batch negatives, on pairs the ESCO
skills file gives — each skill's first description sentence and each alternative label, paired
with its preferred label; nothing of the evaluation set — then links skill_links_dev's phrases
by the nearest preferred or alternative label (alternative ones 0.04 below, as the linker
does) with the tuned model and with the original. About 14 minutes an epoch on two cores.
The tuned model is written to ``--out`` and is not used by Ponte.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from skill_links_sweep import metrics_row, read

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.ml.encoder import Encoder  # noqa: E402


def pairs_of(skills_csv: Path) -> list[tuple[str, str]]:
    """(text, preferred label): each first description sentence and each alternative label."""
    out = []
    for row in csv.DictReader(skills_csv.open(encoding="utf-8")):
        label = row["preferredLabel"].strip()
        description = (row["description"] or "").strip()
        if description:
            out.append((re.split(r"(?<=[.;])\s", description)[0][:300], label))
        for alt in (row["altLabels"] or "").split("\n"):
            if alt.strip() and alt.strip().lower() != label.lower():
                out.append((alt.strip(), label))
    return out


def tune(model: SentenceTransformer, pairs: list[tuple[str, str]], epochs: int) -> None:
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-5)
    model.max_seq_length = 64
    model.train()
    started = time.perf_counter()

    def embed(texts: list[str]) -> torch.Tensor:
        features = model.tokenize(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    for epoch in range(epochs):
        random.Random(epoch).shuffle(pairs)
        for start in range(0, len(pairs) - 63, 64):
            batch = list(
                {label: (text, label) for text, label in pairs[start : start + 64]}.values()
            )
            logits = embed([t for t, _ in batch]) @ embed([lab for _, lab in batch]).T * 20
            target = torch.arange(len(batch))
            loss = (
                torch.nn.functional.cross_entropy(logits, target)
                + torch.nn.functional.cross_entropy(logits.T, target)
            ) / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        print(f"epoch {epoch + 1}: {time.perf_counter() - started:.0f} s", flush=True)
    model.eval()


def report(name: str, model: SentenceTransformer, rows: list, folder: Path) -> None:
    queries = [json.loads(line) for line in (folder / "queries.jsonl").open() if line.strip()]
    qrels = json.loads((folder / "qrels.json").read_text())
    uris = sorted({r[0] for r in rows})
    index = {u: i for i, u in enumerate(uris)}
    owner = np.array([index[r[0]] for r in rows])
    alternative = np.array([r[1] != "preferred" for r in rows])
    labels = model.encode([r[2] for r in rows], batch_size=128, normalize_embeddings=True)
    phrases = model.encode([q["text"] for q in queries], normalize_embeddings=True)
    tops = []
    for qi in range(len(queries)):
        best = np.full(len(uris), -9.0)
        np.maximum.at(best, owner, phrases[qi] @ labels.T - 0.04 * alternative)
        tops.append([uris[t] for t in np.argsort(-best, kind="stable")[:10]])
    print(metrics_row(name, tops, [set(qrels[q["id"]]) for q in queries]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=str(ROOT.parent / "shared" / "eval" / "skill_links_dev"))
    parser.add_argument(
        "--skills", default=str(ROOT.parent / "shared" / "taxonomy" / "esco" / "skills_en.csv")
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "var" / "bench-models" / "skills-tuned"))
    args = parser.parse_args()
    torch.manual_seed(0)
    settings = Settings()
    encoder = Encoder.from_settings(settings)
    rows = asyncio.run(read(settings, encoder.model_id))["rows"]
    model = SentenceTransformer(settings.resolved_model_path(), device="cpu")
    print("| model | acc@1 | MRR@10 | recall@5 |\n|---|---:|---:|---:|")
    report("as shipped", model, rows, Path(args.set))
    pairs = pairs_of(Path(args.skills))
    print(f"{len(pairs)} pairs", flush=True)
    tune(model, pairs, args.epochs)
    model.save(args.out)
    report(f"tuned on the taxonomy, {args.epochs} epoch(s)", model, rows, Path(args.set))


if __name__ == "__main__":
    main()
