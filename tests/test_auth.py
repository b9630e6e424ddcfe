"""API keys: format, hashing, expiry, revocation, bootstrap, and the CLI that manages them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import text

from app.cli import cli
from app.main import create_app
from tests.conftest import make_settings


async def test_missing_or_malformed_authorization_is_401(client):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        r = await client.get("/v1/me", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
    r = await client.get("/v1/me", headers={"Authorization": "Bearer ponte_abc_def"})
    assert r.status_code == 401


async def test_key_format_and_only_hash_stored(client, make_key, owner_engine):
    headers = await make_key("alpha", "scout")
    key = headers["Authorization"].removeprefix("Bearer ")
    prefix, key_id, secret = key.split("_")
    assert prefix == "ponte"
    assert len(key_id) == 12
    assert len(secret) >= 40
    me = (await client.get("/v1/me", headers=headers)).json()
    assert me == {
        "tenant": "alpha",
        "role": "scout",
        "key_id": key_id,
        "permissions": [
            "candidates:read",
            "employers:read",
            "feedback:read",
            "feedback:write",
            "matches:read",
            "shortlists:create",
            "shortlists:read",
            "taxonomy:read",
            "vacancies:read",
        ],
    }
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": key_id})
        ).one()
        dump = " ".join(str(v) for v in row)
    assert secret not in dump
    assert bytes(row.key_hash) == hashlib.sha256(key.encode()).digest()
    assert row.last_used_at is not None


async def test_expired_and_revoked_keys_are_refused(client, make_key):
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    expiring = await make_key("alpha", "admin", expires_at=soon)
    assert (await client.get("/v1/me", headers=expiring)).status_code == 200
    import asyncio

    await asyncio.sleep(1.2)
    r = await client.get("/v1/me", headers=expiring)
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]

    admin = await make_key("alpha", "admin")
    r = await client.post(
        "/v1/api-keys", json={"role": "scout", "label": "scout Milano"}, headers=admin
    )
    assert r.status_code == 201, r.text
    created = r.json()
    scout = {"Authorization": f"Bearer {created['key']}"}
    assert (await client.get("/v1/employers", headers=scout)).status_code == 200
    listed = (await client.get("/v1/api-keys", headers=admin)).json()
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert created["id"] in {k["id"] for k in listed}

    r = await client.delete(f"/v1/api-keys/{created['id']}", headers=admin)
    assert r.status_code == 200
    assert r.json()["revoked_at"] is not None
    r = await client.get("/v1/employers", headers=scout)
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]


async def test_key_expiry_in_the_past_is_refused(client, make_key):
    admin = await make_key("alpha", "admin")
    r = await client.post(
        "/v1/api-keys", json={"role": "scout", "expires_at": "2020-01-01T00:00:00Z"}, headers=admin
    )
    assert r.status_code == 400


async def test_bootstrap_admin_key(settings, encoder, database, owner_engine, clean_db):
    boot = "operator-chosen-secret-0123456789"
    boot_settings = make_settings(settings.data_dir, bootstrap_admin_key=boot)

    async def start_and_call(path: str = "/v1/me") -> int:
        import httpx

        app = create_app(boot_settings, encoder=encoder, database=database)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                r = await c.get(path, headers={"Authorization": f"Bearer {boot}"})
                return r.status_code

    assert await start_and_call() == 200
    async with owner_engine.begin() as conn:
        tenants = (await conn.execute(text("SELECT name FROM tenants"))).scalars().all()
        assert tenants == ["default"]
        await conn.execute(text("UPDATE api_keys SET revoked_at = now()"))
    # A second start finds tenant 'default' and leaves the revoked key revoked.
    assert await start_and_call() == 401
    async with owner_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM api_keys")) == 1


def test_cli_tenants_and_keys(cli_env):
    runner = cli_env
    r = runner.invoke(cli, ["tenants", "create", "celav-milano"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["tenants", "create", "celav-milano"])
    assert r.exit_code == 1
    r = runner.invoke(cli, ["tenants", "create", "Not A Slug"])
    assert r.exit_code == 1

    r = runner.invoke(
        cli,
        [
            "keys",
            "create",
            "--tenant",
            "celav-milano",
            "--role",
            "scout",
            "--expires",
            "2030-06-30",
        ],
    )
    assert r.exit_code == 0, r.output
    key = r.stdout.strip()
    assert key.startswith("ponte_")
    assert "\n" not in key
    key_id = key.split("_")[1]

    r = runner.invoke(cli, ["keys", "list", "--tenant", "celav-milano"])
    assert r.exit_code == 0
    line = next(line for line in r.stdout.splitlines() if line.startswith(key_id))
    assert "\tscout\t" in line
    assert "2030-06-30" in line
    assert key.split("_")[2] not in r.stdout

    r = runner.invoke(cli, ["keys", "revoke", key_id])
    assert r.exit_code == 0
    r = runner.invoke(cli, ["keys", "list", "--tenant", "celav-milano"])
    line = next(line for line in r.stdout.splitlines() if line.startswith(key_id))
    assert line.split("\t")[5] != "-"  # revoked column filled

    assert runner.invoke(cli, ["keys", "revoke", "nosuchkey"]).exit_code == 1
    assert (
        runner.invoke(cli, ["keys", "create", "--tenant", "nope", "--role", "admin"]).exit_code == 1
    )
    assert (
        runner.invoke(
            cli, ["keys", "create", "--tenant", "celav-milano", "--role", "boss"]
        ).exit_code
        == 2
    )
    r = runner.invoke(cli, ["tenants", "list"])
    assert "celav-milano" in r.stdout


def test_cli_demo_loads_idempotently(cli_env):
    runner = cli_env
    for run in range(2):
        r = runner.invoke(cli, ["demo", "--no-serve"])
        assert r.exit_code == 0, r.output
        assert "Admin API key (shown once): ponte_" in r.stdout
        # the ESCO subset comes with the demo, imported once
        assert ("ESCO taxonomy: the demo's subset imported" in r.output) == (run == 0)
    r = runner.invoke(cli, ["keys", "list", "--tenant", "default"])
    assert r.stdout.count("\tadmin\t") == 2
    status = json.loads(runner.invoke(cli, ["taxonomy", "status"]).stdout.strip().splitlines()[-1])
    assert status["imported"] is True
    assert status["concepts"]["occupation"] == 23
    # the demo's rows were linked as they were written
    nothing_left = json.loads(
        runner.invoke(cli, ["taxonomy", "link"]).stdout.strip().splitlines()[-1]
    )
    assert nothing_left == {"candidates": 0, "vacancies": 0, "left": 0}


def test_the_cli_docstring_names_every_command():
    """`ponte --help` opens with the module docstring: it must not go stale."""
    import typer.main

    import app.cli

    names = set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]
    described = app.cli.__doc__ or ""
    assert names
    assert all(name in described for name in names), names - set(
        described.replace(",", " ").split()
    )
