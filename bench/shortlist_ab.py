"""Benchmark: two versions of the service side by side, request by request — old against new
shortlist latency with the machine's drift taken out.

    git worktree add /tmp/ponte-old <rev>        # the version to compare against
    .venv/bin/python bench/shortlist_ab.py --data-dir var/bench-tax --other /tmp/ponte-old [--n 300]

Starts two `ponte serve` processes on the same data folder (bench/load_scale.py's): this
checkout's code, and the code of ``--other`` (put first on PYTHONPATH; it must use the same
schema). Both warm up, then each request is sent to both, one after the other in an order
drawn at random per pair, for the same vacancy and tenant. Run by run, the machine's speed
moves by 10–15 % within minutes (docs/BENCHMARKS.md); a pair of requests a few milliseconds
apart sees the same machine, so the median of the pairs' differences, with a bootstrap
interval, tells a millisecond apart where separate runs cannot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
from pathlib import Path
from typing import Any

from common import percentiles, wait_ready
from shortlist_latency import PONTE, Client, shortlist

ROOT = Path(__file__).resolve().parents[1]


def start(root: Path, data_dir: str, port: int, other: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PONTE_DATA_DIR": data_dir, "PONTE_LOG_LEVEL": "WARNING"}
    if other:
        env["PYTHONPATH"] = str(root)  # its app package before this checkout's
    command = [str(PONTE), "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, cwd=root)  # noqa: S603


def interval(differences: list[float], rounds: int = 2000) -> tuple[float, float]:
    """A 95 % bootstrap interval of the median difference."""
    rng = random.Random(5)
    medians = sorted(
        statistics.median(rng.choices(differences, k=len(differences))) for _ in range(rounds)
    )
    return medians[int(0.025 * rounds)], medians[int(0.975 * rounds)]


async def run(args: argparse.Namespace, bases: dict[str, str]) -> dict[str, Any]:
    keys: dict[str, str] = json.loads((Path(args.data_dir) / "bench-keys.json").read_text())["keys"]
    vacancies = [f"vac-{j:04d}" for j in range(300)]
    rng = random.Random(17)
    times: dict[str, list[float]] = {name: [] for name in bases}
    async with Client("aiohttp", bases["this"]) as this, Client("aiohttp", bases["other"]) as other:
        clients = {"this": this, "other": other}
        for _ in range(args.warmup):
            key, vacancy = rng.choice(list(keys.values())), rng.choice(vacancies)
            for client in clients.values():
                await shortlist(client, key, vacancy, args.limit)
        for _ in range(args.n):
            key, vacancy = rng.choice(list(keys.values())), rng.choice(vacancies)
            order = list(clients)
            rng.shuffle(order)
            for name in order:
                seen, _ = await shortlist(clients[name], key, vacancy, args.limit)
                times[name].append(seen)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-tax"))
    parser.add_argument("--other", required=True, help="a checkout of the version to compare")
    parser.add_argument("--n", type=int, default=300, help="pairs of requests")
    parser.add_argument("--warmup", type=int, default=100, help="requests to each before timing")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--port", type=int, default=8770)
    args = parser.parse_args()
    other_root = Path(args.other).resolve()
    args.data_dir = str(Path(args.data_dir).resolve())  # the servers run elsewhere
    ports = {"this": args.port, "other": args.port + 1}
    bases = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        # one after the other: the first starts the data folder's embedded PostgreSQL, the
        # second finds it running
        for name, root in (("this", ROOT), ("other", other_root)):
            procs[name] = start(root, args.data_dir, ports[name], other=name == "other")
            wait_ready(bases[name], procs[name])
        times = asyncio.run(run(args, bases))
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=60)
    differences = [(t - o) * 1000 for t, o in zip(times["this"], times["other"], strict=True)]
    low, high = interval(differences)
    print(f"\n{args.n} pairs of shortlists of {args.limit}, this checkout against {other_root}\n")
    print("| version | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|")
    for name, label in (("other", f"other ({other_root.name})"), ("this", "this checkout")):
        p50, p95, p99 = percentiles(times[name])
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {p99:.1f} |")
    faster = sum(d < 0 for d in differences) / len(differences)
    print(
        f"\nmedian of the pairs' differences (this − other): {statistics.median(differences):+.2f}"
        f" ms (95 % bootstrap interval {low:+.2f} to {high:+.2f}); this one faster in"
        f" {faster:.0%} of the pairs"
    )


if __name__ == "__main__":
    main()
