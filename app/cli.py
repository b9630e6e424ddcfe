"""The ``ponte`` command: serve, demo, migrate, downgrade, revision, tenants, keys, train,
feedback import and rebuild-spans; rerank and worker live in app/cli_jobs.py, eval in
app/cli_eval.py, reembed in app/cli_vectors.py, taxonomy import, link and status in
app/cli_taxonomy.py, audit verify and purge in app/cli_privacy.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import sys
from importlib import resources as package_files
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import MofNCompleteColumn, Progress
from sqlalchemy.ext.asyncio import AsyncSession

from app import cli_eval, cli_jobs, cli_support, cli_vectors
from app.cli_privacy import audit_cli, purge
from app.cli_taxonomy import import_demo_subset, taxonomy_cli
from app.config import Settings
from app.db import migrate as migrations
from app.db.engine import DatabaseUrls, create_engine, resolve_database, session_factory
from app.errors import AppError
from app.ml.encoder import Encoder, model_id_of
from app.schemas import CandidateIn, CandidateSensitiveIn, EmployerIn, Principal, Role, VacancyIn
from app.services import feedback_import as feedback_import_service
from app.services import keys as key_service
from app.services import (
    model_registry,
    placement_spans,
    training,
)
from app.services.concurrency import Preconditions
from app.services.resources import (
    CandidateService,
    EmployerService,
    SensitiveService,
    VacancyService,
)

cli = typer.Typer(
    cls=cli_support.Commands,
    help="Ponte: employer–candidate matching for job-integration programmes.",
)
tenants_cli = typer.Typer(help="Manage tenants (one per programme or partner organisation).")
keys_cli = typer.Typer(help="Manage API keys.")
feedback_cli = typer.Typer(help="Recruiter feedback and placement outcomes.")
cli.add_typer(tenants_cli, name="tenants")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(feedback_cli, name="feedback")
cli.add_typer(taxonomy_cli, name="taxonomy")
cli.add_typer(audit_cli, name="audit")
cli.command("rerank")(cli_jobs.rerank)
cli.command("worker")(cli_jobs.worker)
cli.command("eval")(cli_eval.eval_command)
cli.command("reembed")(cli_vectors.reembed)
cli.command("purge")(purge)

T = TypeVar("T")
_settings = cli_support.settings
_fail = cli_support.fail


_with_session = cli_support.with_session


@cli.command()
def migrate(revision: Annotated[str, typer.Option(help="Target revision")] = "head") -> None:
    """Upgrade the database schema (and the service role's grants) to REVISION."""
    settings = _settings()
    urls = resolve_database(settings)
    migrations.upgrade(urls.owner, settings, revision)
    typer.echo(f"database at {revision}", err=True)


@cli.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'")]) -> None:
    """Downgrade the database schema to REVISION."""
    settings = _settings()
    migrations.downgrade(resolve_database(settings).owner, settings, revision)
    typer.echo(f"database at {revision}", err=True)


@cli.command()
def revision(
    message: Annotated[str, typer.Argument(help="What the migration does")],
    autogenerate: Annotated[
        bool, typer.Option(help="Diff the tables in app/db/tables.py against the database")
    ] = True,
) -> None:
    """Write a new migration script (read and edit it before committing)."""
    from alembic import command

    settings = _settings()
    config = migrations.alembic_config(resolve_database(settings).owner, settings)
    command.revision(config, message=message, autogenerate=autogenerate)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Run migrations before serving")
    ] = False,
) -> None:
    """Serve the HTTP API (uvicorn, one process)."""
    settings = _settings()
    urls = resolve_database(settings)
    if migrate_first:
        migrations.upgrade(urls.owner, settings)
    _serve(settings, urls, host, port)


def _serve(
    settings: Settings,
    urls: DatabaseUrls,
    host: str | None,
    port: int | None,
    encoder: Encoder | None = None,
) -> None:
    import uvicorn

    from app.main import create_app

    app = create_app(settings, database=urls, encoder=encoder)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default action the process
    # would die without running atexit, leaving the embedded PostgreSQL running. Exit instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


@tenants_cli.command("create")
def tenants_create(name: str) -> None:
    """Create a tenant."""
    settings = _settings()
    tenant = _with_session(
        resolve_database(settings), settings, lambda s: key_service.create_tenant(s, name)
    )
    typer.echo(tenant.name)


@tenants_cli.command("list")
def tenants_list() -> None:
    """List tenants."""
    settings = _settings()
    for tenant in _with_session(resolve_database(settings), settings, key_service.list_tenants):
        typer.echo(f"{tenant.name}\t{tenant.created_at.isoformat()}")


