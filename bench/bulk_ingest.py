"""Benchmark: candidates per second through ``POST /v1/candidates:bulk`` with real embedding.

    .venv/bin/python bench/bulk_ingest.py [--candidates 2000] [--batch 100 500]

Starts `ponte serve --migrate` (another process) on a scratch embedded PostgreSQL, then posts
realistic profiles (bench/load_scale.py's generator: ESCO-derived skills, summaries in Italian
and Dutch, languages, places) in bulk requests of ``--batch`` items, one request at a time, each
profile new. Reports candidates per second per batch size, and what bounds it: the same
profiles' texts embedded in this process alone (the encoder's own rate), so the share of the
ingest time that is embedding is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from common import scratch_server
from load_scale import make_candidates, read_jsonl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.ml.encoder import Encoder  # noqa: E402
from app.ml.text import candidate_text, occupation_text  # noqa: E402


def api_body(row: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in row.items() if k not in ("tenant", "base")}
    if body["available_from"] is not None:
        body["available_from"] = body["available_from"].isoformat()
    return body


async def post_all(base: str, key: str, rows: list[dict[str, Any]], batch: int) -> float:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as client:
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            items = [api_body(r) for r in rows[start : start + batch]]
            r = await client.post("/v1/candidates:bulk", json={"items": items})
            if r.status_code != 200:
                raise RuntimeError(f"bulk -> {r.status_code}: {r.text[:300]}")
            failed = [i for i in r.json()["items"] if i["status"] == "error"]
            if failed:
                raise RuntimeError(f"bulk item failed: {failed[0]}")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000, help="per batch size")
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--set", default=str(ROOT.parent / "shared" / "eval" / "esco_dev"))
    args = parser.parse_args()

    esco = read_jsonl(Path(args.set) / "candidates.jsonl")
    titles = {v["external_id"]: v["title"] for v in read_jsonl(Path(args.set) / "vacancies.jsonl")}
    total = args.candidates * len(args.batch)
    rows = make_candidates(total, esco, titles, seed=21)
    for i, row in enumerate(rows):
        row["external_id"] = f"ingest-{i:06d}"

    results = []
    with scratch_server(args.port, "ponte-ingest-") as (base, key, proc, _):
        server = psutil.Process(proc.pid)
        for n, batch in enumerate(args.batch):
            part = rows[n * args.candidates : (n + 1) * args.candidates]
            cpu_before = server.cpu_times()
            wall = asyncio.run(post_all(base, key, part, batch))
            cpu_after = server.cpu_times()
            cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
            results.append((batch, len(part), wall, cpu))
        rss = server.memory_info().rss / 2**20

    # The encoder alone, on the same texts (profiles, desired occupations), in this process.
    encoder = Encoder.from_settings(Settings())
    texts = [candidate_text(r["summary"], r["skills"], r["desired_occupations"]) for r in rows]
    texts += [o for r in rows if (o := occupation_text(r["desired_occupations"]))]
    encoder.encode(texts[:64])
    started = time.perf_counter()
    encoder.encode(texts[: args.candidates])
    encode_rate = args.candidates / (time.perf_counter() - started)

    print("| batch size | candidates | seconds | candidates/s | server CPU s per candidate |")
    print("|---:|---:|---:|---:|---:|")
    for batch, count, wall, cpu in results:
        print(
            f"| {batch} | {count} | {wall:.1f} | {count / wall:.1f} | {cpu / count * 1000:.1f} ms |"
        )
    print(
        f"\nencoder alone on the same profile texts: {encode_rate:.1f} texts/s "
        f"(batch {encoder.batch_size}); server resident memory after: {rss:.0f} MiB"
    )
    print(json.dumps({"encode_rate": encode_rate}))


if __name__ == "__main__":
    main()
