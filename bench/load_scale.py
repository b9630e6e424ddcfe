"""Loads a programme-sized data set straight into PostgreSQL with COPY, then builds the indexes.

    .venv/bin/python bench/load_scale.py [--candidates 100000] [--data-dir var/bench-scale]
        [--tenants scale-it scale-be] [--vacancies 300]

Two tenants — an Italian one (Milan and Florence areas) and a Flemish one (Ghent, Antwerp,
Brussels) — share the candidates half and half (``--tenants`` names fewer); each gets its
employers and open vacancies (``--vacancies``: esco_dev's 300, then variants) and an admin
API key (written to ``<data-dir>/bench-keys.json`` for bench/shortlist_latency.py).

Texts and skills are realistic: every profile is a variant of an ESCO-derived profile from
``../shared/eval/esco_dev`` (a subset of its skills, a few stray ones, a summary, sometimes a
desired occupation), with languages, CEFR levels, home town, commute radius, availability, permit
and status drawn like the programmes in shared/DOMAIN.md. Text is stored exactly as the API
stores it (``candidate_text``), so BM25 and the explanations see what production sees.

Vectors: the first ``--pool`` profiles, every vacancy, title and skill label are embedded for
real with the configured model, once, and cached under ``<data-dir>/../bench-cache``. Every other
profile takes the real vector of a pool profile built from the same ESCO profile plus Gaussian
noise (cosine ≈ 0.97 to it), so the vectors are clustered the way real ones are. All rows are
marked as embedded by the current model, so nothing is re-embedded on first use.

The secondary indexes the tables declare (HNSW, GIN) are dropped before COPY and created after,
with their definitions taken from app/db/tables.py.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from common import drop_tenants

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pgvector.asyncpg import register_vector  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db import migrate  # noqa: E402
from app.db.engine import create_engine, resolve_database, session_factory  # noqa: E402
from app.db.tables import Base  # noqa: E402
from app.ml.encoder import Encoder  # noqa: E402
from app.ml.text import (  # noqa: E402
    candidate_text,
    content_hash,
    label_hash,
    occupation_text,
    vacancy_text,
)
from app.schemas import Role  # noqa: E402
from app.services import deployment_keys  # noqa: E402
from app.services import keys as key_service  # noqa: E402

TENANTS = {
    "scale-it": {
        "country": "IT",
        "language": "it",
        "cities": [
            ("Milano", 45.4642, 9.1900, 5),
            ("Sesto San Giovanni", 45.5343, 9.2311, 1),
            ("Rho", 45.5296, 9.0407, 1),
            ("Monza", 45.5845, 9.2744, 1),
            ("Bergamo", 45.6983, 9.6773, 1),
            ("Firenze", 43.7696, 11.2558, 3),
            ("Prato", 43.8777, 11.1022, 1),
            ("Empoli", 43.7186, 10.9476, 1),
        ],
    },
    "scale-be": {
        "country": "BE",
        "language": "nl",
        "cities": [
            ("Gent", 51.0543, 3.7174, 4),
            ("Antwerpen", 51.2194, 4.4025, 3),
            ("Brussel", 50.8503, 4.3517, 2),
            ("Aalst", 50.9378, 4.0410, 1),
            ("Sint-Niklaas", 51.1650, 4.1430, 1),
            ("Kortrijk", 50.8280, 3.2649, 1),
        ],
    },
}
FIRST_LANGUAGES = ["ar", "ur", "bn", "ti", "fr", "es", "uk", "sq", "wo", "ps", "fa", "so", "en"]
LEVELS = ["A1", "A2", "B1", "B2", "C1", "native"]
SUMMARIES = {
    "it": [
        "Ha lavorato {y} anni come {occ} nel paese d'origine.",
        "Esperienza di {y} anni come {occ}; cerca un tirocinio.",
        "Disponibile su turni, {y} anni di esperienza come {occ}.",
        "",
    ],
    "nl": [
        "Werkte {y} jaar als {occ} in het land van herkomst.",
        "{y} jaar ervaring als {occ}; zoekt een stage.",
        "Beschikbaar in ploegen, {y} jaar ervaring als {occ}.",
        "",
    ],
}
COPY_DROPPED_INDEXES = (
    "ix_candidates_embedding_hnsw",
    "ix_candidates_search_tsv",
    "ix_candidate_chunks_embedding_hnsw",
)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def weighted(rng: random.Random, pairs: list[tuple[Any, float]]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def place(rng: random.Random, tenant: str) -> dict[str, Any]:
    cities = TENANTS[tenant]["cities"]
    name, lat, lon, _ = rng.choices(cities, weights=[c[3] for c in cities])[0]
    return {
        "municipality": name,
        "country": TENANTS[tenant]["country"],
        "lat": round(lat + rng.uniform(-0.06, 0.06), 4),
        "lon": round(lon + rng.uniform(-0.08, 0.08), 4),
    }


def make_candidates(
    n: int, esco: list[dict[str, Any]], titles: dict[str, str], seed: int, tenants: list[str]
) -> list[dict[str, Any]]:
    """Returns ``n`` candidate rows (dicts of API fields plus 'tenant' and 'base'), dealt to
    ``tenants`` in turn."""
    rng = random.Random(seed)
    all_skills = sorted({s for c in esco for s in c["skills"]})
    today = dt.date(2026, 12, 1)
    out = []
    for i in range(n):
        tenant = tenants[i % len(tenants)]
        lang = TENANTS[tenant]["language"]
        base_no = (i // len(tenants)) % len(esco)
        base = esco[base_no]
        keep = max(3, int(len(base["skills"]) * rng.uniform(0.6, 1.0)))
        skills: list[Any] = rng.sample(base["skills"], min(keep, len(base["skills"])))
        skills += rng.sample(all_skills, rng.randint(0, 2))
        skills = [
            {"label": s, "level": rng.randint(1, 5)} if rng.random() < 0.3 else s for s in skills
        ]
        occupation = titles.get(base["external_id"].rsplit("-", 1)[0].replace("C-", "V-"), "")
        summary = base.get("summary") or ""
        if rng.random() < 0.6 and occupation:
            template = rng.choice(SUMMARIES[lang])
            summary = (
                summary + " " + template.format(y=rng.randint(1, 12), occ=occupation)
            ).strip()
        languages = [{"code": rng.choice(FIRST_LANGUAGES), "level": "native"}]
        if rng.random() < 0.9:
            languages.append(
                {
                    "code": lang,
                    "level": weighted(rng, list(zip(LEVELS[:5], [2, 3, 3, 2, 1], strict=True))),
                }
            )
        if rng.random() < 0.4:
            languages.append(
                {"code": "en" if lang != "en" else "fr", "level": rng.choice(LEVELS[:4])}
            )
        # One entry per language, as the API requires (a native speaker keeps "native").
        languages = list({item["code"]: item for item in reversed(languages)}.values())
        out.append(
            {
                "tenant": tenant,
                "base": base_no,
                "external_id": f"cand-{i:06d}",
                "skills": skills,
                "summary": summary or None,
                "languages": languages,
                "location": place(rng, tenant),
                "max_commute_km": None
                if rng.random() < 0.15
                else rng.choice([10, 15, 20, 30, 40, 60]),
                "available_from": None
                if rng.random() < 0.3
                else (today + dt.timedelta(days=rng.randint(-60, 90))),
                "desired_occupations": [occupation] if occupation and rng.random() < 0.4 else [],
                "education_level": rng.choice([None, 1, 2, 3, 3, 4, 6]),
                "work_permit": weighted(
                    rng, [("yes", 70), ("pending", 10), ("unknown", 15), ("no", 5)]
                ),
                "status": weighted(
                    rng, [("active", 85), ("placed", 7), ("paused", 5), ("withdrawn", 3)]
                ),
            }
        )
    return out


def make_vacancies(
    esco_vacancies: list[dict[str, Any]], tenant: str, seed: int, n: int
) -> list[dict[str, Any]]:
    """Returns ``n`` open vacancies: esco_dev's, then (past its 300) variants of them, each
    without one of its skills at random (so nearly every text, and vector, is its own)."""
    rng = random.Random(seed)
    lang = TENANTS[tenant]["language"]
    today = dt.date(2026, 12, 1)
    out = []
    for j in range(n):
        v = dict(esco_vacancies[j % len(esco_vacancies)])
        if j >= len(esco_vacancies) and len(v["required_skills"]) > 1:
            skills = list(v["required_skills"])
            skills.pop(rng.randrange(len(skills)))
            v["required_skills"] = skills
        out.append(
            {
                "external_id": f"vac-{j:04d}",
                "employer": f"emp-{j % 40:03d}",
                "title": v["title"],
                "description": v.get("description") or None,
                "required_skills": [
                    {"label": s, "must_have": k < 3} for k, s in enumerate(v["required_skills"])
                ],
                "languages": [{"code": lang, "min_level": rng.choice(["A2", "B1", "B1", "B2"])}]
                if rng.random() < 0.85
                else [],
                "location": place(rng, tenant),
                "remote": rng.random() < 0.05,
                "contract": "internship",
                "duration_months": 3,
                "start_date": today + dt.timedelta(days=rng.randint(0, 60)),
                "positions": rng.randint(1, 3),
                "status": "open",
            }
        )
    return out


class Vectors:
    """Real embeddings for the pool, vacancies, titles and labels, computed once and cached."""

    def __init__(self, encoder: Encoder, cache: Path) -> None:
        self.encoder = encoder
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)

    def embed(self, texts: list[str], what: str) -> np.ndarray:
        digest = hashlib.sha256(self.encoder.model_id.encode())
        for t in texts:
            digest.update(t.encode() + b"\x1f")
        path = self.cache / f"{what}-{digest.hexdigest()[:16]}.npy"
        if path.exists():
            return np.load(path)
        start = time.perf_counter()
        vectors = self.encoder.encode(texts)
        print(f"  embedded {len(texts)} {what} in {time.perf_counter() - start:.0f} s", flush=True)
        np.save(path, vectors)
        return vectors


def noisy(rng: np.random.Generator, vector: np.ndarray, sigma: float) -> np.ndarray:
    out = vector + rng.normal(0.0, sigma, size=vector.shape).astype(np.float32)
    return (out / np.linalg.norm(out)).astype(np.float32)


async def recreate_schema(settings: Settings, tenant_names: list[str]) -> Any:
    urls = resolve_database(settings)
    await asyncio.to_thread(migrate.upgrade, urls.owner, settings)
    engine = create_engine(urls.owner, settings, pool_size=2)
    async with session_factory(engine)() as session, session.begin():
        await drop_tenants(session, tenant_names)
    return engine


async def load(args: argparse.Namespace) -> None:
    settings = Settings(data_dir=args.data_dir)
    # Every key this load uses (the label cache's hashes, the audit chain of the keys it makes)
    # is the data folder's, as the service and `ponte` started on it will read them.
    deployment_keys.load(settings)
    esco_dir = Path(args.set)
    esco_candidates = read_jsonl(esco_dir / "candidates.jsonl")
    esco_vacancies = read_jsonl(esco_dir / "vacancies.jsonl")
    titles = {v["external_id"]: v["title"] for v in esco_vacancies}

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    names = args.tenants
    rows = make_candidates(args.candidates, esco_candidates, titles, args.seed, names)
    vacancies = {
        t: make_vacancies(esco_vacancies, t, args.seed + k, args.vacancies)
        for k, t in enumerate(names)
    }
    for row in rows:
        row["text"] = candidate_text(row["summary"], row["skills"], row["desired_occupations"])
        row["occupations"] = occupation_text(row["desired_occupations"])
    timings["generate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    encoder = Encoder.from_settings(settings)
    model_id = encoder.model_id
    vectors = Vectors(encoder, args.cache_dir)
    pool = min(args.pool, len(rows))
    pool_vectors = vectors.embed([r["text"] for r in rows[:pool]], "profiles")
    occupations = sorted({r["occupations"] for r in rows if r["occupations"]})
    occupation_vectors = dict(
        zip(occupations, vectors.embed(occupations, "occupations"), strict=True)
    )
    vacancy_texts = [
        vacancy_text(v["title"], v["description"], v["required_skills"])
        for t in names
        for v in vacancies[t]
    ]
    vacancy_vectors = vectors.embed(vacancy_texts, "vacancies")
    title_vectors = vectors.embed([v["title"] for t in names for v in vacancies[t]], "titles")
    labels = sorted(
        {s["label"] if isinstance(s, dict) else s for r in rows for s in r["skills"]}
        | {s["label"] for t in names for v in vacancies[t] for s in v["required_skills"]}
    )
    label_vectors = vectors.embed(labels, "labels")
    timings["embed (real, cached)"] = time.perf_counter() - clock

    # Pool profile of the same ESCO base for each row, so the synthetic vectors cluster.
    pool_of_base: dict[int, list[int]] = {}
    for i, row in enumerate(rows[:pool]):
        pool_of_base.setdefault(row["base"], []).append(i)
    noise = np.random.default_rng(args.seed)
    sigma = args.noise

    engine = await recreate_schema(settings, names)
    tenant_ids = {}
    keys = {}
    async with session_factory(engine)() as session, session.begin():
        for name in names:
            tenant = await key_service.create_tenant(session, name)
            tenant_ids[name] = tenant.id
            _, keys[name] = await key_service.create_key(
                session, tenant.id, Role.admin, label="bench"
            )
    now = dt.datetime.now(dt.UTC)

    clock = time.perf_counter()
    key = deployment_keys.LABEL.current()  # the data folder's, as loaded above
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await register_vector(raw)
        for name in COPY_DROPPED_INDEXES:
            await raw.execute(f"DROP INDEX IF EXISTS {name}")
        await raw.copy_records_to_table(
            "skill_embeddings",
            columns=["model_id", "label_hash", "embedding"],
            records=[
                (model_id, label_hash(label, key), vec)
                for label, vec in zip(labels, label_vectors, strict=True)
            ],
        )
        at = 0
        for name in names:
            tid = tenant_ids[name]
            employers = sorted({v["employer"] for v in vacancies[name]})
            employer_ids = {e: uuid.uuid4() for e in employers}
            await raw.copy_records_to_table(
                "employers",
                columns=["id", "tenant_id", "external_id", "name", "size", "location"],
                records=[
                    (
                        employer_ids[e],
                        tid,
                        e,
                        f"Employer {e}",
                        "small",
                        json.dumps(place(random.Random(e), name)),
                    )
                    for e in employers
                ],
            )
            records = []
            for v in vacancies[name]:
                records.append(
                    (
                        uuid.uuid4(),
                        tid,
                        v["external_id"],
                        employer_ids[v["employer"]],
                        v["title"],
                        v["description"],
                        json.dumps(v["required_skills"]),
                        json.dumps(v["languages"]),
                        json.dumps(v["location"]),
                        v["remote"],
                        v["contract"],
                        v["duration_months"],
                        v["start_date"],
                        v["positions"],
                        v["status"],
                        vacancy_vectors[at],
                        model_id,
                        content_hash(model_id, vacancy_texts[at], v["title"]),
                        vacancy_texts[at],
                        title_vectors[at],
                    )
                )
                at += 1
            await raw.copy_records_to_table(
                "vacancies",
                columns=[
                    "id",
                    "tenant_id",
                    "external_id",
                    "employer_id",
                    "title",
                    "description",
                    "required_skills",
                    "languages",
                    "location",
                    "remote",
                    "contract",
                    "duration_months",
                    "start_date",
                    "positions",
                    "status",
                    "embedding",
                    "embedding_model",
                    "content_hash",
                    "search_text",
                    "title_embedding",
                ],
                records=records,
            )
        timings["copy employers, vacancies, labels"] = time.perf_counter() - clock

        clock = time.perf_counter()
        batch = 10_000
        for start in range(0, len(rows), batch):
            candidates, chunks = [], []
            for i in range(start, min(start + batch, len(rows))):
                row = rows[i]
                if i < pool:
                    vector = pool_vectors[i]
                else:
                    choices = pool_of_base.get(row["base"]) or [i % pool]
                    vector = noisy(noise, pool_vectors[choices[i % len(choices)]], sigma)
                cid = uuid.uuid4()
                tid = tenant_ids[row["tenant"]]
                candidates.append(
                    (
                        cid,
                        tid,
                        row["external_id"],
                        now,
                        now,
                        json.dumps(row["skills"]),
                        row["summary"],
                        json.dumps(row["languages"]),
                        json.dumps(row["location"]),
                        row["max_commute_km"],
                        row["available_from"],
                        json.dumps(row["desired_occupations"]),
                        row["education_level"],
                        row["work_permit"],
                        row["status"],
                        vector,
                        model_id,
                        content_hash(model_id, row["text"], row["occupations"]),
                        row["text"],
                        occupation_vectors.get(row["occupations"]),
                    )
                )
                chunks.append((cid, 0, tid, 0, len(row["text"]), vector))
            await raw.copy_records_to_table(
                "candidates",
                columns=[
                    "id",
                    "tenant_id",
                    "external_id",
                    "created_at",
                    "updated_at",
                    "skills",
                    "summary",
                    "languages",
                    "location",
                    "max_commute_km",
                    "available_from",
                    "desired_occupations",
                    "education_level",
                    "work_permit",
                    "status",
                    "embedding",
                    "embedding_model",
                    "content_hash",
                    "search_text",
                    "occupation_embedding",
                ],
                records=candidates,
            )
            await raw.copy_records_to_table(
                "candidate_chunks",
                columns=[
                    "candidate_id",
                    "chunk_no",
                    "tenant_id",
                    "char_start",
                    "char_end",
                    "embedding",
                ],
                records=chunks,
            )
            print(f"  copied {min(start + batch, len(rows))} candidates", flush=True)
        timings[f"copy {len(rows)} candidates + chunks"] = time.perf_counter() - clock

        await raw.execute("SET maintenance_work_mem = '1GB'")
        await raw.execute("SET max_parallel_maintenance_workers = 1")
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                if index.name in COPY_DROPPED_INDEXES:
                    clock = time.perf_counter()
                    await conn.run_sync(lambda sync, ix=index: ix.create(sync))
                    timings[f"index {index.name}"] = time.perf_counter() - clock
                    print(f"  built {index.name}", flush=True)
        await conn.commit()
        clock = time.perf_counter()
        await raw.execute("VACUUM ANALYZE")
        timings["vacuum analyze"] = time.perf_counter() - clock
    await engine.dispose()

    keys_file = Path(args.data_dir) / "bench-keys.json"
    keys_file.write_text(json.dumps({"keys": keys, "candidates": len(rows)}, indent=1))
    os.chmod(keys_file, 0o600)
    print("\n| step | seconds |\n|---|---:|")
    for step, seconds in timings.items():
        print(f"| {step} | {seconds:.1f} |")
    print(f"\nkeys for bench/shortlist_latency.py: {keys_file}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--pool", type=int, default=2_700, help="profiles embedded for real")
    parser.add_argument("--noise", type=float, default=0.012, help="per-dimension sigma")
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-scale"))
    parser.add_argument("--set", default=str(ROOT.parent / "shared" / "eval" / "esco_dev"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="delete --data-dir first")
    parser.add_argument(
        "--tenants",
        nargs="+",
        choices=list(TENANTS),
        default=list(TENANTS),
        help="the tenants that share the candidates (default both)",
    )
    parser.add_argument("--vacancies", type=int, default=300, help="open vacancies per tenant")
    args = parser.parse_args()
    args.cache_dir = Path(args.data_dir).resolve().parent / "bench-cache"
    if args.fresh and not os.environ.get("DATABASE_URL"):
        if (Path(args.data_dir) / "pg" / "postmaster.pid").exists():
            sys.exit(f"a server still runs on {args.data_dir}: stop what uses it first")
        shutil.rmtree(args.data_dir, ignore_errors=True)
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    asyncio.run(load(args))


if __name__ == "__main__":
    main()
