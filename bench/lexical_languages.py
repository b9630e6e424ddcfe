"""BM25 alone, with and without Snowball stemming, on an evaluation set: what language-aware
analysis (app/ml/bm25.py, app/ml/languages.py) does to the lexical ranking by itself, and how
often the detector names each side's language.

    .venv/bin/python bench/lexical_languages.py ../shared/eval/esco_dev

Texts are the documented baseline texts (app/ml/evaluation.py); each candidate's language is
detected as it is on write; nDCG@10 over every vacancy of the set.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from app.ml.bm25 import KeyedBm25
from app.ml.evaluation import baseline_candidate_text, baseline_vacancy_text, ndcg_at, rank_by
from app.ml.languages import detect_language
from app.services.evaluation import EvalSet


def main(folder: Path) -> None:
    data = EvalSet.load(folder)
    ids = [c["external_id"] for c in data.candidates]
    texts = [baseline_candidate_text(c.get("summary", ""), c["skills"]) for c in data.candidates]
    languages = [detect_language(t) for t in texts]
    queries = {
        v["external_id"]: baseline_vacancy_text(
            v["title"], v.get("description", ""), v["required_skills"]
        )
        for v in data.vacancies
    }
    print(f"candidates' detected languages: {dict(Counter(languages).most_common())}")
    print(
        "vacancies' detected languages: "
        f"{dict(Counter(detect_language(q) for q in queries.values()).most_common())}"
    )
    for name, analysed in (("no stemming", [None] * len(texts)), ("stemmed", languages)):
        index = KeyedBm25()
        index.apply(zip(ids, texts, analysed, strict=True))
        scores = [
            ndcg_at(rank_by(index.scores(query)[0], index.ids), data.qrels.get(vid, {}))  # type: ignore[arg-type]
            for vid, query in queries.items()
        ]
        print(f"BM25, {name}: nDCG@10 {sum(scores) / len(scores):.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
