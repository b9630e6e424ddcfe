"""Liveness, readiness (including a real database outage), request ids and logs."""

from __future__ import annotations

import asyncio
import logging
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import DBAPIError
from threadpoolctl import threadpool_info, threadpool_limits
from typer.testing import CliRunner

from app.config import Settings, get_settings
from app.db import engine as engine_module
from app.db import migrate
from app.db.embedded import (
    embedded_owner_url,
    restart_embedded_server,
    stop_embedded_server,
)
from app.db.engine import DatabaseUrls, create_engine
from app.main import create_app
from tests import payloads
from tests.cli_helpers import invoker
from tests.conftest import create_database, drop_database, make_settings


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"


async def test_readyz_follows_its_own_database_server(tmp_path_factory, encoder, caplog):
    """Its own embedded server: never migrated, readyz says so and what to run; stop it,
    readyz says 503; start it, readyz recovers."""
    data_dir = tmp_path_factory.mktemp("outage")
    settings: Settings = make_settings(data_dir, bootstrap_admin_key="ponte_boot_" + "x" * 32)
    owner = await asyncio.to_thread(embedded_owner_url, data_dir, settings.db_name)
    urls = DatabaseUrls(
        owner=owner, service=owner.set(username=settings.db_app_role), embedded=True
    )
    app = create_app(settings, encoder=encoder, database=urls)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            # Not migrated yet: the service role does not even exist. Said as such, with the
            # command to run, in /readyz and in the log of the skipped bootstrap.
            r = await c.get("/readyz")
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["checks"]["database"].startswith("not migrated")
            assert "run `ponte migrate`" in r.json()["detail"]
            skipped = [rec for rec in caplog.records if "bootstrap_skipped" in rec.getMessage()]
            assert skipped
            assert "ponte migrate" in skipped[0].getMessage()
            await asyncio.to_thread(migrate.upgrade, owner, settings, "head")
            r = await c.get("/readyz")
            assert r.status_code == 200, r.text

            await asyncio.to_thread(stop_embedded_server, data_dir)
            try:
                r = await c.get("/readyz")
                assert r.status_code == 503
                assert r.json()["checks"]["database"].startswith("unreachable")
                # A request that needs the database gets a 503 too, not a 500.
                r = await c.get("/v1/me", headers={"Authorization": "Bearer ponte_a_b"})
                assert r.status_code == 503
            finally:
                await asyncio.to_thread(restart_embedded_server, data_dir)
            r = await c.get("/readyz")
            assert r.status_code == 200, r.text


