"""One tenant's candidates in memory, laid out for ranking: gate attributes, vectors, BM25.

PostgreSQL stays the source of truth; this is a read model kept in step with it by the change
feed (app/services/pool.py). Holding it in column arrays turns the per-request work that
dominated shortlist latency at 50,000 candidates a tenant — evaluating every gate on every row
for the exclusion counts (about 1 s in SQL), filtered HNSW search (recall 0.86) and rebuilding
BM25 — into a few vectorised passes of a few milliseconds, and makes vector retrieval an exact
scan over the gate-passing rows, so nothing is missed.

Gates here mirror ``GATE_SQL`` in app/repositories/matching.py value for value (1 pass, 0 unknown,
-1 fail); tests/test_pool.py checks both on the same rows.

BM25 matches app/ml/lexical.py: a base built over all rows, plus a small delta of rows written
since, scored with the base's statistics; the base is rebuilt (from stored term counts, without
tokenising again) when the delta or the dead rows grow past a share of it.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from array import array as int_array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from app.ml.lexical import lexical_tokens
from app.ml.scoring import LabelKeys, distance_fit, ragged_positions
from app.ml.text import skill_key as _skill_key

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

CEFR_RANK = {"A1": 1, "A2": 2, "B1": 3, "B2": 4, "C1": 5, "C2": 6, "NATIVE": 7}
STATUS_CODES = {"active": 0, "placed": 1, "paused": 2, "withdrawn": 3}
PERMIT_CODES = {"no": -1, "yes": 1}
NO_DATE = np.iinfo(np.int32).max
EARTH_KM = 6371.0088


def cefr_rank(level: Any) -> int:
    """Same as SQL ``ponte_cefr_rank``: A1 = 1 … C2 = 6, native = 7, anything else 0."""
    return CEFR_RANK.get(str(level).upper(), 0) if level is not None else 0


def _unit(lat: float, lon: float) -> F64:
    """The point at (lat, lon), in radians, on the unit sphere (NaN when unknown)."""
    cos_lat = math.cos(lat)
    return np.array([cos_lat * math.cos(lon), cos_lat * math.sin(lon), math.sin(lat)])


def _day(value: dt.date | None) -> int:
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
    languages: list[dict[str, Any]]
    search_text: str
    embedding: F32 | None
    chunks: F32 | None = None  # only when the text has more than one chunk
    occupation: F32 | None = None  # the vector of the desired occupations


@dataclass(frozen=True)
class VacancyView:
    """What the gates need of the vacancy."""

    start_date: dt.date | None
    remote: bool
    lat: float | None
    lon: float | None
    languages: Sequence[Mapping[str, Any]]


@dataclass
class _Bm25:
    """BM25 base: term counts per row (CSR) and weights per term (CSC), frozen statistics."""

    k1: float = 1.2
    b: float = 0.75
    rows: int = 0
    vocab: dict[str, int] = field(default_factory=dict)
    tf_indptr: I64 = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    tf_terms: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    tf_counts: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float32)
    )
    w_indptr: I64 = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    w_rows: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    w_data: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    idf: F64 = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    avgdl: float = 1.0

    @classmethod
    def build(
        cls,
        rows: Sequence[tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]],
        vocab: dict[str, int],
    ) -> _Bm25:
        """Builds the base from (term ids, counts) per row; row i is slot i."""
        n = len(rows)
        base = cls(rows=n, vocab=vocab)
        lens = np.fromiter((len(t) for t, _ in rows), dtype=np.int64, count=n)
        base.tf_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=base.tf_indptr[1:])
        base.tf_terms = (
            np.concatenate([t for t, _ in rows]).astype(np.int32) if n else base.tf_terms
        )
        base.tf_counts = (
            np.concatenate([c for _, c in rows]).astype(np.float32) if n else base.tf_counts
        )
        doc_of = np.repeat(np.arange(n, dtype=np.int32), lens)
        lengths = np.bincount(doc_of, weights=base.tf_counts, minlength=n)
        base.avgdl = float(lengths.mean()) if n else 1.0
        df = np.bincount(base.tf_terms, minlength=len(vocab)).astype(np.float64)
        base.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        norm = (base.k1 * (1 - base.b + base.b * lengths / (base.avgdl or 1.0))).astype(np.float32)
        tf = base.tf_counts
        idf = base.idf.astype(np.float32)
        weights = idf[base.tf_terms] * tf * np.float32(base.k1 + 1) / (tf + norm[doc_of])
        order = np.argsort(base.tf_terms, kind="stable")
        base.w_rows = doc_of[order]
        base.w_data = weights[order].astype(np.float32)
        base.w_indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(base.tf_terms, minlength=len(vocab)), out=base.w_indptr[1:])
        return base

    def row(self, row: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """Returns (term ids, counts) of one base row."""
        start, end = self.tf_indptr[row], self.tf_indptr[row + 1]
        return self.tf_terms[start:end], self.tf_counts[start:end]

    @staticmethod
    def encode(
        counts: Mapping[str, int], vocab: dict[str, int]
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """Returns (term ids, counts) of a row, adding unseen terms to ``vocab``."""
        terms = [vocab.setdefault(term, len(vocab)) for term in counts]
        return np.asarray(terms, dtype=np.int32), np.asarray(
            list(counts.values()), dtype=np.float32
        )

    def idf_of(self, term: str) -> float:
        j = self.vocab.get(term)
        if j is not None and j < len(self.idf):
            return float(self.idf[j])
        return math.log(1 + (self.rows + 0.5) / 0.5)

    def add_scores(self, out: F64, terms: Iterable[str]) -> None:
        """Adds each base row's BM25 score for ``terms`` into ``out[:rows]``."""
        spans = []
        for term in terms:
            j = self.vocab.get(term)
            if j is not None and j + 1 < len(self.w_indptr):
                spans.append((self.w_indptr[j], self.w_indptr[j + 1]))
        if spans:
            # One weighted count over all the terms' postings, rather than a scatter per term.
            rows = np.concatenate([self.w_rows[start:end] for start, end in spans])
            weights = np.concatenate([self.w_data[start:end] for start, end in spans])
            out += np.bincount(rows, weights=weights, minlength=len(out))

    def score_counts(self, counts: Mapping[str, int], terms: set[str]) -> float:
        """Scores a row outside the base with the base's statistics."""
        shared = counts.keys() & terms
        if not shared:
            return 0.0
        length = sum(counts.values())
        norm = self.k1 * (1 - self.b + self.b * length / (self.avgdl or 1.0))
        score = 0.0
        for term in shared:
            tf = counts[term]
            score += self.idf_of(term) * tf * (self.k1 + 1) / (tf + norm)
        return score


