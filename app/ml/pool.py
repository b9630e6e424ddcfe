"""One tenant's candidates in memory, in column arrays by slot: the storage ranking reads.

PostgreSQL stays the source of truth; this is a read model kept in step with it by the change
feed (app/services/pool.py). Holding it in columns turns the per-request work that dominated
shortlist latency at 50,000 candidates a tenant — every gate on every row for the exclusion
counts, filtered HNSW search, rebuilding BM25 — into a few vectorised passes, and makes vector
retrieval an exact scan over the gate-passing rows (app/ml/retrieval.py), so nothing is missed.

A written row takes a new slot (its old one dies, its vectors zeroed), so a live slot's
contents never change: a request reads what it needs in one synchronous pass and copies what it
keeps. Gates read these columns (app/ml/gates.py); BM25
(app/ml/bm25.py) and the skill-label index (app/ml/skill_index.py) are the pool's, rebuilt by
:meth:`CandidatePool.compacted`, which builds a new pool and leaves this one as it was, so it
can run off the event loop while requests read the old one.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.ml.bm25 import Bm25Index
from app.ml.geo import reach_cosine, unit_point
from app.ml.skill_index import SkillIndex
from app.ml.skills import LabelKeys
from app.ml.taxonomy_match import NOTHING, Linked
from app.vocabulary import CANDIDATE_STATUSES, cefr_rank

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# Status and permit as small codes; the gates compare codes (app/ml/gates.py).
STATUS_CODES = {status: code for code, status in enumerate(CANDIDATE_STATUSES)}
PERMIT_CODES = {"no": -1, "yes": 1}  # pending and unknown: 0
NO_DATE = np.iinfo(np.int32).max


def day_number(value: dt.date | None) -> int:
    """A date as its ordinal (``NO_DATE`` when unknown)."""
    return int(value.toordinal()) if value is not None else int(NO_DATE)


@dataclass
class PoolRow:
    """What the pool needs of one candidate (read from the database)."""

    id: uuid.UUID
    xid: int
    external_id: str
    labels: list[str]
    status: str
    work_permit: str
    available_from: dt.date | None
    lat: float | None
    lon: float | None
    max_commute_km: float | None
    languages: list[tuple[str, str | None]]  # (ISO code, CEFR level) as stored
    search_text: str
    embedding: F32 | None
    text_language: str | None = None  # the search text's (app/ml/languages.py); None: unknown
    chunks: F32 | None = None  # only when the text has more than one chunk
    occupation: F32 | None = None  # the vector of the desired occupations
    linked: Linked = NOTHING  # what it is linked to in the ESCO taxonomy


class SharedVectors:
    """Vectors many rows share (desired occupations come from pick lists: thousands of
    candidates name a few hundred), stored once each; a row keeps the index of its vector."""

    def __init__(self, dim: int, vectors: F32 | None = None) -> None:
        self.dim = dim
        held = vectors if vectors is not None else np.zeros((0, dim), dtype=np.float32)
        self.vectors = np.zeros((max(16, len(held)), dim), dtype=np.float32)
        self.vectors[: len(held)] = held
        self._rows = {v.tobytes(): i for i, v in enumerate(held)}

    def row_of(self, vector: F32) -> int:
        key = vector.tobytes()
        at = self._rows.get(key)
        if at is None:
            at = self._rows[key] = len(self._rows)
            if at >= len(self.vectors):
                grown = np.zeros((2 * at, self.dim), dtype=np.float32)
                grown[:at] = self.vectors[:at]
                self.vectors = grown
            self.vectors[at] = vector
        return at

    def kept(self, used: npt.NDArray[np.int32]) -> tuple[SharedVectors, npt.NDArray[np.int32]]:
        """Only the vectors ``used`` points at, and ``used`` renumbered to them."""
        kept = np.unique(used[used >= 0])
        shared = SharedVectors(self.dim, self.vectors[kept])
        remap = np.full(max(int(kept.max()) + 1 if len(kept) else 0, 1), -1, dtype=np.int32)
        remap[kept] = np.arange(len(kept), dtype=np.int32)
        return shared, np.where(used >= 0, remap[np.maximum(used, 0)], -1).astype(np.int32)


class _LinkedSkills(Sequence[Sequence[str] | None]):
    """The slots' linked ESCO skill URIs, as the concept index reads them (no copy)."""

    def __init__(self, linked: list[Linked | None]) -> None:
        self.linked = linked

    def __len__(self) -> int:
        return len(self.linked)

    def __getitem__(self, slot: int) -> Sequence[str] | None:  # type: ignore[override]
        held = self.linked[slot]
        return None if held is None else held.skills


