"""What the benchmarks share: percentiles, and waiting for a `ponte serve` to be ready."""

from __future__ import annotations

import statistics
import subprocess
import time

import httpx


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
