"""``ponte audit verify`` and ``ponte purge``: proving the audit trail unbroken, and erasing
what the programme's retention period says must go."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app import cli_support
from app.db import maintenance
from app.db.engine import create_engine, resolve_database, session_factory
from app.errors import AppError
from app.schemas import Principal
from app.services import audit, retention
from app.services import keys as key_service
from app.services.deployment_keys import DeploymentKeyError

audit_cli = typer.Typer(help="The audit trail.")


@audit_cli.command("verify")
def verify(tenant: Annotated[str, typer.Option(help="Tenant name")]) -> None:
    """Recompute the tenant's hash chain: exit 0 when every entry is there and unchanged
    (printing the last entry's hash: keep it elsewhere, to find a cut-off tail later), 1
    naming the first entry that is not."""
    settings = cli_support.settings()

    async def work(session: AsyncSession) -> audit.Verdict:
        found = await key_service.get_tenant(session, tenant)
        return await audit.verify(session, found.id)

    verdict = cli_support.with_session(resolve_database(settings), settings, work)
    if not verdict.ok:
        typer.echo(
            f"audit chain of '{tenant}' broken at entry {verdict.broken_at}: {verdict.reason} "
            f"({verdict.entries} entries before it verified)",
            err=True,
        )
        raise typer.Exit(code=1)
    head = verdict.head.hex() if verdict.head else "none"
    typer.echo(f"audit chain of '{tenant}' verified: {verdict.entries} entries, last hash {head}")


def purge(
    tenant: Annotated[
        str | None, typer.Option(help="Tenant name (default: every tenant with a period)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List who would be erased; erase nothing")
    ] = False,
    vacuum: Annotated[
        bool, typer.Option("--vacuum/--no-vacuum", help="VACUUM the erased rows' tables")
    ] = True,
) -> None:
    """Erase the candidates past their tenant's retention period (retention_days) and reclaim
    the space; safe to run again and alongside workers. Prints one JSON line per tenant; with
    --dry-run, also who would go (external id, last write), one per line."""
    settings = cli_support.settings()
    urls = resolve_database(settings)

    async def run() -> tuple[list[retention.PurgeReport], dict[str, Any] | None]:
        engine = create_engine(urls.owner, settings, pool_size=2)
        try:
            sessions = session_factory(engine)
            await cli_support.check_keys(sessions)
            if tenant is None:
                reports = await retention.purge_all(sessions, "operator", dry_run=dry_run)
            else:
                async with sessions() as session:
                    found = await key_service.get_tenant(session, tenant)
                actor = Principal.operator(found.id, found.name, "purge")
                reports = [await retention.purge_tenant(sessions, found, actor, dry_run=dry_run)]
            # whoever was erased since the last VACUUM (by a DELETE, a worker's purge) too
            vacuumed = await maintenance.vacuum(engine) if vacuum and not dry_run else None
            return reports, vacuumed
        finally:
            await engine.dispose()

    try:
        reports, vacuumed = asyncio.run(run())
    except AppError as exc:
        raise cli_support.fail(exc.detail) from exc
    except DeploymentKeyError as exc:
        raise cli_support.fail(str(exc)) from exc
    for report in reports:
        for external_id, at in report.would_erase:
            typer.echo(f"{report.tenant}\t{external_id}\t{at.isoformat()}")
        line = report.summary() | {"dry_run": dry_run}
        if vacuumed is not None:
            line["vacuum_removed"] = vacuumed
        typer.echo(json.dumps(line, separators=(",", ":")))
