"""Offline ranking evaluation: metrics, and the reference baselines (BM25, cosine, RRF).

Definitions follow ``shared/eval/README.md``: nDCG@10 with gain 2^grade − 1, MRR of the first
grade-3 item, recall@10 of grade-3 items; ties keep input order.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

_TOKEN = re.compile(r"\w+")


def ndcg_at(ranking: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    """Returns nDCG@k of ``ranking`` against graded judgements (absent = 0)."""
    dcg = sum(
        (2 ** grades.get(item, 0) - 1) / math.log2(rank + 2)
        for rank, item in enumerate(ranking[:k])
    )
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def reciprocal_rank(ranking: Sequence[str], grades: Mapping[str, int], grade: int = 3) -> float:
    """Returns 1 / rank of the first item of ``grade`` (0 if none is ranked)."""
    for rank, item in enumerate(ranking, start=1):
        if grades.get(item, 0) >= grade:
            return 1.0 / rank
    return 0.0


def recall_at(
    ranking: Sequence[str], grades: Mapping[str, int], k: int = 10, grade: int = 3
) -> float:
    """Returns the share of ``grade`` items found in the top ``k``."""
    relevant = {item for item, g in grades.items() if g >= grade}
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:k])) / len(relevant)


def evaluate(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float]:
    """Returns mean nDCG@10, MRR and recall@10 over the queries of ``rankings``."""
    queries = [q for q in rankings if q in qrels]
    if not queries:
        return {"queries": 0, "ndcg@10": 0.0, "mrr": 0.0, "recall@10": 0.0}
    n = len(queries)
    return {
        "queries": n,
        "ndcg@10": sum(ndcg_at(rankings[q], qrels[q]) for q in queries) / n,
        "mrr": sum(reciprocal_rank(rankings[q], qrels[q]) for q in queries) / n,
        "recall@10": sum(recall_at(rankings[q], qrels[q]) for q in queries) / n,
    }


def link_metrics(
    ranked: Sequence[Sequence[str]], relevant: Sequence[set[str]]
) -> dict[str, float | int]:
    """A linking set's figures (skill_links_dev's README): acc@1 (a relevant URI first),
    MRR@10, recall@5 (the share of the relevant URIs in the top 5), over the queries."""
    n = len(ranked)
    acc = mrr = recall = 0.0
    for uris, gold in zip(ranked, relevant, strict=True):
        acc += bool(uris) and uris[0] in gold
        mrr += next((1 / r for r, u in enumerate(uris[:10], 1) if u in gold), 0.0)
        recall += len(set(uris[:5]) & gold) / len(gold) if gold else 0.0
    return {
        "queries": n,
        "acc@1": round(acc / n, 4) if n else 0.0,
        "mrr@10": round(mrr / n, 4) if n else 0.0,
        "recall@5": round(recall / n, 4) if n else 0.0,
    }


def tokens(text: str) -> list[str]:
    """Returns lowercase ``\\w+`` tokens (the baseline's tokenizer)."""
    return _TOKEN.findall(text.lower())


class BM25:
    """Okapi BM25 with k1 = 1.2, b = 0.75, idf = ln(1 + (N − n + 0.5) / (n + 0.5))."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = [Counter(tokens(d)) for d in documents]
        self.lengths = np.array([sum(c.values()) for c in self.docs], dtype=np.float64)
        self.avg = float(self.lengths.mean()) if len(self.docs) else 0.0
        df: Counter[str] = Counter()
        for counts in self.docs:
            df.update(counts.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - m + 0.5) / (m + 0.5)) for t, m in df.items()}

    def scores(self, query: str) -> npt.NDArray[np.float64]:
        """Returns one score per document; each query term counts once."""
        out = np.zeros(len(self.docs))
        norm = self.k1 * (1 - self.b + self.b * self.lengths / (self.avg or 1.0))
        for term in set(tokens(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            tf = np.array([d.get(term, 0) for d in self.docs], dtype=np.float64)
            out += idf * tf * (self.k1 + 1) / (tf + norm)
        return out


def rank_by(scores: Sequence[float] | npt.NDArray[np.float64], ids: Sequence[str]) -> list[str]:
    """Returns ``ids`` by descending score; ties keep input order."""
    order = sorted(range(len(ids)), key=lambda i: -float(scores[i]))
    return [ids[i] for i in order]


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> list[str]:
    """Returns the reciprocal-rank fusion of several rankings (ties keep first-seen order)."""
    score: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            score[item] = score.get(item, 0.0) + 1.0 / (k + rank)
    items = list(score)
    return rank_by([score[i] for i in items], items)


def baseline_candidate_text(summary: str, skills: Sequence[str]) -> str:
    """The reference candidate text: summary + " Skills: a, b." (summary left out if empty)."""
    skills_part = "Skills: " + ", ".join(skills) + "."
    return f"{summary} {skills_part}" if summary else skills_part


def baseline_vacancy_text(title: str, description: str, required: Sequence[str]) -> str:
    """The reference vacancy text: title + ". " + description + " Required: a, b."."""
    text = title
    if description:
        text += ". " + description
    if required:
        text += " Required: " + ", ".join(required) + "."
    return text
