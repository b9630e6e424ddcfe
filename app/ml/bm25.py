"""Okapi BM25 over numbered rows, kept current by small deltas: the one lexical index Ponte has.

PostgreSQL's ``ts_rank_cd`` has no inverse document frequency: on esco_dev its ranking scored
nDCG@10 0.37 against 0.81 for BM25 on the same stored texts, and took 0.7 s a query against
10 ms (bench/lexical_compare.py). So lexical retrieval and the lexical feature use this index,
for candidates (inside the pool, by slot) and for vacancies (by id, :class:`KeyedBm25`).

A base is built over all rows (term counts per row in CSR, weights per term in CSC, frozen
statistics); rows written since form a small delta scored row by row with the base's
statistics; the base is rebuilt from the stored term counts, without tokenising again, when the
delta grows past a share of it.

The lexical *feature* is :func:`lexical_share`: BM25 against what a row holding the query's
matchable terms would score (the query's ceiling) — a function of the pair and the corpus
statistics alone, so a feature stored from one shortlist means the same in another.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from app.ml.lexical_terms import (
    LANGUAGE_CODES,
    language_code,
    lexical_tokens,
    query_terms,
    term_counts,
)
from app.ml.topk import top

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
F32 = npt.NDArray[np.float32]
Encoded = tuple[I32, F32]

K1 = 1.2
B = 0.75


class Vocabulary(dict[str, int]):
    """Term ids, numbered in the order terms are first seen: looking up an unseen term adds
    it (``__missing__``), so a row's terms are numbered in one C-level ``map``."""

    def __missing__(self, term: str) -> int:
        self[term] = n = len(self)
        return n


@dataclass
class Bm25Base:
    """A frozen BM25 base over rows ``0 … rows - 1``."""

    k1: float = K1
    b: float = B
    rows: int = 0
    vocab: Vocabulary = field(default_factory=Vocabulary)
    tf_indptr: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    tf_terms: I32 = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    tf_counts: F32 = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    w_indptr: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    w_rows: I32 = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    w_data: F32 = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    idf: F64 = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    avgdl: float = 1.0

    @classmethod
    def build(cls, rows: Sequence[Encoded], vocab: Vocabulary) -> Bm25Base:
        """Builds the base from (term ids, counts) per row; row i is slot i."""
        n = len(rows)
        base = cls(rows=n, vocab=vocab)
        lens = np.fromiter((len(t) for t, _ in rows), dtype=np.int64, count=n)
        base.tf_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=base.tf_indptr[1:])
        if n:
            base.tf_terms = np.concatenate([t for t, _ in rows]).astype(np.int32)
            base.tf_counts = np.concatenate([c for _, c in rows]).astype(np.float32)
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

    def row(self, row: int) -> Encoded:
        """Returns (term ids, counts) of one base row."""
        start, end = self.tf_indptr[row], self.tf_indptr[row + 1]
        return self.tf_terms[start:end], self.tf_counts[start:end]

    def idf_of(self, term: str) -> float:
        """The base's idf of a term (that of a term no row has, when unseen)."""
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

    def row_scores(self, rows: npt.NDArray[np.intp], terms: Iterable[str]) -> F64:
        """The BM25 of ``terms`` for each of these base rows, read from the rows' own counts
        (what :meth:`add_scores` gives them, for a few rows without a pass over all)."""
        wanted = {j for t in terms if (j := self.vocab.get(t)) is not None and j < len(self.idf)}
        out = np.zeros(len(rows))
        if not wanted:
            return out
        lengths = self.tf_indptr[rows + 1] - self.tf_indptr[rows]
        for i, row in enumerate(rows):
            ids, counts = self.row(int(row))
            length = float(counts.sum())
            norm = self.k1 * (1 - self.b + self.b * length / (self.avgdl or 1.0))
            hit = np.fromiter((int(j) in wanted for j in ids), dtype=bool, count=int(lengths[i]))
            tf = counts[hit].astype(np.float32)
            idf = self.idf[ids[hit]].astype(np.float32)
            weights = idf * tf * np.float32(self.k1 + 1) / (tf + np.float32(norm))
            out[i] = float(np.sum(weights, dtype=np.float64))  # as add_scores sums them
        return out

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

    def holds(self, term: str) -> bool:
        """Whether some base row holds ``term``."""
        j = self.vocab.get(term)
        return (
            j is not None and j + 1 < len(self.w_indptr) and self.w_indptr[j + 1] > self.w_indptr[j]
        )


