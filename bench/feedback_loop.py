"""Proof that the feedback loop works: simulated scouts with a hidden preference, rounds of
shortlist → feedback → ``ponte train`` → activate, and what each ranker does on held-out
vacancies.

    .venv/bin/python bench/feedback_loop.py [--set ../shared/eval/esco_dev] [--seeds 5]
        [--rounds 4] [--radius-km 12] [--near-km 8] [--eta 1.0] [--extra]

The set is loaded once into a scratch tenant of the configured database (the embedded one by
default) with places: candidates and vacancies uniformly in a disc of ``--radius-km`` around
Milan (fixed, seed 0; everyone may commute 30 km, so no gate removes anyone). The scouts'
hidden preference: they take only people who live within ``--near-km`` of the job — the
"hidden" relevance is the set's grade where the person lives that near, 0 otherwise — while
the default scorer gives distance 3% of the score.

Per seed, 20% of the vacancies are held out; on the others, each round makes a shortlist of 20
with the tenant's active ranker (through ``ShortlistService``, snapshots and all), and the
scouts examine rank r with probability 1/r^``--eta``; an examined person is interviewed with
probability 0.85 × (hidden grade / 3) — 0.85, 0.57, 0.28 for grades 3, 2, 1 — or 0.03 when
the hidden grade is 0, else rejected (for the distance when only that was wrong, for skills
otherwise). The feedback is recorded through
``FeedbackService``; then ``app.services.training.train`` runs as ``ponte train`` does and
activates the model only if it passes the holdout guard (always judged by IPS-weighted
nDCG@10). Arms per seed, each from a clean log: the default scorer (no training); learned
without position-bias correction in the fit, and with it, both with the default bound on the
tilt (``--max-tilt`` 0.15 log-odds); the same two unbounded. Every arm of a seed draws its
scouts' answers from the same random stream, so the first round's feedback is the same for all
(common random numbers: the arms differ by their method, not their luck). ``--extra`` adds the
ablations: tilt bounds of 0.1 and 0.5, a re-ranking window of once (not twice) the depth, no
window, no prior, and the pointwise family. Each arm's final ranker ranks the held-out
vacancies (depth 100); nDCG@10 is reported against the hidden relevance and against the set's
original grades.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from app.config import get_settings  # noqa: E402
from app.ml.evaluation import ndcg_at  # noqa: E402
from app.schemas import EmployerIn  # noqa: E402
from app.services import evaluation, model_registry, training  # noqa: E402
from app.services.concurrency import Preconditions  # noqa: E402
from app.services.feedback import FeedbackService  # noqa: E402
from app.services.resources import CandidateService, EmployerService, VacancyService  # noqa: E402
from app.services.shortlists import ShortlistService  # noqa: E402

MILAN = (45.4642, 9.1900)
SHOWN = 20
DEPTH = 100
# Each arm: the training options it runs with (None: the default scorer, never trained).
ARMS: dict[str, dict | None] = {
    "default": None,
    "learned, no correction": {"correct_bias": False},
    "learned, corrected": {"correct_bias": True},
    "learned, no correction, unbounded": {"correct_bias": False, "max_tilt": None},
    "learned, corrected, unbounded": {"correct_bias": True, "max_tilt": None},
}
# With --extra: what the choices in app/ml/learning.py were measured against.
EXTRA_ARMS: dict[str, dict | None] = {
    "learned, corrected, tilt ≤ 0.1": {"correct_bias": True, "max_tilt": 0.1},
    "learned, corrected, tilt ≤ 0.5": {"correct_bias": True, "max_tilt": 0.5},
    "learned, corrected, window ×1": {"correct_bias": True, "window_factor": 1},
    "learned, corrected, no window": {"correct_bias": True, "window_factor": 0},
    "learned, corrected, no prior": {"correct_bias": True, "prior": False},
    "learned, corrected, pointwise": {"correct_bias": True, "family": "pointwise"},
}


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def place(rng: random.Random, radius_km: float) -> tuple[float, float]:
    r = radius_km * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    lat = MILAN[0] + (r * math.cos(a)) / 111.0
    lon = MILAN[1] + (r * math.sin(a)) / (111.0 * math.cos(math.radians(MILAN[0])))
    return lat, lon


async def load(scratch_sessions: Any, encoder: Any, principal: Any, data: Any, places: dict):
    async with scratch_sessions() as session, session.begin():
        await EmployerService(session, principal).put(
            "sim-employer", EmployerIn(name="Simulated employer"), Preconditions()
        )

    def located(key: str) -> dict:
        lat, lon = places[key]
        return {"municipality": "Milano", "country": "IT", "lat": lat, "lon": lon}

    for start in range(0, len(data.candidates), 200):
        batch = [
            {
                "external_id": c["external_id"],
                "skills": c["skills"],
                "summary": c.get("summary") or None,
                "location": located(c["external_id"]),
                "max_commute_km": 30,
            }
            for c in data.candidates[start : start + 200]
        ]
        async with scratch_sessions() as session, session.begin():
            await CandidateService(session, principal, encoder).bulk_upsert(batch)
    vacancies = [
        {
            "external_id": v["external_id"],
            "employer_external_id": "sim-employer",
            "title": v["title"],
            "description": v.get("description") or None,
            "required_skills": v["required_skills"],
            "location": located(v["external_id"]),
        }
        for v in data.vacancies
    ]
    async with scratch_sessions() as session, session.begin():
        await VacancyService(session, principal, encoder).bulk_upsert(vacancies)


async def reset(sessions: Any, tenant_id: Any) -> None:
    """A clean log for the next arm (as the owner: the service role may not delete events)."""
    async with sessions() as session, session.begin():
        for table in (
            "feedback_notes",
            "placement_spans",
            "feedback_events",
            "shortlists",
            "ranker_activations",
        ):
            await session.execute(
                text(f"DELETE FROM {table} WHERE tenant_id = :t"),  # noqa: S608
                {"t": tenant_id},
            )
        await session.execute(
            text("UPDATE tenants SET active_ranker = NULL WHERE id = :t"), {"t": tenant_id}
        )
        await session.execute(
            text("DELETE FROM ranker_models WHERE tenant_id = :t"), {"t": tenant_id}
        )


def scouts(rng: random.Random, items: list[dict], hidden: dict, original: dict, eta: float):
    """Feedback for one shortlist: examined with p = 1/rank^eta, noisy answers."""
    events = []
    for rank, item in enumerate(items, start=1):
        if rng.random() >= rank**-eta:
            continue
        who = item["candidate_external_id"]
        grade = hidden.get(who, 0)  # 0 unless near; then the set's grade, 1 to 3
        if rng.random() < max(0.03, 0.85 * grade / 3):
            events.append((who, "interviewed", None))
        else:
            events.append((who, "rejected", "distance" if original.get(who, 0) > 0 else "skills"))
    return events


async def run_arm(
    arm: str, sc: Any, train_ids: list[str], hidden: dict, args: Any, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed * 1000)  # the same stream for every arm of a seed
    activations, train_seconds = [], []
    arm_options = args.arms[arm]
    rounds = 0 if arm_options is None else args.rounds
    for r in range(rounds):
        for vid in train_ids:
            async with sc.sessions() as session:
                made = await ShortlistService(session, sc.principal, sc.encoder).create_shortlist(
                    vid, SHOWN, None
                )
                await session.commit()  # as the request's session does (app/deps.py)
            decided = scouts(rng, made["items"], hidden[vid], sc.data.qrels.get(vid, {}), args.eta)
            if not decided:
                continue
            body = [
                {
                    "vacancy_external_id": vid,
                    "candidate_external_id": who,
                    "event": event,
                    **({"reason": reason} if reason else {}),
                    "shortlist_id": made["id"],
                    "idempotency_key": f"s{seed}-r{r}-{made['id']}-{who}",
                }
                for who, event, reason in decided
            ]
            async with sc.sessions() as session, session.begin():
                await FeedbackService(session, sc.principal).record_many(body)
        options = training.TrainingOptions(seed=seed, model_id=sc.encoder.model_id, **arm_options)
        started = time.perf_counter()
        async with sc.sessions() as session, session.begin():
            summary = await training.train(session, sc.principal.tenant_id, options)
        train_seconds.append(time.perf_counter() - started)
        activations.append(summary.get("activated", False))
        print(
            f"  {time.strftime('%H:%M:%S')} seed {seed} {arm} round {r + 1}: {json.dumps(summary)}",
            file=sys.stderr,
        )
    return {"activated": activations, "train_s": train_seconds}


async def evaluate_heldout(sc: Any, held: list[str], hidden: dict) -> dict[str, float]:
    hid, orig = [], []
    for vid in held:
        async with sc.sessions() as session, session.begin():
            service = ShortlistService(session, sc.principal, sc.encoder)
            _, _, (items, _, _) = await service.rank(vid, DEPTH)
        ranking = [i["candidate_external_id"] for i in items]
        if any(g > 0 for g in hidden[vid].values()):
            hid.append(ndcg_at(ranking, hidden[vid]))
        orig.append(ndcg_at(ranking, sc.data.qrels.get(vid, {})))
    return {"hidden": statistics.fmean(hid), "original": statistics.fmean(orig), "n": len(hid)}


async def main_async(args: argparse.Namespace) -> None:
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="ponte-loop-models-") as models:
        model_registry.configure(Path(models))
        async with evaluation.scratch_set(settings, args.set, True, print) as sc:
            # the set's people and jobs, given places once (fixed world, seed 0)
            rng = random.Random(0)
            places = {c["external_id"]: place(rng, args.radius_km) for c in sc.data.candidates}
            places |= {v["external_id"]: place(rng, args.radius_km) for v in sc.data.vacancies}
            await load(sc.sessions, sc.encoder, sc.principal, sc.data, places)
            hidden = {
                v["external_id"]: {
                    c: g
                    for c, g in sc.data.qrels.get(v["external_id"], {}).items()
                    if km(places[c], places[v["external_id"]]) <= args.near_km
                }
                for v in sc.data.vacancies
            }
            results: dict[str, list[dict]] = {arm: [] for arm in args.arms}
            for seed in range(args.seeds):
                ids = [v["external_id"] for v in sc.data.vacancies]
                random.Random(seed).shuffle(ids)
                cut = len(ids) // 5
                held, train_ids = ids[:cut], ids[cut:]
                for arm in args.arms:
                    await reset(sc.sessions, sc.principal.tenant_id)
                    loop = await run_arm(arm, sc, train_ids, hidden, args, seed)
                    figures = await evaluate_heldout(sc, held, hidden)
                    results[arm].append(figures | loop)
                    print(f"seed {seed} {arm}: {figures} {loop}", file=sys.stderr)
            await reset(sc.sessions, sc.principal.tenant_id)
    print("\n| ranker | nDCG@10 hidden preference | nDCG@10 original grades | activated |")
    print("|---|---:|---:|---|")
    for arm in args.arms:
        rows = results[arm]
        h = [r["hidden"] for r in rows]
        o = [r["original"] for r in rows]
        acts = (
            "–"
            if arm == "default"
            else ", ".join("/".join("y" if a else "n" for a in r["activated"]) for r in rows)
        )
        print(
            f"| {arm} | {statistics.fmean(h):.4f} ± {statistics.pstdev(h):.4f} | "
            f"{statistics.fmean(o):.4f} ± {statistics.pstdev(o):.4f} | {acts} |"
        )
    per_seed = {
        arm: {k: [round(r[k], 4) for r in results[arm]] for k in ("hidden", "original")}
        for arm in args.arms
    }
    print(f"\nper seed: {json.dumps(per_seed)}")
    times = [t for arm in args.arms for r in results[arm] for t in r["train_s"]]
    if times:
        print(f"training (train + holdout + write) per round: {statistics.fmean(times):.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=ROOT.parent / "shared" / "eval" / "esco_dev")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--radius-km", type=float, default=12.0)
    parser.add_argument("--near-km", type=float, default=8.0)
    parser.add_argument("--eta", type=float, default=1.0)
    parser.add_argument("--extra", action="store_true", help="also the ablation arms")
    args = parser.parse_args()
    args.arms = ARMS | (EXTRA_ARMS if args.extra else {})
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
