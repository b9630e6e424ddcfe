"""What the benchmarks share: percentiles, and waiting for a `ponte serve` to be ready."""

from __future__ import annotations

import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
PONTE = Path(sys.executable).with_name("ponte")


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """Returns p50, p95 and p99 of ``samples`` (seconds) in milliseconds."""
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return qs[49] * 1000, qs[94] * 1000, qs[98] * 1000


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Waits until ``base``/readyz answers 200; fails if the server exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("ponte serve exited early")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("ponte serve did not become ready")


@contextmanager
def scratch_server(
    port: int, prefix: str, keep: Path | None = None
) -> Iterator[tuple[str, str, subprocess.Popen, Path]]:
    """Runs `ponte serve --migrate` (another process) on a new embedded database with a fresh
    admin key; yields (base URL, key, process, data folder) and removes everything afterwards
    (unless ``keep`` names the folder to use and leave, e.g. to profile its data later)."""
    data_dir = keep or Path(tempfile.mkdtemp(prefix=prefix))
    key = "bench-" + secrets.token_hex(16)
    env = {
        **os.environ,
        "PONTE_DATA_DIR": str(data_dir),
        "PONTE_BOOTSTRAP_ADMIN_KEY": key,
        "PONTE_LOG_LEVEL": "WARNING",
    }
    base = f"http://127.0.0.1:{port}"
    command = [str(PONTE), "serve", "--migrate", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603
    try:
        wait_ready(base, proc)
        yield base, key, proc, data_dir
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)


async def drop_tenants(session: Any, names: list[str]) -> None:
    """Deletes a bench's own tenants, their audit trail first (a trail holds its tenant back:
    no cascade), on the owner's connection."""
    for table, column in (("audit_entries", "tenant_id"), ("tenants", "id")):
        await session.execute(
            text(
                f"DELETE FROM {table} WHERE {column} IN "  # noqa: S608 - constants
                "(SELECT id FROM tenants WHERE name = ANY(:names))"
            ),
            {"names": names},
        )
