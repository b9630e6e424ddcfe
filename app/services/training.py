"""``ponte train``: learn a tenant's ranker from its own feedback, and serve it only if it is
better on the most recent shortlists.

1. The training set: every shortlist of the tenant that received feedback, made with the
   features this service computes; each person shown in it with their stored features, the
   rank they were shown at and a graded label (app/ml/learning.grade). Nothing of another
   tenant is read; an erased person is left out.
2. Guard rails: too few examples or positives → nothing is trained, and the answer says how
   many more are needed.
3. The most recent 20% of those shortlists (by creation time) are held out; the model is fit
   on the rest (app/ml/learning.fit, position-bias corrected) and both it and the ranker
   serving now are scored on the holdout (IPS-weighted nDCG@10, from the stored features).
4. The model is written (skops, app/services/model_registry.py) and registered whatever the
   outcome — a refused model is evidence too — and activated only when the bootstrap 95%
   interval of its gain over the serving ranker lies above zero, and not on a dry run.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app import __version__
from app.db.tables import Tenant
from app.errors import NotFound
from app.ml import learning
from app.ml.features import FEATURE_VERSION, FEATURES, READS_AS_CURRENT
from app.ml.learned import LEARNED, LinearRanker
from app.ml.ranker import Ranker
from app.repositories.rankers import RankerRepository
from app.repositories.tenants import TenantRepository
from app.schemas import Principal
from app.services import audit, model_registry
from app.services.jobs import queue_rerank
from app.services.rankers import default_ranker, ranker_for

HOLDOUT_SHARE = 0.2
DEFAULT_MIN_EXAMPLES = 200
DEFAULT_MIN_POSITIVES = 20
DEFAULT_MAX_TILT = 0.15


@dataclass
class TrainingOptions:
    since: dt.datetime | None = None
    dry_run: bool = False
    min_examples: int = DEFAULT_MIN_EXAMPLES
    min_positives: int = DEFAULT_MIN_POSITIVES
    family: learning.Family = "pairwise"
    correct_bias: bool = True
    eta: float = learning.DEFAULT_ETA
    clip: float = learning.DEFAULT_CLIP
    actor: str | None = None
    # The model the service embeds with: only shortlists made with it are learnt from, and
    # the ranker is recorded as trained on its features (None: any shortlist, unrecorded).
    model_id: str | None = None
    seed: int = 0
    # Fit on top of the tenant's weighted scorer (app/ml/learning.fit); off only to measure.
    prior: bool = True
    # The re-ranker's window, in multiples of the deepest rank it learnt from (0: none).
    window_factor: int = 2
    # Bound on the features' own tilt of a row's score, in the model's log-odds (None: none):
    # how far the programme's learnt preferences may move a person past the relevance the
    # default scorer sees (docs/EVALUATION.md, "Learned rankers": the trade-off measured).
    max_tilt: float | None = DEFAULT_MAX_TILT


@dataclass
class TrainingSet:
    examples: learning.Examples
    created: list[dt.datetime] = field(default_factory=list)  # per group

    @property
    def shortlists(self) -> int:
        return len(self.created)


def training_set(rows: Sequence[Any]) -> TrainingSet:
    """Examples from the repository's rows (one per shown item, by shortlist then rank)."""
    x, labels, ranks, groups, created = [], [], [], [], []
    numbers: dict[uuid.UUID, int] = {}
    for row in rows:
        label = learning.grade(zip(row.events, [r or None for r in row.reasons], strict=True))
        if label is None:
            continue
        group = numbers.get(row.shortlist_id)
        if group is None:
            group = numbers[row.shortlist_id] = len(numbers)
            created.append(row.created_at)
        stored = row.features
        x.append([_value(stored.get(name)) for name in FEATURES])
        labels.append(float(label))
        ranks.append(int(row.rank))
        groups.append(group)
    examples = learning.Examples(
        np.asarray(x, dtype=np.float64).reshape(len(x), len(FEATURES)),
        np.asarray(labels, dtype=np.float64),
        np.asarray(ranks, dtype=np.int64),
        np.asarray(groups, dtype=np.int64),
    )
    return TrainingSet(examples, created)


