"""``ponte taxonomy``: import the ESCO taxonomy, and show what is imported.

It connects as the owner: the taxonomy tables are shared by every tenant and read-only for the
service's role. Progress: a bar per file on a terminal, nothing otherwise; the import's report
is printed as one JSON line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from importlib import resources as package_files
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from app import cli_support
from app.config import Settings
from app.db.engine import DatabaseUrls, create_engine, resolve_database, session_factory
from app.errors import AppError
from app.ml.encoder import Encoder
from app.ml.esco_files import LANGUAGE_CODE
from app.repositories.taxonomy import TaxonomyRepository
from app.services import taxonomy_import, taxonomy_linking

taxonomy_cli = typer.Typer(help="The ESCO taxonomy: import it, show what is imported.")
# The subset `ponte demo` imports when no taxonomy is (app/demo/esco/README.md).
DEMO_SUBSET = Path(str(package_files.files("app.demo").joinpath("esco")))
_LANGUAGE = re.compile(rf"^{LANGUAGE_CODE}$")


def import_demo_subset(urls: DatabaseUrls, settings: Settings, encoder: Encoder) -> bool:
    """Imports the demo's ESCO subset unless a taxonomy is imported already; True if it did."""

    async def run() -> bool:
        engine = create_engine(urls.owner, settings, pool_size=1)
        try:
            sessions = session_factory(engine)
            async with sessions() as session:
                if await TaxonomyRepository(session).latest() is not None:
                    return False
            files = taxonomy_import.esco_files(DEMO_SUBSET)
            await taxonomy_import.import_esco(sessions, files, "1.2.0", encoder)
            return True
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except AppError as exc:  # an import running meanwhile (one at a time)
        raise cli_support.fail(exc.detail) from exc


@taxonomy_cli.command("import")
def import_(
    folder: Annotated[Path, typer.Argument(help="The ESCO CSV download (v1.2 layout)")],
    version: Annotated[str, typer.Option(help="The ESCO version the files are")] = "1.2.0",
    embed: Annotated[bool, typer.Option(help="Embed the labels with the model")] = True,
    languages: Annotated[
        str | None,
        typer.Option(
            help="Only these languages, comma-separated (e.g. it,en,nl): labels of any other, "
            "imported before, are removed. Default: every language in the folder."
        ),
    ] = None,
) -> None:
    """Import (or resume importing) ESCO occupations, skills, ISCO groups, their labels in every
    language present (or those of --languages) and their relations; then embed the labels once
    for the model."""
    settings = cli_support.settings()
    urls = resolve_database(settings)
    chosen = None
    if languages is not None:
        chosen = sorted({code.strip().lower() for code in languages.split(",") if code.strip()})
        if not chosen or not all(_LANGUAGE.match(code) for code in chosen):
            raise cli_support.fail(
                f"--languages takes ESCO's language codes, comma-separated (it,en,nl), not "
                f"{languages!r}"
            )
    try:
        files = taxonomy_import.esco_files(folder, chosen)
    except AppError as exc:
        raise cli_support.fail(exc.detail) from exc
    if embed:
        encoder: Encoder | None = cli_support.encoder_for(urls, settings)  # checks the keys
    else:
        encoder = None
        cli_support.check_keys_at(urls, settings)

    async def run() -> taxonomy_import.ImportReport:
        engine = create_engine(urls.owner, settings, pool_size=1)
        try:
            with Progress(disable=not sys.stderr.isatty(), transient=False) as bar:
                shown: dict[str, Any] = {}

                def advance(stage: str, rows: int, total: int | None) -> None:
                    if stage not in shown:
                        shown[stage] = bar.add_task(stage, total=total)
                    bar.advance(shown[stage], rows)

                return await taxonomy_import.import_esco(
                    session_factory(engine), files, version, encoder, advance, chosen
                )
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except AppError as exc:
        raise cli_support.fail(exc.detail) from exc
    typer.echo(json.dumps(report.__dict__, default=str))
    typer.echo(
        "candidates and vacancies are linked on write; `ponte taxonomy link` links those "
        "stored before",
        err=True,
    )


@taxonomy_cli.command("link")
def link() -> None:
    """Link every candidate and vacancy not linked from the current import yet (after an import
    or a new model; resumable). Prints how many of each as one JSON line."""
    settings = cli_support.settings()
    urls = resolve_database(settings)
    encoder = cli_support.encoder_for(urls, settings)

    async def run() -> dict[str, int]:
        engine = create_engine(urls.owner, settings, pool_size=1)
        try:
            with Progress(disable=not sys.stderr.isatty()) as bar:
                shown: dict[str, Any] = {}

                def advance(kind: str, rows: int) -> None:
                    if kind not in shown:
                        shown[kind] = bar.add_task(f"link {kind}", total=None)
                    bar.advance(shown[kind], rows)

                return await taxonomy_linking.relink(
                    session_factory(engine), encoder, progress=advance
                )
        finally:
            await engine.dispose()

    typer.echo(json.dumps(asyncio.run(run())))


@taxonomy_cli.command("status")
def status() -> None:
    """The latest finished import (version, when, files) and what the tables hold."""
    settings = cli_support.settings()
    urls = resolve_database(settings)

    async def run() -> dict[str, Any]:
        engine = create_engine(urls.owner, settings, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                repo = TaxonomyRepository(session)
                latest = await repo.latest()
                counts = await repo.counts()
        finally:
            await engine.dispose()
        if latest is None:
            return {"imported": False, **counts}
        return {
            "imported": True,
            "version": latest.version,
            "languages": latest.languages,
            "finished_at": latest.finished_at,
            "model_id": latest.model_id,
            "files": latest.files,
            **counts,
        }

    typer.echo(json.dumps(asyncio.run(run()), default=str))
