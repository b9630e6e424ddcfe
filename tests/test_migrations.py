"""Alembic owns the schema: up, down and up again; models and migrations agree; the service
role can change rows but not the schema."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import migrate
from app.db.base import Base
from app.db.engine import DatabaseUrls
from tests.conftest import create_database, drop_database


@pytest.fixture
async def scratch(server_owner, settings):
    name = f"ponte_scratch_{uuid.uuid4().hex[:8]}"
    owner = await create_database(server_owner, name)
    yield DatabaseUrls(owner=owner, service=owner.set(username=settings.db_app_role), embedded=True)
    await drop_database(server_owner, name)


async def _tables(url) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        names = {r[0] for r in rows}
    await engine.dispose()
    return names


async def test_upgrade_downgrade_upgrade_on_empty_database(scratch, settings):
    await asyncio.to_thread(migrate.upgrade, scratch.owner, settings)
    assert {"tenants", "api_keys", "employers", "vacancies", "candidates"} <= await _tables(
        scratch.owner
    )
    await asyncio.to_thread(migrate.downgrade, scratch.owner, settings, "base")
    assert await _tables(scratch.owner) == {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, scratch.owner, settings)
    assert "candidate_sensitive" in await _tables(scratch.owner)


async def test_models_match_migrations(database):
    engine = create_async_engine(database.owner)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await engine.dispose()
    assert diff == []


def _dsn(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE intruder (id int)",
        "ALTER TABLE candidates ADD COLUMN score int",
        "DROP TABLE candidates",
        "TRUNCATE candidates",
        "CREATE INDEX ix_intruder ON candidates (summary)",
        "CREATE SCHEMA intruder",
        "ALTER TABLE candidates DISABLE TRIGGER ALL",
        "ALTER TABLE candidates OWNER TO ponte_app",
        "UPDATE alembic_version SET version_num = 'x'",
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    ],
)
async def test_service_role_cannot_run_ddl(database, ddl):
    conn = await asyncpg.connect(_dsn(database.service))
    try:
        assert await conn.fetchval("SELECT current_user") == "ponte_app"
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await conn.execute(ddl)
    finally:
        await conn.close()


async def test_service_role_can_use_rows(database):
    conn = await asyncpg.connect(_dsn(database.service))
    try:
        async with conn.transaction():
            tenant = await conn.fetchval(
                "INSERT INTO tenants (name) VALUES ('ddl-probe') RETURNING id"
            )
            assert await conn.fetchval("SELECT count(*) FROM tenants WHERE id = $1", tenant) == 1
            await conn.execute("DELETE FROM tenants WHERE id = $1", tenant)
        is_owner = await conn.fetchval(
            "SELECT bool_or(pg_has_role(current_user, tableowner, 'USAGE')) FROM pg_tables "
            "WHERE schemaname = 'public'"
        )
        assert is_owner is False
    finally:
        await conn.close()


async def test_0016_empties_the_label_cache_and_lets_the_service_forget(scratch, settings):
    """Rows keyed by the plain hash cannot be re-keyed without the secret: gone both ways."""
    role = settings.db_app_role
    privilege = f"SELECT has_table_privilege('{role}', 'skill_embeddings', 'DELETE')"
    fill = (
        "INSERT INTO skill_embeddings (model_id, label_hash, embedding) SELECT 'm', "
        "sha256('forklift driving'), array_fill(0.5, ARRAY[384])::real[]::vector"
    )
    owner = await asyncpg.connect(_dsn(scratch.owner))
    try:
        await asyncio.to_thread(migrate.upgrade, scratch.owner, settings, "0015")
        await owner.execute(fill)
        assert await owner.fetchval(privilege) is False
        await asyncio.to_thread(migrate.upgrade, scratch.owner, settings, "0016")
        assert await owner.fetchval("SELECT count(*) FROM skill_embeddings") == 0
        assert await owner.fetchval(privilege) is True
        await owner.execute(fill)
        await asyncio.to_thread(migrate.downgrade, scratch.owner, settings, "0015")
        assert await owner.fetchval("SELECT count(*) FROM skill_embeddings") == 0
        assert await owner.fetchval(privilege) is False
    finally:
        await owner.close()


async def test_service_role_may_delete_cached_labels(database):
    conn = await asyncpg.connect(_dsn(database.service))
    try:
        assert await conn.execute("DELETE FROM skill_embeddings WHERE false") == "DELETE 0"
    finally:
        await conn.close()


async def test_0020_gives_a_ranker_the_model_its_training_window_used_alone(scratch, settings):
    """A ranker trained before 0020 takes the embedding model of its window's shortlists when
    they all used one; none (served as before) when they mixed."""
    owner = await asyncpg.connect(_dsn(scratch.owner))
    try:
        await asyncio.to_thread(migrate.upgrade, scratch.owner, settings, "0019")
        tenant = await owner.fetchval("INSERT INTO tenants (name) VALUES ('t') RETURNING id")
        for day, model in ((1, "m1"), (2, "m1"), (5, "m1"), (6, "m2")):
            await owner.execute(
                "INSERT INTO shortlists (id, tenant_id, ranker_version, feature_version, "
                "embedding_model, params, excluded_by_gate, considered, created_at) VALUES "
                "(gen_random_uuid(), $1, 'w', 'features-v3', $2, '{}', '{}', 0, "
                "timestamptz '2026-01-01' + make_interval(days => $3))",
                tenant,
                model,
                day,
            )
        for version, first, last in (("one", 1, 2), ("mixed", 4, 7)):
            await owner.execute(
                "INSERT INTO ranker_models (tenant_id, version, family, sha256, feature_version, "
                "features, libraries, trained_from, trained_to, examples, positives, shortlists, "
                "holdout, scoring) VALUES ($1, $2, 'pairwise', 'x', 'features-v3', '[]', '{}', "
                "timestamptz '2026-01-01' + make_interval(days => $3), "
                "timestamptz '2026-01-01' + make_interval(days => $4), 1, 1, 1, '{}', '{}')",
                tenant,
                version,
                first,
                last,
            )
        await asyncio.to_thread(migrate.upgrade, scratch.owner, settings, "0020")
        found = dict(await owner.fetch("SELECT version, embedding_model FROM ranker_models"))
        assert found == {"one": "m1", "mixed": None}
    finally:
        await owner.close()
