"""Test fixtures: a real PostgreSQL (embedded unless DATABASE_URL is set) migrated with Alembic,
the real model loaded once, one app per session, and every table emptied after each test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner

from app.config import Settings, get_settings
from app.db import migrate
from app.db.engine import DatabaseUrls
from app.logging import configure_logging
from app.main import create_app
from app.ml.encoder import Encoder
from app.schemas import Role
from app.services import deployment_keys
from app.services import keys as key_service
from app.services import label_key as label_keys
from app.services.taxonomy_linking import forget_links

# Logs go through the stdlib, as in production, so tests can read them with caplog.
configure_logging("INFO", json=True)

TABLES_SQL = (
    "SELECT string_agg(format('%I', tablename), ', ') FROM pg_tables "
    "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Returns settings that ignore the developer's environment."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "models_dir": data_dir / "models",
        "database_url": None,
        "bootstrap_admin_key": None,
        "log_json": False,
        # Tests load pools when they rank; a background warm-up would race their data.
        "warm_pools": False,
        **overrides,
    }
    return Settings.model_validate(values)


async def create_database(server_owner: URL, name: str) -> URL:
    """Creates database ``name`` on the server of ``server_owner``; returns its owner URL."""
    conn_engine = create_async_engine(server_owner, isolation_level="AUTOCOMMIT")
    async with conn_engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await conn_engine.dispose()
    return server_owner.set(database=name)


async def drop_database(server_owner: URL, name: str) -> None:
    """Drops database ``name``."""
    conn_engine = create_async_engine(server_owner, isolation_level="AUTOCOMMIT")
    async with conn_engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await conn_engine.dispose()


@pytest.fixture(scope="session")
def pg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ponte-data")


@pytest.fixture(scope="session")
def settings(pg_root: Path) -> Settings:
    return make_settings(pg_root)


@pytest.fixture(autouse=True)
def label_key(settings: Settings) -> bytes:
    """The run's keys (``<pg_root>/label.key``, ``audit.key``), set again before each test (an
    app or a command a test starts with other settings switches the process to theirs): what
    the app, the CLI and services called directly hash labels and chain the audit trail
    with; returns the label key."""
    deployment_keys.configure(settings)
    return label_keys.current_key()


@pytest.fixture(scope="session")
def server_owner(settings: Settings) -> URL:
    """The owner URL of the server the tests use (the embedded one unless DATABASE_URL is set)."""
    external = os.environ.get("DATABASE_URL")
    if external:
        url = make_url(external)
        return url.set(drivername="postgresql+asyncpg")
    from app.db.embedded import embedded_owner_url

    return embedded_owner_url(settings.data_dir, "postgres")


@pytest.fixture(scope="session")
async def database(server_owner: URL, settings: Settings) -> AsyncIterator[DatabaseUrls]:
    """A fresh database for this session, migrated to head by Alembic."""
    name = f"ponte_test_{uuid.uuid4().hex[:8]}"
    owner = await create_database(server_owner, name)
    await asyncio.to_thread(migrate.upgrade, owner, settings)
    yield DatabaseUrls(owner=owner, service=owner.set(username=settings.db_app_role), embedded=True)
    await drop_database(server_owner, name)


@pytest.fixture(scope="session")
async def owner_engine(database: DatabaseUrls) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database.owner)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def encoder(settings: Settings) -> Encoder:
    """The real model, loaded once for the whole run."""
    return Encoder.from_settings(settings)


@pytest.fixture(scope="session")
async def app(settings: Settings, encoder: Encoder, database: DatabaseUrls) -> AsyncIterator[Any]:
    application = create_app(settings, encoder=encoder, database=database)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any, clean_db: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ponte.test") as c:
        yield c


@pytest.fixture
async def clean_db(owner_engine: AsyncEngine) -> AsyncIterator[None]:
    """Empties every table after the test, so each test starts from an empty schema, and drops
    what the process remembers of the taxonomy (its current import, links, matching model)."""
    yield
    async with owner_engine.begin() as conn:
        tables = await conn.scalar(text(TABLES_SQL))
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    forget_links()


KeyMaker = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def make_key(app: Any, clean_db: None) -> KeyMaker:
    """Returns ``await make_key(tenant, role)`` → Authorization headers (tenant made if new)."""

    async def make(
        tenant: str = "alpha", role: Role | str = Role.admin, **kwargs: Any
    ) -> dict[str, str]:
        async with app.state.sessionmaker() as session, session.begin():
            try:
                found = await key_service.get_tenant(session, tenant)
            except Exception:
                found = await key_service.create_tenant(session, tenant)
            _, secret = await key_service.create_key(session, found.id, Role(role), **kwargs)
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def cli_env(monkeypatch, database, settings, clean_db):
    """Points the CLI at the test database (and the test run's folder of learned rankers)."""
    monkeypatch.setenv("DATABASE_URL", database.owner.render_as_string(hide_password=False))
    monkeypatch.setenv("PONTE_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("PONTE_DATA_DIR", str(settings.data_dir))  # the same label key
    monkeypatch.setenv("PONTE_LOG_JSON", "false")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
