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
    set_dir: Annotated[
        Path,
        typer.Option(
            "--set", help="Folder in the format of shared/eval, or a folder of such sets (all run)"
        ),
    ],
    skills: Annotated[
        bool, typer.Option("--skills/--no-skills", help="Give vacancies their required skills")
    ] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write metrics here")] = None,
) -> None:
    """Rank an evaluation set through the API's code path and print metrics beside baselines
    (a linking set such as skill_links_dev: link its phrases to the imported taxonomy). With a
    taxonomy imported, the set is ranked twice: matching through it on, then off."""
    settings = cli_support.settings()
    sets = [set_dir] if _is_set(set_dir) else sorted(p for p in set_dir.iterdir() if _is_set(p))
    if not sets:
        raise cli_support.fail(f"no evaluation set in {set_dir}")
    # one model for every set, checked first against the stored vectors' size
    encoder = cli_support.encoder_for(resolve_database(settings), settings)
    found: dict[str, Any] = {}
    for one in sets:
        if link_evaluation.is_link_set(one):
            found[one.name] = _eval_links(settings, one, encoder)
        else:
            found[one.name] = _eval_ranking(settings, one, skills, encoder)
        typer.echo("")
    if json_out:
        json_out.write_text(json.dumps(found if len(sets) > 1 else found[sets[0].name], indent=1))


def _is_set(folder: Path) -> bool:
    return (folder / "vacancies.jsonl").is_file() or link_evaluation.is_link_set(folder)


def _eval_ranking(
    settings: Settings, set_dir: Path, skills: bool, encoder: Encoder
) -> dict[str, Any]:
    def progress(line: str) -> None:
        typer.echo(line, err=True)

    async def run() -> tuple[evaluation.EvalSet, Encoder, dict[str, dict[str, list[str]]]]:
        async with evaluation.scratch_set(
            settings, set_dir, skills, progress, encoder=encoder
        ) as scratch:
            runs = {"ponte": await scratch.rank(progress=progress)}
            if await scratch.taxonomy_import() is not None:
                await scratch.switch_taxonomy(False)
                runs["ponte, taxonomy off"] = await scratch.rank(progress=progress)
        ids = {
            name: {v: [i["candidate_external_id"] for i in items] for v, items in ranked.items()}
            for name, ranked in runs.items()
        }
        return scratch.data, scratch.encoder, ids

    data, encoder, ponte = asyncio.run(run())
    rankings = {**ponte, **evaluation.baseline_rankings(data, encoder, skills)}
    metrics = evaluation.report(rankings, data)
    label = "with required skills" if skills else "title + description only"
    on = "taxonomy on" if len(ponte) > 1 else "no taxonomy imported"
    typer.echo(f"{set_dir.name} ({label}; ponte: {on}); tune = even-numbered vacancies, test = odd")
    typer.echo("| split | method | queries | nDCG@10 | MRR | recall@10 |")
    typer.echo("|---|---|---:|---:|---:|---:|")
    for split, methods in metrics.items():
        for method, m in methods.items():
            typer.echo(
                f"| {split} | {method} | {m['queries']} | {m['ndcg@10']:.4f} | "
                f"{m['mrr']:.4f} | {m['recall@10']:.4f} |"
            )
    return metrics


def _eval_links(settings: Settings, set_dir: Path, encoder: Encoder) -> dict[str, Any]:
    queries, qrels = link_evaluation.read_link_set(set_dir)
    baselines_file = set_dir.parent / "baselines.json"
    baselines = (
        json.loads(baselines_file.read_text()).get(set_dir.name, {})
        if baselines_file.is_file()
        else {}
    )

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
    return {**found, "baselines": baselines}
