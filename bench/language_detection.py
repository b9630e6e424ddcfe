"""How often Ponte's language detection (app/ml/languages.py) names a text's language, on the
short texts Ponte gets and on whole profiles: per evaluation set, the share read right, read
wrong and left undetermined, and the time a text.

    .venv/bin/python bench/language_detection.py ../shared/eval
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from app.ml.evaluation import baseline_candidate_text, baseline_vacancy_text
from app.ml.languages import UNDETERMINED, detect_language


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(root: Path) -> None:
    sets = {
        "esco_dev profiles (en)": (
            [
                baseline_candidate_text(c.get("summary", ""), c["skills"])
                for c in _rows(root / "esco_dev" / "candidates.jsonl")
            ],
            "en",
        ),
        "esco_dev vacancies (en)": (
            [
                baseline_vacancy_text(v["title"], v.get("description", ""), v["required_skills"])
                for v in _rows(root / "esco_dev" / "vacancies.jsonl")
            ],
            "en",
        ),
        "titles_dev titles (en)": (
            [v["title"] for v in _rows(root / "titles_dev" / "vacancies.jsonl")],
            "en",
        ),
        "it_titles_dev names (it)": (
            [v["title"] for v in _rows(root / "it_titles_dev" / "vacancies.jsonl")],
            "it",
        ),
        "skill_links_dev phrases (en)": (
            [q["text"] for q in _rows(root / "skill_links_dev" / "queries.jsonl")],
            "en",
        ),
    }
    detect_language("warm-up")  # the models load on first use
    print("| texts | n | right | wrong | undetermined | ms a text |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (texts, language) in sets.items():
        started = time.perf_counter()
        found = [detect_language(text) for text in texts]
        ms = (time.perf_counter() - started) / len(texts) * 1000
        right = sum(f == language for f in found) / len(found)
        unsure = sum(f == UNDETERMINED for f in found) / len(found)
        print(
            f"| {name} | {len(found)} | {right:.0%} | {1 - right - unsure:.0%} | {unsure:.0%} "
            f"| {ms:.2f} |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