class CandidatePool:
    """Gate attributes, vectors and BM25 of one tenant's candidates, by slot."""

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self.ids: list[uuid.UUID | None] = []
        self.external_ids: list[str | None] = []
        self.labels: list[list[str] | None] = []
        self.pos: dict[uuid.UUID, int] = {}
        self._alloc(max(capacity, 16))
        self.languages: dict[str, npt.NDArray[np.int8]] = {}
        # Rows with more than one chunk: stacked chunk vectors and the slot owning each.
        self.chunk_vectors = np.zeros((0, dim), dtype=np.float32)
        self.chunk_owner = np.zeros(0, dtype=np.int64)
        self.chunks_of: dict[int, npt.NDArray[np.int64]] = {}
        self.bm25 = _Bm25()
        self.delta: dict[int, Counter[str]] = {}
        self._pending_chunks: list[tuple[int, F32]] = []
        self.key_generation = 0
        self._index_labels()
        self._encoded: dict[int, tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]] = {}
        self.dead = 0
        # Desired-occupation vectors, one per distinct vector (occupations come from pick lists,
        # so thousands of candidates share a few hundred); ``occupation`` holds each slot's row.
        self.occupation_vectors = np.zeros((16, dim), dtype=np.float32)
        self._occupation_rows: dict[bytes, int] = {}

    # -- storage ---------------------------------------------------------------------------

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

    _COLUMNS = (
        "xid", "alive", "status", "permit", "available", "lat", "lon", "cos_lat", "commute",
        "unit", "reach", "spoken", "has_vector", "vectors", "occupation",
    )  # fmt: skip

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

        ``bulk`` (loading a pool nobody reads yet) keeps term counts compact and leaves the BM25
        base to the ``compact()`` that must follow."""
        for row_id in deleted:
            slot = self.pos.pop(row_id, None)
            if slot is not None:
                self._kill(slot)
        self._grow(len(self.ids) + len(rows))
        for row in rows:
            slot = self.pos.get(row.id)
            if slot is not None and self.xid[slot] > row.xid:
                continue  # an older version than the one held
            if slot is not None:
                self._kill(slot)
            slot = len(self.ids)
            self.ids.append(row.id)
            self.external_ids.append(row.external_id)
            self.labels.append(row.labels)
            self.pos[row.id] = slot
            self._set(slot, row)
        self._stack_chunks()
        # The delta is scored row by row: keep it small, but rebuild a big base rarely.
        if len(self.delta) > max(64, min(1000, self.bm25.rows // 10)) or self.dead > max(
            64, self.size // 4
        ):
            self.compact()

    def _kill(self, slot: int) -> None:
        self.alive[slot] = False
        self.has_vector[slot] = False
        self.ids[slot] = None
        self.external_ids[slot] = None
        self.labels[slot] = None
        self.delta.pop(slot, None)
        self._encoded.pop(slot, None)
        if slot in self.chunks_of:
            del self.chunks_of[slot]
        self.dead += 1

    def _set(self, slot: int, row: PoolRow, bulk: bool = False) -> None:
        self.xid[slot] = row.xid
        self.alive[slot] = True
        self.status[slot] = STATUS_CODES.get(row.status, 3)
        self.permit[slot] = PERMIT_CODES.get(row.work_permit, 0)
        self.available[slot] = _day(row.available_from)
        self.lat[slot] = np.nan if row.lat is None else math.radians(row.lat)
        self.lon[slot] = np.nan if row.lon is None else math.radians(row.lon)
        self.cos_lat[slot] = math.cos(self.lat[slot])
        self.commute[slot] = np.nan if row.max_commute_km is None else row.max_commute_km
        self.unit[slot] = _unit(self.lat[slot], self.lon[slot])
        self.reach[slot] = (
            math.cos(min(row.max_commute_km / EARTH_KM, math.pi))
            if row.max_commute_km is not None and row.lat is not None and row.lon is not None
            else np.nan
        )
        self.spoken[slot] = min(len(row.languages), 127)
        for item in row.languages:
            code = str(item.get("code", ""))
            levels = self.languages.get(code)
            if levels is None:
                levels = self.languages[code] = np.zeros(self.capacity, dtype=np.int8)
            # Stored as rank + 1, so 0 means "does not speak it" and an unknown level still counts.
            levels[slot] = max(int(levels[slot]), cefr_rank(item.get("level")) + 1)
        if row.embedding is not None:
            self.vectors[slot] = row.embedding
            self.has_vector[slot] = True
        if row.chunks is not None and len(row.chunks) > 1:
            self._pending_chunks.append((slot, row.chunks))
        self.occupation[slot] = (
            -1 if row.occupation is None else self._occupation_row(row.occupation)
        )
        counts = Counter(lexical_tokens(row.search_text or ""))
        if bulk:
            self._encoded[slot] = _Bm25.encode(counts, self.bm25.vocab)
        else:
            self.delta[slot] = counts

    def _occupation_row(self, vector: F32) -> int:
        key = vector.tobytes()
        at = self._occupation_rows.get(key)
        if at is None:
            at = self._occupation_rows[key] = len(self._occupation_rows)
            if at >= len(self.occupation_vectors):
                grown = np.zeros((2 * at, self.dim), dtype=np.float32)
                grown[:at] = self.occupation_vectors[:at]
                self.occupation_vectors = grown
            self.occupation_vectors[at] = vector
        return at

    def _compact_occupations(self, n: int) -> None:
        """Keeps only the occupation vectors some live slot still points at."""
        used = self.occupation[:n]
        kept = np.unique(used[used >= 0])
        vectors = self.occupation_vectors[kept]
        self.occupation_vectors = np.zeros((max(16, len(kept)), self.dim), dtype=np.float32)
        self.occupation_vectors[: len(kept)] = vectors
        self._occupation_rows = {v.tobytes(): i for i, v in enumerate(vectors)}
        remap = np.full(max(int(kept.max()) + 1 if len(kept) else 0, 1), -1, dtype=np.int32)
        remap[kept] = np.arange(len(kept), dtype=np.int32)
        self.occupation[:n] = np.where(used >= 0, remap[np.maximum(used, 0)], -1)

    def title_similarity(self, title: F32, slots: I64) -> F64:
        """Returns per slot the cosine of its desired occupations to a vacancy title (NaN when
        it names none), as the database path's ``1 - (occupation_embedding <=> title)``."""
        rows = self.occupation[slots]
        sims = (self.occupation_vectors[np.maximum(rows, 0)] @ title).astype(np.float64)
        sims[rows < 0] = np.nan
        return sims

    def _index_labels(self) -> None:
        """Interns the skill keys of every slot's labels (``key_ids``), keeps each slot's
        labels as key ids (CSR: ``key_indptr``, ``key_flat``) and indexes the slots by key:
        one sorted int32 array of slots, and per key a view of its stretch. Rows written later
        are looked up one by one until the next rebuild."""
        key_ids: dict[str, int] = {}
        id_of_label: dict[str, int] = {}
        keys, counts = int_array("i"), np.zeros(self.size, dtype=np.int64)
        for slot, labels in enumerate(self.labels):
            for label in labels or ():
                k = id_of_label.get(label)
                if k is None:
                    k = id_of_label[label] = key_ids.setdefault(_skill_key(label), len(key_ids))
                keys.append(k)
            counts[slot] = len(labels or ())
        key_array = np.frombuffer(keys, dtype=np.int32) if keys else np.zeros(0, np.int32)
        self.key_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.key_flat = key_array
        self.key_ids = key_ids
        self.key_names = list(key_ids)
        self._label_key = id_of_label
        # Vectors of the keys come from the skill cache as rankings ask for them.
        self.key_vectors = np.zeros((len(key_ids), self.dim), dtype=np.float32)
        self.key_known = np.zeros(len(key_ids), dtype=bool)
        self.key_generation += 1
        slots = np.repeat(np.arange(self.size, dtype=np.int32), counts)
        order = np.argsort(key_array, kind="stable")
        sorted_slots = slots[order]
        bounds = np.searchsorted(key_array[order], np.arange(len(key_ids) + 1))
        self.label_slots = {
            key: sorted_slots[bounds[k] : bounds[k + 1]] for key, k in key_ids.items()
        }
        self.label_indexed = self.size

    def _key_of(self, label: str) -> int:
        """The key id of a label, interning its key if the pool has not seen it."""
        k = self._label_key.get(label)
        if k is None:
            key = _skill_key(label)
            k = self.key_ids.get(key)
            if k is None:
                k = self.key_ids[key] = len(self.key_names)
                self.key_names.append(key)
            self._label_key[label] = k
        return k

    def label_keys(self, slots: Sequence[int]) -> LabelKeys:
        """The labels of ``slots`` as key ids (local to the answer), with the key vectors the
        pool holds; keys it holds no vector for are marked unknown (see ``remember_vectors``).
        """
        at = np.asarray(slots, dtype=np.int64)
        indexed = at < self.label_indexed
        counts = np.zeros(len(at), dtype=np.int64)
        starts = self.key_indptr[at[indexed]]
        counts[indexed] = self.key_indptr[at[indexed] + 1] - starts
        later = {
            i: [self._key_of(label) for label in self.labels[slot] or ()]
            for i, slot in enumerate(slots)
            if not indexed[i]
        }
        for i, row in later.items():
            counts[i] = len(row)
        ids = np.full((len(at), max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
        rows = np.flatnonzero(indexed)
        owner, place = ragged_positions(counts[rows])
        ids[rows[owner], place] = self.key_flat[starts[owner] + place]
        for i, row in later.items():
            ids[i, : len(row)] = row
        # Renumber to the distinct keys of this answer.
        present = ids >= 0
        keys, local = np.unique(ids[present], return_inverse=True)
        ids[present] = local
        if len(self.key_known) < len(self.key_names):
            grown = len(self.key_names)
            self.key_vectors = np.concatenate(
                [self.key_vectors, np.zeros((grown - len(self.key_vectors), self.dim), np.float32)]
            )
            self.key_known = np.concatenate(
                [self.key_known, np.zeros(grown - len(self.key_known), dtype=bool)]
            )
        return LabelKeys(
            ids,
            [self.key_names[k] for k in keys.tolist()],
            self.key_vectors[keys],
            self.key_known[keys],
            source=(self.key_generation, keys),
        )

    def remember_vectors(self, labels: LabelKeys) -> None:
        """Keeps the key vectors ``labels`` was completed with, if the pool's keys are still
        numbered as when it was taken."""
        if labels.source is None or labels.source[0] != self.key_generation:
            return
        keys = labels.source[1]
        new = labels.known & ~self.key_known[keys]
        if new.any():
            self.key_vectors[keys[new]] = labels.vectors[new]
            self.key_known[keys[new]] = True

    def skill_hits(self, required: Sequence[tuple[str, float]]) -> F64:
        """Returns per slot the summed weight of the required skill keys it lists exactly."""
        hits = np.zeros(self.size)
        for key, weight in required:
            slots = self.label_slots.get(key)
            if slots is not None:
                hits[slots] += weight
        wanted = dict(required)
        for slot in range(self.label_indexed, self.size):
            for label in self.labels[slot] or ():
                hits[slot] += wanted.get(_skill_key(label), 0.0)
        return hits

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

    def compact(self) -> None:
        """Drops dead slots and folds the delta into a new BM25 base."""
        keep = np.flatnonzero(self.alive[: self.size])
        vocab = self.bm25.vocab
        docs = [
            self._encoded[slot]
            if slot in self._encoded
            else _Bm25.encode(self.delta[slot], vocab)
            if slot in self.delta
            else self.bm25.row(slot)
            for slot in keep.tolist()
        ]
        if len(keep) == self.size:
            # Nothing died: the columns stay where they are (no second copy of the vectors).
            self.bm25 = _Bm25.build(docs, vocab)
            self.delta = {}
            self._encoded = {}
            self._index_labels()
            return
        old = {name: getattr(self, name)[keep] for name in self._COLUMNS}
        languages = {code: levels[keep] for code, levels in self.languages.items()}
        chunks = {
            int(s): self.chunk_vectors[self.chunks_of[int(s)]]
            for s in keep
            if int(s) in self.chunks_of
        }
        ids = [self.ids[int(s)] for s in keep]
        external_ids = [self.external_ids[int(s)] for s in keep]
        labels = [self.labels[int(s)] for s in keep]
        self._alloc(len(keep) + max(256, len(keep) // 20))
        n = len(keep)
        for name, array in old.items():
            getattr(self, name)[:n] = array
        self.languages = {}
        for code, levels in languages.items():
            grown = np.zeros(self.capacity, dtype=np.int8)
            grown[:n] = levels
            self.languages[code] = grown
        self.ids = ids
        self.external_ids = external_ids
        self.labels = labels
        self.pos = {row_id: i for i, row_id in enumerate(ids) if row_id is not None}
        new_slot = {int(old_slot): i for i, old_slot in enumerate(keep)}
        vectors, owners, self.chunks_of = [], [], {}
        at = 0
        for old_slot, stacked in chunks.items():
            slot = new_slot[old_slot]
            vectors.append(stacked)
            owners.append(np.full(len(stacked), slot, dtype=np.int64))
            self.chunks_of[slot] = np.arange(at, at + len(stacked), dtype=np.int64)
            at += len(stacked)
        self.chunk_vectors = (
            np.concatenate(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float32)
        )
        self.chunk_owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        self.bm25 = _Bm25.build(docs, vocab)
        self.delta = {}
        self._encoded = {}
        self.dead = 0
        self._compact_occupations(n)
        self._index_labels()

    # -- gates -----------------------------------------------------------------------------

    def gate_states(
        self, vacancy: VacancyView, gates: Sequence[str]
    ) -> dict[str, npt.NDArray[np.int8]]:
        """Returns, per gate, 1 / 0 / -1 for every slot (dead slots included; mask them)."""
        n = self.size
        return {gate: getattr(self, f"_gate_{gate}")(vacancy, n) for gate in gates}

    @staticmethod
    def _sign(
        passed: npt.NDArray[np.bool_], unknown: npt.NDArray[np.bool_] | None = None
    ) -> npt.NDArray[np.int8]:
        states = passed.astype(np.int8)
        states *= 2
        states -= 1
        if unknown is not None:
            states *= ~unknown
        return states

    def _gate_status(self, vacancy: VacancyView, n: int) -> npt.NDArray[np.int8]:
        return self._sign(self.status[:n] <= STATUS_CODES["placed"])

    def _gate_not_placed(self, vacancy: VacancyView, n: int) -> npt.NDArray[np.int8]:
        return self._sign(self.status[:n] != STATUS_CODES["placed"])

    def _gate_availability(self, vacancy: VacancyView, n: int) -> npt.NDArray[np.int8]:
        available = self.available[:n]
        if vacancy.start_date is None:
            return np.zeros(n, dtype=np.int8)
        return self._sign(available <= _day(vacancy.start_date), available == NO_DATE)

    def _gate_language(self, vacancy: VacancyView, n: int) -> npt.NDArray[np.int8]:
        if not vacancy.languages:
            return np.ones(n, dtype=np.int8)
        passed = np.ones(n, dtype=bool)
        for requirement in vacancy.languages:
            levels = self.languages.get(str(requirement.get("code", "")))
            if levels is None:
                passed[:] = False
                break
            passed &= levels[:n] >= cefr_rank(requirement.get("min_level")) + 1
        return self._sign(passed, self.spoken[:n] == 0)

    def _gate_commute(self, vacancy: VacancyView, n: int) -> npt.NDArray[np.int8]:
        if vacancy.remote:
            return np.ones(n, dtype=np.int8)
        if vacancy.lat is None or vacancy.lon is None:
            return np.zeros(n, dtype=np.int8)
        # Within reach when the angle to the vacancy is at most the commute limit's, i.e. its
        # cosine at least the limit's: one product over every row instead of the haversine.
        reach = self.reach[:n]
        closeness = self.unit[:n] @ _unit(math.radians(vacancy.lat), math.radians(vacancy.lon))
        with np.errstate(invalid="ignore"):
            passed = closeness >= reach
            # Within rounding of the limit, the haversine distance decides, as in SQL.
            edge = np.flatnonzero(np.abs(closeness - reach) < 1e-9)
        if len(edge):
            km = self.distance_km(vacancy.lat, vacancy.lon, edge)
            passed[edge] = km <= self.commute[edge]
        return self._sign(passed, np.isnan(reach))

    def _gate_permit(self, vacancy: VacancyView, n: int) -> npt.NDArray[np.int8]:
        return self.permit[:n].copy()

    def distance_km(self, lat: float, lon: float, slots: Any) -> F64:
        """Great-circle distance from (lat, lon), as SQL ``ponte_haversine_km`` computes it."""
        # In place, one temporary per term: this runs over every row of the tenant.
        lat0 = math.radians(lat)
        h: F64 = np.subtract(lat0, self.lat[slots])
        h *= 0.5
        np.sin(h, out=h)
        h *= h
        across = np.subtract(math.radians(lon), self.lon[slots])
        across *= 0.5
        np.sin(across, out=across)
        across *= across
        across *= self.cos_lat[slots]
        across *= math.cos(lat0)
        h += across
        np.sqrt(h, out=h)
        np.arcsin(h, out=h)
        h *= 2 * EARTH_KM
        return h

    def language_fit(self, required: Sequence[Mapping[str, Any]], slots: Any) -> F64 | None:
        """Share of the required languages spoken at the level asked, as SQL
        ``ponte_language_fit`` computes it (None when none is asked, 0.5 when none recorded)."""
        if not required:
            return None
        spoken = self.spoken[slots]
        met = np.zeros(len(spoken), dtype=np.float64)
        for requirement in required:
            levels = self.languages.get(str(requirement.get("code", "")))
            if levels is not None:
                met += levels[slots] >= cefr_rank(requirement.get("min_level")) + 1
        fit: F64 = met / len(required)
        fit[spoken == 0] = 0.5
        return fit

    def distances(self, vacancy: VacancyView, slots: Any) -> F64:
        """Returns the km from the vacancy to each slot (NaN where either has no place)."""
        if vacancy.lat is None or vacancy.lon is None:
            return np.full(len(self.commute[slots]), np.nan)
        return self.distance_km(vacancy.lat, vacancy.lon, slots)

    def passing(self, states: Mapping[str, npt.NDArray[np.int8]]) -> npt.NDArray[np.bool_]:
        """Returns the live slots that no gate fails."""
        mask = self.alive[: self.size].copy()
        for values in states.values():
            mask &= values != -1
        return mask

    # -- retrieval and features --------------------------------------------------------------

    def similarities(self, query: F32, slots: I64 | None = None) -> tuple[F32, F32]:
        """Returns the cosine to ``query`` of the profile vector and of the best chunk, for
        ``slots`` (every slot when None), in their order."""
        n = self.size
        if slots is None:
            slots = np.arange(n)
        # The product is bound by reading the vectors: for a small share of the rows, gather
        # them; for a large one, a straight pass over all of them reads less.
        profile = (
            np.take(self.vectors, slots, axis=0) @ query
            if 4 * len(slots) < n
            else (self.vectors[:n] @ query)[slots]
        )
        best = profile
        if len(self.chunk_owner):
            position = np.full(n, -1, dtype=np.int64)
            position[slots] = np.arange(len(slots))
            owners = position[self.chunk_owner]
            held = owners >= 0
            if held.any():
                best = profile.copy()
                np.maximum.at(best, owners[held], self.chunk_vectors[held] @ query)
        return profile, best

    @staticmethod
    def top(scores: npt.NDArray[Any], mask: npt.NDArray[np.bool_], k: int) -> I64:
        """Returns the positions of the ``k`` masked entries with the highest score, best first
        (ties in position order)."""
        candidates = np.flatnonzero(mask)
        if len(candidates) > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        order = np.argsort(-scores[candidates], kind="stable")
        result: I64 = candidates[order].astype(np.int64)
        return result

    def lexical_scores(self, query: str) -> F64:
        """Returns the BM25 score of every slot for ``query`` (query terms counted once)."""
        terms = set(lexical_tokens(query))
        out = np.zeros(self.size, dtype=np.float64)
        self.bm25.add_scores(out[: self.bm25.rows], terms)
        for slot, counts in self.delta.items():
            out[slot] = self.bm25.score_counts(counts, terms)
        return out

    def text_vectors(self, slot: int) -> F32:
        """Returns the vectors of a slot's text windows (its profile vector when it has one)."""
        chunk_rows = self.chunks_of.get(slot)
        if chunk_rows is not None:
            return self.chunk_vectors[chunk_rows]
        if not self.has_vector[slot]:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.vectors[slot : slot + 1]


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
    lexical: F64
    gates: dict[str, npt.NDArray[np.int8]]  # per gate, the state of each picked row
    text_vectors: list[F32]
    label_keys: LabelKeys


def retrieve(
    pool: CandidatePool,
    vacancy: VacancyView,
    enabled: Sequence[str],
    all_gates: Sequence[str],
    query: F32,
    title: F32 | None,
    query_text: str,
    k: int,
    lexical_k: int,
    weights: Mapping[str, float] | None = None,
    skills: Sequence[tuple[str, float]] = (),
) -> Retrieved:
    """Gates every row, then proposes the union of the ``k`` passing rows nearest by profile
    vector, the ``k`` nearest by best text window and the ``lexical_k`` best by BM25 — exact,
    over all passing rows — with the features the scorer reads from vectors and BM25.

    Runs without yielding, so the pool cannot change under it."""
    n = pool.size
    states = pool.gate_states(vacancy, all_gates)
    alive = pool.alive[:n]
    mask = pool.passing({g: states[g] for g in enabled})
    excluded = {g: int(np.count_nonzero((states[g] == -1) & alive)) for g in enabled}
    # From here on, only the passing rows (a sixth of a tenant on average) are looked at;
    # ``top`` answers positions in ``passing``.
    passing = np.flatnonzero(mask)
    km = pool.distances(vacancy, passing)
    profile, best = pool.similarities(query, passing)
    lexical = pool.lexical_scores(query_text)[passing]
    vectors = pool.has_vector[passing]
    picked = [pool.top(profile, vectors, k), pool.top(best, vectors, k)]
    picked.append(pool.top(lexical, lexical > 0, lexical_k))
    if weights:
        # The features every row has at hand, weighted as the scorer weighs them: a retriever
        # for rows that are good on all of them without topping any single list.
        top_lexical = float(lexical.max()) if len(lexical) else 0.0
        parts: dict[str, F64 | F32 | None] = {
            "semantic_best": best,
            "semantic_profile": profile,
            "lexical": lexical / top_lexical if top_lexical > 0 else lexical,
            "language": pool.language_fit(vacancy.languages, passing),
            "distance": distance_fit(bool(vacancy.remote), km, pool.commute[passing]),
            "availability": (states["availability"][passing] + 1) / 2
            if "availability" in states
            else None,
        }
        partial = np.zeros(len(passing))
        for name, values in parts.items():
            if values is not None:
                partial += weights.get(name, 0.0) * values
        picked.append(pool.top(partial, vectors, k))
    if skills:
        # Rows that list the required skills word for word, best partial score first among
        # equals: the must-have coverage the other retrievers cannot see.
        hits = pool.skill_hits(skills)[passing]
        picked.append(pool.top(hits + 1e-3 * profile, hits > 0, k))
    chosen = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
    _, first = np.unique(chosen, return_index=True)
    chosen = chosen[np.sort(first)]  # each row once, in the order proposed
    profile, best, lexical = profile[chosen], best[chosen], lexical[chosen]
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
    fit = pool.language_fit(vacancy.languages, at)
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
        gates={g: states[g][at] for g in all_gates},
        text_vectors=text_vectors,
        label_keys=pool.label_keys(slots),
    )
