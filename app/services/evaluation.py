"""`ponte eval`: rank an evaluation set through the API's own code path, next to baselines.

The set is loaded into a scratch tenant (deleted afterwards) with the same services the API
uses; every vacancy is ranked by ``ShortlistService.rank``. In the same run, the reference baselines
are computed on the reference texts: BM25, plain cosine of the same model, and their RRF.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import migrate
from app.db.engine import create_engine, resolve_database, session_factory
from app.errors import AppError
from app.ml.encoder import Encoder
from app.ml.evaluation import (
    BM25,
    baseline_candidate_text,
    baseline_vacancy_text,
    evaluate,
    rank_by,
    rrf,
)
from app.repositories.audit import AuditRepository
from app.repositories.tenants import TenantRepository
from app.schemas import EmployerIn, Principal
from app.schemas.matching import TenantSettingsPatch
from app.services.concurrency import Preconditions
from app.services.resources import CandidateService, EmployerService, VacancyService
from app.services.shortlists import ShortlistService
from app.services.taxonomy_linking import TaxonomyLinker
from app.services.tenant_settings import update_settings

SPLITS = ("tune", "test", "all")
METHODS = ("ponte", "bm25", "minilm_cosine", "rrf_bm25_cosine")


@dataclass
class EvalSet:
    vacancies: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    qrels: dict[str, dict[str, int]]

    @classmethod
    def load(cls, folder: Path) -> EvalSet:
        """Reads vacancies.jsonl, candidates.jsonl and qrels.json from ``folder``."""

        def jsonl(name: str) -> list[dict[str, Any]]:
            with (folder / name).open(encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]

        qrels = json.loads((folder / "qrels.json").read_text(encoding="utf-8"))
        return cls(jsonl("vacancies.jsonl"), jsonl("candidates.jsonl"), qrels)

    def split(self, name: str) -> set[str]:
        """Returns the vacancy ids of a split: "tune" (even positions), "test" (odd), "all"."""
        ids = [v["external_id"] for v in self.vacancies]
        if name == "tune":
            return set(ids[0::2])
        if name == "test":
            return set(ids[1::2])
        return set(ids)


def baseline_rankings(
    data: EvalSet, encoder: Encoder, with_skills: bool
) -> dict[str, dict[str, list[str]]]:
    """Returns the three reference rankings per vacancy, computed exactly as documented."""
    ids = [c["external_id"] for c in data.candidates]
    c_texts = [baseline_candidate_text(c.get("summary", ""), c["skills"]) for c in data.candidates]
    v_texts = {
        v["external_id"]: baseline_vacancy_text(
            v["title"], v.get("description", ""), v["required_skills"] if with_skills else []
        )
        for v in data.vacancies
    }
    bm25 = BM25(c_texts)
    c_vecs = encoder.encode(c_texts)
    v_vecs = encoder.encode(list(v_texts.values()))
    out: dict[str, dict[str, list[str]]] = {m: {} for m in METHODS[1:]}
    for (vid, text), vec in zip(v_texts.items(), v_vecs, strict=True):
        by_bm25 = rank_by(bm25.scores(text), ids)
        by_cosine = rank_by(np.asarray(c_vecs @ vec, dtype=np.float64), ids)
        out["bm25"][vid] = by_bm25
        out["minilm_cosine"][vid] = by_cosine
        out["rrf_bm25_cosine"][vid] = rrf([by_bm25, by_cosine])
    return out


async def load_scratch_tenant(
    sessions: async_sessionmaker[AsyncSession],
    encoder: Encoder,
    data: EvalSet,
    with_skills: bool,
    progress: Callable[[str], None] = lambda _: None,
) -> Principal:
    """Creates a scratch tenant holding the set's candidates and vacancies; returns an admin
    principal of it. Delete it with ``delete_scratch_tenant``."""
    name = f"eval-{secrets.token_hex(4)}"
    async with sessions() as session, session.begin():
        tenant = await TenantRepository(session).create(name)
    principal = Principal.operator(tenant.id, name, "eval")
    try:
        async with sessions() as session, session.begin():
            await EmployerService(session, principal).put(
                "eval-employer", EmployerIn(name="Evaluation employer"), Preconditions()
            )
        for start in range(0, len(data.candidates), 200):
            batch = [
                {
                    "external_id": c["external_id"],
                    "skills": c["skills"],
                    "summary": c.get("summary") or None,
                }
                for c in data.candidates[start : start + 200]
            ]
            async with sessions() as session, session.begin():
                results = await CandidateService(session, principal, encoder).bulk_upsert(batch)
            _raise_on_errors(results)
            progress(f"candidates {start + len(batch)}/{len(data.candidates)}")
        vacancies = [
            {
                "external_id": v["external_id"],
                "employer_external_id": "eval-employer",
                "title": v["title"],
                "description": v.get("description") or None,
                "required_skills": v["required_skills"] if with_skills else [],
            }
            for v in data.vacancies
        ]
        async with sessions() as session, session.begin():
            _raise_on_errors(
                await VacancyService(session, principal, encoder).bulk_upsert(vacancies)
            )
    except BaseException:
        await delete_scratch_tenant(sessions, principal)
        raise
    return principal


async def delete_scratch_tenant(
    sessions: async_sessionmaker[AsyncSession], principal: Principal
) -> None:
    """Deletes the scratch tenant and everything in it."""
    async with sessions() as session, session.begin():
        repo = TenantRepository(session)
        scratch = await repo.get(principal.tenant_id)
        if scratch is not None:
            await AuditRepository(session).discard_scratch_trail(scratch.id)
            await repo.delete(scratch)


async def rank_all(
    sessions: async_sessionmaker[AsyncSession],
    encoder: Encoder,
    principal: Principal,
    data: EvalSet,
    depth: int,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, list[dict[str, Any]]]:
    """Ranks the tenant's candidates for every vacancy of the set; returns the scored items."""
    ranked: dict[str, list[dict[str, Any]]] = {}
    for n, v in enumerate(data.vacancies, start=1):
        async with sessions() as session, session.begin():
            service = ShortlistService(session, principal, encoder)
            _, _, (items, _, _) = await service.rank(v["external_id"], depth)
        ranked[v["external_id"]] = items
        if n % 50 == 0:
            progress(f"ranked {n}/{len(data.vacancies)} vacancies")
    return ranked