async def test_readyz_reports_migrations_behind_and_ahead(settings, encoder, database):
    app = create_app(settings, encoder=encoder, database=database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            # This code knows a newer head than the database is at: not ready.
            app.state.migration_head = {"9999_future"}
            app.state.migration_known = app.state.migration_known | {"9999_future"}
            r = await c.get("/readyz")
            assert r.status_code == 503
            assert r.json()["checks"]["migrations"] == "behind: run `ponte migrate`"
            # The database is at a revision this code does not know (a newer release
            # migrated during a rolling upgrade): still ready.
            app.state.migration_head = {"0000_old"}
            app.state.migration_known = {"0000_old"}
            r = await c.get("/readyz")
            assert r.status_code == 200
            assert r.json()["checks"]["migrations"] == "ahead"


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


async def test_a_command_on_a_database_not_migrated_says_to_migrate(
    server_owner, settings, monkeypatch
):
    name = f"ponte_unmigrated_{uuid.uuid4().hex[:8]}"
    owner = await create_database(server_owner, name)
    try:
        monkeypatch.setenv("DATABASE_URL", owner.render_as_string(hide_password=False))
        monkeypatch.setenv("PONTE_DATA_DIR", str(settings.data_dir))
        invoke = invoker(CliRunner())
        for command in (["taxonomy", "status"], ["keys", "list", "--tenant", "alpha"]):
            result = await invoke(*command)
            assert result.exit_code == 1, result.output
            assert "error: database: not migrated (a table is missing): run `ponte migrate`" in (
                result.output
            )
            assert "Traceback" not in result.output
            assert not isinstance(result.exception, DBAPIError)
    finally:
        get_settings.cache_clear()
        await drop_database(server_owner, name)


async def test_the_serving_process_uses_the_blas_threads_it_is_set_to(settings, encoder, database):
    # 3: neither OpenBLAS's default on this machine's cores nor the setting's default (1), so
    # only the start-up's own limit can make it so; restored after the test.
    with threadpool_limits(None, user_api="blas"):
        before = _blas_threads()
        app = create_app(
            settings.model_copy(update={"blas_threads": 3}), encoder=encoder, database=database
        )
        async with app.router.lifespan_context(app):
            assert _blas_threads() == {3}  # every OpenBLAS loaded, scipy's too
        assert _blas_threads() == before  # given back when the app stops
        # 0 leaves the library's threads as they are
        with threadpool_limits(2, user_api="blas"):
            app = create_app(
                settings.model_copy(update={"blas_threads": 0}), encoder=encoder, database=database
            )
            async with app.router.lifespan_context(app):
                assert _blas_threads() == {2}


async def test_readyz_without_model(settings, database):
    app = create_app(settings, encoder=None, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/readyz")  # lifespan not run: no model, no database
    assert r.status_code == 503
    assert r.json()["checks"]["model"] == "not loaded"


async def test_request_id_is_echoed_or_made(client):
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"
    assert len(r.headers["x-request-id"]) == 32


async def test_access_log_carries_route_templates_not_ids(client, make_key, caplog):
    admin = await make_key("alpha", "admin")
    with caplog.at_level(logging.INFO, logger="ponte.access"):
        await client.put(
            "/v1/candidates/fiscal-code-RSSMRA80A01F205X",
            json=payloads.candidate(summary="Maria Rossi, via Roma 1"),
            headers={**admin, "X-Request-ID": "req-42"},
        )
    text = " ".join(str(record.msg) for record in caplog.records)
    assert "/v1/candidates/{external_id}" in text
    assert "req-42" in text
    assert "RSSMRA80A01F205X" not in text
    assert "Maria Rossi" not in text


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
async def test_openapi_is_served(client, path):
    assert (await client.get(path)).status_code == 200


async def test_responses_say_how_long_the_service_spent(client):
    r = await client.get("/healthz")
    name, _, duration = r.headers["server-timing"].partition(";dur=")
    assert name == "app"
    assert 0 <= float(duration) < 10_000


async def _backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_the_server_closed_is_replaced(settings, database, owner_engine):
    """No ping per request: a pooled connection the server terminated is known closed and
    swapped for a new one before anyone uses it."""
    engine = create_engine(database.service, settings, pool_size=1)
    try:
        first = await _backend_pid(engine)
        assert await _backend_pid(engine) == first  # the pool hands out the same connection
        async with owner_engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.2)  # the event loop reads the end of the stream
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()


async def test_only_idle_connections_are_pinged(settings, database, monkeypatch):
    engine = create_engine(database.service, settings, pool_size=1)
    pings: list[object] = []
    failing: list[bool] = []
    real_ping = AsyncAdapt_asyncpg_connection.ping

    def ping(self):
        pings.append(self)
        if failing:
            failing.pop()
            raise ConnectionResetError("cut off by a firewall")
        return real_ping(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", ping)
    try:
        first = await _backend_pid(engine)
        await _backend_pid(engine)
        assert pings == []  # in steady use: no round trip before the request's own
        monkeypatch.setattr(engine_module, "PING_IDLE_AFTER_S", 0.0)
        assert await _backend_pid(engine) == first
        assert len(pings) == 1
        # A connection that does not answer the ping is dropped and a new one opened.
        failing.append(True)
        assert await _backend_pid(engine) != first
        assert len(pings) == 2
    finally:
        await engine.dispose()


def test_a_log_records_extra_fields_are_in_its_json_line():
    import json

    import structlog

    from app.logging import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO", json=True)  # a CLI test before may have chosen the console
    formatter = next(
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    )
    record = logging.getLogger("ponte.worker").makeRecord(
        "ponte.worker", logging.INFO, __file__, 1, "task done", (), None,
        extra={"job_id": "j-1", "task": 3},
    )  # fmt: skip
    try:
        line = json.loads(formatter.format(record))
    finally:
        root.handlers, root.level = saved
    assert (line["event"], line["job_id"], line["task"]) == ("task done", "j-1", 3)