@keys_cli.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    role: Annotated[Role, typer.Option(help="admin, integration or scout")],
    expires: Annotated[
        dt.datetime | None, typer.Option(help="Expiry date (UTC), e.g. 2027-06-30")
    ] = None,
    label: Annotated[str | None, typer.Option(help="A note on who holds the key")] = None,
) -> None:
    """Create an API key and print it (only the key, on stdout; it is not stored)."""
    settings = _settings()

    async def work(session: AsyncSession) -> str:
        found = await key_service.get_tenant(session, tenant)
        _, secret = await key_service.create_key(
            session, found.id, role, label=label, expires_at=expires
        )
        return secret

    typer.echo(_with_session(resolve_database(settings), settings, work))


@keys_cli.command("list")
def keys_list(tenant: Annotated[str, typer.Option(help="Tenant name")]) -> None:
    """List a tenant's keys: id, role, created, expires, last used, revoked, label."""
    settings = _settings()

    async def work(session: AsyncSession) -> list[Any]:
        found = await key_service.get_tenant(session, tenant)
        return list(await key_service.list_keys(session, found.id))

    def fmt(value: dt.datetime | None) -> str:
        return value.isoformat(timespec="seconds") if value else "-"

    typer.echo("id\trole\tcreated\texpires\tlast_used\trevoked\tlabel")
    for key in _with_session(resolve_database(settings), settings, work):
        typer.echo(
            "\t".join(
                [
                    key.id,
                    key.role,
                    fmt(key.created_at),
                    fmt(key.expires_at),
                    fmt(key.last_used_at),
                    fmt(key.revoked_at),
                    key.label or "-",
                ]
            )
        )