def _value(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _columns(x: np.ndarray) -> dict[str, np.ndarray]:
    return {name: x[:, j] for j, name in enumerate(FEATURES)}


def holdout_split(data: TrainingSet) -> np.ndarray:
    """True for the examples of the most recent ``HOLDOUT_SHARE`` of shortlists."""
    order = sorted(range(data.shortlists), key=lambda g: data.created[g])
    held = max(1, math.ceil(HOLDOUT_SHARE * data.shortlists))
    recent = np.zeros(data.shortlists, dtype=bool)
    recent[order[-held:]] = True
    mask: np.ndarray = recent[data.examples.group]
    return mask


def compare(
    new: Ranker, serving: Ranker, test: learning.Examples, options: TrainingOptions
) -> dict[str, Any]:
    """Both rankers' IPS-weighted nDCG@10 on the holdout and the bootstrap interval of the
    new one's mean gain, over the held-out shortlists with a relevant example."""
    columns = _columns(test.x)

    # The guard always judges by the IPS-weighted figure, whatever the fit was weighted by.
    def judge(scores: np.ndarray) -> dict[int, float]:
        return learning.ips_ndcg(scores, test, eta=options.eta, clip=options.clip)

    mine, theirs = judge(new.score(columns)), judge(serving.score(columns))
    groups = sorted(mine)
    gains = [mine[g] - theirs[g] for g in groups]
    low, high = learning.bootstrap_interval(gains, seed=options.seed)
    return {
        "metric": f"ips_ndcg@{learning.NDCG_AT}",
        "new": round(float(np.mean([mine[g] for g in groups])), 4) if groups else None,
        "active": round(float(np.mean([theirs[g] for g in groups])), 4) if groups else None,
        "active_version": serving.version,
        "difference_interval_95": [round(low, 4), round(high, 4)] if groups else None,
        "shortlists": len(groups),
    }


def _libraries() -> dict[str, str]:
    found = {"ponte": __version__}
    for name in ("scikit-learn", "numpy", "skops"):
        found[name] = importlib.metadata.version(name)
    return found


async def train(
    session: AsyncSession, tenant_id: uuid.UUID, options: TrainingOptions
) -> dict[str, Any]:
    """Trains, compares and maybe activates (module docstring); returns the summary line. The
    training, and an activation it made, are entries of the audit trail."""
    tenant = await TenantRepository(session).get(tenant_id)
    if tenant is None:
        raise NotFound("no such tenant")
    summary = await _train(session, tenant, options)
    if options.model_id is not None:
        summary["embedding_model"] = options.model_id  # the shortlists it could learn from
    version = summary["version"]
    model = audit.refs("model", [version])
    detail = {
        "dry_run": options.dry_run,
        "family": options.family,
        "activated": summary["activated"],
        **summary["counts"],
    }
    acts = [audit.Act("model.train", model, ranker_version=version, detail=detail)]
    if summary["activated"]:
        acts.append(audit.Act("model.activate", model, ranker_version=version))
    principal = Principal.operator(tenant.id, tenant.name, options.actor or "train")
    await audit.record(session, principal, *acts)
    return summary


async def _train(session: AsyncSession, tenant: Tenant, options: TrainingOptions) -> dict[str, Any]:
    tenant_id = tenant.id
    compared_with = tenant.active_ranker
    repo = RankerRepository(session)
    rows = await repo.training_rows(
        tenant_id, (FEATURE_VERSION, *READS_AS_CURRENT), options.since, options.model_id
    )
    data = training_set(rows)
    counts = {
        "examples": len(data.examples),
        "positives": data.examples.positives,
        "shortlists": data.shortlists,
    }
    short_examples = options.min_examples - counts["examples"]
    short_positives = options.min_positives - counts["positives"]
    if short_examples > 0 or short_positives > 0:
        needs = []
        if short_examples > 0:
            needs.append(f"{short_examples} more labelled examples")
        if short_positives > 0:
            needs.append(f"{short_positives} more positive ones")
        return {
            "version": None,
            "activated": False,
            "reason": f"too little feedback to train: needs {' and '.join(needs)} "
            f"(minimum {options.min_examples} examples with {options.min_positives} positive"
            + (f", from shortlists made with '{options.model_id}'" if options.model_id else "")
            + "); the current ranker stays",
            "counts": counts,
        }
    held = holdout_split(data)
    train_set, test_set = data.examples.subset(~held), data.examples.subset(held)
    counts |= {"train_examples": len(train_set), "holdout_examples": len(test_set)}
    prior = default_ranker(tenant.settings) if options.prior else None
    try:
        fitted = learning.fit(
            train_set,
            options.family,
            prior=prior.score(_columns(train_set.x)) if prior is not None else None,
            correct_bias=options.correct_bias,
            eta=options.eta,
            clip=options.clip,
        )
    except ValueError as exc:
        return {"version": None, "activated": False, "reason": str(exc), "counts": counts}
    serving = await ranker_for(session, tenant_id, model_id=options.model_id)
    candidate = LinearRanker(
        "candidate",
        FEATURES,
        fitted.coef,
        fitted.fill,
        prior=prior.weights if prior is not None else None,
        prior_coef=fitted.prior_coef,
        window=options.window_factor * int(train_set.rank.max()) or None,
        max_tilt=options.max_tilt,
    )
    holdout = compare(candidate, serving, test_set, options)
    interval = holdout["difference_interval_95"]
    better = interval is not None and interval[0] > 0
    meta = {
        "family": options.family,
        "feature_version": FEATURE_VERSION,
        "tenant_id": str(tenant_id),
        "position_bias": {
            "corrected": options.correct_bias,
            "eta": options.eta,
            "clip": options.clip,
        },
    }
    # A dry run writes nothing: neither the artefact nor its registry row.
    digest = model_registry.write_artefact(
        candidate.artefact(fitted.estimator, meta), write=not options.dry_run
    )
    version = f"{LEARNED}-{digest[:16]}"
    window = data.created
    if not options.dry_run and await repo.get(tenant_id, version) is None:
        await repo.add(
            {
                "tenant_id": tenant_id,
                "version": version,
                "family": options.family,
                "sha256": digest,
                "feature_version": FEATURE_VERSION,
                "embedding_model": options.model_id,
                "features": list(FEATURES),
                "libraries": _libraries(),
                "trained_from": min(window),
                "trained_to": max(window),
                "examples": counts["examples"],
                "positives": counts["positives"],
                "shortlists": counts["shortlists"],
                "holdout": holdout | {"position_bias": meta["position_bias"]},
                "scoring": candidate.scoring(),
                "parent_version": serving.version,
                "trained_by": options.actor,
            }
        )
    activated = better and not options.dry_run
    changed = False
    job = None
    if activated:
        locked = await repo.lock_tenant(tenant_id)
        assert locked is not None
        # Someone switched the tenant's ranker while this trained: the comparison was with
        # another ranker than the one now serving, so nothing is activated.
        changed = locked.active_ranker != compared_with
        activated = not changed
        if activated:
            await repo.activate(locked, version, locked.active_ranker, "train", options.actor)
            # the open vacancies' shortlists are re-ranked with it (issue 14)
            job = await queue_rerank(session, tenant_id, "activate", created_by=options.actor)
    return {
        "version": version,
        "activated": activated,
        **({"rerank_job_id": str(job.id)} if job is not None else {}),
        "dry_run": options.dry_run,
        "reason": _reason(activated, better, changed, options.dry_run),
        "holdout": holdout,
        "counts": counts,
    }


def _reason(activated: bool, better: bool, changed: bool, dry_run: bool) -> str | None:
    if activated:
        return None
    if changed:
        return "the active ranker changed while this trained: nothing activated, train again"
    if dry_run and better:
        return "dry run: nothing activated"
    return (
        "not better than the active ranker on the holdout "
        "(the 95% interval of the gain is not above zero)"
    )
