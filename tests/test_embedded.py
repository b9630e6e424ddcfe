"""The embedded PostgreSQL is shared by the processes that use one data folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from app.db.embedded import get_embedded_server

HOLDER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from app.db.embedded import get_embedded_server
    server = get_embedded_server(Path(sys.argv[1]))
    print(server.get_pid(), flush=True)
    if sys.argv[2] == "die":
        os._exit(0)  # no atexit: like SIGKILL or the OOM killer
    sys.stdin.readline()
    """
)


def _holder(data_dir, mode: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", HOLDER, str(data_dir), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_second_process_joins_the_running_server(tmp_path):
    holder = _holder(tmp_path, "hold")
    try:
        postmaster = int(holder.stdout.readline())
        server = get_embedded_server(tmp_path)
        assert server.get_pid() == postmaster
        assert "1" in server.psql("SELECT 1;")
    finally:
        holder.communicate("\n", timeout=60)
    # The holder left; this process still holds the server, which keeps running.
    assert "1" in server.psql("SELECT 1;")


def test_dead_processes_do_not_keep_the_server_forever(tmp_path):
    dead = _holder(tmp_path, "die")
    dead_pid = dead.pid
    dead.communicate(timeout=60)
    handles = tmp_path / "pg" / ".handle_pids.json"
    assert json.loads(handles.read_text()) == [dead_pid]

    get_embedded_server(tmp_path)
    import os

    assert json.loads(handles.read_text()) == [os.getpid()]