@keys_cli.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key (of any tenant) by its id."""
    settings = _settings()
    _with_session(
        resolve_database(settings), settings, lambda s: key_service.revoke_key(s, key_id, None)
    )
    typer.echo(f"revoked {key_id}", err=True)


@feedback_cli.command("import")
def feedback_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A .jsonl file")],
    tenant: Annotated[str, typer.Option(help="Tenant name")],
) -> None:
    """Load a programme's feedback history: one event per line, as POST /v1/feedback takes it.

    Idempotent (each event's idempotency_key decides): run it again to resume. Prints a summary
    of created, duplicate and refused lines; refused ones are listed with their line number.
    """
    settings = _settings()
    urls = resolve_database(settings)
    cli_support.check_keys_at(urls, settings)
    total = sum(1 for line in path.open(encoding="utf-8") if line.strip())

    async def run() -> feedback_import_service.ImportSummary:
        engine = create_engine(urls.owner, settings, pool_size=1)
        try:
            sessions = session_factory(engine)
            async with sessions() as session:
                found = await key_service.get_tenant(session, tenant)
            principal = Principal.operator(found.id, found.name, "cli")
            with Progress(*Progress.get_default_columns(), MofNCompleteColumn()) as bar:
                task = bar.add_task("feedback", total=total)
                with path.open(encoding="utf-8") as lines:
                    return await feedback_import_service.import_lines(
                        sessions, principal, lines, lambda n: bar.advance(task, n)
                    )
        finally:
            await engine.dispose()

    try:
        summary = asyncio.run(run())
    except AppError as exc:
        raise _fail(exc.detail) from exc
    for number, why in summary.problems:
        typer.echo(f"line {number}: {why}", err=True)
    typer.echo(
        f"created {summary.created}, duplicate {summary.duplicate}, refused {summary.refused}"
    )
    if summary.refused:
        raise typer.Exit(code=1)


@feedback_cli.command("rebuild-spans")
def feedback_rebuild_spans(tenant: Annotated[str, typer.Option(help="Tenant name")]) -> None:
    """Refold the tenant's internships and contracts from its feedback log.

    The service keeps them in step with every event; run this after a change to how the log is
    folded (app/services/stints.py). Writers of feedback wait until it is done."""
    settings = _settings()

    async def work(session: AsyncSession) -> int:
        found = await key_service.get_tenant(session, tenant)
        return await placement_spans.rebuild(session, found.id)

    spans = _with_session(resolve_database(settings), settings, work)
    typer.echo(f"{tenant}: {spans} internships and contracts folded from the log")


@cli.command()
def train(
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    since: Annotated[
        dt.datetime | None, typer.Option(help="Only shortlists made on or after (UTC)")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Compare, write and activate nothing")] = False,
    min_examples: Annotated[int, typer.Option(min=1)] = training.DEFAULT_MIN_EXAMPLES,
    min_positives: Annotated[int, typer.Option(min=1)] = training.DEFAULT_MIN_POSITIVES,
    family: Annotated[str, typer.Option(help="pairwise or pointwise")] = "pairwise",
    bias_correction: Annotated[
        bool, typer.Option(help="Weight examples by inverse examination propensity")
    ] = True,
    eta: Annotated[float, typer.Option(help="Examination p(rank) = rank^-eta", min=0)] = 1.0,
    max_tilt: Annotated[
        float,
        typer.Option(
            help="How far learnt preferences may move a score, in the model's log-odds "
            "(0: unbounded)",
            min=0,
        ),
    ] = training.DEFAULT_MAX_TILT,
) -> None:
    """Learn the tenant's ranker from its feedback; activate it only if it beats the active one
    on the most recent 20% of shortlists. Prints one JSON line; exits 0 either way."""
    settings = _settings()
    if family not in ("pairwise", "pointwise"):
        raise _fail("--family must be pairwise or pointwise")
    model_registry.configure(settings.models_dir)
    model_path = settings.resolved_model_path()
    if not Path(model_path).is_dir():
        # training reads only the shortlists made with the service's model: name it rightly
        raise _fail(f"model folder not found: {model_path} (PONTE_MODEL_PATH)")
    when = since.replace(tzinfo=since.tzinfo or dt.UTC) if since else None
    options = training.TrainingOptions(
        since=when,
        dry_run=dry_run,
        min_examples=min_examples,
        min_positives=min_positives,
        family=family,  # type: ignore[arg-type]
        correct_bias=bias_correction,
        eta=eta,
        max_tilt=max_tilt or None,
        actor="cli",
        model_id=model_id_of(model_path),
    )

    async def work(session: AsyncSession) -> dict[str, Any]:
        found = await key_service.get_tenant(session, tenant)
        return await training.train(session, found.id, options)

    summary = _with_session(resolve_database(settings), settings, work)
    typer.echo(json.dumps(summary, default=str, separators=(",", ":")))


def demo_data() -> dict[str, Any]:
    """Returns the bundled demo data set."""
    text = package_files.files("app.demo").joinpath("data.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


async def load_demo(
    session: AsyncSession, encoder: Encoder, tenant_name: str = "default"
) -> tuple[str, dict[str, int]]:
    """Creates ``tenant_name`` if needed, upserts the demo data, returns a new admin key."""
    try:
        tenant = await key_service.get_tenant(session, tenant_name)
    except AppError:
        tenant = await key_service.create_tenant(session, tenant_name)
    principal = Principal.operator(tenant.id, tenant.name, "demo")
    data = demo_data()
    always = Preconditions()
    for item in data["employers"]:
        ext = item.pop("external_id")
        await EmployerService(session, principal).put(ext, EmployerIn(**item), always)
    for item in data["vacancies"]:
        ext = item.pop("external_id")
        await VacancyService(session, principal, encoder).put(ext, VacancyIn(**item), always)
    for item in data["candidates"]:
        ext = item.pop("external_id")
        sensitive = item.pop("sensitive", None)
        await CandidateService(session, principal, encoder).put(ext, CandidateIn(**item), always)
        if sensitive:
            await SensitiveService(session, principal).put(
                ext, CandidateSensitiveIn(**sensitive), always
            )
    # last: the key's audit entry holds the tenant's chain lock until this commits
    _, secret = await key_service.create_key(
        session, tenant.id, Role.admin, label="demo", actor=principal
    )
    counts = {kind: len(data[kind]) for kind in ("employers", "vacancies", "candidates")}
    return secret, counts


@cli.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API after loading")
    ] = True,
) -> None:
    """Migrate, load the demo data into tenant 'default', print an admin key, and serve."""
    settings = _settings()
    urls = resolve_database(settings)
    migrations.upgrade(urls.owner, settings)
    cli_support.check_keys_at(urls, settings)
    encoder = Encoder.from_settings(settings)
    cli_vectors.fit_model(urls, settings, encoder)  # a model of another size on a new database
    # the taxonomy first, so the demo's candidates and vacancies are linked as they are written
    if import_demo_subset(urls, settings, encoder):
        typer.echo("ESCO taxonomy: the demo's subset imported (ponte taxonomy status).", err=True)
    secret, counts = _with_session(urls, settings, lambda s: load_demo(s, encoder))
    where = f"http://{host or settings.host}:{port or settings.port}"
    typer.echo(
        f"Demo data in tenant 'default': {counts['employers']} employers, "
        f"{counts['vacancies']} vacancies, {counts['candidates']} candidates.",
        err=True,
    )
    typer.echo(f"Admin API key (shown once): {secret}")
    typer.echo(f"API: {where}  (OpenAPI docs: {where}/docs)", err=True)
    sys.stderr.flush()
    if serve_api:
        _serve(settings, urls, host, port, encoder)


def main() -> None:
    """Console-script entry point."""
    cli()