@dataclass
class Scratch:
    """An evaluation set loaded into a scratch tenant, with what it takes to rank it."""

    data: EvalSet
    encoder: Encoder
    sessions: async_sessionmaker[AsyncSession]
    principal: Principal

    async def rank(
        self, depth: int = 20, progress: Callable[[str], None] = lambda _: None
    ) -> dict[str, list[dict[str, Any]]]:
        """Ranks the candidates for every vacancy; returns the scored items per vacancy."""
        return await rank_all(
            self.sessions, self.encoder, self.principal, self.data, depth, progress
        )

    async def taxonomy_import(self) -> str | None:
        """The taxonomy import rankings can match through (None: none imported)."""
        async with self.sessions() as session:
            return await TaxonomyLinker(session, self.encoder).current(fresh=True)

    async def switch_taxonomy(self, on: bool) -> None:
        """Switches matching through the taxonomy on or off for the scratch tenant."""
        async with self.sessions() as session, session.begin():
            await update_settings(session, self.principal, TenantSettingsPatch(taxonomy=on))


@asynccontextmanager
async def scratch_set(
    settings: Settings,
    set_dir: Path,
    with_skills: bool,
    progress: Callable[[str], None] = lambda _: None,
    encoder: Encoder | None = None,
) -> AsyncIterator[Scratch]:
    """Migrates the configured database, loads ``set_dir`` into a scratch tenant through the
    API's services (with ``encoder``, or the configured model), yields it, and deletes the
    tenant afterwards."""
    urls = await asyncio.to_thread(resolve_database, settings)
    await asyncio.to_thread(migrate.upgrade, urls.owner, settings)
    if encoder is None:
        encoder = await asyncio.to_thread(
            Encoder, settings.resolved_model_path(), settings.model_device
        )
    data = EvalSet.load(set_dir)
    engine = create_engine(urls.owner, settings, pool_size=2)
    try:
        sessions = session_factory(engine)
        principal = await load_scratch_tenant(sessions, encoder, data, with_skills, progress)
        try:
            yield Scratch(data, encoder, sessions, principal)
        finally:
            await delete_scratch_tenant(sessions, principal)
    finally:
        await engine.dispose()


def _raise_on_errors(results: list[dict[str, Any]]) -> None:
    errors = [r for r in results if r["status"] == "error"]
    if errors:
        raise AppError(f"{len(errors)} items of the set were refused, e.g. {errors[0]}")


def report(
    rankings: dict[str, dict[str, list[str]]], data: EvalSet
) -> dict[str, dict[str, dict[str, float]]]:
    """Returns metrics per split and method."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for split in SPLITS:
        ids = data.split(split)
        out[split] = {
            method: evaluate({q: r for q, r in ranked.items() if q in ids}, data.qrels)
            for method, ranked in rankings.items()
        }
    return out