class _LinkedOccupations(_LinkedSkills):
    """The slots' linked ESCO occupation URIs, as the occupation index reads them."""

    def __getitem__(self, slot: int) -> Sequence[str] | None:  # type: ignore[override]
        held = self.linked[slot]
        return None if held is None else [uri for uri, _ in held.occupations]


class CandidatePool:
    """Gate attributes, vectors, texts and labels of one tenant's candidates, by slot."""

    _COLUMNS = (
        "xid", "alive", "status", "permit", "available", "lat", "lon", "cos_lat", "commute",
        "unit", "reach", "spoken", "has_vector", "vectors", "occupation",
    )  # fmt: skip

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self.ids: list[uuid.UUID | None] = []
        self.external_ids: list[str | None] = []
        self.labels: list[list[str] | None] = []
        self.linked: list[Linked | None] = []
        self.pos: dict[uuid.UUID, int] = {}
        self._alloc(max(capacity, 16))
        # Per language code, the level each slot speaks it at (rank + 1; 0: does not speak it).
        self.languages: dict[str, npt.NDArray[np.int8]] = {}
        # Rows with more than one chunk: stacked chunk vectors and the slot owning each.
        self.chunk_vectors = np.zeros((0, dim), dtype=np.float32)
        self.chunk_owner = np.zeros(0, dtype=np.int64)
        self.chunks_of: dict[int, I64] = {}
        self._pending_chunks: list[tuple[int, F32]] = []
        self.bm25 = Bm25Index()
        self.skills = SkillIndex([], dim)
        self.concepts = SkillIndex([], 0)  # the rows' ESCO skill URIs, indexed the same way
        self.occupation_index = SkillIndex([], 0)  # … and their ESCO occupation URIs
        self.occupations = SharedVectors(dim)
        self.dead = 0
        # The sum and count of the live profile vectors: the candidates' centroid at any time,
        # kept as rows come and go (app/ml/centring.py).
        self.vector_sum = np.zeros(dim, dtype=np.float64)
        self.vector_count = 0
        self._forget_centre_products()

    def _forget_centre_products(self) -> None:
        # Every slot's profile vector · the centroid (see :meth:`centre_products`), and what it
        # was made for: the profile vectors' revision and the centroid.
        self._vectors_revision = 0
        self._centre_products: tuple[tuple[int, int, bytes], F32] | None = None

    def _alloc(self, capacity: int) -> None:
        self.capacity = capacity
        self.xid = np.zeros(capacity, dtype=np.int64)
        self.alive = np.zeros(capacity, dtype=bool)
        self.status = np.zeros(capacity, dtype=np.int8)
        self.permit = np.zeros(capacity, dtype=np.int8)
        self.available = np.full(capacity, NO_DATE, dtype=np.int32)
        # Coordinates in radians, with the cosine of the latitude: what the distance needs.
        self.lat = np.full(capacity, np.nan)
        self.lon = np.full(capacity, np.nan)
        self.cos_lat = np.full(capacity, np.nan)
        self.commute = np.full(capacity, np.nan)
        # The place as a point on the unit sphere, and the cosine of the angle the commute limit
        # spans (NaN where place or limit is unknown): the commute gate is then one product.
        self.unit = np.full((capacity, 3), np.nan)
        self.reach = np.full(capacity, np.nan)
        self.spoken = np.zeros(capacity, dtype=np.int8)
        self.has_vector = np.zeros(capacity, dtype=bool)
        self.vectors = np.zeros((capacity, self.dim), dtype=np.float32)
        self.occupation = np.full(capacity, -1, dtype=np.int32)

    def _grow(self, needed: int) -> None:
        if needed <= self.capacity:
            return
        capacity = max(needed, self.capacity + max(256, self.capacity // 4))
        old = {name: getattr(self, name) for name in self._COLUMNS}
        n = len(self.ids)
        self._alloc(capacity)
        for name, array in old.items():
            getattr(self, name)[:n] = array[:n]
        for code, levels in list(self.languages.items()):
            grown = np.zeros(capacity, dtype=np.int8)
            grown[:n] = levels[:n]
            self.languages[code] = grown

    def __len__(self) -> int:
        return len(self.pos)

    @property
    def size(self) -> int:
        """Slots in use, dead ones included."""
        return len(self.ids)

    def xid_of(self, row_id: uuid.UUID) -> int | None:
        slot = self.pos.get(row_id)
        return int(self.xid[slot]) if slot is not None else None

    def apply(
        self, rows: Sequence[PoolRow], deleted: Iterable[uuid.UUID] = (), *, bulk: bool = False
    ) -> None:
        """Inserts or replaces ``rows`` and removes ``deleted`` ids.

        ``bulk`` (loading a pool nobody reads yet) only encodes the rows' term counts and leaves
        the BM25 base to the :meth:`compacted` that must follow. Otherwise new rows join the
        BM25 delta; :attr:`wants_compaction` says when the caller should compact."""
        for row_id in deleted:
            slot = self.pos.pop(row_id, None)
            if slot is not None:
                self._kill(slot)
        newest: dict[uuid.UUID, PoolRow] = {}
        for row in rows:  # one version per id: the newest
            held = newest.get(row.id)
            if held is None or row.xid >= held.xid:
                newest[row.id] = row
        self._grow(len(self.ids) + len(newest))
        start = len(self.ids)
        taken: list[PoolRow] = []
        for row in newest.values():
            slot = self.pos.get(row.id)
            if slot is not None and self.xid[slot] > row.xid:
                continue  # an older version than the one held
            if slot is not None:
                self._kill(slot)
            slot = len(self.ids)
            self.ids.append(row.id)
            self.external_ids.append(row.external_id)
            self.labels.append(row.labels)
            self.linked.append(row.linked)
            self.pos[row.id] = slot
            taken.append(row)
        self._set(start, taken)
        slots = range(start, start + len(taken))
        if bulk:
            self.bm25.stage(
                slots, [row.search_text for row in taken], [row.text_language for row in taken]
            )
        else:
            for slot, row in zip(slots, taken, strict=True):
                self.bm25.put(slot, row.search_text, row.text_language)
        self._stack_chunks()

    @property
    def wants_compaction(self) -> bool:
        """The BM25 delta or the dead slots grew past their share."""
        return self.bm25.wants_rebuild() or self.dead > max(64, self.size // 4)

    def _kill(self, slot: int) -> None:
        """Forgets a slot's row: what it said of the person goes now (vectors, labels, text
        counts in the delta); its base term counts go at the next compaction."""
        if self.has_vector[slot]:
            self.vector_sum -= self.vectors[slot]
            self.vector_count -= 1
        self._vectors_revision += 1
        self.alive[slot] = False
        self.has_vector[slot] = False
        self.vectors[slot] = 0.0
        self.ids[slot] = None
        self.external_ids[slot] = None
        self.labels[slot] = None
        self.linked[slot] = None
        self.bm25.drop(slot)
        chunk_rows = self.chunks_of.pop(slot, None)
        if chunk_rows is not None:
            self.chunk_vectors[chunk_rows] = 0.0
        self.dead += 1

    def _set(self, start: int, rows: Sequence[PoolRow]) -> None:
        """Fills slots ``start …`` with ``rows``, column by column."""
        if not rows:
            return
        at = slice(start, start + len(rows))
        nan = math.nan
        self.xid[at] = [row.xid for row in rows]
        self.alive[at] = True
        self.status[at] = [STATUS_CODES.get(row.status, len(STATUS_CODES)) for row in rows]
        self.permit[at] = [PERMIT_CODES.get(row.work_permit, 0) for row in rows]
        self.available[at] = [day_number(row.available_from) for row in rows]
        # Trigonometry with the math module, row by row, as SQL's libm computes it.
        lats = [nan if row.lat is None else math.radians(row.lat) for row in rows]
        lons = [nan if row.lon is None else math.radians(row.lon) for row in rows]
        cos_lats = [math.cos(lat) for lat in lats]
        self.lat[at], self.lon[at], self.cos_lat[at] = lats, lons, cos_lats
        self.commute[at] = [nan if r.max_commute_km is None else r.max_commute_km for r in rows]
        self.unit[at] = [unit_point(lat, lon) for lat, lon in zip(lats, lons, strict=True)]
        self.reach[at] = [reach_cosine(r.max_commute_km, r.lat, r.lon) for r in rows]
        self.spoken[at] = [min(len(row.languages), 127) for row in rows]
        for slot, row in enumerate(rows, start):
            for code, level in row.languages:
                levels = self.languages.get(code or "")
                if levels is None:
                    levels = self.languages[code or ""] = np.zeros(self.capacity, dtype=np.int8)
                # Stored as rank + 1: 0 means "does not speak it", an unknown level still counts.
                levels[slot] = max(int(levels[slot]), cefr_rank(level) + 1)
            if row.chunks is not None and len(row.chunks) > 1:
                self._pending_chunks.append((slot, row.chunks))
        embedded = [i for i, row in enumerate(rows) if row.embedding is not None]
        self._vectors_revision += 1
        if embedded:
            slots = np.asarray(embedded, dtype=np.int64) + start
            self.vectors[slots] = np.stack([rows[i].embedding for i in embedded])  # type: ignore[misc]
            self.has_vector[slots] = True
            self.vector_sum += self.vectors[slots].sum(axis=0, dtype=np.float64)
            self.vector_count += len(slots)
        self.occupation[at] = [
            -1 if row.occupation is None else self.occupations.row_of(row.occupation)
            for row in rows
        ]

    def _stack_chunks(self) -> None:
        if not self._pending_chunks:
            return
        at = len(self.chunk_owner)
        owners = []
        for slot, vectors in self._pending_chunks:
            self.chunks_of[slot] = np.arange(at, at + len(vectors), dtype=np.int64)
            owners.append(np.full(len(vectors), slot, dtype=np.int64))
            at += len(vectors)
        self.chunk_vectors = np.concatenate(
            [self.chunk_vectors, *(v for _, v in self._pending_chunks)]
        ).astype(np.float32)
        self.chunk_owner = np.concatenate([self.chunk_owner, *owners])
        self._pending_chunks = []

    def compacted(self) -> CandidatePool:
        """A new pool without the dead slots, its BM25 delta folded into a new base and its
        labels indexed anew. This pool is only read: requests may go on reading it meanwhile.
        When no slot died, the new pool shares this one's columns instead of copying the
        vectors (it writes them only in slots this pool does not have, or zeroes a row it
        forgets), but has flags of its own."""
        keep = np.flatnonzero(self.alive[: self.size])
        new = CandidatePool.__new__(CandidatePool)
        new.dim = self.dim
        new._pending_chunks = []
        new.dead = 0
        new._forget_centre_products()
        new.vector_sum, new.vector_count = self.vector_sum.copy(), self.vector_count
        new.bm25 = self.bm25.rebuild(keep.tolist())
        n = len(keep)
        if n == self.size:
            for name in self._COLUMNS:
                setattr(new, name, getattr(self, name))
            # The flags a kill writes are the new pool's own, so a kill there leaves this pool
            # as it was; the columns shared are written only in slots this pool does not have
            # yet, or zeroed for a row the new pool forgot (readers copy what they keep).
            new.alive, new.has_vector = self.alive.copy(), self.has_vector.copy()
            new.capacity = self.capacity
            new.languages = dict(self.languages)
            new.ids, new.external_ids = list(self.ids), list(self.external_ids)
            new.labels, new.pos = list(self.labels), dict(self.pos)
            new.linked = list(self.linked)
            new.chunk_vectors, new.chunk_owner = self.chunk_vectors, self.chunk_owner
            new.chunks_of = dict(self.chunks_of)
            new.occupations = self.occupations
        else:
            new._alloc(n + max(256, n // 20))
            for name in self._COLUMNS:
                getattr(new, name)[:n] = getattr(self, name)[keep]
            new.languages = {}
            for code, levels in self.languages.items():
                column = np.zeros(new.capacity, dtype=np.int8)
                column[:n] = levels[keep]
                new.languages[code] = column
            slots = keep.tolist()
            new.ids = [self.ids[s] for s in slots]
            new.external_ids = [self.external_ids[s] for s in slots]
            new.labels = [self.labels[s] for s in slots]
            new.linked = [self.linked[s] for s in slots]
            new.pos = {row_id: i for i, row_id in enumerate(new.ids) if row_id is not None}
            vectors, owners, new.chunks_of = [], [], {}
            at = 0
            for slot, old_slot in enumerate(slots):
                rows = self.chunks_of.get(old_slot)
                if rows is None:
                    continue
                vectors.append(self.chunk_vectors[rows])
                owners.append(np.full(len(rows), slot, dtype=np.int64))
                new.chunks_of[slot] = np.arange(at, at + len(rows), dtype=np.int64)
                at += len(rows)
            new.chunk_vectors = (
                np.concatenate(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float32)
            )
            new.chunk_owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
            new.occupations, new.occupation[:n] = self.occupations.kept(new.occupation[:n])
        new.skills = SkillIndex(new.labels, self.dim)
        new.concepts = SkillIndex(_LinkedSkills(new.linked), 0)
        new.occupation_index = SkillIndex(_LinkedOccupations(new.linked), 0)
        return new

    # -- what ranking reads ------------------------------------------------------------------

    def centroid(self, prior: int) -> F32 | None:
        """The mean of the live profile vectors, shrunk toward zero by n / (n + ``prior``)
        (None while no row has a vector)."""
        if self.vector_count <= 0:
            return None
        mean: F32 = (self.vector_sum / (self.vector_count + prior)).astype(np.float32)
        return mean

    def centre_products(self, centroid: F32) -> F32:
        """Every slot's profile vector · ``centroid`` (zero for a slot without one): what
        centring each ranking's similarities needs (app/ml/centring.py). The centroid moves only
        as rows do, so the products are made once (by a ranking that passes over every vector
        anyway) and kept until a row changes or another centroid is asked for.

        A pool compacted from this one without dead slots shares its vector column; a slot the
        newer pool kills is zeroed there while this pool, which nobody syncs any more, still
        holds it alive: a ranking still running on this pool then reads that row's product
        with the query as zero and its product with the centroid as it was (the similarity is
        neither the old one nor the new), and the snapshot leaves out whoever is gone
        (app/services/shortlists.py)."""
        kept = self.kept_centre_products(centroid)
        if kept is not None:
            return kept
        products = self.vectors[: self.size] @ centroid
        self._centre_products = (self._centre_key(centroid), products)
        return products

    def kept_centre_products(self, centroid: F32) -> F32 | None:
        """:meth:`centre_products` if they are kept for the rows as they are, else None (a
        ranking that reads only a few rows makes its own rather than a pass over all)."""
        held = self._centre_products
        return held[1] if held is not None and held[0] == self._centre_key(centroid) else None

    def _centre_key(self, centroid: F32) -> tuple[int, int, bytes]:
        return self._vectors_revision, self.size, centroid.tobytes()

    def lexical_scores(self, query: str) -> tuple[F64, F64]:
        """The BM25 score of every slot for the query text, and the query's ceiling there
        (each slot analyses the query in its own text's language)."""
        return self.bm25.query(query, self.size)

    def title_similarity(self, title: F32, slots: I64) -> F64:
        """Returns per slot the cosine of its desired occupations to a vacancy title (NaN when
        it names none), as the database path's ``1 - (occupation_embedding <=> title)``."""
        rows = self.occupation[slots]
        sims = (self.occupations.vectors[np.maximum(rows, 0)] @ title).astype(np.float64)
        sims[rows < 0] = np.nan
        return sims

    def text_vectors(self, slot: int) -> F32:
        """Returns the vectors of a slot's text windows (its profile vector when it has one)."""
        chunk_rows = self.chunks_of.get(slot)
        if chunk_rows is not None:
            return self.chunk_vectors[chunk_rows]
        if not self.has_vector[slot]:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.vectors[slot : slot + 1].copy()

    def skill_hits(self, required: Sequence[tuple[str, float]]) -> F64:
        """Per slot, the summed weight of the required skill keys it lists exactly."""
        return self.skills.skill_hits(self.labels, required)

    def concept_hits(self, wanted: Sequence[tuple[str, float]]) -> F64:
        """Per slot, the summed weight of the wanted ESCO skill URIs it is linked to."""
        if not wanted:
            return np.zeros(self.size)
        return self.concepts.skill_hits(_LinkedSkills(self.linked), wanted)

    def occupation_hits(self, wanted: Sequence[tuple[str, float]]) -> F64:
        """Per slot, the summed weight of the wanted ESCO occupation URIs it is linked to."""
        if not wanted:
            return np.zeros(self.size)
        return self.occupation_index.skill_hits(_LinkedOccupations(self.linked), wanted)

    def label_keys(self, slots: Sequence[int]) -> LabelKeys:
        """The labels of ``slots`` as key ids, with the key vectors known so far."""
        return self.skills.label_keys(self.labels, slots)

    def remember_vectors(self, labels: LabelKeys) -> None:
        """Keeps key vectors a ranking completed (see :meth:`SkillIndex.remember`)."""
        self.skills.remember(labels)

    def forget(self, ids: Iterable[uuid.UUID]) -> None:
        """Kills the slots of ``ids`` (rows the database no longer has)."""
        self.apply([], ids)