def encode(counts: Mapping[str, int], vocab: Vocabulary) -> Encoded:
    """Returns (term ids, counts) of a row, adding unseen terms to ``vocab``."""
    ids = np.fromiter(map(vocab.__getitem__, counts), dtype=np.int32, count=len(counts))
    return ids, np.fromiter(counts.values(), dtype=np.float32, count=len(counts))


# A group of at most this many rows in another language than most is scored row by row.
_ROW_BY_ROW = 64

# A row that matches this share of the query's ceiling counts as a full lexical match: long
# vacancy texts hold far more words than any one profile does. Chosen on the tune half of
# esco_dev among 1/1.5, 1/2 and 1/3 (docs/EVALUATION.md, "The lexical feature").
FULL_MATCH_SHARE = 0.5


def lexical_share(bm25: F64, ceiling: F64 | float) -> F64:
    """The lexical feature: BM25 against ``FULL_MATCH_SHARE`` of the query's ceiling in its
    corpus, clipped to [0, 1] (0 where no query term can be matched)."""
    ceilings = FULL_MATCH_SHARE * np.broadcast_to(np.asarray(ceiling, dtype=np.float64), bm25.shape)
    share: F64 = np.divide(bm25, ceilings, out=np.zeros(bm25.shape), where=ceilings > 0)
    np.minimum(share, 1.0, out=share)
    return share


