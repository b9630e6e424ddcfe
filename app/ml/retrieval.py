"""Retrieval from a pool: which gate-passing candidates a vacancy's ranking looks at.

Exact, over every passing row: the union of the rows nearest by profile vector, nearest by best
text window, best by BM25, best by a fixed blend of the cheap features, those listing the
required skills word for word, and, when matching through the taxonomy is on
(app/ml/taxonomy_match.py), those linked to the most of the vacancy's ESCO skills and those
whose ESCO occupation its title names best — then, for the proposed
rows only, the features the ranker reads from vectors and BM25. The blend's weights are this
module's own (``RETRIEVAL_WEIGHTS``), not the ranker's: a learned ranker cannot silently change
who is retrieved.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.ml import gates as gate_rules
from app.ml.bm25 import lexical_share
from app.ml.centring import centred_cosines
from app.ml.features import availability_fit, distance_fit
from app.ml.gates import VacancyView
from app.ml.pool import CandidatePool
from app.ml.skills import LabelKeys
from app.ml.taxonomy_match import Linked
from app.ml.topk import top
from app.vocabulary import GATES

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# The blend retriever: rows good on every cheap feature without topping any single list. Fixed
# (the default scorer's weights when the retrievers were measured, docs/BENCHMARKS.md); the
# features are those every row has at hand before skill matching.
RETRIEVAL_WEIGHTS: dict[str, float] = {
    "semantic_best": 0.30,
    "semantic_profile": 0.10,
    "lexical": 0.10,
    "language": 0.04,
    "distance": 0.03,
    "availability": 0.03,
}
# Below this share of a pool's rows (1 / GATHER_BELOW) passing, their vectors are gathered for
# the product; above it, one pass over every vector reads less (docs/BENCHMARKS.md).
GATHER_BELOW = 4
# A nice-to-have skill counts this much of a must-have one for the skill-label retriever.
NICE_TO_HAVE_HITS = 0.2


@dataclass
class Retrieved:
    """What one ranking request takes from the pool: counts, and per picked row its features."""

    total: int
    passing: int
    excluded: dict[str, int]
    ids: list[uuid.UUID]
    external_ids: list[str]
    labels: list[list[str]]
    # Per picked row, NaN where unknown:
    language: F64
    distance_km: F64
    max_commute_km: F64
    semantic_profile: F64
    semantic_chunk: F64
    title_profile: F64
    title: F64
    lexical: F64  # raw BM25
    lexical_ceiling: F64  # the query's ceiling against each (BM25 analyses in its language)
    gates: dict[str, npt.NDArray[np.int8]]  # per gate, the state of each picked row
    text_vectors: list[F32]
    label_keys: LabelKeys
    linked: list[Linked]  # per picked row, its ESCO links
    concept_hits: F64 | None = None  # per picked row, the weight of the ESCO targets it holds


@dataclass(frozen=True)
class BlockProducts:
    """A pool's rows and text windows against a block of centred queries and the candidates'
    centroid, in one matrix product each: what a batch run computes once for a block of
    vacancies instead of one pass over the pool per vacancy. Row ``j`` is query ``j``'s
    products; the last row is the centroid's (absent without one)."""

    rows: F32  # columns × pool.size
    chunks: F32  # columns × len(pool.chunk_owner)
    centred: bool

    def of(self, j: int) -> tuple[F32, F32, F32 | None, F32 | None]:
        """Query ``j``'s products: rows·q, chunks·q, rows·centroid, chunks·centroid."""
        if not self.centred:
            return self.rows[j], self.chunks[j], None, None
        return self.rows[j], self.chunks[j], self.rows[-1], self.chunks[-1]


def block_products(
    pool: CandidatePool, queries: Sequence[F32], centroid: F32 | None
) -> BlockProducts:
    """The products of every pool row and window with ``queries`` (each already centred, see
    :func:`retrieve`) and ``centroid``: one matrix product each, whatever the block's size."""
    basis = np.stack([*queries] if centroid is None else [*queries, centroid]).astype(np.float32)
    chunks = pool.chunk_vectors[: len(pool.chunk_owner)]
    return BlockProducts(
        basis @ pool.vectors[: pool.size].T, basis @ chunks.T, centroid is not None
    )


