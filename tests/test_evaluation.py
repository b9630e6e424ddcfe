"""Evaluation: the metrics and baselines by hand, and `ponte eval` end to end on a tiny set."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from sqlalchemy import text

from app.cli import cli
from app.ml.evaluation import (
    BM25,
    baseline_candidate_text,
    baseline_vacancy_text,
    evaluate,
    ndcg_at,
    rank_by,
    recall_at,
    reciprocal_rank,
    rrf,
)


def test_metrics_by_hand():
    grades = {"a": 3, "b": 2, "c": 3}
    ranking = ["b", "x", "a"]
    dcg = (2**2 - 1) / math.log2(2) + (2**3 - 1) / math.log2(4)
    idcg = 7 / math.log2(2) + 7 / math.log2(3) + 3 / math.log2(4)
    assert ndcg_at(ranking, grades) == pytest.approx(dcg / idcg)
    assert reciprocal_rank(ranking, grades) == pytest.approx(1 / 3)
    assert recall_at(ranking, grades) == pytest.approx(0.5)
    assert ndcg_at(["a", "c", "b"], grades) == pytest.approx(1.0)
    assert evaluate({"q": ranking, "unjudged": ["a"]}, {"q": grades})["queries"] == 1


def test_bm25_by_hand():
    docs = ["cook cook kitchen", "forklift warehouse", "kitchen cleaning"]
    bm25 = BM25(docs)
    n, avg = 3, 7 / 3
    idf_cook = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))
    norm = 1.2 * (1 - 0.75 + 0.75 * 3 / avg)
    expected = idf_cook * 2 * 2.2 / (2 + norm)
    # Query terms count once: "cook cook" scores like "cook".
    assert bm25.scores("Cook cook")[0] == pytest.approx(expected)
    assert rank_by(bm25.scores("kitchen"), ["d0", "d1", "d2"])[-1] == "d1"


def test_ties_keep_input_order_and_rrf():
    assert rank_by([1.0, 2.0, 1.0], ["a", "b", "c"]) == ["b", "a", "c"]
    assert rrf([["a", "b"], ["b", "a"]]) == ["a", "b"]
    # a and c tie (1/61 + 1/63) just above b (2/62); the tie keeps first-seen order.
    assert rrf([["a", "b", "c"], ["c", "b", "a"]]) == ["a", "c", "b"]


def test_reference_texts():
    assert baseline_candidate_text("", ["a", "b"]) == "Skills: a, b."
    assert baseline_candidate_text("Cook.", ["a"]) == "Cook. Skills: a."
    assert baseline_vacancy_text("Cook", "Cooks food.", ["a"]) == "Cook. Cooks food. Required: a."
    assert baseline_vacancy_text("Cook", "", []) == "Cook"


TINY = {
    "vacancies": [
        {
            "external_id": "V-cook",
            "title": "cook",
            "description": "Cooks prepare meals.",
            "required_skills": ["prepare meals", "kitchen hygiene"],
        },
        {
            "external_id": "V-fork",
            "title": "forklift operator",
            "description": "Moves pallets.",
            "required_skills": ["operate forklift"],
        },
    ],
    "candidates": [
        {"external_id": "C-cook-0", "skills": ["prepare meals", "kitchen hygiene"], "summary": ""},
        {"external_id": "C-cook-1", "skills": ["prepare meals"], "summary": "Cook for 3 years."},
        {"external_id": "C-fork-0", "skills": ["operate forklift"], "summary": ""},
        {"external_id": "C-fork-1", "skills": ["warehouse safety"], "summary": "Forklift driver."},
        {"external_id": "C-other", "skills": ["electrical wiring"], "summary": ""},
    ],
    "qrels": {"V-cook": {"C-cook-0": 3, "C-cook-1": 3}, "V-fork": {"C-fork-0": 3, "C-fork-1": 3}},
}


async def test_ponte_eval_end_to_end(tmp_path, cli_env, owner_engine):
    folder = tmp_path / "tiny"
    folder.mkdir()
    for name in ("vacancies", "candidates"):
        lines = "\n".join(json.dumps(x) for x in TINY[name])
        (folder / f"{name}.jsonl").write_text(lines + "\n")
    (folder / "qrels.json").write_text(json.dumps(TINY["qrels"]))
    out = tmp_path / "metrics.json"
    args = ["eval", "--set", str(folder), "--json", str(out)]
    r = await asyncio.to_thread(cli_env.invoke, cli, args)
    assert r.exit_code == 0, r.output
    assert "| all | ponte | 2 |" in r.stdout
    metrics = json.loads(out.read_text())
    assert set(metrics) == {"tune", "test", "all"}
    assert metrics["all"]["ponte"]["ndcg@10"] == pytest.approx(1.0)
    assert metrics["all"]["bm25"]["queries"] == 2
    assert metrics["tune"]["ponte"]["queries"] == 1
    async with owner_engine.connect() as conn:
        leftovers = await conn.scalar(text("SELECT count(*) FROM tenants WHERE name LIKE 'eval-%'"))
    assert leftovers == 0  # the scratch tenant is gone


async def test_ponte_eval_runs_every_set_of_a_folder_with_the_taxonomy_on_then_off(
    tmp_path, cli_env, owner_engine, encoder
):
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from app.services import taxonomy_import
    from app.services.taxonomy_linking import forget_links
    from tests.test_taxonomy_import import SUBSET

    sessions = async_sessionmaker(owner_engine, expire_on_commit=False)
    await taxonomy_import.import_esco(
        sessions, taxonomy_import.esco_files(SUBSET), "1.2.0", encoder
    )
    forget_links()
    sets = tmp_path / "sets"
    ranking, links = sets / "tiny", sets / "phrases"
    ranking.mkdir(parents=True)
    links.mkdir()
    for name in ("vacancies", "candidates"):
        lines = "\n".join(json.dumps(x) for x in TINY[name])
        (ranking / f"{name}.jsonl").write_text(lines + "\n")
    (ranking / "qrels.json").write_text(json.dumps(TINY["qrels"]))
    (links / "queries.jsonl").write_text(json.dumps({"id": "q1", "text": "operate forklift"}))
    forklift = "http://data.europa.eu/esco/skill/28cb374e-6261-4133-8371-f9a5470145da"
    (links / "qrels.json").write_text(json.dumps({"q1": [forklift]}))
    out = tmp_path / "metrics.json"
    r = await asyncio.to_thread(
        cli_env.invoke, cli, ["eval", "--set", str(sets), "--json", str(out)]
    )
    assert r.exit_code == 0, r.output
    metrics = json.loads(out.read_text())
    assert set(metrics) == {"tiny", "phrases"}
    assert metrics["phrases"]["ponte"]["acc@1"] == 1.0
    assert {"ponte", "ponte, taxonomy off", "bm25"} <= set(metrics["tiny"]["all"])
    assert "| all | ponte, taxonomy off | 2 |" in r.stdout
    async with owner_engine.connect() as conn:
        leftovers = await conn.scalar(text("SELECT count(*) FROM tenants WHERE name LIKE 'eval-%'"))
    assert leftovers == 0
