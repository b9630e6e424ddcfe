"""Where the database is, and engines and sessions for it.

Two connections exist: the *owner* (migrations, CLI administration) and the *service* role, which
can only read and write rows. The API never connects as the owner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings


@dataclass(frozen=True)
class DatabaseUrls:
    """The owner's and the service's connection URLs for one database."""

    owner: URL
    service: URL
    embedded: bool


def _asyncpg(url: str | URL) -> URL:
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError(f"Ponte needs PostgreSQL (postgresql+asyncpg://), got {parsed.drivername}")
    return parsed


def resolve_database(settings: Settings) -> DatabaseUrls:
    """Returns the URLs to use; starts the embedded server when no DATABASE_URL is set."""
    if settings.database_url:
        owner = _asyncpg(settings.database_url)
        embedded = False
    elif settings.app_database_url:
        # A service container given only its own credentials: nothing here may run DDL.
        service = _asyncpg(settings.app_database_url)
        return DatabaseUrls(owner=service, service=service, embedded=False)
    else:
        from app.db.embedded import embedded_owner_url

        owner = embedded_owner_url(settings.data_dir, settings.db_name)
        embedded = True
    if settings.app_database_url:
        service = _asyncpg(settings.app_database_url)
    else:
        password = settings.db_app_password.get_secret_value() if settings.db_app_password else None
        service = owner.set(username=settings.db_app_role, password=password)
    return DatabaseUrls(owner=owner, service=service, embedded=embedded)


# A pooled connection unused for longer than this is pinged before it is handed out.
PING_IDLE_AFTER_S = 10.0


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Refuses a pooled connection that is dead; the pool then opens a fresh one.

    A connection the server closed (a restart, an administrator's terminate) is known closed
    to the driver at no cost: the event loop has read the end of its stream. One idle for a
    while may have been cut silently (a firewall, a failover), so it gets a round trip. A
    connection in steady use gets neither: SQLAlchemy's ``pool_pre_ping`` would spend three
    round trips (begin, ping, rollback) on every request."""
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the server closed this connection")
    idle_since = record.info.get("idle_since")
    if idle_since is not None and time.monotonic() - idle_since > PING_IDLE_AFTER_S:
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise exc.DisconnectionError("the connection did not answer a ping") from error


def create_engine(url: URL, settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    """Returns an async engine whose pool hands out live connections, so it survives a restart
    of the database (see ``_checked_out``)."""
    engine = create_async_engine(
        url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_connect_timeout_s,
        # Statement parameters are people's data: keep them out of exception texts and logs.
        hide_parameters=True,
        # JSONB columns come back through orjson: several times faster than the standard
        # library's parser, which loading a tenant's candidates (skills, languages) spent
        # about 0.5 s on per 20,000 rows.
        json_deserializer=orjson.loads,
        connect_args={
            "timeout": settings.db_connect_timeout_s,
            "command_timeout": 60,
            "server_settings": {"application_name": "ponte"},
        },
    )
    event.listen(engine.sync_engine.pool, "checkin", _checked_in)
    event.listen(engine.sync_engine.pool, "checkout", _checked_out)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Returns the session factory; objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
