"""What the ``ponte`` commands share: settings with logging configured, failing with a message."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer import _click  # the click Typer bundles: what its groups are typed with
from typer.core import TyperGroup

from app.config import Settings, get_settings
from app.db.engine import DatabaseUrls, create_engine, session_factory
from app.db.vector_dimension import DimensionMismatch, check_dimension
from app.errors import AppError
from app.logging import configure_logging
from app.ml.encoder import Encoder
from app.services import deployment_keys
from app.services.health import schema_problem

T = TypeVar("T")


def settings() -> Settings:
    """The process's settings; logging and the deployment's keys (read on first use)
    follow them."""
    found = get_settings()
    configure_logging(found.log_level, found.log_json)
    deployment_keys.configure(found)
    return found


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


class Commands(TyperGroup):
    """The ``ponte`` command group: any command run on a database not migrated (or behind the
    code) fails in one line saying to run ``ponte migrate``, not with a traceback."""

    def invoke(self, ctx: _click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DBAPIError as exc:
            problem = schema_problem(exc)
            if problem is None:
                raise
            said = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise fail(f"database: {problem} ({said})") from exc


def with_session(
    urls: DatabaseUrls, settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """Runs ``work`` in one committed transaction on the owner connection."""

    async def run() -> T:
        engine = create_engine(urls.owner, settings, pool_size=1)
        try:
            sessions = session_factory(engine)
            await check_keys(sessions)
            async with sessions() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except AppError as exc:
        raise fail(exc.detail) from exc
    except deployment_keys.DeploymentKeyError as exc:
        raise fail(str(exc)) from exc


async def check_keys(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The deployment's keys, checked against the database's fingerprints (a command that
    writes the audit trail or the label cache under another key fails first, saying so)."""
    async with sessions() as session, session.begin():
        await deployment_keys.check_against(session)


def check_keys_at(urls: DatabaseUrls, settings: Settings) -> None:
    """:func:`check_keys` for a command about to open its own engine: fails with the
    message when a key differs (a database that cannot be read: the command says how)."""

    async def run() -> None:
        engine = create_engine(urls.owner, settings, pool_size=1)
        try:
            await check_keys(session_factory(engine))
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except deployment_keys.DeploymentKeyError as exc:
        raise fail(str(exc)) from exc
    except Exception:  # noqa: S110  the command's own work reports it
        pass


def encoder_for(urls: DatabaseUrls, settings: Settings) -> Encoder:
    """The configured model, once its vectors are known to fit the stored ones and the
    deployment's keys to be the database's (a command that embeds or ranks with another size,
    or writes under another key, would fail half-way or worse; this fails first, saying what
    to do)."""
    encoder = Encoder.from_settings(settings)

    async def run() -> None:
        engine = create_engine(urls.owner, settings, pool_size=1)
        try:
            async with engine.connect() as conn:
                await check_dimension(conn, encoder.dimension, encoder.model_id)
            await check_keys(session_factory(engine))
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except (DimensionMismatch, deployment_keys.DeploymentKeyError) as exc:
        raise fail(str(exc)) from exc
    except Exception:  # noqa: S110  a database that cannot be read: the command says how
        pass
    return encoder
