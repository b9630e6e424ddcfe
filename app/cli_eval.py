"""``ponte eval``: an evaluation set ranked (or, a linking set, linked) through the API's code
path, its metrics printed beside the set's baselines (docs/EVALUATION.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app import cli_support
from app.config import Settings
from app.db.engine import resolve_database
from app.ml.encoder import Encoder
from app.services import evaluation, link_evaluation


def eval_command(
    set_dir: Annotated[Path, typer.Option("--set", help="Folder in the format of shared/eval")],
    skills: Annotated[
        bool, typer.Option("--skills/--no-skills", help="Give vacancies their required skills")
    ] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write metrics here")] = None,
) -> None:
    """Rank an evaluation set through the API's code path and print metrics beside baselines
    (a linking set such as skill_links_dev: link its phrases to the imported taxonomy)."""
    settings = cli_support.settings()
    if link_evaluation.is_link_set(set_dir):
        _eval_links(settings, set_dir, json_out)
        return

    def progress(line: str) -> None:
        typer.echo(line, err=True)

    async def run() -> tuple[evaluation.EvalSet, Encoder, dict[str, list[str]]]:
        async with evaluation.scratch_set(settings, set_dir, skills, progress) as scratch:
            ranked = await scratch.rank(progress=progress)
        ids = {v: [i["candidate_external_id"] for i in items] for v, items in ranked.items()}
        return scratch.data, scratch.encoder, ids

    data, encoder, ponte = asyncio.run(run())
    rankings = {"ponte": ponte, **evaluation.baseline_rankings(data, encoder, skills)}
    metrics = evaluation.report(rankings, data)
    label = "with required skills" if skills else "title + description only"
    typer.echo(f"{set_dir.name} ({label}); tune = even-numbered vacancies, test = odd")
    typer.echo("| split | method | queries | nDCG@10 | MRR | recall@10 |")
    typer.echo("|---|---|---:|---:|---:|---:|")
    for split, methods in metrics.items():
        for method, m in methods.items():
            typer.echo(
                f"| {split} | {method} | {m['queries']} | {m['ndcg@10']:.4f} | "
                f"{m['mrr']:.4f} | {m['recall@10']:.4f} |"
            )
    if json_out:
        json_out.write_text(json.dumps(metrics, indent=1))


def _eval_links(settings: Settings, set_dir: Path, json_out: Path | None) -> None:
    queries, qrels = link_evaluation.read_link_set(set_dir)
    baselines_file = set_dir.parent / "baselines.json"
    baselines = (
        json.loads(baselines_file.read_text()).get(set_dir.name, {})
        if baselines_file.is_file()
        else {}
    )
    encoder = Encoder.from_settings(settings)

    async def run(session: AsyncSession) -> dict[str, Any]:
        return await link_evaluation.evaluate_links(session, encoder, queries, qrels)

    found = cli_support.with_session(resolve_database(settings), settings, run)
    typer.echo(f"{set_dir.name}: phrases linked to the imported taxonomy's skills")
    typer.echo("| method | queries | acc@1 | MRR@10 | recall@5 |\n|---|---:|---:|---:|---:|")
    for method, m in {"ponte": found["ponte"], **baselines}.items():
        typer.echo(
            f"| {method} | {m['queries']} | {m['acc@1']:.4f} | {m['mrr@10']:.4f} | "
            f"{m['recall@5']:.4f} |"
        )
    typer.echo("\n| first link's score | phrases | first link right |\n|---|---:|---:|")
    for band, entry in found["first_link_right"].items():
        typer.echo(f"| ≥ {band} | {entry['phrases']} | {entry['right']:.2f} |")
    if json_out:
        json_out.write_text(json.dumps({"ponte": found, "baselines": baselines}, indent=1))