def similarities(
    pool: CandidatePool,
    query: F32,
    slots: I64,
    centroid: F32 | None = None,
    products: tuple[F32, F32, F32 | None, F32 | None] | None = None,
) -> tuple[F64, F64]:
    """Returns the centred cosine (app/ml/centring.py) to ``query`` — already centred by the
    caller — of the profile vector and of the best chunk, for ``slots``, in their order;
    plain cosines without a ``centroid``. ``products``: the query's column of
    :class:`BlockProducts` when a batch has them; otherwise the products are made here."""
    n = pool.size

    def centred(dots: F32, centre: F32 | None) -> F64:
        return centred_cosines(dots, dots if centre is None else centre, query, centroid)

    if products is not None:
        profile = centred(products[0][slots], _at(products[2], slots))
    else:
        # Matrix-by-vector products (the query and the centroid as two columns of one product
        # take OpenBLAS's matrix path, several times slower for this shape); the rows' products
        # with the centroid are the pool's when it keeps them (CandidatePool.centre_products).
        # Bound by reading the vectors: for a small share of the rows, gather them; for a
        # larger one, a straight pass over all of them reads less (and makes the pool's
        # centroid products when it has none for its current rows).
        centre: F32 | None = None
        if GATHER_BELOW * len(slots) < n:
            rows = np.take(pool.vectors, slots, axis=0)
            dots = rows @ query
            if centroid is not None:
                kept = pool.kept_centre_products(centroid)
                centre = rows @ centroid if kept is None else kept[slots]
        else:
            dots = (pool.vectors[:n] @ query)[slots]
            if centroid is not None:
                centre = pool.centre_products(centroid)[slots]
        profile = centred(dots, centre)
    best = profile
    if len(pool.chunk_owner):
        position = np.full(n, -1, dtype=np.int64)
        position[slots] = np.arange(len(slots))
        owners = position[pool.chunk_owner]
        held = owners >= 0
        if held.any():
            best = profile.copy()
            if products is not None:
                windows = centred(products[1][held], _at(products[3], held))
            else:
                chunks = pool.chunk_vectors[: len(owners)][held]
                windows = centred(chunks @ query, None if centroid is None else chunks @ centroid)
            np.maximum.at(best, owners[held], windows)
    return profile, best