class Bm25Index:
    """BM25 over slots ``0 … n - 1``: a base plus a delta of rows written since it was built.

    A slot's text is set once (a changed row takes a new slot in the pool); ``drop`` forgets
    a slot's delta entry. ``bulk`` rows (a load nobody reads yet) are only encoded and wait for
    :meth:`rebuild`.

    Each slot is analysed in its text's language (app/ml/languages.py), and a query is scored
    against it analysed in that same language: both texts of a pair go through one analyser,
    so words spelt alike always meet, and inflections meet where the language is known. The
    terms of every language share one vocabulary and one set of statistics."""

    def __init__(self) -> None:
        self.base = Bm25Base()
        self.delta: dict[int, Counter[str]] = {}
        self.delta_df: Counter[str] = Counter()  # in how many delta rows each term is
        self.staged: dict[int, Encoded] = {}
        self.languages = np.zeros(0, dtype=np.int8)  # per slot, its language's code
        self.present: set[int] = set()  # the codes some slot has (a dropped one's may linger)

    def _set_language(
        self, slots: Sequence[int], codes: Sequence[int] | npt.NDArray[np.int8]
    ) -> None:
        end = max(slots) + 1
        if end > len(self.languages):
            grown = np.zeros(max(end, 2 * len(self.languages)), dtype=np.int8)
            grown[: len(self.languages)] = self.languages
            self.languages = grown
        held = np.asarray(codes, dtype=np.int8)
        self.languages[np.asarray(slots, dtype=np.int64)] = held
        self.present.update(np.unique(held).tolist())

    def put(self, slot: int, text: str | None, language: str | None = None) -> None:
        """Sets a slot's text, in ``language``; it joins the delta until the next rebuild."""
        self.drop(slot)
        code = language_code(language)
        counts = term_counts(text, LANGUAGE_CODES[code])
        self.delta[slot] = counts
        self.delta_df.update(counts.keys())
        self._set_language([slot], [code])

    def stage(
        self,
        slots: Sequence[int],
        texts: Sequence[str | None],
        languages: Sequence[str | None] | None = None,
    ) -> None:
        """Encodes many slots' texts at once for the next :meth:`rebuild` (a bulk load nobody
        reads yet): every token of the batch is numbered in one pass and counted per row in one
        sort, instead of a counter per row."""
        if not slots:
            return
        codes = [language_code(language) for language in languages or [None] * len(slots)]
        tokens = [
            lexical_tokens(text or "", LANGUAGE_CODES[code])
            for text, code in zip(texts, codes, strict=True)
        ]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        total = int(lengths.sum())
        ids = np.fromiter(
            map(self.base.vocab.__getitem__, itertools.chain.from_iterable(tokens)),
            dtype=np.int64,
            count=total,
        )
        rows = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)
        keys, counts = np.unique((rows << 32) | ids, return_counts=True)
        bounds = np.searchsorted(keys >> 32, np.arange(len(tokens) + 1))
        terms = (keys & 0xFFFFFFFF).astype(np.int32)
        weights = counts.astype(np.float32)
        for i, slot in enumerate(slots):
            self.staged[slot] = (
                terms[bounds[i] : bounds[i + 1]],
                weights[bounds[i] : bounds[i + 1]],
            )
        self._set_language(slots, codes)

    def drop(self, slot: int) -> None:
        counts = self.delta.pop(slot, None)
        if counts is not None:
            self.delta_df.subtract(counts.keys())
            for term in counts:
                if self.delta_df[term] <= 0:
                    del self.delta_df[term]
        self.staged.pop(slot, None)

    def wants_rebuild(self) -> bool:
        """The delta is scored row by row with the base's statistics: keep it small, but
        rebuild a big base rarely (and a small one once the delta outgrows it)."""
        n = len(self.delta)
        return n > self.base.rows or n > max(64, min(1000, self.base.rows // 10))

    def rebuild(self, slots: Sequence[int]) -> Bm25Index:
        """Returns a new index whose row i holds what slot ``slots[i]`` holds here, with a
        vocabulary of the kept rows' terms only: a term only a dropped (erased) row held is
        gone with it. Reads this index and never changes it, so it may run in a worker thread
        while requests score with this one."""
        names = list(self.base.vocab)  # term ids are positions in first-seen order
        encoded = [
            self.staged[slot]
            if slot in self.staged
            else None
            if slot in self.delta
            else self.base.row(slot)
            for slot in slots
        ]
        held = [terms for terms, _ in filter(None, encoded)]
        used = np.unique(np.concatenate(held)) if held else np.zeros(0, dtype=np.int32)
        vocab = Vocabulary({names[old]: new for new, old in enumerate(used.tolist())})
        renumber = np.full(len(names) + 1, -1, dtype=np.int32)
        renumber[used] = np.arange(len(used), dtype=np.int32)
        docs = [
            (renumber[row[0]], row[1]) if row is not None else encode(self.delta[slot], vocab)
            for slot, row in zip(slots, encoded, strict=True)
        ]
        index = Bm25Index()
        index.base = Bm25Base.build(docs, vocab)
        if len(slots):
            index._set_language(range(len(slots)), self.languages_of(max(slots) + 1)[list(slots)])
        return index

    def languages_of(self, size: int) -> npt.NDArray[np.int8]:
        """The language code of every slot below ``size``."""
        if size <= len(self.languages):
            return self.languages[:size]
        out = np.zeros(size, dtype=np.int8)
        out[: len(self.languages)] = self.languages
        return out

    def query(self, text: str | None, size: int) -> tuple[F64, F64]:
        """Per slot below ``size``, the BM25 of ``text`` analysed in the slot's language, and
        the ceiling (:meth:`ceiling`) of the query so analysed. Most tenants write mostly in
        one language: the base is scored by one pass in the analysis most of its rows share
        (languages whose stems of the query agree share it), a group of rows in another by a
        pass of its own when it is large and row by row when it is small, and each delta row
        once, in its language."""
        codes = sorted(self.present) or [0]
        if len(codes) == 1:
            terms = query_terms(text, LANGUAGE_CODES[codes[0]])
            return self.scores(terms, size), np.full(size, self.ceiling(terms))
        analysed = {code: query_terms(text, LANGUAGE_CODES[code]) for code in codes}
        groups: dict[frozenset[str], list[int]] = {}
        for code, terms in analysed.items():
            groups.setdefault(frozenset(terms), []).append(code)
        languages = self.languages_of(size)
        in_base = min(self.base.rows, size)
        # each slot's group (its language's analysis of the query), -1 for a language not here
        group_of = np.full(len(LANGUAGE_CODES), -1, dtype=np.intp)
        ceiling_of = np.zeros(len(LANGUAGE_CODES) + 1, dtype=np.float64)
        shared = list(groups)
        for g, analysis in enumerate(shared):
            group_of[groups[analysis]] = g
            ceiling_of[groups[analysis]] = self.ceiling(analysis)
        slot_group = group_of[languages.astype(np.intp)]
        ceilings: F64 = ceiling_of[languages.astype(np.intp)]
        sizes = np.bincount(slot_group[:in_base] + 1, minlength=len(shared) + 1)[1:]
        # the base scored once in its most common analysis; a slot of another is scored by
        # a pass of its own group's when the group is large, row by row when it is small
        main = int(np.argmax(sizes)) if len(shared) else 0
        scores = np.zeros(size)
        if len(shared):
            self.base.add_scores(scores[:in_base], shared[main])
        for g, analysis in enumerate(shared):
            if g == main or not sizes[g]:
                continue
            slots = np.flatnonzero(slot_group[:in_base] == g)
            if len(slots) > _ROW_BY_ROW:
                part = np.zeros(in_base)
                self.base.add_scores(part, analysis)
                scores[slots] = part[slots]
            else:
                scores[slots] = self.base.row_scores(slots, analysis)
        scores[:in_base][slot_group[:in_base] < 0] = 0.0
        for slot, counts in self.delta.items():
            if slot < size:
                scores[slot] = self.base.score_counts(counts, analysed[int(languages[slot])])
        return scores, ceilings

    def scores(self, terms: set[str], size: int) -> F64:
        """Returns the BM25 score of every slot below ``size`` for ``terms``."""
        out = np.zeros(size, dtype=np.float64)
        self.base.add_scores(out[: min(self.base.rows, size)], terms)
        for slot, counts in self.delta.items():
            if slot < size:
                out[slot] = self.base.score_counts(counts, terms)
        return out

    def ceiling(self, terms: Iterable[str]) -> float:
        """What a row of average length holding once each of ``terms`` that some row holds
        would score: the sum of their idf, as rows are scored (terms no row holds cannot be
        matched, so they do not count)."""
        return sum(
            self.base.idf_of(term)
            for term in terms
            if self.base.holds(term) or term in self.delta_df
        )


class KeyedBm25:
    """A :class:`Bm25Index` over rows named by id, updated row by row (the vacancies of a
    tenant, or the database path's candidates)."""

    def __init__(self) -> None:
        self.index = Bm25Index()
        self.ids: list[Hashable | None] = []
        self.pos: dict[Hashable, int] = {}
        self.dead = 0

    def __len__(self) -> int:
        return len(self.pos)

    def apply(
        self,
        rows: Iterable[tuple[Hashable, str, str | None]],
        deleted: Iterable[Hashable] = (),
        *,
        compact: bool = True,
    ) -> None:
        """Sets the text of each (id, text, language) of ``rows`` and forgets ``deleted``; then
        rebuilds in place if :attr:`wants_rebuild` (unless ``compact`` is off: the caller then
        swaps in :meth:`rebuilt`, built where it likes)."""
        for row_id in deleted:
            self._forget(row_id)
        for row_id, text, language in rows:
            self._forget(row_id)
            slot = len(self.ids)
            self.ids.append(row_id)
            self.pos[row_id] = slot
            self.index.put(slot, text, language)
        if compact and self.wants_rebuild:
            rebuilt = self.rebuilt()
            self.index, self.ids, self.pos, self.dead = (
                rebuilt.index,
                rebuilt.ids,
                rebuilt.pos,
                0,
            )

    @property
    def wants_rebuild(self) -> bool:
        return self.index.wants_rebuild() or self.dead > max(64, len(self.ids) // 4)

    def _forget(self, row_id: Hashable) -> None:
        slot = self.pos.pop(row_id, None)
        if slot is not None:
            self.ids[slot] = None
            self.index.drop(slot)
            self.dead += 1

    def rebuilt(self) -> KeyedBm25:
        """A new index of the live rows with a fresh base; this one is only read."""
        keep = [slot for slot, row_id in enumerate(self.ids) if row_id is not None]
        new = KeyedBm25()
        new.index = self.index.rebuild(keep)
        new.ids = [self.ids[slot] for slot in keep]
        new.pos = {row_id: i for i, row_id in enumerate(new.ids)}
        return new

    def scores(self, query: str) -> tuple[F64, F64]:
        """Per slot the BM25 of ``query`` (dead slots 0), and the query's ceiling there."""
        out, ceilings = self.index.query(query, len(self.ids))
        if self.dead:
            out[[slot for slot, row_id in enumerate(self.ids) if row_id is None]] = 0.0
        return out, ceilings

    def answer(self, query: str) -> KeyedScores:
        """The query scored once, to take both its best rows and chosen rows' scores from."""
        scores, ceilings = self.scores(query)
        return KeyedScores(self, scores, ceilings)

    def top(self, query: str, k: int) -> list[tuple[Hashable, float]]:
        """Returns the ``k`` best (id, BM25) pairs with a positive score."""
        return self.answer(query).top(k)


class KeyedScores:
    """One query's BM25 over a :class:`KeyedBm25`, by id."""

    def __init__(self, index: KeyedBm25, scores: F64, ceilings: F64) -> None:
        self.index, self.scores, self.ceilings = index, scores, ceilings

    def top(self, k: int) -> list[tuple[Hashable, float]]:
        """The ``k`` best (id, BM25) pairs with a positive score."""
        scores = self.scores
        return [(self.index.ids[i], float(scores[i])) for i in top(scores, scores > 0, k)]

    def of(self, ids: Sequence[Hashable]) -> dict[Hashable, tuple[float, float]]:
        """The BM25 of each of ``ids`` and the query's ceiling against it ((0, 0) for an id
        the index does not hold)."""
        pos = self.index.pos
        return {
            row_id: (float(self.scores[pos[row_id]]), float(self.ceilings[pos[row_id]]))
            if row_id in pos
            else (0.0, 0.0)
            for row_id in ids
        }