def _at(values: F32 | None, where: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> F32 | None:
    return None if values is None else values[where]


def retrieve(
    pool: CandidatePool,
    vacancy: VacancyView,
    enabled: Sequence[str],
    query: F32,
    title: F32 | None,
    query_text: str,
    k: int,
    skills: Sequence[tuple[str, float]] = (),
    centroid: F32 | None = None,
    products: tuple[F32, F32, F32 | None, F32 | None] | None = None,
    concepts: Sequence[tuple[str, float]] = (),
    occupations: Sequence[tuple[str, float]] = (),
) -> Retrieved:
    """Gates every row, proposes the union of each retriever's ``k`` best passing rows (see the
    module docstring), and reads their features.

    ``query`` is the vacancy's vector centred by the vacancies' centroid and ``centroid`` the
    candidates' (app/ml/centring.py); ``products``, its column of a batch's
    :class:`BlockProducts`; ``concepts`` and ``occupations``, the vacancy's ESCO skills
    (URI, weight) and its title's nearest occupations (URI, link score) when it is matched
    through the taxonomy. Runs without yielding, so the pool cannot change under
    it."""
    n = pool.size
    states = gate_rules.gate_states(pool, vacancy, GATES)
    alive = pool.alive[:n]
    mask = gate_rules.passing(pool, {g: states[g] for g in enabled})
    excluded = {g: int(np.count_nonzero((states[g] == -1) & alive)) for g in enabled}
    # From here on, only the passing rows (a sixth of a tenant on average) are looked at;
    # ``top`` answers positions in ``passing``.
    passing = np.flatnonzero(mask)
    km = gate_rules.distances(pool, vacancy, passing)
    profile, best = similarities(pool, query, passing, centroid, products)
    lexical, ceiling = (values[passing] for values in pool.lexical_scores(query_text))
    vectors = pool.has_vector[passing]
    picked = [top(profile, vectors, k), top(best, vectors, k), top(lexical, lexical > 0, k)]
    language = gate_rules.language_fit(pool, vacancy, passing)
    parts: dict[str, F64 | F32 | None] = {
        "semantic_best": best,
        "semantic_profile": profile,
        "lexical": lexical_share(lexical, ceiling),
        "language": language,
        "distance": distance_fit(bool(vacancy.remote), km, pool.commute[passing]),
        "availability": availability_fit(states["availability"][passing]),
    }
    blend = np.zeros(len(passing))
    for name, values in parts.items():
        if values is not None:
            blend += RETRIEVAL_WEIGHTS[name] * values
    picked.append(top(blend, vectors, k))
    if skills:
        # Rows that list the required skills word for word, best profile first among equals:
        # the must-have coverage the other retrievers cannot see.
        hits = pool.skill_hits(skills)[passing]
        picked.append(top(hits + 1e-3 * profile, hits > 0, k))
    # Through the taxonomy, half as many each (they overlap each other and the rest): rows
    # linked to the vacancy's ESCO skills, in whatever language they named them, and rows
    # whose occupation the title names.
    held = None
    if concepts:
        held = pool.concept_hits(concepts)[passing]
        picked.append(top(held + 1e-3 * profile, held > 0, k // 2))
    if occupations:
        named = pool.occupation_hits(occupations)[passing]
        picked.append(top(named + 1e-3 * profile, named > 0, k // 2))
    chosen = np.concatenate(picked)
    _, first = np.unique(chosen, return_index=True)
    chosen = chosen[np.sort(first)]  # each row once, in the order proposed
    profile, best, lexical, ceiling = (
        profile[chosen],
        best[chosen],
        lexical[chosen],
        ceiling[chosen],
    )
    at = passing[chosen]
    slots: list[int] = at.tolist()
    text_vectors = [pool.text_vectors(s) for s in slots]
    has_vector = pool.has_vector[at]
    title_profile = np.full(len(slots), np.nan)
    occupation = np.full(len(slots), np.nan)
    if title is not None and len(at):
        occupation = pool.title_similarity(title, at)
        # One product for the single-window rows; the few long texts take their best window.
        title_profile = np.where(has_vector, pool.vectors[at] @ title, np.nan)
        for i, s in enumerate(slots):
            if s in pool.chunks_of:
                title_profile[i] = float(np.max(text_vectors[i] @ title))
    fit = None if language is None else language[chosen]
    return Retrieved(
        total=int(np.count_nonzero(alive)),
        passing=int(np.count_nonzero(mask)),
        excluded=excluded,
        ids=[pool.ids[s] for s in slots],  # type: ignore[misc]
        external_ids=[pool.external_ids[s] for s in slots],  # type: ignore[misc]
        labels=[pool.labels[s] for s in slots],  # type: ignore[misc]
        language=np.full(len(slots), np.nan) if fit is None else fit,
        distance_km=km[chosen],
        max_commute_km=pool.commute[at],
        semantic_profile=np.where(has_vector, profile, np.nan),
        semantic_chunk=np.where(has_vector, best, np.nan),
        title_profile=title_profile,
        title=occupation,
        lexical=lexical,
        lexical_ceiling=ceiling,
        gates={g: states[g][at] for g in GATES},
        text_vectors=text_vectors,
        label_keys=pool.label_keys(slots),
        linked=[pool.linked[s] for s in slots],  # type: ignore[misc]
        concept_hits=None if held is None else held[chosen],
    )
